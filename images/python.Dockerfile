# syntax=docker/dockerfile:1
# The neuron and operator images, two targets of one file (they differ only in what is installed):
#   neuron:   `ocr-subnet validator | miner | chain serve` (tesseract included, Triton's client)
#   operator: `ocr-subnet operator run`, what the chart's operator Deployment runs
# Build from the repository root with images/build.sh, which passes --target and IMAGE (the same name)
# and tags with the chart's appVersion. BASE: a Debian bookworm Python 3.11; build.sh's --base local passes
# its registry-free one (localhost/ocr-subnet/python:3.11-bookworm, Debian's python3), so RUN lines say python3.
# Pods run as 10001:10001 on a read-only root filesystem: HOME and every cache live under /tmp.
ARG BASE=python:3.11.11-slim-bookworm

# The tag is in BASE's value, which hadolint's DL3006 cannot see.
# hadolint ignore=DL3006
FROM ${BASE} AS base
RUN groupadd --gid 10001 ocr \
    && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin ocr
ENV PATH=/opt/app/bin:/opt/venv/bin:$PATH HOME=/tmp XDG_CACHE_HOME=/tmp/.cache PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1

# The dependencies, in their own layers: a virtualenv with images/requirements/<IMAGE>.txt, every version from
# images/constraints.txt, resolved from the project's metadata alone (empty source folders stand in for the code),
# so a change of code rebuilds and ships only the small /opt/app layer below. The code goes to /opt/app, which
# a .pth file puts on the venv's path.
FROM base AS deps
ARG IMAGE
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml ./
COPY images/constraints.txt ./images/
COPY images/requirements ./images/requirements
# pip-ca: the CA bundle of a TLS-inspecting proxy between the build and PyPI (build.sh passes the host pip's
# cert as a secret: mounted for this step only, never in a layer). kubernetes/aio (68 MB) goes: nothing
# imports it (kopf talks to the API with its own aiohttp client, the operator uses the synchronous client).
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && python3 -m venv /opt/venv \
    && mkdir -p neurons operator && touch README.md \
    && pip install --constraint images/constraints.txt --requirement "images/requirements/${IMAGE}.txt" \
    && pip uninstall --yes --quiet ocr-subnet \
    && rm -rf /opt/venv/lib/python3*/site-packages/kubernetes/aio \
    && echo /opt/app > "$(echo /opt/venv/lib/python3*/site-packages)/ocr_subnet_app.pth"

# The venv as it ships: without pip (nothing installs at run time, the root filesystem is read-only).
FROM deps AS venv
RUN python3 -m pip uninstall --yes --quiet pip

FROM deps AS app
COPY README.md ./
COPY neurons ./neurons
COPY operator ./operator
# setuptools, the build backend, comes from PyPI: the CA secret again.
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && pip install --no-deps --target /opt/app .

FROM base AS operator
COPY --from=venv /opt/venv /opt/venv
COPY --from=app /opt/app /opt/app
USER 10001:10001
ENTRYPOINT ["ocr-subnet"]
CMD ["operator", "run"]

FROM base AS neuron
# Tesseract: the miners' reference backend. The validator's letter and receipt challenges draw Debian's free
# TrueType faces and the wamerican word list (challenge.fonts, challenge.words); invoices need no system fonts.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        tesseract-ocr=5.3.0-2 tesseract-ocr-eng=1:4.1.0-2 \
        fonts-dejavu-core=2.37-6 fonts-dejavu-extra=2.37-6 fonts-liberation=1:1.07.4-11 \
        fonts-freefont-ttf=20120503-10 wamerican=2020.12.07-2 \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY --from=venv /opt/venv /opt/venv
COPY --from=app /opt/app /opt/app
USER 10001:10001
ENTRYPOINT ["ocr-subnet"]
CMD ["--help"]
