#!/usr/bin/env bash
# Reproduces the built-in model models/shapes from nothing, with ldm4j's own training commands only:
#   1. train vae    a KL autoencoder (factor 4: 64x64x3 images <-> 16x16x4 latents) on shapes-v1
#   2. train unet   the U-Net and its CLIP text encoder, jointly from scratch, in the frozen VAE's latent space, with
#                   the architecture of train-arch.json: v-prediction on SD's scaled-linear betas rescaled to zero
#                   terminal SNR (Lin et al. 2023; on SD's own schedule the last timestep still carries 6.8% of the image
#                   and a model learns to take background and layout from that leak instead of from the text), the
#                   noisiest 20% of the timesteps drawn 3x as often (--timestep-bias later: layout and colour are decided
#                   there), the EMA of the weights (decay 0.999) as the saved model; a 10,000-step cosine schedule
#                   stopped at step 8500 (where the learning rate is down to 6% of its peak) to leave time for the students
#   3. train vae --decoder-only   (at the same time as 2, at low priority) the decoder fine-tuned further in two
#                   stages (lr 5e-4, then 2e-4); the encoder, and so the latent space the U-Net learns in, stays
#   4. the U-Net's folder with the fine-tuned VAE, converted to fp16, is the first-stage model (shipped as models/shapes
#      until 2026-12-03)
#   5. train unet --model   a warm restart of the U-Net and text encoder from that fp16 folder: a new 4000-step cosine
#                   schedule from lr 4e-4 (warm-up 100), the same timestep bias and EMA, another seed
#   6. its folder (the VAE unchanged), converted to fp16, is the second-stage model (shipped until 2026-12-03 17:40 UTC)
#   7. train unet --model   three more warm restarts, each from the previous stage's fp16 folder, exactly as 5 with
#                   seeds 6, 7 and 8 (the third, fourth and fifth stages)
#   8. the fifth stage's folder, converted to fp16, becomes models/shapes (the model card is written by hand from the
#      runs' numbers; the default guidance, 1.5, comes from train-arch.json's "defaults" through every stage's folder).
# The stages run undivided (no --replicas), as the shipped weights were made; `--replicas 2` makes a U-Net step 8-29%
# faster on a 2-core machine (bench/TRAIN-RESULTS.md) but draws other noise (docs/TRAINING.md).
# Every stage resumes (--resume): run the script again after an interruption and it continues where it stopped.
# Usage: models/shapes/recipe.sh [WORK_DIR] (default: runs/shapes). Times on a 2-core machine are in MODEL_CARD.md.
set -euo pipefail
export LDM4J_HEAP=${LDM4J_HEAP:-4g}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=${1:-$root/runs/shapes}
ldm4j="$root/ldm4j"
mkdir -p "$work"

"$ldm4j" train vae --data shapes --out "$work/vae" --resume --seed 1 \
    --steps 1500 --batch 8 --lr 1e-3 --warmup 100 --save-every 250

unet_stage() {
  "$ldm4j" train unet --data shapes --arch "$root/models/shapes/train-arch.json" --vae "$work/vae" --out "$work/unet" \
      --resume --seed 2 --steps 10000 --stop-after 8500 --batch 16 --lr 6e-4 --warmup 200 --ema-decay 0.999 --save-every 500 \
      --timestep-bias later --timestep-bias-portion 0.2 --timestep-bias-multiplier 3
}
unet_stage &
unet=$!
( nice -n 15 "$ldm4j" train vae --data shapes --model "$work/vae" --decoder-only --out "$work/decoder" --resume --seed 3 \
      --steps 1500 --batch 8 --lr 5e-4 --warmup 50 --save-every 250 &&
  nice -n 15 "$ldm4j" train vae --data shapes --model "$work/decoder" --decoder-only --out "$work/decoder2" --resume --seed 4 \
      --steps 1500 --batch 8 --lr 2e-4 --warmup 20 --save-every 250 ) &
decoder=$!
wait "$unet"
wait "$decoder"

rm -rf "$work/assembled"
cp -r "$work/unet" "$work/assembled"
rm -rf "$work/assembled/vae"
cp -r "$work/decoder2/vae" "$work/assembled/vae"
if [ ! -d "$work/stage1" ]; then
  "$ldm4j" convert --model "$work/assembled" --out "$work/stage1" --dtype fp16
fi

warm_restart() { # from, to, seed
  "$ldm4j" train unet --data shapes --model "$1" --out "$2" --resume --seed "$3" \
      --steps 4000 --batch 16 --lr 4e-4 --warmup 100 --ema-decay 0.999 --save-every 500 \
      --timestep-bias later --timestep-bias-portion 0.2 --timestep-bias-multiplier 3
}

warm_restart "$work/stage1" "$work/stage2" 5
from="$work/stage2"
for stage in 3 4 5; do
  if [ ! -d "$from-fp16" ]; then
    "$ldm4j" convert --model "$from" --out "$from-fp16" --dtype fp16
  fi
  warm_restart "$from-fp16" "$work/stage$stage" $((stage + 3))
  from="$work/stage$stage"
done

"$ldm4j" convert --model "$work/stage5" --out "$root/models/shapes" --dtype fp16 --overwrite
echo "models/shapes written; evaluate it with: ./ldm4j eval shapes --model shapes"
