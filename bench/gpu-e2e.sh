#!/usr/bin/env bash
# End-to-end check of ./ldm4j generate --device cuda on a GPU host that has only an NVIDIA driver:
# runs the tiny model's seeded run on cuda (fp32, fp16) and on cpu, then writes a full-size random-weight
# SD 1.5 checkpoint there (names and shapes from the SD 1.5 header) and generates 512x512 with 20 steps
# and guidance 7.5 twice per precision (the second run is warm). Complements bench/gpu-check.sh (kernel tests and timings).
#
#   bench/gpu-e2e.sh bundle DIR   (project root, build machine with JDK 25 and ../shared beside the project)
#   bench/gpu-e2e.sh run DIR      (GPU host; logs and images under $OUT or /tmp/gpu-e2e)
set -uo pipefail
mode=${1:?usage: gpu-e2e.sh bundle|run DIR}
dir=${2:?usage: gpu-e2e.sh bundle|run DIR}

bundle() {
  set -e
  local jdk=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
  export JAVA_HOME=$jdk
  ./mvnw -q -B -DskipTests -pl cli -am package
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  rm -rf "$dir/app" "$dir/clip" "$dir/sd1-tiny"
  mkdir -p "$dir/app/lib" "$dir/clip"
  cp cli/target/ldm4j.jar "$dir/app/"
  cp cli/target/lib/*.jar "$dir/app/lib/"
  # Only JCuda's driver-API library is used; the other natives would push the bundle past 64 MiB.
  local nat tmp
  nat=$(ls "$dir"/app/lib/jcuda-natives-*-linux-x86_64.jar)
  tmp=$(mktemp -d)
  (cd "$tmp" && "$jdk/bin/jar" xf "$(realpath "$nat")" lib/ && find lib -type f ! -name 'libJCudaDriver-*' -delete)
  rm "$nat"
  "$jdk/bin/jar" cf "$nat" -C "$tmp" lib
  rm -rf "$tmp"
  cp ../shared/clip/vocab.json ../shared/clip/merges.txt "$dir/clip/"
  cp ../shared/conformance/sd15-original-fp16.header.json ../shared/conformance/sd1-tiny.safetensors "$dir/"
  # The tiny model's configs and tokenizer, without its weights (the single file carries them).
  cp -r ../shared/conformance/sd1-tiny "$dir/"
  chmod -R u+w "$dir/sd1-tiny"
  rm -f "$dir"/sd1-tiny/*/*.safetensors "$dir"/sd1-tiny/*.safetensors
  # Under gpu-session.sh the runtime beside the bundle (shared with the other script) is used instead.
  [[ -f "$dir/jre.tar.xz" || ( -f "$dir/../jre.tar.xz" && -f "$dir/../gpu-session.sh" ) ]] || ../shared/tools/device-jre.sh "$dir"
  cp bench/gpu-e2e.sh "$dir/"
  du -sh --apparent-size "$dir"
}

run() {
  local out=${OUT:-/tmp/gpu-e2e}
  mkdir -p "$out"
  exec > >(tee "$out/e2e.log") 2>&1
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  local jre="$dir/jre.tar.xz"
  [[ -f "$jre" ]] || jre="$dir/../jre.tar.xz"
  tar xJf "$jre" -C /tmp
  local j=(/tmp/jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx24g -Xss4m -jar "$dir/app/ldm4j.jar")
  # The tiny runs first: they check correctness (and are quick), the full-size runs then time.
  echo "== tiny seeded run (euler_a, 5 steps, cfg 7.5, 128x128) on cuda and cpu"
  # The single file with the folder's configs; under gpu-session.sh, gpu-check's copy of the tiny folder.
  local tiny=(--model "$dir/sd1-tiny.safetensors" --config "$dir/sd1-tiny")
  [[ -f "$dir/sd1-tiny.safetensors" ]] || tiny=(--model "$dir/../check/conformance/sd1-tiny")
  for dev in "cuda --dtype fp32" "cuda --dtype fp16" "cpu"; do
    "${j[@]}" generate --device $dev "${tiny[@]}" \
      --prompt "a red apple on a wooden table" --negative-prompt blurry --steps 5 --guidance 7.5 --width 128 --height 128 \
      --scheduler euler_a --seed 1234 --noise-dtype float64 --overwrite --output "$out/tiny-$(echo "$dev" | tr -d ' -').png" 2>&1 | tail -1
  done
  local t0=$SECONDS
  "${j[@]}" random-weights --header "$dir/sd15-original-fp16.header.json" --output /tmp/sd15.safetensors --overwrite || exit 1
  echo "random-weights: $((SECONDS - t0)) s"
  for dtype in fp32 fp16 bf16; do
    for n in 1 2; do
      echo "== full-size SD 1.5 on cuda, $dtype, run $n"
      "${j[@]}" generate --device cuda --dtype $dtype --model /tmp/sd15.safetensors --tokenizer "$dir/clip" \
        --prompt "a photo of an astronaut riding a horse on mars" --negative-prompt "blurry" --steps 20 --guidance 7.5 \
        --width 512 --height 512 --scheduler euler_a --seed 42 --overwrite \
        --output "$([ $n = 2 ] && echo "$out" || echo /tmp)/sd15-cuda-$dtype.png" 2>&1 | grep -v '^step [0-9]*/20 '
    done
  done
  echo "== full-size SD 1.5 on cuda, fp16, with --cuda-graph (the step recorded once, replayed 19 times)"
  "${j[@]}" generate --device cuda --dtype fp16 --cuda-graph --model /tmp/sd15.safetensors --tokenizer "$dir/clip" \
    --prompt "a photo of an astronaut riding a horse on mars" --negative-prompt "blurry" --steps 20 --guidance 7.5 \
    --width 512 --height 512 --scheduler euler_a --seed 42 --overwrite \
    --output "$out/sd15-cuda-fp16-graph.png" 2>&1 | grep -v '^step [0-9]*/20 '
  echo "== full-size SD 1.5 on cuda, fp16 with the VAE in fp32 (--vae-dtype fp32)"
  "${j[@]}" generate --device cuda --dtype fp16 --vae-dtype fp32 --model /tmp/sd15.safetensors --tokenizer "$dir/clip" \
    --prompt "a photo of an astronaut riding a horse on mars" --negative-prompt "blurry" --steps 20 --guidance 7.5 \
    --width 512 --height 512 --scheduler euler_a --seed 42 --overwrite --output /tmp/sd15-cuda-fp16-vae32.png 2>&1 | grep -v '^step [0-9]*/20 '
}

case $mode in
  bundle) bundle ;;
  run) run ;;
  *) echo "usage: gpu-e2e.sh bundle|run DIR" >&2; exit 2 ;;
esac
