#!/usr/bin/env bash
# Builds the subnet's images from the repository root and tags them <registry>/<name>:<appVersion>, the
# chart's appVersion, which is what the chart and examples/*.yaml run by default.
#
#   images/build.sh [--registry docker.io/ocr-subnet] [--push] [--archive FILE] [--json] [--manifest FILE]
#                   [--base local|public] [--variant cpu|cuda] [--torch-index-url URL] [--torch-wheels DIR]
#                   [neuron|operator|triton ...]
#
# No names: all three. The builder is images/engine.sh's: Docker when an engine answers, else podman, else
# buildah (OCR_SUBNET_ENGINE=podman|buildah|docker overrides).
#   --base local    (default with podman/buildah) no registry needed: a Debian bookworm rootfs from
#                   `debootstrap --variant=minbase` (cached in ~/.cache/ocr-subnet/base/), imported as
#                   localhost/debian:bookworm, with Debian's Python 3.11 on it (images/debian-python.Containerfile:
#                   localhost/ocr-subnet/python:3.11-bookworm). Builds run with --pull=never; RUN steps reach
#                   Debian's mirror and PyPI over the host's network (--network=host).
#   --base public   (default with Docker) the Dockerfiles' own bases: python:3.11.11-slim-bookworm, nvidia/cuda.
#   --variant cpu   (default unless Docker sees a GPU through nvidia-smi) Triton on the Python base with CPU-only
#                   torch: the torch-<version>+cpu wheel in --torch-wheels DIR (default /opt/wheels or
#                   $OCR_SUBNET_TORCH_WHEELS; bind-mounted, never copied into a layer), else from
#                   --torch-index-url (default https://download.pytorch.org/whl/cpu).
#   --variant cuda  Triton on nvidia/cuda (Ubuntu 24.04, Python 3.12), torch from .../whl/cu126; public base only.
#   --archive FILE  also writes every built tag into one docker-archive (`ctr -n k8s.io images import FILE`).
#   --manifest FILE where the manifest goes (default .local/images/manifest.json): each image's name, tag, image
#                   ID and size in bytes. --json prints it instead of the tags.
# Prints one built tag per line on stdout; progress goes to stderr. The default registry, docker.io/ocr-subnet,
# is containerd's name for the chart's `ocr-subnet/<name>:<appVersion>`. PIP_CERT (or pip's `cert` setting):
# a CA bundle the pip steps get as a build secret (a TLS-inspecting proxy), never stored in a layer.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=images/engine.sh
. images/engine.sh

registry="docker.io/ocr-subnet"
push=0
archive=""
manifest=".local/images/manifest.json"
json=0
base=""
variant=""
torch_index=""
torch_wheels="${OCR_SUBNET_TORCH_WHEELS:-/opt/wheels}"
names=()
while (($#)); do
  case "$1" in
    --registry) registry="$2"; shift 2 ;;
    --push) push=1; shift ;;
    --archive) archive="$2"; shift 2 ;;
    --json) json=1; shift ;;
    --manifest) manifest="$2"; shift 2 ;;
    --base) base="$2"; shift 2 ;;
    --variant) variant="$2"; shift 2 ;;
    --torch-index-url) torch_index="$2"; shift 2 ;;
    --torch-wheels) torch_wheels="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    neuron|operator|triton) names+=("$1"); shift ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
((${#names[@]})) || names=(neuron operator triton)
if [ -z "$base" ]; then
  if [ "$ENGINE" = docker ]; then base=public; else base=local; fi
fi
if [ -z "$variant" ]; then
  if [ "$ENGINE" = docker ] && command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    variant=cuda
  else
    variant=cpu
  fi
fi
case "$base" in local|public) ;; *) echo "build.sh: --base local|public, not $base" >&2; exit 2 ;; esac
case "$variant" in cpu|cuda) ;; *) echo "build.sh: --variant cpu|cuda, not $variant" >&2; exit 2 ;; esac
if [ -n "$archive" ] && [ "$ENGINE" = buildah ]; then
  echo "build.sh: --archive needs podman or docker (buildah writes one image per archive)" >&2
  exit 2
fi

version="$(sed -n 's/^appVersion:[[:space:]]*//p' charts/subnet/Chart.yaml | tr -d "\"' ")"
[ -n "$version" ] || { echo "build.sh: no appVersion in charts/subnet/Chart.yaml" >&2; exit 1; }

common=()
if [ "$ENGINE" != docker ]; then
  # Layers are cached (a rebuild reuses them); nothing is pulled; RUN steps use the host's network (Debian's
  # mirror, PyPI) as debootstrap does: podman's own networks need a CNI setup this machine does not have.
  common+=(--layers --pull=never --network=host)
fi

DEBIAN_IMAGE=localhost/debian:bookworm
DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

image_exists() {
  if [ "$ENGINE" = buildah ]; then buildah inspect --type image "$1" >/dev/null 2>&1
  else engine image inspect "$1" >/dev/null 2>&1; fi
}

# "<image ID> <size in bytes>" (buildah reports no size in bytes: "null").
image_info() {
  if [ "$ENGINE" = buildah ]; then
    printf '%s null\n' "$(buildah images --noheading --no-trunc --format '{{.ID}}' "$1" | head -n1)"
  else
    engine image inspect --format '{{.Id}} {{.Size}}' "$1"
  fi
}
PYTHON_IMAGE=localhost/ocr-subnet/python:3.11-bookworm

# The Debian rootfs, once: debootstrap's minbase with bookworm, -updates and -security in its sources.
local_debian() {
  local dir="$CACHE_ROOT/base" tarball mirror
  tarball="$dir/debian-bookworm-minbase.tar"
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || { echo "build.sh: --base local needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
    mirror="$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
    mirror="${mirror:-http://deb.debian.org/debian}"
    echo "build.sh: debootstrap --variant=minbase bookworm from $mirror (once; cached in $tarball)" >&2
    mkdir -p "$dir"
    rm -rf "$dir/rootfs.tmp"
    debootstrap --variant=minbase bookworm "$dir/rootfs.tmp" "$mirror" >"$dir/debootstrap.log" 2>&1 \
      || { echo "build.sh: debootstrap failed: $dir/debootstrap.log" >&2; exit 1; }
    cat >"$dir/rootfs.tmp/etc/apt/sources.list" <<EOS
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
EOS
    # As Debian's own container images: apt keeps no .debs or package caches, dpkg installs no documentation,
    # man pages or translations (the copyright files stay); nothing in the images reads them.
    cat >"$dir/rootfs.tmp/etc/apt/apt.conf.d/docker-clean" <<'EOS'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOS
    cat >"$dir/rootfs.tmp/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOS'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOS
    find "$dir/rootfs.tmp/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
    find "$dir/rootfs.tmp/usr/share/doc" -mindepth 1 -type d -empty -delete
    find "$dir/rootfs.tmp/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
    rm -rf "$dir/rootfs.tmp/usr/share/man/"* "$dir/rootfs.tmp/usr/share/info/"* \
      "$dir/rootfs.tmp/var/lib/apt/lists/"* "$dir/rootfs.tmp/var/cache/apt/"*.bin "$dir/rootfs.tmp/var/cache/apt/archives/"*.deb
    tar -C "$dir/rootfs.tmp" --numeric-owner --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' \
      --exclude='./var/cache/apt/archives/*.deb' -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$dir/rootfs.tmp"
  fi
  # Imported only when missing: a new import is a new image ID, which would rebuild every layer above it.
  if ! image_exists "$DEBIAN_IMAGE"; then
    echo "build.sh: importing $tarball as $DEBIAN_IMAGE" >&2
    if [ "$ENGINE" = buildah ]; then
      local container
      container="$(buildah from scratch)"
      buildah add --quiet "$container" "$tarball" / >/dev/null
      buildah config --cmd '["/bin/bash"]' --env "PATH=$DEFAULT_PATH" "$container"
      buildah commit --quiet --rm "$container" "$DEBIAN_IMAGE" >/dev/null
    else
      engine import --change 'CMD ["/bin/bash"]' --change "ENV PATH=$DEFAULT_PATH" "$tarball" "$DEBIAN_IMAGE" >/dev/null
    fi
  fi
  echo "build.sh: building $PYTHON_IMAGE" >&2
  engine build "${common[@]}" --file images/debian-python.Containerfile --build-arg "DEBIAN=$DEBIAN_IMAGE" \
    --tag "$PYTHON_IMAGE" . >&2
}

python_args=()
triton_args=()
# A TLS-inspecting proxy's CA (the host pip's `cert`, or PIP_CERT): the pip steps get it as a build secret.
pip_ca="${PIP_CERT:-}"
[ -n "$pip_ca" ] || pip_ca="$(pip config list 2>/dev/null | sed -n "s/^[^=]*\.cert='\(.*\)'\$/\1/p" | head -n1 || true)"
if [ -n "$pip_ca" ] && [ -s "$pip_ca" ]; then common+=(--secret "id=pip-ca,src=$pip_ca"); fi
if [ "$base" = local ]; then
  if [ "$ENGINE" = docker ]; then
    echo "build.sh: --base local with Docker: importing the Debian rootfs into Docker" >&2
  fi
  local_debian
  python_args+=(--build-arg "BASE=$PYTHON_IMAGE")
fi
if [ "$variant" = cpu ]; then
  if [ "$base" = local ]; then triton_args+=(--build-arg "BASE=$PYTHON_IMAGE"); else
    triton_args+=(--build-arg "BASE=python:3.11.11-slim-bookworm"); fi
  # Debian's libpython3.11: PyTriton's Python-backend stub links it (python3.11 and venv are in the base).
  triton_args+=(--build-arg "PYTHON_PACKAGES=libpython3.11")
  torch_version="$(python3 images/torch-requirement.py | sed 's/.*==//')"
  if [ -z "$torch_index" ] && compgen -G "$torch_wheels/torch-$torch_version+cpu-*.whl" >/dev/null; then
    # The local wheel, bind-mounted in the build (never copied into a layer); its dependencies from PyPI.
    triton_args+=(--build-context "wheels=$torch_wheels" --build-arg "TORCH_LOCAL_VERSION=cpu"
      --build-arg "TORCH_INDEX_URL=https://pypi.org/simple")
  else
    triton_args+=(--build-arg "TORCH_INDEX_URL=${torch_index:-https://download.pytorch.org/whl/cpu}")
  fi
else
  if [ "$base" = local ]; then
    echo "build.sh: --variant cuda needs --base public (its base is nvidia/cuda; no local CUDA base)" >&2
    exit 2
  fi
  [ -z "$torch_index" ] || triton_args+=(--build-arg "TORCH_INDEX_URL=$torch_index")
fi

tags=()
for name in "${names[@]}"; do
  tag="$registry/$name:$version"
  args=(--tag "$tag" --target "$name")
  if [ "$name" = triton ]; then
    args+=(--file images/triton.Dockerfile "${triton_args[@]}")
  else
    args+=(--file images/python.Dockerfile --build-arg "IMAGE=$name" "${python_args[@]}")
  fi
  what="$ENGINE, $base base"
  [ "$name" != triton ] || what+=", $variant"
  echo "build.sh: building $tag ($what)" >&2
  engine build "${common[@]}" "${args[@]}" . >&2
  if ((push)); then engine push "$tag" >&2; fi
  tags+=("$tag")
done

# The manifest: tag, image ID and size in bytes of each image.
mkdir -p "$(dirname "$manifest")"
{
  echo "["
  for i in "${!tags[@]}"; do
    info="$(image_info "${tags[$i]}" 2>/dev/null || true)"
    id="${info%% *}"
    size="${info##* }"
    [[ "$size" =~ ^[0-9]+$ ]] || size=null
    printf '  {"name": "%s", "tag": "%s", "id": "%s", "size": %s, "engine": "%s", "base": "%s"%s}%s\n' \
      "${names[$i]}" "${tags[$i]}" "${id:-}" "${size:-null}" "$ENGINE" "$base" \
      "$([ "${names[$i]}" = triton ] && printf ', "variant": "%s"' "$variant")" \
      "$([ "$i" -lt $((${#tags[@]} - 1)) ] && echo ,)"
  done
  echo "]"
} >"$manifest.tmp"
mv "$manifest.tmp" "$manifest"
echo "build.sh: wrote $manifest" >&2

if [ -n "$archive" ]; then
  mkdir -p "$(dirname "$archive")"
  rm -f "$archive"
  echo "build.sh: saving ${tags[*]} into $archive" >&2
  if [ "$ENGINE" = docker ]; then
    engine save --output "$archive" "${tags[@]}" >&2
  else
    engine save --multi-image-archive --format docker-archive --output "$archive" "${tags[@]}" >&2
  fi
fi

if ((json)); then cat "$manifest"; else printf '%s\n' "${tags[@]}"; fi
