"""Publish a finished training run as a shipped checkpoint: evaluate, strip the optimizer, record it in the manifest.

    python tools/publish_pretrained.py mnist data/runs/mnist.pt
"""

import argparse
import json
import math
import sys
from pathlib import Path

from pixelcourse.evaluate import evaluate
from pixelcourse.models import count_parameters
from pixelcourse.settings import CHECKPOINT_DIR
from pixelcourse.training import load_checkpoint, read_checkpoint, save_checkpoint, sha256_file


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
    model = load_checkpoint(args.run)
    result = evaluate(model, "test")
    history = ckpt.get("history", {})
    training = ckpt.get("training", {})
    metrics = {"test_bpd": result["bits_per_dim"]}
    if model.config.levels == 2:
        metrics["test_nats_per_image"] = result["nats_per_image"]
    out = CHECKPOINT_DIR / f"{args.name}.pt"
    save_checkpoint(
        model, out, metrics=metrics, history=history, preset=args.name,
        hardware=ckpt.get("hardware", "unknown"), parameters=count_parameters(model),
    )
    manifest_path = CHECKPOINT_DIR / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[args.name] = {
        "file": out.name,
        "sha256": sha256_file(out),
        "config": ckpt["config"],
        "test_bits_per_dim": round(result["bits_per_dim"], 5),
        **({"test_nats_per_image": round(result["nats_per_image"], 3)} if model.config.levels == 2 else {}),
        "parameters": count_parameters(model),
        "epochs": len(history.get("epoch", [])),
        "steps": len(history.get("step", [])),
        "images_seen": len(history.get("step", [])) * (training.get("batch_size") or 0),
        "batch_size": training.get("batch_size"),
        "lr": training.get("lr"),
        "schedule": training.get("schedule"),
        "training_seconds": round(history.get("seconds", math.nan)),
        "test_bpd_per_epoch": [round(v, 4) for v in history.get("test_bpd", [])],
        "hardware": ckpt.get("hardware", "unknown"),
        "size_bytes": out.stat().st_size,
    }
    tmp = manifest_path.with_name("manifest.json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    tmp.replace(manifest_path)
    save_sample_grid(args.name, model)
    print(f"Published {out} ({out.stat().st_size / 1e6:.1f} MB): test {result['bits_per_dim']:.4f} bits/dim")
    return 0


if __name__ == "__main__":
    sys.exit(main())
