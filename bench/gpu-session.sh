#!/usr/bin/env bash
# One GPU session in one device call: bench/gpu-check.sh (kernel tests, timings beside PyTorch, full-size
# models, tiny conformance) and then bench/gpu-e2e.sh (./ldm4j generate end to end), bundled together
# under the device's 64 MiB limit (the working tree, about 10 MB, plus what is carried) by sharing one
# Java runtime and one copy of the tiny model, whose weights travel xz-compressed (to less than half).
#
#   bench/gpu-session.sh bundle DIR   (project root, build machine with JDK 25 and ../shared beside the project)
#   bench/gpu-session.sh run DIR      (GPU host; logs, the JUnit tree and five images under $OUT, or /tmp/gpu-session)
# Time limits (seconds, environment): CHECK_SECONDS (default 320) for gpu-check, E2E_SECONDS (default 180)
# for gpu-e2e, so that the whole call, with copying and unpacking, fits a command limit of about 560 s. The
# last lines printed are a summary of both; the exit status is non-zero when a kernel test failed or a part
# ran out of time.
set -uo pipefail
mode=${1:?usage: gpu-session.sh bundle|run DIR}
dir=${2:?usage: gpu-session.sh bundle|run DIR}

bundle() {
  set -e
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [[ -f "$dir/jre.tar.xz" ]] || ../shared/tools/device-jre.sh "$dir"
  # Copied first: its presence tells the two bundles below to use the runtime beside them.
  cp bench/gpu-session.sh "$dir/"
  bash bench/gpu-check.sh bundle "$dir/check"
  bash bench/gpu-e2e.sh bundle "$dir/e2e"
  # gpu-e2e's tiny run uses gpu-check's copy of the tiny folder (weights included) instead of its own.
  rm -rf "$dir/e2e/sd1-tiny" "$dir/e2e/sd1-tiny.safetensors"
  tar cJf "$dir/check/conformance.tar.xz" -C "$dir/check" conformance
  rm -rf "$dir/check/conformance"
  local bytes tree
  bytes=$(du -sb "$dir" | cut -f1)
  tree=$(git ls-files -z -co --exclude-standard | du -cb --files0-from=- | tail -1 | cut -f1)
  echo "bundle $bytes bytes + working tree $tree bytes = $((bytes + tree)) of $((64 * 1024 * 1024))"
  if (( bytes + tree > 64 * 1024 * 1024 )); then
    echo "gpu-session: the bundle and the working tree exceed the device's 64 MiB limit" >&2
    exit 1
  fi
}

run() {
  # $OUT gets back at most 8 files: the two logs, the JUnit tree, and five images.
  local out=${OUT:-/tmp/gpu-session}
  local logs=/tmp/gpu-session-logs
  rm -rf "$logs" && mkdir -p "$out" "$logs/check" "$logs/e2e"
  # Unpacked in a scratch copy: the carried folder stays as it came.
  local work=/tmp/gpu-session-work
  rm -rf "$work" && mkdir -p "$work" && cp -r "$dir"/. "$work"/
  tar xJf "$work/check/conformance.tar.xz" -C "$work/check"
  local t0=$SECONDS
  OUT="$logs/check" timeout -k 10 "${CHECK_SECONDS:-320}" bash "$work/check/gpu-check.sh" run "$work/check" > "$out/check.txt" 2>&1
  local check_rc=$?
  cp "$logs/check/junit.txt" "$out/" 2>/dev/null
  local t1=$SECONDS
  OUT="$logs/e2e" timeout -k 10 "${E2E_SECONDS:-180}" bash "$work/e2e/gpu-e2e.sh" run "$work/e2e" > "$out/e2e.txt" 2>&1
  local e2e_rc=$?
  for f in tiny-cudadtypefp32.png tiny-cudadtypefp16.png tiny-cpu.png sd15-cuda-fp16.png sd15-cuda-fp16-graph.png; do
    cp "$logs/e2e/$f" "$out/" 2>/dev/null
  done
  # The reply keeps only the end of the output: the bench table first, then the end-to-end runs, then the tests.
  echo "== gpu-check ($((t1 - t0)) s, exit $check_rc; 124 = out of time)"
  if grep -q '^| section' "$out/check.txt"; then
    sed -n '/^| section/,$p' "$out/check.txt"
  else
    echo "(no summary table: gpu-check stopped early; its last lines)"
    tail -40 "$out/check.txt"
  fi
  echo "== gpu-e2e ($((SECONDS - t1)) s, exit $e2e_rc; 124 = out of time)"
  grep -E '^== |ldm4j: (loaded|text encoding|step recording|wrote .*png)|rror|FAIL|Exception' "$out/e2e.txt" | grep -v '^== tiny' | tail -40
  echo "== kernel tests"
  grep -E '^\[ +[0-9]+ tests (successful|failed|skipped|aborted)' "$logs/check/junit.txt"
  grep -E '✘' "$logs/check/junit.txt" | head -20
  local failed
  failed=$(grep -oE '[0-9]+ tests failed' "$logs/check/junit.txt" | grep -oE '^[0-9]+' || echo 1)
  echo "== gpu-session: $failed kernel test(s) failed; gpu-check exit $check_rc, gpu-e2e exit $e2e_rc"
  (( failed == 0 && check_rc == 0 && e2e_rc == 0 ))
}

case $mode in
  bundle) bundle ;;
  run) run ;;
  *) echo "usage: gpu-session.sh bundle|run DIR" >&2; exit 2 ;;
esac
