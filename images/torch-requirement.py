"""Print pyproject's torch requirement (`torch==2.13.0`), the one the Triton image installs first.

With an argument, a local version label: `cpu` prints `torch==2.13.0+cpu`, the CPU-only build (a local wheel).
"""

import sys
import tomllib

with open("pyproject.toml", "rb") as file:
    model = tomllib.load(file)["project"]["optional-dependencies"]["model"]
requirement = next(requirement for requirement in model if requirement.split("=")[0].strip() == "torch")
print(f"{requirement}+{sys.argv[1]}" if len(sys.argv) > 1 and sys.argv[1] else requirement)
