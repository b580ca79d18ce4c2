#!/usr/bin/env bash
# The GPU check: builds a self-contained bundle on a build machine, then runs it on a GPU host that has
# only an NVIDIA driver (no JDK, no Maven): the kernel tests (JUnit console launcher; each CUDA op against
# the CPU backend), ceilings measured through PyTorch when it is there, kernel timings at SD 1.5 shapes,
# full-size SD 1.5 U-Net step and VAE decode (random weights), and the tiny conformance U-Net/VAE; each
# matrix product, the U-Net step, the VAE decode and the tiny checks also in the fp16/bf16 tensor-core
# precision, beside PyTorch fp16 (cuDNN/cuBLAS, NCHW, fp16 in and out) at the same shapes.
#
#   bench/gpu-check.sh bundle DIR   (project root, build machine; JDK 25 + ../shared beside the project)
#   bench/gpu-check.sh run DIR      (project root or anywhere, GPU host; logs under $OUT or /tmp/gpu-check)
# The summary table is printed last; bench/GPU-RESULTS.md records a run.
set -uo pipefail
mode=${1:?usage: gpu-check.sh bundle|run DIR}
dir=${2:?usage: gpu-check.sh bundle|run DIR}

bundle() {
  set -e
  local jdk=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
  export JAVA_HOME=$jdk
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  rm -rf "$dir/lib" "$dir/test-classes" "$dir/conformance"
  ./mvnw -q -B -pl bench -am package -DskipTests dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$(cd "$dir" && pwd)/lib"
  cp bench/target/bench-*.jar "$dir/lib/"
  rm -f "$dir"/lib/commons-math3-*.jar "$dir"/lib/jmh-core-*.jar "$dir"/lib/jopt-simple-*.jar  # JMH only
  cp -r kernels/target/test-classes "$dir/test-classes"
  # Only the driver-API native library of JCuda is used; drop the rest (runtime, NVRTC, PTX compiler).
  local nat
  nat=$(ls "$dir"/lib/jcuda-natives-*-linux-x86_64.jar)
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && "$jdk/bin/jar" xf "$(realpath "$nat")" lib/ && find lib -type f ! -name 'libJCudaDriver-*' -delete)
  rm "$nat"
  "$jdk/bin/jar" cf "$nat" -C "$tmp" lib
  rm -rf "$tmp"
  ./mvnw -q -B dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.11.4 \
    -DoutputDirectory="$(cd "$dir" && pwd)"
  # Under gpu-session.sh the runtime beside the bundle (shared with the other script) is used instead.
  [[ -f "$dir/jre.tar.xz" || ( -f "$dir/../jre.tar.xz" && -f "$dir/../gpu-session.sh" ) ]] || ../shared/tools/device-jre.sh "$dir"
  mkdir -p "$dir/conformance"
  cp ../shared/conformance/sd15-diffusers.header.json "$dir/conformance/"
  # The tiny SD 1.x model (for the U-Net/VAE goldens and the seeded pipelines); the replay runs stay home.
  cp -r ../shared/conformance/sd1-tiny "$dir/conformance/"
  chmod -R u+w "$dir/conformance"
  rm -f "$dir/conformance/sd1-tiny/pipelines.json" "$dir/conformance/sd1-tiny/pipelines.safetensors"
  cp bench/gpu-check.sh "$dir/"
  du -sh "$dir"
}

run() {
  local out=${OUT:-/tmp/gpu-check}
  mkdir -p "$out"
  exec > >(tee "$out/gpu-check.log") 2>&1
  echo "== gpu-check $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader || echo "nvidia-smi failed"
  local jre="$dir/jre.tar.xz"
  [[ -f "$jre" ]] || jre="$dir/../jre.tar.xz"
  tar xJf "$jre" -C /tmp
  local java=/tmp/jre/bin/java
  local flags=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss4m)
  local cp
  cp=$(ls "$dir"/lib/*.jar | tr '\n' ':')
  "$java" -version 2>&1 | head -1

  echo "== 1. kernel tests (JUnit console: every CUDA op against the CPU backend)"
  local t0=$SECONDS
  "$java" "${flags[@]}" -Xmx16g -jar "$dir"/junit-platform-console-standalone-*.jar execute --disable-banner --disable-ansi-colors \
    --details=tree --class-path "$dir/test-classes:$cp" --select-package dev.ldm4j.kernels 2>&1 | tee "$out/junit.txt" | grep -vE '^\s*$' | tail -60
  local tests_rc=${PIPESTATUS[0]}
  echo "kernel tests exit code $tests_rc ($((SECONDS - t0)) s)"

  echo "== 2. ceilings through PyTorch (fp32 GEMM with TF32 off, device copy) and comparison points"
  local sgemm="" copy=""
  if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    TORCH16="$out/torch16.tsv" PYTHONUNBUFFERED=1 python3 - <<'PY' 2>&1 | tee "$out/torch.txt"
import torch, torch.nn.functional as F
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
def med(fn, reps=11, warm=3):
    for _ in range(warm): fn()
    torch.cuda.synchronize()
    s, e, ts = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True), []
    for _ in range(reps):
        s.record(); fn(); e.record(); e.synchronize(); ts.append(s.elapsed_time(e))
    ts.sort(); return ts[len(ts) // 2]
print("torch", torch.__version__, torch.cuda.get_device_name())
n = 8192
a, b = torch.randn(n, n, device="cuda"), torch.randn(n, n, device="cuda")
ms = med(lambda: a @ b)
print(f"sgemm_tflops {2 * n**3 / (ms * 1e-3) / 1e12:.2f}")
x = torch.empty(1 << 28, device="cuda"); y = torch.empty_like(x)
ms = med(lambda: y.copy_(x))
print(f"copy_gbs {2 * x.numel() * 4 / (ms * 1e-3) / 1e9:.0f}")
del a, b, x, y
xc, w = torch.randn(2, 320, 64, 64, device="cuda"), torch.randn(320, 320, 3, 3, device="cuda")
ms = med(lambda: F.conv2d(xc, w, padding=1))
print(f"torch conv3x3 320->320 @64 fp32: {ms:.3f} ms, {2*2*320*64*64*320*9/(ms*1e-3)/1e12:.2f} TFLOP/s")
q = torch.randn(2, 8, 4096, 40, device="cuda")
ms = med(lambda: F.scaled_dot_product_attention(q, q, q))
print(f"torch sdpa L4096 D40 H8 B2 fp32: {ms:.3f} ms, {4*2*8*4096*4096*40/(ms*1e-3)/1e12:.2f} TFLOP/s")
gn = torch.nn.GroupNorm(32, 320).cuda()
ms = med(lambda: gn(xc))
print(f"torch groupnorm [2,320,64,64]: {ms:.3f} ms, {2*xc.numel()*4/(ms*1e-3)/1e9:.0f} GB/s")
# fp16 at the shapes GpuBench times, keyed by GpuBench's row names (torch16.tsv: name<TAB>ms).
import os
h = torch.float16
rows = []
convs = [("conv3x3 4->320 @64 (conv_in)", 2, 4, 64, 320, 3, 1, 1), ("conv3x3 320->320 @64", 2, 320, 64, 320, 3, 1, 1),
         ("conv3x3 640->640 @32", 2, 640, 32, 640, 3, 1, 1), ("conv3x3 1280->1280 @16", 2, 1280, 16, 1280, 3, 1, 1),
         ("conv3x3 1280->1280 @8", 2, 1280, 8, 1280, 3, 1, 1), ("conv3x3 s2 320 @64->32 (downsample)", 2, 320, 64, 320, 3, 2, 1),
         ("conv1x1 640->320 @64 (skip)", 2, 640, 64, 320, 1, 1, 0), ("VAE conv3x3 512->512 @64", 1, 512, 64, 512, 3, 1, 1),
         ("VAE conv3x3 256->256 @256", 1, 256, 256, 256, 3, 1, 1), ("VAE conv3x3 128->128 @512", 1, 128, 512, 128, 3, 1, 1)]
for name, n, c, hw, o, k, st, pd in convs:
    xi, wi, bi = torch.randn(n, c, hw, hw, device="cuda", dtype=h), torch.randn(o, c, k, k, device="cuda", dtype=h), torch.randn(o, device="cuda", dtype=h)
    rows.append((name, med(lambda: F.conv2d(xi, wi, bi, stride=st, padding=pd), reps=21)))
lins = [("linear 320->320 [8192 tok] (q/k/v/out)", 8192, 320, 320), ("linear 320->2560 [8192 tok] (GEGLU proj)", 8192, 320, 2560),
        ("linear 1280->320 [8192 tok] (ff out)", 8192, 1280, 320), ("linear 768->320 [154 tok] (cross k/v)", 154, 768, 320)]
for name, r, k, n in lins:
    xi, wi, bi = torch.randn(r, k, device="cuda", dtype=h), torch.randn(n, k, device="cuda", dtype=h), torch.randn(n, device="cuda", dtype=h)
    rows.append((name, med(lambda: F.linear(xi, wi, bi), reps=21)))
xg, wg, bg = torch.randn(8192, 320, device="cuda", dtype=h), torch.randn(2560, 320, device="cuda", dtype=h), torch.randn(2560, device="cuda", dtype=h)
def geglu():
    a, g = F.linear(xg, wg, bg).chunk(2, dim=-1)
    return a * F.gelu(g)
rows.append(("linear 320->2560 + GEGLU [8192 tok]", med(geglu, reps=21)))
xr, wr, br, rr = (torch.randn(8192, 1280, device="cuda", dtype=h), torch.randn(320, 1280, device="cuda", dtype=h),
                  torch.randn(320, device="cuda", dtype=h), torch.randn(8192, 320, device="cuda", dtype=h))
rows.append(("linear 1280->320 + residual [8192 tok]", med(lambda: F.linear(xr, wr, br) + rr, reps=21)))
a16, b16 = torch.randn(4096, 4096, device="cuda", dtype=h), torch.randn(4096, 4096, device="cuda", dtype=h)
rows.append(("matmul 4096^3", med(lambda: a16 @ b16, reps=21)))
for name, b, l, lk, hd, d in [("self-attn 64x64: L 4096, D 40", 2, 4096, 4096, 8, 40), ("self-attn 32x32: L 1024, D 80", 2, 1024, 1024, 8, 80),
                              ("self-attn 16x16: L 256, D 160", 2, 256, 256, 8, 160), ("cross-attn 64x64: Lk 77, D 40", 2, 4096, 77, 8, 40),
                              ("CLIP causal: L 77, 12 heads, D 64", 2, 77, 77, 12, 64)]:
    q = torch.randn(b, hd, l, d, device="cuda", dtype=h); kv = torch.randn(b, hd, lk, d, device="cuda", dtype=h)
    causal = name.startswith("CLIP")
    rows.append((name, med(lambda: F.scaled_dot_product_attention(q, kv, kv, is_causal=causal), reps=21)))
with open(os.environ["TORCH16"], "w") as f:
    for name, ms in rows:
        f.write(f"{name}\t{ms:.4f}\n")
        print(f"torch fp16 {name}: {ms:.3f} ms")
PY
    sgemm=$(awk '/^sgemm_tflops/ {print $2}' "$out/torch.txt")
    copy=$(awk '/^copy_gbs/ {print $2}' "$out/torch.txt")
  else
    echo "PyTorch with CUDA is not available here: no cuBLAS ceiling"
  fi
  echo "JCublas/JCudnn comparison: not attempted (JCublas 12 needs CUDA 12 libraries; the host has CUDA 13 only)"

  echo "== 3. kernel timings, full-size models, tiny conformance"
  "$java" "${flags[@]}" -Xmx48g -cp "$cp" dev.ldm4j.bench.gpu.GpuBench --torch-sgemm-tflops="$sgemm" \
    --torch-copy-gbs="$copy" --torch-fp16="$out/torch16.tsv" --conformance="$dir/conformance" 2>&1 | tee "$out/bench.txt"
  local bench_rc=${PIPESTATUS[0]}
  echo "== summary: kernel tests exit $tests_rc, bench exit $bench_rc"
  grep -E 'tests (successful|failed|skipped|aborted)' "$out/junit.txt" || true
  sed -n '/^| section/,$p' "$out/bench.txt"
}

case $mode in
  bundle) bundle ;;
  run) run ;;
  *) echo "usage: gpu-check.sh bundle|run DIR" >&2; exit 2 ;;
esac
