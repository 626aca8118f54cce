"""Synthetic document challenges (invoices, letters, receipts): draw, rasterize, corrupt, with labels carried exactly."""
