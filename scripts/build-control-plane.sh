#!/usr/bin/env bash
# Builds every Kubernetes binary the project runs from Debian bookworm's kubernetes source package, in one
# `make` (code generation runs once): the control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler) for the integration tier, and kubelet, kube-proxy and kubectl for the real node
# (scripts/node.sh). Caches them under ~/.cache, keyed by version.
# Prints the cache folder. Reuses the cache when it is complete. Never touches the system apt config.
set -euo pipefail

VERSION="1.20.2"
CACHE="${OCR_SUBNET_K8S_CACHE:-$HOME/.cache/ocr-subnet/kubernetes-$VERSION}"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

complete() { for b in "${BINARIES[@]}"; do [ -x "$CACHE/bin/$b" ] || return 1; done; }
if complete; then echo "$CACHE"; exit 0; fi

# One build at a time per cache (two test sessions may start together on a cold machine).
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if complete; then echo "$CACHE"; exit 0; fi

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
need=()
for pkg in golang-go dpkg-dev rsync jq etcd-server golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "control-plane: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work="$CACHE/src"
mkdir -p "$work/lists/partial"
echo "deb-src http://deb.debian.org/debian bookworm main" >"$work/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/nonexistent" -o "Dir::State::Lists=$work/lists")
source_tree() { find "$work" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -1; }
if [ -z "$(source_tree)" ]; then
  echo "control-plane: fetching the kubernetes $VERSION source package" >&2
  apt-get "${apt_opts[@]}" update -qq
  (cd "$work" && apt-get "${apt_opts[@]}" source -qq kubernetes >/dev/null 2>&1)
fi
tree="$(source_tree)"

# The vendored reflect2/json-iterator crash the 1.20 apiserver on Go 1.19 at the first custom
# object; Debian's newer copies fix that.
vendor="$tree/vendor/github.com"
for lib in modern-go/reflect2 json-iterator/go; do
  find "$vendor/$lib" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) -delete
  find "/usr/share/gocode/src/github.com/$lib" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) \
    ! -name '*_test.go' -exec cp {} "$vendor/$lib/" \;
done

# KUBE_STATIC_OVERRIDES: kubelet is linked statically like the rest, so it shares their compiled packages.
echo "control-plane: building ${BINARIES[*]} (about 15 minutes cold on 2 cores)" >&2
targets="$(printf 'cmd/%s ' "${BINARIES[@]}")"
(cd "$tree" && CGO_ENABLED=0 KUBE_STATIC_OVERRIDES=kubelet make WHAT="$targets" >"$CACHE/build.log" 2>&1) \
  || { tail -30 "$CACHE/build.log" >&2; exit 1; }
mkdir -p "$CACHE/bin"
for b in "${BINARIES[@]}"; do cp "$tree/_output/bin/$b" "$CACHE/bin/$b"; done
rm -rf "$tree/_output"
echo "$CACHE"
