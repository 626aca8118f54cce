# syntax=docker/dockerfile:1
# The Triton image: `ocr-subnet triton serve` (PyTriton's Triton Inference Server) on a CUDA base, with the
# model repository baked in at /models (spec.triton.modelRepository; mount another one there to replace it).
# Build from the repository root with images/build.sh. TORCH_INDEX_URL picks torch's build:
# https://download.pytorch.org/whl/cu126 (default, GPUs) or .../whl/cpu (small, enough for kind).
FROM nvidia/cuda:12.6.3-base-ubuntu24.04 AS base
# Ubuntu's archive keeps only the newest build of a package, so exact pins would break rebuilds; the base
# image's tag fixes the release: Python 3.12, whose libpython PyTriton's Python-backend stub links.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.12 libpython3.12t64 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 ocr \
    && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin ocr
ENV PATH=/opt/venv/bin:$PATH HOME=/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1

FROM base AS build
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.12-venv \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
RUN python3.12 -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY neurons ./neurons
COPY operator ./operator
COPY images/constraints.txt images/torch-requirement.py ./images/
COPY images/requirements ./images/requirements
# torch first, from PyTorch's index, at the version pyproject pins; then the rest, from constraints.txt.
RUN python images/torch-requirement.py > images/torch.txt \
    && pip install --index-url "${TORCH_INDEX_URL}" --requirement images/torch.txt \
    && pip install --constraint images/constraints.txt --requirement images/requirements/triton.txt
# The model repository, checked the way `triton serve` checks it at start (loading waits for the pod).
RUN ocr-subnet triton repo build --out /models --no-load

FROM base AS triton
COPY --from=build /opt/venv /opt/venv
COPY --from=build /models /models
USER 10001:10001
EXPOSE 8000 8001 8002
ENTRYPOINT ["ocr-subnet"]
CMD ["triton", "serve", "--model-repo", "/models"]
