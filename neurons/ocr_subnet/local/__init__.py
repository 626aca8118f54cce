"""`ocr-subnet local up`: the whole subnet on loopback, each neuron its own process."""
