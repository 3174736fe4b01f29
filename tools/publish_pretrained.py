"""Publish a finished training run as a shipped checkpoint: evaluate, strip the optimizer, record it in the manifest.

    python tools/publish_pretrained.py mnist data/runs/mnist.pt
"""

import argparse
import math
import sys
from pathlib import Path

from pixelcourse.checkpoints import load_checkpoint, read_checkpoint, save_checkpoint, write_manifest
from pixelcourse.evaluate import evaluate_model
from pixelcourse.models import count_parameters
from pixelcourse.settings import CHECKPOINT_DIR
from pixelcourse.training import TrainConfig


def save_sample_grid(name: str, model) -> Path:
    """64 samples at T = 1 (conditional models: 8 per class, one class per row) next to the checkpoint, to look at."""
    import matplotlib

    matplotlib.use("Agg")
    import torch

    import pixelcourse

    c = model.config
    labels = torch.arange(c.num_classes).repeat_interleave(8) if c.num_classes else None
    n = 64 if labels is None else len(labels)
    images = pixelcourse.sample(model, n, labels=labels, generator=torch.Generator().manual_seed(0), method="fast")
    rows = None
    if c.num_classes:
        from pixelcourse.data import CLASS_NAMES

        rows = list(CLASS_NAMES[c.dataset])
    fig = pixelcourse.show_grid(images, nrow=8, levels=c.levels, title=f"{name}: samples at T = 1", row_labels=rows, scale=1.4)
    path = CHECKPOINT_DIR / f"{name}_samples.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name", help="name of the shipped checkpoint (the preset)")
    p.add_argument("run", help="training checkpoint written by python -m pixelcourse.train")
    args = p.parse_args(argv)

    ckpt = read_checkpoint(args.run)
    settings = TrainConfig.from_checkpoint(ckpt)  # batch_size: images per step over all processes
    model = load_checkpoint(args.run)
    result = evaluate_model(model, "test")
    history = ckpt.get("history", {})
    metrics = {"test_bpd": result["bits_per_dim"]}
    if model.config.levels == 2:
        metrics["test_nats_per_image"] = result["nats_per_image"]
    out = CHECKPOINT_DIR / f"{args.name}.pt"
    hardware = ckpt.get("hardware", "unknown")
    save_checkpoint(model, out, metrics=metrics, history=history, preset=args.name, hardware=hardware,
                    parameters=count_parameters(model))
    write_manifest(
        args.name, out,
        config=ckpt["config"],
        test_bits_per_dim=round(result["bits_per_dim"], 5),
        **({"test_nats_per_image": round(result["nats_per_image"], 3)} if model.config.levels == 2 else {}),
        parameters=count_parameters(model),
        epochs=len(history.get("epoch", [])),
        steps=len(history.get("step", [])),
        images_seen=len(history.get("step", [])) * settings.batch_size,
        batch_size=settings.batch_size,
        lr=settings.lr,
        schedule=settings.schedule,
        precision=settings.precision,
        training_seconds=round(history.get("seconds", math.nan)),
        test_bpd_per_epoch=[round(v, 4) for v in history.get("test_bpd", [])],
        hardware=hardware,
    )
    save_sample_grid(args.name, model)
    print(f"Published {out} ({out.stat().st_size / 1e6:.1f} MB): test {result['bits_per_dim']:.4f} bits/dim")
    return 0


if __name__ == "__main__":
    sys.exit(main())
