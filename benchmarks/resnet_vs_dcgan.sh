#!/usr/bin/env bash
# Residual nets against DCGAN at equal wall-clock (trainer.time_limit) on mnist-subset, one run
# at a time, then gantrain-eval on each. Usage (from the repository root):
#   ROOT=../shared/data/mnist-subset LIMIT=4m OUT=/tmp/rvd bash benchmarks/resnet_vs_dcgan.sh
# Writes OUT/<name>/ run directories and OUT/<name>.log; prints one line per run to OUT/summary.
set -u
ROOT=${ROOT:-../shared/data/mnist-subset}
LIMIT=${LIMIT:-4m}
OUT=${OUT:-/tmp/resnet_vs_dcgan}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mkdir -p "$OUT"
COMMON=(device=cpu "dataset.root=$ROOT" "trainer.time_limit=$LIMIT" trainer.rounds=100000
        trainer.sample_at=[100,1000,2000,5000] trainer.checkpoint_every=500 eval.at=[] seed=0)
SMALL_RES=(model.width=32 model.max_width=128 objective.critic.width=32 objective.critic.max_width=128)
run() {  # name, overrides...
  local name=$1; shift
  gantrain "$@" "${COMMON[@]}" "hydra.run.dir=$OUT/$name" > "$OUT/$name.log" 2>&1
  gantrain-eval "run_dir=$OUT/$name" device=cpu >> "$OUT/$name.log" 2>&1
  echo "$name $(grep -h 'GFLOPs' "$OUT/$name.log" | sed 's/.*parameters/parameters/') $(grep -h 'rounds at' "$OUT/$name.log" | tail -1 | sed 's/.*- //')" >> "$OUT/summary"
}
for which in ${RUNS:-mnist_dcgan mnist_resnet stacked_dcgan stacked_r3gan}; do
  case $which in
    mnist_dcgan) run "$which" experiment=dcgan_mnist ;;
    mnist_resnet) run "$which" model=resnet "${SMALL_RES[@]}" ;;
    stacked_dcgan) run "$which" model=dcgan dataset=stacked_mnist dataset.image_size=32 ;;
    stacked_r3gan) run "$which" experiment=r3gan_stacked_mnist ;;
  esac
done
