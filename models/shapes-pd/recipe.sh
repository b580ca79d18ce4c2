#!/usr/bin/env bash
# Reproduces models/shapes-pd from the built-in teacher models/shapes, with one ldm4j command:
#   distill progressive   two rounds of progressive distillation (Salimans & Ho 2022): 16 -> 8 -> 4 DDIM steps,
#                         1000 optimizer steps of 16 images each. The first round's teacher is models/shapes under
#                         classifier-free guidance at 2.5 (its best measured scale; its default 5 made a student
#                         that scored 15 points less); the students are conditional only.
#                         The student is also smaller than its teacher (student-arch.json, BK-SDM style, 10.5% fewer
#                         parameters): the cross-attention transformers of the down path (8x8 and 4x4 latents) are
#                         removed, every other tensor starts as the teacher's; the first round teaches it to do without
#                         them. (Removing the 8x8 level's transformers on both paths instead left a student that did not
#                         learn round 1: loss 1.3, 2% of seen prompts right.)
#   convert               the final student (OUT, a diffusers folder sampled with DDIM at 4 steps, no unconditional pass)
#                         in fp16 becomes models/shapes-pd; its model card is written by hand from the run's numbers.
# Resumable: run the script again after an interruption (--resume continues the round where it stopped).
# Usage: models/shapes-pd/recipe.sh [WORK_DIR] (default: runs/shapes-pd). About 39 minutes on a 2-core machine (2026-12-03; the
# first round beside another run).
set -euo pipefail
export LDM4J_HEAP=${LDM4J_HEAP:-4g}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=${1:-$root/runs/shapes-pd}
ldm4j="$root/ldm4j"
mkdir -p "$work"

"$ldm4j" distill progressive --teacher "$root/models/shapes" --out "$work/distill" --resume --seed 11 \
    --student-arch "$root/models/shapes-pd/student-arch.json" \
    --guidance 2.5 --from-steps 16 --to-steps 4 --steps-per-round 1000 --batch 16 --lr 2e-4 --warmup 20 --save-every 200
"$ldm4j" convert --model "$work/distill" --out "$root/models/shapes-pd" --dtype fp16 --overwrite
echo "models/shapes-pd written; compare it with its teacher: ./ldm4j eval shapes --model shapes --compare shapes-pd --grid pd.png"
