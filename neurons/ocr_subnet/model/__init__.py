"""Our OCR model: a text detector, a CRNN recognizer with a font head, and the pipeline that joins them."""

import enum


class Precision(enum.StrEnum):
    """What the networks run in (`OcrPipeline.load`); importable without torch, for command-line options."""

    AUTO = "auto"  # bf16 where the hardware runs it natively, else fp32
    FP32 = "fp32"
    BF16 = "bf16"
