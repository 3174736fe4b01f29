#!/usr/bin/env bash
# Train the shipped checkpoints (resumable: run it again after an interruption), then publish them.
#   bash tools/train_pretrained.sh mnist mnist_binary fashion_mnist cifar10
# Schedules were chosen for a 2-core CPU; on a GPU raise the epochs.
set -euo pipefail
cd "$(dirname "$0")/.."
for preset in "$@"; do
  case "$preset" in
    mnist)         args=(--epochs 2 --lr 2e-3 --schedule cosine --batch-size 64) ;;
    mnist_binary)  args=(--epochs 1 --lr 2e-3 --schedule cosine --batch-size 64) ;;
    fashion_mnist) args=(--epochs 2 --lr 2e-3 --schedule cosine --batch-size 64) ;;
    cifar10)       args=(--epochs 1 --lr 2e-3 --schedule cosine --batch-size 64) ;;
    *) echo "unknown preset $preset"; exit 2 ;;
  esac
  python -m pixelcourse.train --preset "$preset" --out "data/runs/$preset.pt" "${args[@]}" --threads "${THREADS:-2}"
  python tools/publish_pretrained.py "$preset" "data/runs/$preset.pt"
done
