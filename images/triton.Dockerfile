# syntax=docker/dockerfile:1
# The Triton image: `ocr-subnet triton serve` (PyTriton's Triton Inference Server) with the model repository
# baked in at /models (spec.triton.modelRepository; mount another one there to replace it). Two variants, built
# from the repository root by images/build.sh (--variant):
#   cuda (these defaults): nvidia/cuda on Ubuntu 24.04, Python 3.12, torch from PyTorch's CUDA index;
#   cpu: BASE a Debian bookworm Python 3.11 (build.sh's local one, or python:3.11.11-slim-bookworm),
#        PYTHON_PACKAGES=libpython3.11, torch's +cpu build: TORCH_LOCAL_VERSION=cpu with the wheel from the
#        `wheels` build context (--build-context wheels=/opt/wheels), or TORCH_INDEX_URL=.../whl/cpu.
# Pods run as 10001:10001 on a read-only root filesystem: HOME, PyTriton's workspace and caches live under /tmp.
ARG BASE=nvidia/cuda:12.6.3-base-ubuntu24.04

# Local torch wheels, bind-mounted into the one RUN that installs torch (never copied into a layer). Empty
# unless the build replaces the stage: --build-context wheels=DIR.
FROM scratch AS wheels

# The tag is in BASE's value, which hadolint's DL3006 cannot see.
# hadolint ignore=DL3006
FROM ${BASE} AS base
# python3 and its venv, and the libpython PyTriton's Python-backend stub links (python3.12 on Ubuntu 24.04;
# the cpu variant's Python base brings python3 and venv, and adds Debian's libpython3.11).
ARG PYTHON_PACKAGES="python3 python3-venv libpython3.12t64"
# Ubuntu's archive keeps only the newest build of a package, and Debian's point releases replace libpython's
# revision, so exact pins would break rebuilds; the base image's tag fixes the release.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${PYTHON_PACKAGES} \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && groupadd --gid 10001 ocr \
    && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin ocr
ENV PATH=/opt/app/bin:/opt/venv/bin:$PATH HOME=/tmp XDG_CACHE_HOME=/tmp/.cache PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1

# The dependencies in their own layers, resolved from the project's metadata alone (empty source folders stand
# in for the code), so a change of code rebuilds and ships only the small /opt/app layer: see python.Dockerfile.
FROM base AS deps
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126
ARG TORCH_LOCAL_VERSION=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml ./
COPY images/constraints.txt images/torch-requirement.py ./images/
COPY images/requirements ./images/requirements
# torch first, at the version pyproject pins (with TORCH_LOCAL_VERSION: that build, e.g. 2.13.0+cpu, from
# the wheels), from TORCH_INDEX_URL; then the rest, from constraints.txt.
# pip-ca: the CA bundle of a TLS-inspecting proxy between the build and PyPI (a secret, as in python.Dockerfile).
RUN --mount=type=bind,from=wheels,target=/wheels --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && python3 -m venv /opt/venv \
    && mkdir -p neurons operator && touch README.md \
    && python3 images/torch-requirement.py ${TORCH_LOCAL_VERSION} > images/torch.txt \
    && pip install --find-links /wheels --index-url "${TORCH_INDEX_URL}" --requirement images/torch.txt \
    && pip install --constraint images/constraints.txt --requirement images/requirements/triton.txt \
    && pip uninstall --yes --quiet ocr-subnet \
    && echo /opt/app > "$(echo /opt/venv/lib/python3*/site-packages)/ocr_subnet_app.pth"

# The venv as it ships: without pip (nothing installs at run time, the root filesystem is read-only).
FROM deps AS venv
RUN python3 -m pip uninstall --yes --quiet pip

# The code, and the model repository built from it and checked the way `triton serve` checks it at start
# (loading waits for the pod).
FROM deps AS app
COPY README.md ./
COPY neurons ./neurons
COPY operator ./operator
# setuptools, the build backend, comes from PyPI: the CA secret again.
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && pip install --no-deps --target /opt/app . \
    && ocr-subnet triton repo build --out /models --no-load

FROM base AS triton
COPY --from=venv /opt/venv /opt/venv
COPY --from=app /opt/app /opt/app
COPY --from=app /models /models
USER 10001:10001
EXPOSE 8000 8001 8002
ENTRYPOINT ["ocr-subnet"]
CMD ["triton", "serve", "--model-repo", "/models"]
