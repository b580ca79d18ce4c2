#!/usr/bin/env bash
# Which op shapes SD 1.5 runs, and how often: `./ldm4j generate --profile-shapes` at 512x512 and 256x256, once with
# 1 step and once with 2 (guidance 7.5, so the U-Net runs on a batch of 2), and the difference of the two is one
# U-Net step. Writes bench/sd15-shapes.tsv: resolution, the op and its operand shapes (as the profiler names
# them), calls per step (the U-Net), calls per image (the text encoder and the VAE decoder), and the in-model
# milliseconds per call and GFLOP per call of the 2-step run. bench/src/.../ops/Sd15ShapesBench runs the same
# rows in JMH, and bench/MakeResults.java weights them by these counts.
#
# Usage: bench/sd15-shapes.sh MODEL.safetensors CLIP_DIR [OUT.tsv]
#   MODEL   a full-size SD 1.5 checkpoint; random weights do the same arithmetic:
#           ./ldm4j random-weights --header ../shared/conformance/sd15-original-fp16.header.json --output sd15-random.safetensors
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=${1:?usage: bench/sd15-shapes.sh MODEL CLIP_DIR [OUT.tsv]}
clip=${2:?usage: bench/sd15-shapes.sh MODEL CLIP_DIR [OUT.tsv]}
out=${3:-$root/bench/sd15-shapes.tsv}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for res in 512 256; do
  for steps in 1 2; do
    "$root/ldm4j" generate --model "$model" --tokenizer "$clip" --prompt "a photo of an astronaut riding a horse on mars" \
        --negative-prompt blurry --seed 42 --width "$res" --height "$res" --steps "$steps" --guidance 7.5 --scheduler euler \
        --output "$tmp/x.png" --overwrite --profile-shapes > "$tmp/$res-$steps.log" 2>&1
  done
done
{
  printf 'resolution\top and operand shapes\tcalls per step\tcalls per image\tms per call in model\tGFLOP per call\n'
  for res in 512 256; do
    bench_rows() { # the profile's rows but the loading's (toDeviceWeight): key<TAB>calls<TAB>seconds<TAB>GFLOP/s (empty where not counted)
      awk '/^op  +calls/ {on = 1; next} /^total / {on = 0} on && !/^toDeviceWeight / {
             n = NF; rate = ""
             if ($n !~ /%$/) { rate = $n; n-- }
             share = n; sec = $(n - 1); calls = $(n - 2)
             key = $1; for (i = 2; i <= n - 3; i++) key = key " " $i
             print key "\t" calls "\t" sec "\t" rate }' "$1"
    }
    bench_rows "$tmp/$res-1.log" > "$tmp/a"
    bench_rows "$tmp/$res-2.log" > "$tmp/b"
    awk -F'\t' -v res="$res" 'NR == FNR {one[$1] = $2; next} {
        per_step = $2 - one[$1]; once = one[$1] - per_step
        gflop = $4 == "" ? 0 : $4 * $3 / $2
        printf "%s\t%s\t%d\t%d\t%.3f\t%.4f\n", res, $1, per_step, once, 1000 * $3 / $2, gflop }' "$tmp/a" "$tmp/b"
  done
} > "$out"
echo "wrote $out ($(($(wc -l < "$out") - 1)) rows)"
