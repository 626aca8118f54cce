#!/usr/bin/env bash
# Installs everything the subnet and its tests need on a fresh Debian machine. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(tesseract-ocr prometheus poppler-utils fonts-urw-base35 fonts-liberation fonts-freefont-ttf fonts-dejavu-core)
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

PYTHON="${PYTHON:-python3}"
stamp=".setup-stamp"
want="$(sha256sum pyproject.toml | cut -c1-16)-$($PYTHON -c 'import sys; print(sys.prefix)' | sha256sum | cut -c1-8)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! $PYTHON -c "import ocr_subnet" 2>/dev/null; then
  echo "setup: installing Python packages (torch CPU, pytriton, bittensor, kopf, ...)"
  $PYTHON -m pip install -q --disable-pip-version-check -e ".[model,operator,dev]"
  echo "$want" >"$stamp"
fi
