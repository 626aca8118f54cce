"""Serving the OCR model with Triton: the model repository, the server, and the client's wire format.

The constants here are the few that the command line needs, so `ocr-subnet --help` imports nothing heavy.
"""

LOOPBACK = "127.0.0.1"
PIPELINE = "ocr_subnet.model.pipeline:OcrPipeline"  # "module:Class" with OcrPipeline's `load` and `__call__`
