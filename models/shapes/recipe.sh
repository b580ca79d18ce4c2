#!/usr/bin/env bash
# Reproduces the built-in model models/shapes from nothing, with ldm4j's own training commands only:
#   1. train vae    a KL autoencoder (factor 4: 64x64x3 images <-> 16x16x4 latents) on shapes-v1
#   2. train unet   the U-Net and its CLIP text encoder, jointly from scratch, in the frozen VAE's latent space, with
#                   the built-in architecture's schedule: v-prediction on SD's scaled-linear betas rescaled to zero
#                   terminal SNR (Lin et al. 2023; with SD's own schedule the last timestep still carries 6.8% of the
#                   image, and a model trained on it takes background and layout from that leak instead of the text),
#                   with an EMA of the weights (decay 0.999) as the saved model; stopped at step 3017 of a 4800-step
#                   cosine schedule (where it was interrupted when the next stage was decided on), then fine-tuned
#                   for 2000 steps with the noisiest 15% of the timesteps drawn 5x as often (--timestep-bias later):
#                   after stage A the model drew the same layout whatever the position words said, because at most
#                   noisy timesteps a faint trace of the layout is still in the latent and the model had learned to
#                   read it there; at t >= 850 (sqrt(abar) <= 0.09) nothing is left but the text
#   3. train vae --decoder-only   (at the same time as 2, at low priority) the decoder fine-tuned further in two
#                   stages (lr 5e-4, then 2e-4); the encoder, and so the latent space the U-Net learns in, stays
#   4. the U-Net's folder with the fine-tuned VAE, converted to fp16, becomes models/shapes (the model card is
#      written by hand from the run's numbers).
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
  "$ldm4j" train unet --data shapes --vae "$work/vae" --out "$work/unet-a" --resume --seed 2 \
      --steps 4800 --stop-after 3017 --batch 16 --lr 6e-4 --warmup 200 --ema-decay 0.999 --save-every 500
  "$ldm4j" train unet --data shapes --model "$work/unet-a" --vae "$work/vae" --out "$work/unet" --resume --seed 3 \
      --steps 2000 --batch 16 --lr 3e-4 --warmup 100 --ema-decay 0.999 --save-every 500 \
      --timestep-bias later --timestep-bias-portion 0.15 --timestep-bias-multiplier 5
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
"$ldm4j" convert --model "$work/assembled" --out "$root/models/shapes" --dtype fp16 --overwrite
echo "models/shapes written; evaluate it with: ./ldm4j eval shapes --model shapes"
