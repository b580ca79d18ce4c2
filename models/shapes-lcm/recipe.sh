#!/usr/bin/env bash
# Reproduces models/shapes-lcm from the built-in teacher models/shapes, with one ldm4j command:
#   distill consistency   latent consistency distillation (Luo et al. 2023): the student, the teacher's U-Net with a
#                         guidance embedding added (time_cond_proj_dim 256, its projection starting at zero), learns
#                         from one DDIM step of the guided teacher over K = 20 training timesteps, w ~ U[0, 3]
#                         (guidance scales 1 to 4), against an EMA target network (mu 0.95); 800 optimizer steps of
#                         16 images at lr 2e-5 (cosine). The wider w range and lr 1e-4 of the first version drifted
#                         further from the teacher the longer they ran (MODEL_CARD.md, "How the recipe was found").
#   convert               the student (sampled with the LCM scheduler in 4 steps at guidance 2, no unconditional pass)
#                         in fp16 becomes models/shapes-lcm; its model card is written by hand from the run's numbers.
# Resumable: run the script again after an interruption (--resume continues from the last checkpoint).
# Usage: models/shapes-lcm/recipe.sh [WORK_DIR] (default: runs/shapes-lcm). About 27 minutes on a 2-core machine (2026-12-03, beside
# another distillation run).
set -euo pipefail
export LDM4J_HEAP=${LDM4J_HEAP:-4g}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=${1:-$root/runs/shapes-lcm}
ldm4j="$root/ldm4j"
mkdir -p "$work"

"$ldm4j" distill consistency --teacher "$root/models/shapes" --out "$work/distill" --resume --seed 12 \
    --skip 20 --w-min 0 --w-max 3 --guidance 2 --ema-decay 0.95 \
    --steps 800 --batch 16 --lr 2e-5 --warmup 50 --save-every 200
"$ldm4j" convert --model "$work/distill" --out "$root/models/shapes-lcm" --dtype fp16 --overwrite
echo "models/shapes-lcm written; compare it with its teacher: ./ldm4j eval shapes --model shapes --compare shapes-lcm --grid lcm.png"
