#!/usr/bin/env bash
# Builds the subnet's images from the repository root and tags them <registry>/<name>:<appVersion>, the
# chart's appVersion, which is what the chart and examples/*.yaml run by default.
#
#   images/build.sh [--registry ocr-subnet] [--push] [--torch-index-url URL] [neuron|operator|triton ...]
#
# No names: all three. --torch-index-url https://download.pytorch.org/whl/cpu makes a small CPU-only
# Triton image (what scripts/kind-e2e.sh uses). Prints one built tag per line on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

registry="ocr-subnet"
push=0
torch_index=""
names=()
while (($#)); do
  case "$1" in
    --registry) registry="$2"; shift 2 ;;
    --push) push=1; shift ;;
    --torch-index-url) torch_index="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    neuron|operator|triton) names+=("$1"); shift ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
((${#names[@]})) || names=(neuron operator triton)

version="$(sed -n 's/^appVersion:[[:space:]]*//p' charts/subnet/Chart.yaml | tr -d "\"' ")"
[ -n "$version" ] || { echo "build.sh: no appVersion in charts/subnet/Chart.yaml" >&2; exit 1; }

for name in "${names[@]}"; do
  tag="$registry/$name:$version"
  args=(--tag "$tag" --target "$name")
  if [ "$name" = triton ]; then
    args+=(--file images/triton.Dockerfile)
    [ -z "$torch_index" ] || args+=(--build-arg "TORCH_INDEX_URL=$torch_index")
  else
    args+=(--file images/python.Dockerfile --build-arg "IMAGE=$name")
  fi
  echo "build.sh: building $tag" >&2
  docker build "${args[@]}" . >&2
  if ((push)); then docker push "$tag" >&2; fi
  echo "$tag"
done
