"""Our OCR model: a text detector, a CRNN recognizer with a font head, and the pipeline that joins them."""

PRECISIONS = ("auto", "fp32", "bf16")  # what the networks may run in (OcrPipeline.load); importable without torch
