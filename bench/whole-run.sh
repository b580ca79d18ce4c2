#!/usr/bin/env bash
# Whole runs from the command line, as a user times them: ./ldm4j generate on a full-size SD 1.5 checkpoint (random
# weights are enough: the arithmetic is that of real ones), at 512x512 and 256x256, each run REPS times. Prints one
# markdown row per run: every step's time (the first included), text encoding, decoding, the whole process's wall
# time (JVM start-up and loading included), user+system CPU, and peak RSS.
#
# Usage: bench/whole-run.sh MODEL.safetensors CLIP_DIR [TAESD_DIR] [REPS]
#   MODEL   e.g. made by: ./ldm4j random-weights --header ../shared/conformance/sd15-original-fp16.header.json --output sd15-random.safetensors
#   TAESD   a diffusers AutoencoderTiny folder (a random one: TinyDecodeBench --write-taesd DIR); rows with --vae are skipped without it
# JAVA_OPTS passes JVM options through the launcher (e.g. -Dldm4j.winograd=false to time direct convolution).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=${1:?usage: bench/whole-run.sh MODEL CLIP_DIR [TAESD_DIR] [REPS]}
clip=${2:?usage: bench/whole-run.sh MODEL CLIP_DIR [TAESD_DIR] [REPS]}
taesd=${3:-}
reps=${4:-2}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The machine's speed beside the runs: this VM's FMA peak measured 384-481 GFLOP/s on one day (2026-12-03), so a
# step time means little without it. JMH's Ceilings.fmaPeak (one fork, short), when the bench jar has been built
# (./mvnw -q -B -pl bench -am package -DskipTests), times Ceilings' FLOP per call for this JVM's vector width.
fma_peak() {
  local jar="$root/bench/target/benchmarks.jar" java=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java flops
  [ -f "$jar" ] || { echo "not measured (no bench/target/benchmarks.jar)"; return; }
  flops=$("$java" --add-modules jdk.incubator.vector -cp "$jar" dev.ldm4j.bench.ops.Ceilings 2>/dev/null) || flops=
  [ -n "$flops" ] || { echo "not measured"; return; }
  "$java" --add-modules jdk.incubator.vector -jar "$jar" 'Ceilings.fmaPeak$' -f 1 -wi 1 -i 2 -w 2s -r 2s 2>/dev/null |
    awk -v flops="$flops" '$1 == "Ceilings.fmaPeak" { printf "%.0f GFLOP/s", $4 * flops / 1e9; found = 1 } END { if (!found) printf "not measured" }'
}

run() { # name, then generate's arguments
  local name=$1; shift
  for r in $(seq 1 "$reps"); do
    /usr/bin/time -f 'TIME %e %U %S %M' "$root/ldm4j" generate --model "$model" --tokenizer "$clip" \
        --prompt "a photo of an astronaut riding a horse on mars" --seed 42 --output "$out/x.png" --overwrite "$@" \
        >"$out/log" 2>&1 || { echo "| $name | failed: $(grep -m1 'error' "$out/log") |"; continue; }
    steps=$(sed -n 's/^step [0-9]*\/[0-9]*  t=[0-9]*  \([0-9.]*\) s.*/\1/p' "$out/log" | paste -sd' ' -)
    line=$(grep '^ldm4j: text encoding' "$out/log")
    text=$(sed -n 's/.*text encoding \([0-9.]*\) s.*/\1/p' <<<"$line")
    dec=$(sed -n 's/.*decoding \([0-9.]*\) s.*/\1/p' <<<"$line")
    read -r _ wall user sys rss < <(grep '^TIME' "$out/log")
    printf '| %s | %s | %s | %s | %s | %.1f | %.2f |\n' "$name" "$steps" "$text" "$dec" "$wall" "$(echo "$user + $sys" | bc)" \
        "$(echo "scale=2; $rss / 1048576" | bc)"
  done
}

echo "Machine: $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M UTC'); JAVA_OPTS=${JAVA_OPTS:-}"
echo "FMA peak before: $(fma_peak)"
echo
echo "| run | seconds per step (first to last) | text encoding (s) | decoding (s) | whole process, wall (s) | CPU, user+sys (s) | peak RSS (GB) |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
run "512x512, 4 Euler steps, guidance 7.5" --width 512 --height 512 --steps 4 --guidance 7.5 --negative-prompt blurry --scheduler euler
run "256x256, 4 Euler steps, guidance 7.5" --width 256 --height 256 --steps 4 --guidance 7.5 --negative-prompt blurry --scheduler euler
run "512x512, 1 step, no guidance (turbo-style), SD VAE" --width 512 --height 512 --steps 1 --guidance 0 --scheduler euler \
    --scheduler-option timestep_spacing=trailing
if [ -n "$taesd" ]; then
  run "512x512, 1 step, no guidance, TAESD" --width 512 --height 512 --steps 1 --guidance 0 --scheduler euler \
      --scheduler-option timestep_spacing=trailing --vae "$taesd"
  run "512x512, 4 steps, no guidance, TAESD" --width 512 --height 512 --steps 4 --guidance 0 --scheduler euler \
      --scheduler-option timestep_spacing=trailing --vae "$taesd"
fi
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); FMA peak after: $(fma_peak)"
