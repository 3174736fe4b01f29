#!/usr/bin/env bash
# Train the shipped checkpoints (resumable: run it again after an interruption), then publish them.
#   bash tools/train_pretrained.sh mnist mnist_binary fashion_mnist cifar10 mnist_gated
# Schedules were chosen to fit a few hours on a 2-core CPU (Fashion-MNIST starts on a subset);
# with a GPU, raise the epochs and drop the subsets.
#
# Some models were trained in stages, each resuming the run of the stage before: a stage with more
# epochs continues from where the last one finished, with the cosine schedule recomputed over the new
# total (a warm restart, reached through a 100-step learning-rate ramp, --restart-warmup); a stage on
# the full training set continues the epoch count of a subset run. The shipped fashion_mnist
# checkpoint was extended before that ramp existed (add --restart-warmup 0 to its later stages to
# retrace it exactly). cifar10 was trained in one stage. Every stage runs with --precision auto (the
# default): bfloat16 autocast where the hardware does it natively, float32 elsewhere. mnist and cifar10
# were trained under bfloat16 autocast (about 1.5 times the images per second of float32 on the 2-core
# CPU they were trained on, which has AVX-512 BF16, so auto chooses it there); mnist_binary and
# fashion_mnist were trained in float32 (add --precision float32 to retrace them on such a CPU). The
# checkpoint records the precision each run used. The mnist run was begun as a 7-epoch
# schedule and shortened to 6 after the fourth epoch (the cosine recomputed over 6 epochs from there),
# so its first stage comes close but not exactly; the second stage extended the finished 6-epoch run
# to 14 epochs, the third that run to 23, the fourth that one to 32, and the fifth to 41.
# mnist_gated trained for hours on a CPU, over several sittings: its unfinished run
# data/runs/mnist_gated.pt was committed, so the same command resumed it on any machine (THREADS=1 leaves
# the other core free). It was begun as a 30-epoch schedule, shortened to 16 epochs after the tenth and
# to 14 after the twelfth (each time the cosine recomputed over the new total from there, as with mnist),
# so retracing it comes close but not exactly.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
common=(--lr 2e-3 --schedule cosine --batch-size 64 --precision auto --threads "${THREADS:-2}")
for preset in "$@"; do
  case "$preset" in
    mnist)         stages=("--epochs 6" "--epochs 14" "--epochs 23" "--epochs 32" "--epochs 41") ;;
    mnist_binary)  stages=("--epochs 1" "--epochs 5") ;;
    fashion_mnist) stages=("--epochs 1 --train-subset 30000" "--epochs 2" "--epochs 3" "--epochs 4") ;;
    cifar10)       stages=("--epochs 12") ;;
    mnist_gated)   stages=("--epochs 14") ;;
    *) echo "unknown preset $preset"; exit 2 ;;
  esac
  for stage in "${stages[@]}"; do
    # shellcheck disable=SC2086  # a stage is a list of words; given last, its options win
    python -m pixelcourse.train --preset "$preset" --out "data/runs/$preset.pt" "${common[@]}" $stage
  done
  python tools/publish_pretrained.py "$preset" "data/runs/$preset.pt"
done
