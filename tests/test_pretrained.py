"""The shipped checkpoints: listed in the manifest, verified by sha256, small, and loadable."""

import json
import math
import shutil

import pytest

import pixelcourse
from pixelcourse.settings import CHECKPOINT_DIR
from pixelcourse.checkpoints import read_manifest

MANIFEST = read_manifest()


def test_manifest_lists_only_existing_files():
    for name, entry in MANIFEST.items():
        assert (CHECKPOINT_DIR / entry["file"]).exists(), name


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_pretrained_loads_and_matches_its_manifest(name):
    entry = MANIFEST[name]
    model = pixelcourse.load_pretrained(name)
    assert model.config == pixelcourse.preset_config(name)
    assert (CHECKPOINT_DIR / entry["file"]).stat().st_size <= 20 * 2**20
    assert pixelcourse.count_parameters(model) == entry["parameters"]
    assert model.metrics["test_bpd"] == pytest.approx(entry["test_bits_per_dim"], abs=1e-4)
    # A quick look at real test images: the weights must be the trained ones the manifest measured
    # (64 images vary by a few percent around the full-split figure), and better than uniform.
    test = pixelcourse.subset(pixelcourse.load_dataset(model.config.dataset, "test", levels=model.config.levels), 64)
    bpd = pixelcourse.bits_per_dim(model, test)
    assert bpd == pytest.approx(entry["test_bits_per_dim"], rel=0.15)
    assert bpd < 0.75 * math.log2(model.config.levels)


def test_tampered_checkpoint_fails_its_sha256(tmp_path):
    if not MANIFEST:
        pytest.skip("no pretrained checkpoint shipped yet")
    name, entry = next(iter(MANIFEST.items()))
    shutil.copy(CHECKPOINT_DIR / entry["file"], tmp_path / entry["file"])
    (tmp_path / "manifest.json").write_text(json.dumps({name: {**entry, "sha256": "0" * 64}}))
    with pytest.raises(pixelcourse.CheckpointError, match="fails its sha256 check"):
        pixelcourse.load_pretrained(name, directory=tmp_path)


def test_unknown_pretrained_name_says_how_to_train_it():
    with pytest.raises(pixelcourse.CheckpointError, match="python -m pixelcourse.train --preset svhn"):
        pixelcourse.load_pretrained("svhn")
