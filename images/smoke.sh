#!/usr/bin/env bash
# Smoke-tests the images images/build.sh made, the way pods run them: user 10001:10001, read-only root
# filesystem (only /tmp writable), with the project's engine (images/engine.sh).
#
#   images/smoke.sh [--registry docker.io/ocr-subnet] [--port 18000]
#
#   neuron:   --help, miner/validator/chain serve --help; a validator challenge read by tesseract
#   operator: operator --help; the operator's modules import
#   triton:   `triton serve` on 127.0.0.1 (host network, loopback only) until /v2/health/ready answers 200,
#             then the neuron image reads the challenge through it (--backend triton), then it stops
# Exits non-zero at the first failure. Progress on stderr; prints "smoke: ok" at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=images/engine.sh
. images/engine.sh

registry="docker.io/ocr-subnet"
port=18000
while (($#)); do
  case "$1" in
    --registry) registry="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "smoke.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
version="$(sed -n 's/^appVersion:[[:space:]]*//p' charts/subnet/Chart.yaml | tr -d "\"' ")"
neuron="$registry/neuron:$version" operator="$registry/operator:$version" triton="$registry/triton:$version"
pod=(run --rm --read-only --user 10001:10001)
step() { echo "smoke: $*" >&2; }

for args in "--help" "miner --help" "validator --help" "chain serve --help"; do
  step "neuron $args"
  # shellcheck disable=SC2086
  engine "${pod[@]}" "$neuron" $args >/dev/null
done
step "neuron: a challenge, read by tesseract"
engine "${pod[@]}" --entrypoint sh "$neuron" -c \
  'set -e; ocr-subnet challenge --out /tmp/c --seed 7 >/dev/null
   ocr-subnet ocr --backend tesseract --json /tmp/c/*.jpg | python3 -c "import json,sys; assert json.load(sys.stdin)[0][\"sections\"]"'

step "operator --help"
engine "${pod[@]}" "$operator" operator --help >/dev/null
step "operator: its modules import"
engine "${pod[@]}" --entrypoint python3 "$operator" -c \
  'import subnet_operator.cli, subnet_operator.runner, subnet_operator.handlers, kopf, kubernetes'

name="ocr-subnet-smoke-triton-$$"
step "triton serve on 127.0.0.1:$port"
started=$SECONDS
engine run -d --name "$name" --read-only --user 10001:10001 --network=host "$triton" \
  triton serve --model-repo /models --host 127.0.0.1 \
  --http-port "$port" --grpc-port "$((port + 1))" --metrics-port "$((port + 2))" >/dev/null
trap 'engine rm -f "$name" >/dev/null 2>&1 || true' EXIT
ready=""
for _ in $(seq 1 120); do
  ready="$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/health/ready" || true)"
  [ "$ready" = 200 ] && break
  engine container exists "$name" 2>/dev/null || [ "$ENGINE" = docker ] || break
  sleep 1
done
if [ "$ready" != 200 ]; then
  engine logs "$name" 2>&1 | tail -30 >&2
  echo "smoke: triton never became ready (last answer: ${ready:-none})" >&2
  exit 1
fi
step "triton ready after $((SECONDS - started))s; the neuron image reads the challenge through it"
engine "${pod[@]}" --network=host --entrypoint sh "$neuron" -c \
  "set -e; ocr-subnet challenge --out /tmp/c --seed 7 >/dev/null
   ocr-subnet ocr --backend triton --triton-url grpc://127.0.0.1:$((port + 1)) --json /tmp/c/*.jpg \
     | python3 -c 'import json,sys; assert json.load(sys.stdin)[0][\"sections\"]'"
engine stop -t 15 "$name" >/dev/null
echo "smoke: ok"
