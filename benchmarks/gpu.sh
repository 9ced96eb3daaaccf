#!/usr/bin/env bash
# The GPU checks in one go, within 8 minutes on one H100-class GPU: first the GPU check
# (`pytest -m cuda`: every path of the trainer with CUDA graphs, AMP and torch.compile against
# eager float32), then the speed tables at 28, 64 and 128 px for DCGAN and the residual nets
# (which start at 32 px). GPU_EXTRA=1 adds the longer steps: a recipe comparison (FID after 2,000
# rounds, in float32 so that it ranks recipes as the CPU would), the quality comparison with the
# classic loop, and torch.compile's speed.
# Each step has its own time limit and a failed step does not stop the next; everything lands in
# OUT (one report per step plus gpu.log). Run it from a checkout with the dev extra installed.
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

step check 240 python3 -m pytest -m cuda -q -p no:cacheprovider "$here/../tests/hardware/test_cuda_paths.py"
tail -n 3 "$log"

rounds() { [ "$1" = 128 ] && echo 300 || echo 1000; }  # a 128 px residual round is ~5.5 TFLOP
for px in 28 64 128; do
    step "speed$px" 40 python3 "$here/speed.py" --root "$root" --device cuda --rounds "$(rounds "$px")" \
        --image-size "$px" --variants floor,gantrain --out "$out/speed$px.md"
done
for px in 32 64 128; do
    step "residual$px" 35 python3 "$here/speed.py" --root "$root" --device cuda --rounds "$(rounds "$px")" \
        --image-size "$px" --variants gantrain --out "$out/residual$px.md" model=resnet
done
[ "${GPU_EXTRA:-0}" = 1 ] || { tail -n 12 "$out"/*.md; exit 0; }

fp32="device.amp=false device.tf32=false"
step recipes 240 python3 "$here/recipes.py" --root "$root" --device cuda --jobs 6 --seeds 0,1 \
    --out-dir "$out/recipes" \
    "$fp32" "$fp32 objective.loss.real_label=0.9" "$fp32 objective.loss.kind=hinge" \
    "$fp32 objective.loss.kind=least_squares" "$fp32 objective.critic.norm=spectral" \
    "$fp32 objective.critic.norm=spectral objective.loss.kind=hinge" "$fp32 objective.d_steps=2" \
    "$fp32 model.width=64" "$fp32 objective.critic.width=32" "$fp32 objective.critic.norm=none" \
    "$fp32 trainer.ema_decay=0.99" "$fp32 objective.optimizer.lr=4e-4" \
    "$fp32 objective.optimizer.lr=4e-4 objective.critic_optimizer.lr=4e-4 objective.loss.real_label=0.9"
step quality 150 python3 "$here/quality.py" --root "$root" --device cuda \
    --work-dir "$out/quality" --out "$out/quality.md"
step compile28 120 python3 "$here/speed.py" --root "$root" --device cuda --rounds 1000 \
    --variants floor,gantrain --out "$out/compile28.md" device.compile=true
tail -n 30 "$out"/*.md "$out"/recipes/recipes.md
