"""The chain port: the one seam between the neurons and a Bittensor chain."""
