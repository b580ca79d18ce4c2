#!/usr/bin/env bash
# Reproduces the built-in model models/shapes from nothing, with ldm4j's own training commands only:
#   1. train vae    a KL autoencoder (factor 4: 64x64x3 images <-> 16x16x4 latents) on shapes-v1
#   2. train unet   the U-Net and its CLIP text encoder, jointly from scratch, in the frozen VAE's latent space
#                   (epsilon prediction on SD's scaled-linear schedule, stopped at step 2175 of 3000), then fine-tuned
#                   to v-prediction on the same schedule rescaled to zero terminal SNR (Lin et al. 2023): with SD's
#                   schedule the last timestep still carries 6.8% of the image, so the model takes the background and
#                   the position from that leak instead of from the text, and at sampling time (pure noise) draws
#                   gray backgrounds in the center
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

unet_stages() {
  "$ldm4j" train unet --data shapes --vae "$work/vae" --out "$work/unet" --resume --seed 2 \
      --steps 3000 --stop-after 2175 --batch 16 --lr 6e-4 --warmup 200 --min-snr-gamma 5 --save-every 500
  rm -rf "$work/v-base" && mkdir -p "$work/v-base/scheduler"
  cp -r "$work/unet/unet" "$work/unet/text_encoder" "$work/unet/tokenizer" "$work/unet/vae" "$work/v-base/"
  sed 's/"DPMSolverMultistepScheduler"/"DDIMScheduler"/' "$work/unet/model_index.json" > "$work/v-base/model_index.json"
  cat > "$work/v-base/scheduler/scheduler_config.json" <<'JSON'
{"_class_name": "DDIMScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
 "beta_schedule": "scaled_linear", "trained_betas": null, "clip_sample": false, "set_alpha_to_one": false,
 "steps_offset": 0, "prediction_type": "v_prediction", "timestep_spacing": "trailing", "rescale_betas_zero_snr": true}
JSON
  echo '{"steps": 25, "guidance": 5.0}' > "$work/v-base/ldm4j_defaults.json"
  "$ldm4j" train unet --data shapes --model "$work/v-base" --vae "$work/vae" --out "$work/unet-v" --resume --seed 5 \
      --steps 1800 --batch 16 --lr 3e-4 --warmup 100 --save-every 300
}
unet_stages &
unet=$!
( nice -n 15 "$ldm4j" train vae --data shapes --model "$work/vae" --decoder-only --out "$work/decoder" --resume --seed 3 \
      --steps 1500 --batch 8 --lr 5e-4 --warmup 50 --save-every 250 &&
  nice -n 15 "$ldm4j" train vae --data shapes --model "$work/decoder" --decoder-only --out "$work/decoder2" --resume --seed 4 \
      --steps 1500 --batch 8 --lr 2e-4 --warmup 20 --save-every 250 ) &
decoder=$!
wait "$unet"
wait "$decoder"

rm -rf "$work/assembled"
cp -r "$work/unet-v" "$work/assembled"
rm -rf "$work/assembled/vae"
cp -r "$work/decoder2/vae" "$work/assembled/vae"
"$ldm4j" convert --model "$work/assembled" --out "$root/models/shapes" --dtype fp16 --overwrite
echo "models/shapes written; evaluate it with: ./ldm4j eval shapes --model shapes"
