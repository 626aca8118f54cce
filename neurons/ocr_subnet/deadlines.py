"""The deadline a request carries by default, in one place that imports nothing.

The validator's challenges and the gateway's organic pages must carry the same `deadline_s`: a
different default would tell a miner which pages are organic.
"""

DEFAULT_DEADLINE_S = 12.0
