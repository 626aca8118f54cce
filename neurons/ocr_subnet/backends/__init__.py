"""OCR engines a miner can answer with, behind one interface."""
