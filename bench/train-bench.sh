#!/usr/bin/env bash
# Whole training steps of the built-in shapes model on the CPU (dev.ldm4j.bench.TrainStepBench): the U-Net +
# text encoder and the VAE, fwd + bwd GFLOP/s against the FMA peak measured in the same run, and memory per
# sample. Builds the bench jar, then runs; arguments go to the bench (--batches 8,16 --warmup 4 --steps 8).
# --replicas R adds the U-Net step at the largest batch undivided and cut into R parts computed at once
# (`train --replicas R`), stepped in turn. bench/TRAIN-RESULTS.md records a run.
#
#   bench/train-bench.sh [--batches 8,16] [--warmup K] [--steps N] [--replicas R]      (project root, JDK 25)
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
./mvnw -B -o -q -pl bench -am package -DskipTests
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx6g -XX:+UseParallelGC -XX:NewRatio=1 \
  -cp bench/target/benchmarks.jar dev.ldm4j.bench.TrainStepBench "$@"
echo "uptime: $(uptime)"
