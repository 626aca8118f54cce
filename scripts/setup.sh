#!/usr/bin/env bash
# Installs everything the subnet and its tests need on a fresh Debian machine: Debian packages, and the
# Python packages into the project's own virtual environment (.venv; the Makefile puts it first on PATH),
# never into the system's Python (which Debian 12 and Ubuntu 24.04 refuse: PEP 668). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(tesseract-ocr prometheus poppler-utils fonts-urw-base35 lmodern fonts-crosextra-carlito fonts-crosextra-caladea fonts-liberation fonts-freefont-ttf fonts-dejavu-core fonts-dejavu-extra wamerican libtasn1-doc bzip2-doc nettle-dev valgrind shared-mime-info fontconfig flex-doc libgcrypt20-doc libmpfr-doc gprolog-doc xorg-docs)
# A stock Debian python3 makes virtual environments only with python3-venv.
python3 -c 'import ensurepip' 2>/dev/null || APT_PACKAGES+=(python3-venv)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

VENV=".venv"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating the virtual environment $VENV"
  "${PYTHON:-python3}" -m venv "$VENV"
fi
PYTHON="$VENV/bin/python"
stamp="$VENV/.setup-stamp"
want="$(sha256sum pyproject.toml | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! $PYTHON -c "import ocr_subnet" 2>/dev/null; then
  echo "setup: installing Python packages into $VENV (torch CPU, pytriton, bittensor, kopf, ...)"
  $PYTHON -m pip install -q --disable-pip-version-check -e ".[model,operator,eval,dev]"
  echo "$want" >"$stamp"
fi
