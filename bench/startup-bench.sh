#!/usr/bin/env bash
# Start-up and first-step cost of ./ldm4j with and without the launcher's AOT cache (LDM4J_AOT=0),
# interleaved so that a change in the machine's load falls on both alike. Prints one line per run:
#   condition command wall user sys [textenc denoise total step1 median(steps 2..N)]
# Usage: bench/startup-bench.sh [REPEATS]   (from the repository root; JAVA_HOME a JDK 25)
set -euo pipefail
export LDM4J_NO_BUILD=1 # a source edited during the runs must not rebuild (and re-record) in the middle
n=${1:-5}
prompt="a red circle in the top left"
gen=(./ldm4j generate --prompt "$prompt" --output /tmp/ldm4j-bench.png --overwrite)
log=$(mktemp)
one() { # condition name command...
  local cond=$1 name=$2; shift 2
  local env=(); [ "$cond" = off ] && env=(LDM4J_AOT=0)
  /usr/bin/time -o "$log.t" -f '%e %U %S' env ${env[@]+"${env[@]}"} "$@" >/dev/null 2>"$log"
  local t; t=$(cat "$log.t")
  local extra=""
  if [ "$name" = generate ]; then
    extra=$(awk '
      /^step [0-9]+\/[0-9]+ / { split($2, a, "/"); s[a[1]] = $4 }
      /text encoding/ { match($0, /text encoding [0-9.]+/); te = substr($0, RSTART + 14, RLENGTH - 14)
                        match($0, /denoising [0-9.]+/); dn = substr($0, RSTART + 10, RLENGTH - 10)
                        match($0, /total [0-9.]+/); tt = substr($0, RSTART + 6, RLENGTH - 6) }
      END { m = 0; for (i = 2; i in s; i++) v[++m] = s[i]
            for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
            med = (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
            printf "%s %s %s %s %.3f", te, dn, tt, s[1], med }' "$log")
  fi
  echo "$cond $name $t $extra"
}
# the cache for the current jars, recorded once (that run is reported as "record")
LDM4J_NO_BUILD=0 LDM4J_AOT=0 ./ldm4j --version >/dev/null 2>&1 # builds first if needed
rm -rf cli/target/aot
one record generate "${gen[@]}"
ls cli/target/aot/*.aot >/dev/null
for i in $(seq "$n"); do
  for c in off on; do one $c version ./ldm4j --version; done
  for c in on off; do one $c models ./ldm4j models; done
  for c in off on; do one $c generate "${gen[@]}"; done
  echo "# load $(cut -d' ' -f1-3 /proc/loadavg)"
done
rm -f "$log" "$log.t"
