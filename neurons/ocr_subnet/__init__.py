"""OCR Bittensor subnet: challenges, protocol, scoring and neurons."""

__version__ = "0.1.0"
