#!/usr/bin/env bash
# A real single-node Kubernetes 1.20 on this machine, for the end-to-end tier (tests/e2e, `make e2e`):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy (all built by
# scripts/build-control-plane.sh from Debian's source, cached), containerd + runc, a CNI bridge, and a
# cluster DNS (dnsmasq answering for the Services, synced from the API every 2 s).
#
#   scripts/node.sh up                  start it (idempotent while it runs; after a crash, a fresh cluster);
#                                       prints the admin kubeconfig's path
#   scripts/node.sh down [--purge]      stop everything it started, by PID; leaves no mounts, namespaces or
#                                       cgroups. --purge also drops the image store
#   scripts/node.sh status [--json]     daemons, node readiness, pods
#   scripts/node.sh load ARCHIVE...     import image archives (docker-archive/OCI) into the node's containerd
#   scripts/node.sh run CMD...          run CMD inside the node's network namespace, KUBECONFIG set
#   scripts/node.sh kubectl ARGS...     kubectl against the node
#   scripts/node.sh ip                  the node's IP (inside its namespace)
#
# Network safety: every daemon, pod and Service lives in the network namespace `ocrnode`, which has only
# `lo` (node IP 10.200.0.1), the pod bridge cni0 and pod veths: no uplink and no default route, so
# nothing in it can reach any other machine. `up` refuses to go on if that ever stops being true.
# All daemons share one mount namespace (a slave of the host's): container root filesystems, volumes and
# pod network namespaces are mounted there only, and vanish with it. Needs root and cgroup v1.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"

CACHE_ROOT="${OCR_SUBNET_CACHE:-$HOME/.cache/ocr-subnet}"
STATE="${OCR_SUBNET_NODE_DIR:-$CACHE_ROOT/node}"
NETNS="${OCR_SUBNET_NODE_NETNS:-ocrnode}"
NODE_NAME="$NETNS"
NODE_IP=10.200.0.1
POD_CIDR=10.244.0.0/24
POD_GATEWAY=10.244.0.1
SVC_CIDR=10.96.0.0/24
CLUSTER_DOMAIN=cluster.local
MNTNS="$STATE/ns/mnt"
SOCK="$STATE/containerd/containerd.sock"
KUBECONFIG_ADMIN="$STATE/admin.kubeconfig"
CGROUP_PARENT="$NETNS"
DAEMONS=(containerd etcd apiserver kcm scheduler kubelet kube-proxy dns dns-sync)
# podman and debootstrap: the pause image here, and images/build.sh right after `up` in scripts/e2e.sh.
APT_PACKAGES=(containerd containernetworking-plugins runc iptables conntrack socat dnsmasq-base gcc libc6-dev podman debootstrap openssl)
PAUSE_IMAGE=localhost/pause:3.2
VOLUMES=8

log() { echo "node: $*" >&2; }
die() { log "$*"; exit 1; }
pidfile() { echo "$STATE/pids/$1.pid"; }
# Running, not a zombie: a daemon killed moments ago answers kill -0 until its parent reaps it.
alive() {
  local state
  [ -f "$(pidfile "$1")" ] && state="$(ps -o stat= -p "$(cat "$(pidfile "$1")")")" && [[ $state != Z* ]]
}
innet() { nsenter --net="/run/netns/$NETNS" -- "$@"; }
innode() { nsenter --net="/run/netns/$NETNS" --mount="$MNTNS" -- "$@"; }
ctr_node() { ctr -a "$SOCK" -n k8s.io "$@"; }
K8S_BIN=""
k8s_bin() { [ -n "$K8S_BIN" ] || K8S_BIN="$(bash "$REPO/scripts/build-control-plane.sh" | tail -1)/bin"; echo "$K8S_BIN"; }
kubectl_node() { innet "$(k8s_bin)/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# Start a daemon inside the node (network + mount namespace) unless its recorded PID is alive.
start() {
  local name=$1; shift
  if alive "$name"; then return 0; fi
  nsenter --net="/run/netns/$NETNS" --mount="$MNTNS" -- "$@" >"$STATE/logs/$name.log" 2>&1 &
  echo $! >"$(pidfile "$name")"
}

wait_for() {
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${seconds}s waiting for $what (logs: $STATE/logs)"
    sleep 0.3
  done
}

install_packages() {
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The network namespace: lo (with the node IP: these kernels have no dummy links) and the pod bridge,
# which is created here so that the Service range can be routed to it (locally made packets to a
# ClusterIP need a route before kube-proxy's DNAT, and there is no default route).
make_netns() {
  if [ ! -e "/run/netns/$NETNS" ]; then
    ip netns add "$NETNS"
    ip -n "$NETNS" link set lo up
    ip -n "$NETNS" addr add "$NODE_IP/32" dev lo
    ip -n "$NETNS" link add cni0 type bridge
    ip -n "$NETNS" addr add "$POD_GATEWAY/24" dev cni0
    ip -n "$NETNS" link set cni0 up
    ip -n "$NETNS" route add "$SVC_CIDR" dev cni0
  fi
  ip netns exec "$NETNS" sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 \
    net.ipv4.conf.all.route_localnet=1
  check_isolated
}

check_isolated() {
  if ip -n "$NETNS" route show default | grep -q .; then die "namespace $NETNS has a default route: refusing"; fi
  if ip -n "$NETNS" -o link | grep -vE ': (lo|cni0|veth[^:@]*)[:@]' | grep -q .; then
    die "namespace $NETNS has a link other than lo, cni0 and pod veths: refusing"
  fi
}

# One mount namespace for every daemon, so kubelet's volume mounts are the ones runc sees. kubelet 1.20
# sets host-global sysctls (vm.overcommit_memory, kernel.panic, ...): in this namespace those files are
# masked by files already holding the values it wants, so it never writes the host's. Its pod logs go
# to the node's state through a bind over /var/log.
make_mntns() {
  if nsenter --mount="$MNTNS" true 2>/dev/null; then return 0; fi
  touch "$MNTNS"
  unshare --mount="$MNTNS" --propagation slave true
  local kv key value file
  for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \
    kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
    key=${kv%=*} value=${kv#*=} file="$STATE/sysctl/${kv%=*}"
    mkdir -p "$(dirname "$file")"
    echo "$value" >"$file"
    nsenter --mount="$MNTNS" mount --bind "$file" "/proc/sys/$key"
  done
  mkdir -p "$STATE/varlog"
  nsenter --mount="$MNTNS" mount --bind "$STATE/varlog" /var/log
}

make_cgroups() {
  local hierarchy
  for hierarchy in /sys/fs/cgroup/*/; do
    case "$hierarchy" in */unified/) continue ;; esac
    mkdir -p "$hierarchy$CGROUP_PARENT"
    case "$hierarchy" in */cpuset/)
      cat "${hierarchy}cpuset.cpus" >"$hierarchy$CGROUP_PARENT/cpuset.cpus"
      cat "${hierarchy}cpuset.mems" >"$hierarchy$CGROUP_PARENT/cpuset.mems"
      ;;
    esac
  done
}

write_containerd_config() {
  mkdir -p "$STATE/containerd/root" "$STATE/containerd/state" "$STATE/cni/conf" "$STATE/cni/ipam"
  # restrict_oom_score_adj: these VMs' capability bounding set lacks CAP_SYS_RESOURCE, so runc cannot
  # lower a sandbox's oom_score_adj (-998) and every pod would fail to start.
  cat >"$STATE/containerd/config.toml" <<EOF
version = 2
root = "$STATE/containerd/root"
state = "$STATE/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc)"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/conf"
    max_conf_num = 1
EOF
  cat >"$STATE/cni/conf/10-$NETNS.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "$NETNS",
 "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$STATE/cni/ipam",
            "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$POD_GATEWAY"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF
}

# The sandbox ("pause") image: a static 15-line C program, FROM scratch, imported straight into containerd.
load_pause_image() {
  if ctr_node images ls -q | grep -qx "$PAUSE_IMAGE"; then return 0; fi
  local ctx="$STATE/pause"
  mkdir -p "$ctx"
  gcc -static -Os -s -o "$ctx/pause" "$REPO/images/pause.c"
  printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$ctx/Containerfile"
  # shellcheck source=../images/engine.sh
  . "$REPO/images/engine.sh"
  engine build -q --pull=never -t "$PAUSE_IMAGE" "$ctx" >/dev/null
  engine save -o "$ctx/pause.tar" "$PAUSE_IMAGE" >/dev/null
  ctr_node images import "$ctx/pause.tar" >/dev/null
  rm -f "$ctx/pause.tar"
}

kubeconfig_for() { # file user
  local token
  token=$(awk -F, -v user="$2" '$2 == user {print $1}' "$STATE/tokens.csv")
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $NETNS
  cluster: {server: "https://$NODE_IP:6443", certificate-authority: "$STATE/pki/apiserver.crt"}
users:
- name: $2
  user: {token: $token}
contexts:
- name: $NETNS
  context: {cluster: $NETNS, user: $2}
current-context: $NETNS
EOF
}

write_credentials() {
  mkdir -p "$STATE/pki"
  if [ ! -f "$STATE/pki/sa.key" ]; then
    openssl genrsa -out "$STATE/pki/sa.key" 2048 2>/dev/null
    openssl rsa -in "$STATE/pki/sa.key" -pubout -out "$STATE/pki/sa.pub" 2>/dev/null
  fi
  if [ ! -f "$STATE/tokens.csv" ]; then
    # token,user,uid,groups
    (
      umask 077
      echo "$(openssl rand -hex 16),admin,admin,system:masters"
      echo "$(openssl rand -hex 16),system:node:$NODE_NAME,node,system:nodes"
      for user in system:kube-proxy system:kube-controller-manager system:kube-scheduler; do
        echo "$(openssl rand -hex 16),$user,$user,"
      done
    ) >"$STATE/tokens.csv"
  fi
  kubeconfig_for "$KUBECONFIG_ADMIN" admin
  kubeconfig_for "$STATE/kubelet.kubeconfig" "system:node:$NODE_NAME"
  kubeconfig_for "$STATE/proxy.kubeconfig" system:kube-proxy
  kubeconfig_for "$STATE/kcm.kubeconfig" system:kube-controller-manager
  kubeconfig_for "$STATE/scheduler.kubeconfig" system:kube-scheduler
}

start_control_plane() {
  local bin=$1
  start etcd etcd --name "$NODE_NAME" --data-dir "$STATE/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster "$NODE_NAME=http://127.0.0.1:2380" --listen-metrics-urls http://127.0.0.1:2381
  # The apiserver makes its own serving certificate (for 127.0.0.1, the node IP and the kubernetes
  # Service IP) in --cert-dir; that certificate is also the CA the kubeconfigs and pods trust.
  start apiserver "$bin/kube-apiserver" \
    --etcd-servers http://127.0.0.1:2379 \
    --bind-address 0.0.0.0 --advertise-address "$NODE_IP" --secure-port 6443 --insecure-port 0 \
    --cert-dir "$STATE/pki" --token-auth-file "$STATE/tokens.csv" \
    --authorization-mode Node,RBAC \
    --service-account-key-file "$STATE/pki/sa.pub" --service-account-signing-key-file "$STATE/pki/sa.key" \
    --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
    --service-cluster-ip-range "$SVC_CIDR" --allow-privileged=true \
    --kubelet-preferred-address-types InternalIP,Hostname
  wait_for "the API server's certificate" 60 test -s "$STATE/pki/apiserver.crt"
  wait_for "the API server" 90 kubectl_node get --raw /readyz
  start kcm "$bin/kube-controller-manager" --kubeconfig "$STATE/kcm.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --port 0 --leader-elect=false \
    --service-account-private-key-file "$STATE/pki/sa.key" --root-ca-file "$STATE/pki/apiserver.crt" \
    --use-service-account-credentials=true \
    --allocate-node-cidrs=true --cluster-cidr 10.244.0.0/16 --node-cidr-mask-size 24 \
    --service-cluster-ip-range "$SVC_CIDR"
  start scheduler "$bin/kube-scheduler" --kubeconfig "$STATE/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --port 0 --leader-elect=false
}

start_kubelet() {
  local bin=$1
  : >"$STATE/resolv.conf" # pods get the cluster DNS only: no upstream servers to leak to
  cat >"$STATE/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 0.0.0.0
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_PARENT
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
failSwapOn: false
clusterDNS: [$NODE_IP]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: $STATE/resolv.conf
serializeImagePulls: false
evictionHard: {memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%"}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
EOF
  start kubelet "$bin/kubelet" --config "$STATE/kubelet-config.yaml" --kubeconfig "$STATE/kubelet.kubeconfig" \
    --container-runtime=remote --container-runtime-endpoint="unix://$SOCK" --containerd="$SOCK" \
    --root-dir "$STATE/kubelet" --cert-dir "$STATE/kubelet/pki" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --pod-infra-container-image "$PAUSE_IMAGE" --v=1
  # conntrack settings 0: kube-proxy leaves the host-global conntrack sysctls alone.
  start kube-proxy "$bin/kube-proxy" --kubeconfig "$STATE/proxy.kubeconfig" --hostname-override "$NODE_NAME" \
    --proxy-mode iptables --cluster-cidr 10.244.0.0/16 \
    --conntrack-max-per-core 0 --conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0 \
    --bind-address "$NODE_IP" --metrics-bind-address 127.0.0.1:10249 --healthz-bind-address 127.0.0.1:10256
}

# Storage: no provisioner runs here, so like a bare-metal cluster the node offers static volumes (folders
# of its state, writable by the pods' non-root users) under a default StorageClass that claims bind to.
make_volumes() {
  local i manifest
  manifest="apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local
  annotations: {storageclass.kubernetes.io/is-default-class: \"true\"}
provisioner: kubernetes.io/no-provisioner
reclaimPolicy: Retain
volumeBindingMode: Immediate"
  for i in $(seq 1 "$VOLUMES"); do
    mkdir -p "$STATE/volumes/pv-$i"
    chmod 0777 "$STATE/volumes/pv-$i"
    manifest+="
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $NODE_NAME-pv-$i
spec:
  storageClassName: local
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: \"$STATE/volumes/pv-$i\", type: Directory}"
  done
  echo "$manifest" | kubectl_node apply -f - >/dev/null
}

# Cluster DNS: dnsmasq on the node IP answers <service>.<namespace>.svc.cluster.local from a hosts file
# that `node.sh dns-sync` rewrites from the API every 2 s (dnsmasq re-reads a changed --hostsdir file by
# itself): a Service's cluster IP, or for a headless Service the addresses of its ready endpoints.
# Any other name is NXDOMAIN at once (--address=/#/, which the hosts files override): nothing leaves the namespace.
start_dns() {
  mkdir -p "$STATE/dns/hosts"
  start dns dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --user=root \
    --hostsdir="$STATE/dns/hosts" --listen-address="$NODE_IP" --bind-interfaces --address=/#/ \
    --log-facility=-
  start dns-sync bash "$REPO/scripts/node.sh" dns-sync
}

dns_sync() {
  local hosts="$STATE/dns/hosts" services endpoints
  k8s_bin >/dev/null
  services='{range .items[*]}{.metadata.namespace} {.metadata.name} {.spec.clusterIP}{"\n"}{end}'
  endpoints='{range .items[*]}{.metadata.namespace} {.metadata.name}{range .subsets[*].addresses[*]} {.ip}{end}{"\n"}{end}'
  while :; do
    if kubectl_node get services --all-namespaces -o jsonpath="$services" >"$hosts/.services" 2>/dev/null \
      && kubectl_node get endpoints --all-namespaces -o jsonpath="$endpoints" >"$hosts/.endpoints" 2>/dev/null; then
      awk -v domain="$CLUSTER_DOMAIN" '
        FNR == NR { if ($3 == "None") headless[$1 " " $2] = 1; else if ($3 != "") print $3, $2 "." $1 ".svc." domain; next }
        ($1 " " $2) in headless { for (i = 3; i <= NF; i++) print $i, $2 "." $1 ".svc." domain }
      ' "$hosts/.services" "$hosts/.endpoints" | sort >"$hosts/.new"
      cmp -s "$hosts/.new" "$hosts/services" || mv "$hosts/.new" "$hosts/services"
    fi
    sleep 2
  done
}

node_ready() {
  kubectl_node get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' | grep -qx True
}

# The cluster itself (etcd's data, certificates, credentials, volumes); the image store stays for the next `up`.
forget_cluster() {
  rm -rf "$STATE"/{etcd,kubelet,pki,dns,cni/ipam,sysctl,volumes} "$STATE"/tokens.csv "$STATE"/*.kubeconfig
}

up() {
  [ "$(id -u)" = 0 ] || die "needs root (network and mount namespaces, cgroups, containerd)"
  [ -d /sys/fs/cgroup/memory ] || die "needs cgroup v1 (kubelet 1.20): /sys/fs/cgroup/memory is missing"
  [ -c /dev/null ] || die "/dev/null is not a device (something replaced it): mknod -m 666 /dev/null c 1 3"
  install_packages
  local bin started=$SECONDS
  k8s_bin >/dev/null
  bin="$K8S_BIN"
  # A run killed before `down` (a CI job stopped, a machine restored from a snapshot) leaves etcd's data
  # behind with no etcd running: the next cluster would wake with that run's Helm releases and pods.
  # Only a node whose etcd is alive is reused.
  if ! alive etcd && [ -d "$STATE/etcd" ]; then
    log "a previous node was not shut down: starting a fresh cluster"
    down >/dev/null
  fi
  mkdir -p "$STATE"/{ns,logs,pids}
  make_netns
  make_mntns
  make_cgroups
  write_containerd_config
  start containerd containerd --config "$STATE/containerd/config.toml"
  wait_for containerd 30 ctr -a "$SOCK" version
  load_pause_image
  write_credentials
  start_control_plane "$bin"
  start_kubelet "$bin"
  start_dns
  wait_for "the node to be Ready" 180 node_ready
  wait_for "the default ServiceAccount" 60 kubectl_node get serviceaccount default
  make_volumes
  check_isolated
  log "up in $((SECONDS - started))s: node $NODE_NAME Ready (kubectl: scripts/node.sh kubectl ...)"
  echo "$KUBECONFIG_ADMIN"
}

stop() {
  local name=$1 pid file
  file="$(pidfile "$name")"
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$file"
}

down() {
  stop dns-sync
  stop dns
  stop kube-proxy
  stop kubelet
  # Every pod's containers and sandboxes go while containerd still runs.
  if alive containerd; then
    local task
    for task in $(ctr_node tasks ls -q 2>/dev/null); do ctr_node tasks kill -s KILL "$task" >/dev/null 2>&1 || true; done
    sleep 1
    for task in $(ctr_node tasks ls -q 2>/dev/null); do ctr_node tasks delete -f "$task" >/dev/null 2>&1 || true; done
    ctr_node containers ls -q 2>/dev/null | xargs -r ctr -a "$SOCK" -n k8s.io containers delete >/dev/null 2>&1 || true
  fi
  stop scheduler
  stop kcm
  stop apiserver
  stop etcd
  stop containerd
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $SOCK" || true); do kill -9 "$pid" 2>/dev/null || true; done
  if [ -e "$MNTNS" ]; then
    grep -q " $MNTNS " /proc/self/mountinfo && umount "$MNTNS"
    rm -f "$MNTNS"
  fi
  ip netns del "$NETNS" 2>/dev/null || true
  local hierarchy
  for hierarchy in /sys/fs/cgroup/*/"$CGROUP_PARENT"; do
    [ -d "$hierarchy" ] && find "$hierarchy" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  # containerd's and libcni's fixed host paths, once empty.
  for dir in /run/containerd /var/lib/cni; do
    [ -d "$dir" ] && find "$dir" -depth -type d -empty -delete 2>/dev/null
  done
  forget_cluster
  if [ "${1:-}" = --purge ]; then rm -rf "$STATE"; fi
  local left=()
  [ -e "/run/netns/$NETNS" ] && left+=("network namespace $NETNS")
  ls -d /sys/fs/cgroup/*/"$CGROUP_PARENT" >/dev/null 2>&1 && left+=("cgroups /sys/fs/cgroup/*/$CGROUP_PARENT")
  pgrep -f "containerd-shim-runc-v2 .*-address $SOCK" >/dev/null && left+=("containerd shims")
  ((${#left[@]} == 0)) || die "left behind: ${left[*]}"
  log "down: nothing left running"
}

status() {
  local json=0 name state pids=() ready=False pods=""
  [ "${1:-}" = --json ] && json=1
  if [ -e "/run/netns/$NETNS" ] && [ -f "$KUBECONFIG_ADMIN" ] && node_ready; then ready=True; fi
  if [ "$ready" = True ]; then
    pods=$(kubectl_node get pods --all-namespaces --no-headers \
      -o custom-columns=NS:.metadata.namespace,NAME:.metadata.name,PHASE:.status.phase 2>/dev/null || true)
  fi
  if ((json)); then
    for name in "${DAEMONS[@]}"; do
      if alive "$name"; then pids+=("\"$name\": $(cat "$(pidfile "$name")")"); else pids+=("\"$name\": null"); fi
    done
    printf '{"node": "%s", "ready": %s, "kubeconfig": "%s", "daemons": {%s}, "pods": %s}\n' \
      "$NODE_NAME" "$([ $ready = True ] && echo true || echo false)" "$KUBECONFIG_ADMIN" \
      "$(IFS=,; echo "${pids[*]}")" "$(echo -n "$pods" | awk 'BEGIN{printf "["} NF{printf "%s{\"namespace\":\"%s\",\"name\":\"%s\",\"phase\":\"%s\"}", (n++?",":""), $1, $2, $3} END{printf "]"}')"
    return 0
  fi
  printf '%-12s %-8s %s\n' DAEMON STATE PID
  for name in "${DAEMONS[@]}"; do
    if alive "$name"; then state=running; else state=stopped; fi
    printf '%-12s %-8s %s\n' "$name" "$state" "$(cat "$(pidfile "$name")" 2>/dev/null || echo -)"
  done
  echo "node $NODE_NAME Ready: $ready"
  [ -z "$pods" ] || { echo; echo "$pods"; }
}

load() {
  alive containerd || die "the node is not up (scripts/node.sh up)"
  local archive
  for archive in "$@"; do
    [ -f "$archive" ] || die "no image archive at $archive"
    ctr_node images import "$archive" >&2
  done
}

command=${1:-}
shift || true
case "$command" in
  up) up ;;
  down) down "$@" ;;
  status) status "$@" ;;
  load) load "$@" ;;
  run) [ -f "$KUBECONFIG_ADMIN" ] || die "the node is not up (scripts/node.sh up)"; KUBECONFIG="$KUBECONFIG_ADMIN" innet "$@" ;;
  kubectl) kubectl_node "$@" ;;
  ip) echo "$NODE_IP" ;;
  dns-sync) dns_sync ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
