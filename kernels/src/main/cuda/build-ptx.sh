#!/usr/bin/env bash
# Compiles each kernel family (*.cu here) to PTX for compute_80 (JIT-compiled by the driver on Ampere
# through Hopper) into the committed resource folder, so machines without nvcc can run the kernels.
# Each PTX starts with "// ldm4j-source-sha256: H", H the SHA-256 of the .cu followed by every .cuh
# here in name order; PtxFreshnessTest recomputes H and fails when a source changed but its PTX did not.
# A PTX whose hash already matches is left alone. Usage: build-ptx.sh [nvcc]
set -euo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../resources/dev/ldm4j/kernels/ptx"
nvcc=${1:-nvcc}
mkdir -p "$out"
headers=$(ls "$here"/*.cuh | sort)
for cu in "$here"/*.cu; do
  name=$(basename "$cu" .cu)
  hash=$(cat "$cu" $headers | sha256sum | cut -d' ' -f1)
  ptx="$out/$name.ptx"
  if [[ -f "$ptx" ]] && [[ "$(head -n1 "$ptx")" == "// ldm4j-source-sha256: $hash" ]]; then
    continue
  fi
  echo "nvcc: $name.cu -> $name.ptx"
  tmp=$(mktemp)
  "$nvcc" -ptx -arch=compute_80 -O3 -I"$here" "$cu" -o "$tmp"
  { echo "// ldm4j-source-sha256: $hash"; cat "$tmp"; } > "$ptx"
  rm -f "$tmp"
done
