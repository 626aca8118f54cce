"""Synthetic document challenges (invoices, letters, receipts): draw, rasterize, corrupt, labels exact."""
