"""Print pyproject's torch requirement (`torch==2.13.0`): the Triton image installs exactly it, from the CUDA index."""

import tomllib

with open("pyproject.toml", "rb") as file:
    model = tomllib.load(file)["project"]["optional-dependencies"]["model"]
print(next(requirement for requirement in model if requirement.split("=")[0].strip() == "torch"))
