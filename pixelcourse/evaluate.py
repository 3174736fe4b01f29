"""Test bits/dim of a pretrained checkpoint on the full test split.

    python -m pixelcourse.evaluate mnist
    python -m pixelcourse.evaluate path/to/checkpoint.pt

Prints bits/dim (and nats per image for binarised MNIST, the unit of the
binarised-MNIST literature).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .checkpoints import CheckpointError, load_checkpoint, load_pretrained
from .data import load_dataset, subset
from .likelihood import LN2, bits_per_dim


def evaluate_model(model, split: str = "test", limit: int | None = None) -> dict:
    """{"bits_per_dim", "nats_per_image", "images", "seconds"} of ``model`` on a split of its dataset."""
    c = model.config
    data = load_dataset(c.dataset, split, levels=c.levels)
    if limit:
        data = subset(data, limit)
    start = time.time()
    bpd = bits_per_dim(model, data, progress=True)
    return {
        "bits_per_dim": bpd,
        "nats_per_image": bpd * c.dims * LN2,
        "images": len(data),
        "seconds": time.time() - start,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m pixelcourse.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("name", help="a pretrained name (mnist, mnist_binary, fashion_mnist, cifar10) or a checkpoint path")
    p.add_argument("--split", default="test", choices=["train", "test"])
    p.add_argument("--limit", type=int, default=None, help="only the first N images (smoke runs)")
    args = p.parse_args(argv)
    try:
        model = load_checkpoint(args.name) if Path(args.name).suffix == ".pt" else load_pretrained(args.name)
        result = evaluate_model(model, args.split, args.limit)
    except (CheckpointError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    c = model.config
    line = f"{args.name}: {args.split} {result['bits_per_dim']:.4f} bits/dim over {result['images']:,} images"
    if c.levels == 2:
        line += f" = {result['nats_per_image']:.2f} nats per image"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
