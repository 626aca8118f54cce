"""Our OCR model: a text detector, a CRNN recognizer with a font head, and the pipeline that joins them."""
