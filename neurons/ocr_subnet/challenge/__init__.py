"""Synthetic invoice challenges: draw, rasterize, corrupt, with labels carried exactly."""
