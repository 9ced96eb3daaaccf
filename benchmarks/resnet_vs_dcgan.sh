#!/usr/bin/env bash
# Residual nets against DCGAN at equal wall-clock (trainer.time_limit), one run at a time, then
# gantrain-eval on each. Usage (from the repository root):
#   ROOT=../shared/data/mnist-subset LIMIT=4m OUT=/tmp/rvd bash benchmarks/resnet_vs_dcgan.sh
#   RUNS="photos_dcgan photos_resnet" PHOTOS=/tmp/photos64 LIMIT=8m bash benchmarks/resnet_vs_dcgan.sh
# (PHOTOS: python benchmarks/photo_patches.py --out /tmp/photos64). Writes OUT/<name>/ run
# directories and OUT/<name>.log; prints one line per run to OUT/summary.
set -u
ROOT=${ROOT:-../shared/data/mnist-subset}
LIMIT=${LIMIT:-4m}
OUT=${OUT:-/tmp/resnet_vs_dcgan}
PHOTOS=${PHOTOS:-/tmp/photos64}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mkdir -p "$OUT"
COMMON=(device=cpu "dataset.root=$ROOT" "trainer.time_limit=$LIMIT" trainer.rounds=100000
        trainer.sample_at=[100,1000,2000,5000] trainer.checkpoint_every=500 eval.at=[] seed=0)
SMALL_RES=(model.width=32 model.max_width=128 objective.critic.width=32 objective.critic.max_width=128)
run() {  # name, overrides...
  local name=$1; shift
  gantrain "${COMMON[@]}" "$@" "hydra.run.dir=$OUT/$name" > "$OUT/$name.log" 2>&1
  case $name in photos_*) ;; *) gantrain-eval "run_dir=$OUT/$name" device=cpu >> "$OUT/$name.log" 2>&1 ;; esac
  { echo "$name: $(grep -h 'GFLOPs' "$OUT/$name.log" | sed 's/.*parameters/parameters/')"
    grep -h 'stopped after round' "$OUT/$name.log" | sed 's/.*stopped/  stopped/; s/;.*//'
    grep -h '^FID\|^  modes' "$OUT/$name.log"; } >> "$OUT/summary"
}
for which in ${RUNS:-mnist_dcgan mnist_resnet stacked_dcgan stacked_resnet stacked_r3gan}; do
  case $which in
    mnist_dcgan) run "$which" experiment=dcgan_mnist ;;
    mnist_resnet) run "$which" model=resnet "${SMALL_RES[@]}" ;;
    stacked_dcgan) run "$which" experiment=stacked_mnist dataset.image_size=32 ;;
    stacked_resnet) run "$which" experiment=resnet_stacked_mnist ;;
    stacked_r3gan) run "$which" experiment=r3gan_stacked_mnist ;;
    # photos: no FID here (Inception's weights are a download); the grids are the comparison
    photos_dcgan) run "$which" model=dcgan objective.augment.kind=ada dataset=image_folder \
                      "dataset.root=$PHOTOS" dataset.image_size=64 ;;
    photos_resnet) run "$which" experiment=resnet_photos "dataset.root=$PHOTOS" ;;
  esac
done
