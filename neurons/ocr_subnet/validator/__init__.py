"""The validator neuron: challenge miners, score them, keep an EMA per hotkey, set weights."""
