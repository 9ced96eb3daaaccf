#!/usr/bin/env bash
# The GPU checks in one go: every model x objective pair trains a few rounds on CUDA, then the
# speed comparison at 28 and 64 px, a recipe comparison (FID after 2,000 rounds, in float32 so
# that it ranks recipes as the CPU would), the quality comparison with the classic loop, and
# torch.compile.
# Each step has its own time limit and a failed step does not stop the next; everything lands in
# OUT (one report per step plus gpu.log).
#
#   bash benchmarks/gpu.sh ROOT OUT        # ROOT holds MNIST/raw/*-ubyte
set -u
root=${1:?usage: gpu.sh ROOT OUT}
out=${2:?usage: gpu.sh ROOT OUT}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
here=$(cd "$(dirname "$0")" && pwd)
log="$out/gpu.log"

step() {  # step NAME SECONDS COMMAND...: time-limited, logged, never fatal
    local name=$1 limit=$2
    shift 2
    echo "== $name ($(date +%T))" | tee -a "$log"
    timeout "$limit" "$@" >>"$log" 2>&1
    echo "== $name: exit $? ($(date +%T))" | tee -a "$log"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$log"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.is_available())" | tee -a "$log"

step pairs 90 python3 -m gantrain -m "model=dcgan,ae,vae" "objective=adversarial,mmd,mle" \
    "dataset.root=$root" device=cuda trainer.rounds=30 "trainer.sample_at=[30]" \
    "eval.at=[]" "hydra.sweep.dir=$out/pairs"
# dcgan x mle is refused by design: its run fails and the sweep carries on
grep -h "done:" "$out"/pairs/*/train.log 2>/dev/null | tail -n 20 | tee -a "$log"

step speed28 120 python3 "$here/speed.py" --root "$root" --device cuda --rounds 1000 \
    --out "$out/speed28.md"
step speed64 150 python3 "$here/speed.py" --root "$root" --device cuda --rounds 1000 \
    --image-size 64 --out "$out/speed64.md"
fp32="device.amp=false device.tf32=false"
step recipes 240 python3 "$here/recipes.py" --root "$root" --device cuda --jobs 6 --seeds 0,1 \
    --out-dir "$out/recipes" \
    "$fp32" "$fp32 objective.real_label=0.9" "$fp32 objective.loss=hinge" \
    "$fp32 objective.loss=least_squares" "$fp32 objective.critic.norm=spectral" \
    "$fp32 objective.critic.norm=spectral objective.loss=hinge" "$fp32 objective.d_steps=2" \
    "$fp32 model.width=64" "$fp32 objective.critic.width=32" "$fp32 objective.critic.norm=none" \
    "$fp32 trainer.ema_decay=0.99" "$fp32 objective.optimizer.lr=4e-4" \
    "$fp32 objective.optimizer.lr=4e-4 objective.critic_optimizer.lr=4e-4 objective.real_label=0.9"
step quality 150 python3 "$here/quality.py" --root "$root" --device cuda \
    --work-dir "$out/quality" --out "$out/quality.md"
step compile28 120 python3 "$here/speed.py" --root "$root" --device cuda --rounds 1000 \
    --variants floor,gantrain --out "$out/compile28.md" device.compile=true
tail -n 30 "$out"/*.md "$out"/recipes/recipes.md
