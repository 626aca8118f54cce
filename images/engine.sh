# shellcheck shell=bash
# Sourced by images/build.sh and scripts/node.sh: picks the image builder and, for podman/buildah, keeps
# their storage and settings under the project's cache instead of the machine's defaults.
#
#   ENGINE      docker (an engine answers `docker info`), else podman, else buildah; OCR_SUBNET_ENGINE overrides
#   engine ...  runs it with the project's settings
CACHE_ROOT="${OCR_SUBNET_CACHE:-$HOME/.cache/ocr-subnet}"

pick_engine() {
  if [ -n "${OCR_SUBNET_ENGINE:-}" ]; then echo "$OCR_SUBNET_ENGINE"; return; fi
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then echo docker; return; fi
  for e in podman buildah; do command -v "$e" >/dev/null && { echo "$e"; return; }; done
  echo "images: no image builder: install podman or buildah (apt-get install podman), or start Docker" >&2
  return 1
}
ENGINE="$(pick_engine)"

if [ "$ENGINE" != docker ]; then
  # crun in Debian bookworm refuses the hybrid cgroup v1+v2 layout of these VMs: runc does not.
  PODMAN_DIR="$CACHE_ROOT/podman"
  mkdir -p "$PODMAN_DIR/tmp"
  cat >"$PODMAN_DIR/storage.conf" <<EOC
[storage]
driver = "overlay"
runroot = "$PODMAN_DIR/run"
graphroot = "$PODMAN_DIR/storage"
EOC
  # This VM's capability set lacks CAP_SYS_RESOURCE, so runc cannot raise a limit above the hard one, and
  # podman's defaults (1048576 files, 4194304 processes) are above it: start containers at the hard limits
  # (processes: at most conmon's 32768).
  nproc="$(ulimit -Hu)"
  [ "$nproc" != unlimited ] && [ "$nproc" -le 32768 ] || nproc=32768
  cat >"$PODMAN_DIR/containers.conf" <<EOC
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=$nproc:$nproc"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PODMAN_DIR/events.log"
tmp_dir = "$PODMAN_DIR/tmp"
runtime = "runc"
[network]
network_config_dir = "$PODMAN_DIR/net.d"
EOC
  export CONTAINERS_STORAGE_CONF="$PODMAN_DIR/storage.conf" CONTAINERS_CONF="$PODMAN_DIR/containers.conf"
  export TMPDIR="$PODMAN_DIR/tmp"
fi

engine() { "$ENGINE" "$@"; }
