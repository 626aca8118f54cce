"""Serving the OCR model with Triton: the model repository, the server, and the client's wire format.

The constants here are the few that the command line needs, so `ocr-subnet --help` imports nothing heavy.
"""

LOOPBACK = "127.0.0.1"
PIPELINE = "ocr_subnet.model.pipeline:OcrPipeline"  # "module:Class" with OcrPipeline's `load` and `__call__`

# Serving defaults for this 2-core CPU; a GPU wants larger batches (max 64, preferred 16, 32, 64).
MAX_BATCH_SIZE = 8
PREFERRED_BATCH_SIZES = (4, 8)
MAX_QUEUE_DELAY_US = 2_000  # how long a request may wait for others to share its batch
