"""Training on real MNIST, exact bits/dim, checkpoints (round trip, errors, resume) and the DDP command line."""

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import pixelcourse
from pixelcourse.checkpoints import CheckpointError, read_checkpoint
from pixelcourse.likelihood import CPU_BATCH_BYTES, evaluation_batch
from pixelcourse.util import _glibc
from pixelcourse.machine import describe_cpu
from conftest import tiny_model

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def mnist_small():
    train = pixelcourse.load_dataset("mnist", "train")
    test = pixelcourse.load_dataset("mnist", "test")
    return pixelcourse.subset(train, 512), pixelcourse.subset(test, 128)


@pytest.fixture(scope="module")
def mnist_128(mnist_small):
    """128 training images: the tests of schedules and resumes take small batches of them (less work, as many steps)."""
    return pixelcourse.subset(mnist_small[0], 128)


def test_training_lowers_the_loss_on_real_mnist(mnist_small):
    train, test = mnist_small
    model = tiny_model("mnist").train()
    before = pixelcourse.bits_per_dim(model, test)
    history = pixelcourse.fit(model, train, test, epochs=1, lr=3e-3, batch_size=32, progress=False)
    assert len(history["loss_bpd"]) == 16 and history["epoch"] == [1]
    assert history["test_bpd"][0] < before - 0.5
    first, last = sum(history["loss_bpd"][:3]) / 3, sum(history["loss_bpd"][-3:]) / 3
    assert last < first
    assert history["test_bpd"][0] == pytest.approx(pixelcourse.bits_per_dim(model, test), abs=1e-9)


def test_logistic_mixture_head_trains_and_its_bits_per_dim_is_the_full_softmax_one(mnist_small):
    """Training reads only the target's probability; evaluating the full 256-level logits gives the same number."""
    train, test = mnist_small
    model = tiny_model("mnist", output="logistic_mixture", mixtures=5).train()
    before = pixelcourse.bits_per_dim(model, test)
    history = pixelcourse.fit(model, train, test, epochs=1, lr=3e-3, batch_size=32, progress=False, precision="bfloat16")
    assert history["test_bpd"][0] < before - 0.5
    x = test.batch(range(16))[0]
    with torch.no_grad():
        logits = model(x).double()  # (16, 256, 1, 28, 28): log-probabilities of every level
    full = torch.nn.functional.cross_entropy(logits, x).item() / math.log(2)
    assert pixelcourse.bits_per_dim(model, pixelcourse.subset(test, 16)) == pytest.approx(full, abs=1e-5)


def test_bfloat16_training_runs_the_blocks_in_bfloat16_and_the_head_in_float32(mnist_small):
    train, test = mnist_small
    torch.manual_seed(0)
    model = tiny_model("mnist").train()
    reference = tiny_model("mnist").train()
    reference.load_state_dict(model.state_dict())
    seen = {}

    def record(name):
        def hook(module, inputs, out):
            seen.setdefault(name, out.dtype)  # the first call: a training step
        return hook

    model.blocks[0].register_forward_hook(record("block"))
    model.head.register_forward_hook(record("head"))
    history = pixelcourse.fit(model, train, test, epochs=1, lr=3e-3, batch_size=32, progress=False, precision="bfloat16")
    assert seen == {"block": torch.bfloat16, "head": torch.float32}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    exact = pixelcourse.fit(reference, train, test, epochs=1, lr=3e-3, batch_size=32, progress=False, precision="float32")
    # Same data, same start: the first loss agrees to bfloat16 rounding, and training works as well.
    assert history["loss_bpd"][0] == pytest.approx(exact["loss_bpd"][0], rel=0.01)
    assert history["test_bpd"][0] == pytest.approx(exact["test_bpd"][0], abs=0.1)
    assert history["test_bpd"][0] < history["loss_bpd"][0] - 0.5
    with pytest.raises(ValueError, match='precision must be "float32" or "bfloat16"'):
        pixelcourse.fit(model, train, epochs=1, precision="float16")


@pytest.mark.parametrize("levels", [2, 16, 256])
def test_bits_per_dim_of_uniform_logits_is_log2_levels(levels):
    model = tiny_model("mnist", levels=levels)
    last = model.head[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    x = torch.randint(0, levels, (10, 1, 28, 28))
    data = torch.utils.data.TensorDataset(x, torch.zeros(10, dtype=torch.long))
    assert pixelcourse.bits_per_dim(model, data, batch_size=3) == pytest.approx(math.log2(levels), abs=1e-12)


def test_bits_per_dim_does_not_depend_on_batch_size(mnist_small):
    _, test = mnist_small
    model = tiny_model("mnist")
    a = pixelcourse.bits_per_dim(model, test, batch_size=128)
    b = pixelcourse.bits_per_dim(model, test, batch_size=7)
    assert a == pytest.approx(b, rel=1e-6)
    assert pixelcourse.bits_per_dim(model, test) == pytest.approx(a, rel=1e-6)  # the default, evaluation_batch


@pytest.mark.parametrize("preset, expected", [("mnist", 5), ("mnist_binary", 13), ("cifar10", 11)])
def test_the_cpu_evaluation_batch_is_the_largest_whose_biggest_tensor_fits_8_mib(preset, expected):
    model = pixelcourse.build_model(preset)
    c = model.config
    biggest = lambda batch: batch * c.height * c.width * max(8 * c.head_params * c.channels, 8 * c.hidden)  # bytes
    assert evaluation_batch(model) == expected
    assert biggest(expected) <= CPU_BATCH_BYTES < biggest(expected + 1)
    assert evaluation_batch(tiny_model("mnist", hidden=4, levels=2)) == 256  # tiny tensors: the cap


def test_a_chosen_evaluation_batch_is_kept_and_a_bad_one_is_a_clear_error():
    model = tiny_model("mnist")
    assert evaluation_batch(model, 3) == 3
    for bad in (0, -2, 2.5, True, "8"):
        with pytest.raises(ValueError, match="batch_size must be a positive int"):
            pixelcourse.bits_per_dim(model, torch.utils.data.TensorDataset(torch.zeros(2, 1, 28, 28).long(),
                                                                           torch.zeros(2).long()), batch_size=bad)


FEWEST_FAULTS_OF_A_STEP = """
import resource, sys, torch
sys.path.insert(0, "tests")
from conftest import tiny_model
from pixelcourse.training import train_step
from pixelcourse.util import big_blocks_kept

model, x = tiny_model("mnist"), torch.randint(0, 256, (64, 1, 28, 28))  # logits of 51 MB
optimizer = torch.optim.Adam(model.parameters(), 1e-3)

def fewest_faults_of_a_step():  # after two steps that settle the heap's layout, the fewest of three
    for _ in range(2):
        train_step(model, optimizer, x, x[:, 0, 0, 0], 1e-3)
    faults = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        train_step(model, optimizer, x, x[:, 0, 0, 0], 1e-3)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return min(faults)

plain = fewest_faults_of_a_step()
with big_blocks_kept():
    kept = fewest_faults_of_a_step()
print(plain, kept, fewest_faults_of_a_step())
"""


@pytest.mark.skipif(_glibc() is None, reason="the blocks are kept by glibc's allocator (Linux) only")
def test_fit_keeps_a_steps_big_blocks_for_the_next_step_and_gives_them_back_after():
    """Counted in page faults: a step that maps its big tensors afresh touches each new page once.

    In a fresh process, as a kernel starts: in one whose heap already holds a free block of 51 MB
    (left by earlier tests), even the plain step maps nothing afresh. The fewest of three steps: now
    and then one kept step still faults (37k of 100k once), the next ones do not.
    """
    result = subprocess.run([sys.executable, "-c", FEWEST_FAULTS_OF_A_STEP], capture_output=True, text=True,
                            cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    plain, kept, after = map(int, result.stdout.split())
    assert plain > 10_000 and kept < plain / 4 and after > 4 * kept, (plain, kept, after)


def test_checkpoint_round_trip(tmp_path):
    model = tiny_model("fashion_mnist")
    path = pixelcourse.save_checkpoint(model, tmp_path / "m.pt", metrics={"test_bpd": 3.0})
    loaded = pixelcourse.load_checkpoint(path)
    assert loaded.config == model.config and isinstance(loaded, pixelcourse.GatedPixelCNN)
    assert loaded.metrics == {"test_bpd": 3.0}
    x = torch.randint(0, 256, (2, 1, 28, 28))
    y = torch.tensor([0, 9])
    assert torch.equal(model(x, y), loaded(x, y))
    raw = torch.load(path, weights_only=True)
    assert {"format_version", "config", "dataset", "levels", "state_dict", "metrics"} <= set(raw)
    assert raw["dataset"] == "fashion_mnist" and raw["levels"] == 256
    assert not list(tmp_path.glob("*.tmp"))


def test_checkpoint_mismatch_and_corrupt_file(tmp_path):
    path = pixelcourse.save_checkpoint(tiny_model("mnist"), tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="another architecture"):
        pixelcourse.load_checkpoint(path, expect=tiny_model("fashion_mnist").config)
    with pytest.raises(CheckpointError, match="another dataset"):
        pixelcourse.load_checkpoint(path, expect=pixelcourse.preset_config("mnist", hidden=12, layers=2, dataset="fashion_mnist"))
    with pytest.raises(CheckpointError, match="another config"):
        pixelcourse.train_or_load("mnist_binary", path, hidden=12, layers=2)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        pixelcourse.load_checkpoint(corrupt)
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        pixelcourse.load_checkpoint(tmp_path / "junk.pt")


def test_atomic_save_leaves_previous_file_on_failure(tmp_path, monkeypatch):
    path = pixelcourse.save_checkpoint(tiny_model("mnist"), tmp_path / "m.pt", metrics={"v": 1})

    def broken_save(obj, f, *a, **k):
        f.write(b"half")  # the checkpoint is written into an open temporary file
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        pixelcourse.save_checkpoint(tiny_model("mnist"), path, metrics={"v": 2})
    monkeypatch.undo()
    assert pixelcourse.load_checkpoint(path).metrics == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_resume_after_interruption_continues_where_it_stopped(tmp_path, mnist_128):
    train = mnist_128  # 8 steps of 16 per epoch
    kwargs = dict(epochs=2, lr=1e-3, batch_size=16, progress=False, seed=3)

    reference = tiny_model("mnist")
    ref_history = pixelcourse.fit(reference, train, None, **kwargs)

    class Killed(Exception):
        pass

    model = tiny_model("mnist")
    path = tmp_path / "run.pt"
    calls = {"n": 0}
    original_step = torch.optim.Adam.step

    def step_then_die(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 11:  # killed during the 11th step of 16 (8 per epoch)
            raise Killed()
        return original_step(self, *a, **k)

    torch.optim.Adam.step = step_then_die
    try:
        with pytest.raises(Killed):
            # checkpoint_every=0 writes after every step, like a periodic save just before the kill
            pixelcourse.fit(model, train, None, checkpoint=path, checkpoint_every=0, **kwargs)
    finally:
        torch.optim.Adam.step = original_step
    state = read_checkpoint(path)["training"]
    assert (state["epoch"], state["batch"], state["finished"]) == (1, 2, False)

    resumed = tiny_model("mnist", seed=99)  # fresh process: other weights until the checkpoint loads
    history = pixelcourse.fit(resumed, train, None, checkpoint=path, **kwargs)
    assert history["step"] == list(range(1, 17))
    assert history["loss_bpd"] == pytest.approx(ref_history["loss_bpd"], rel=1e-4)
    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5)
    assert read_checkpoint(path)["training"]["finished"]


def test_throughput_and_time_cover_the_whole_epoch_with_periodic_saves(tmp_path, mnist_small):
    train, _ = mnist_small
    history = pixelcourse.fit(tiny_model("mnist"), train, None, epochs=1, batch_size=64, progress=False,
                              checkpoint=tmp_path / "run.pt", checkpoint_every=0)  # a save after every step
    assert history["images_per_s"][0] * history["seconds"] == pytest.approx(len(train), rel=0.02)


def test_extending_a_finished_run_warms_the_learning_rate_up(tmp_path, mnist_128):
    train = mnist_128  # 128 images: 8 steps of 16 per epoch
    first = tmp_path / "first.pt"
    kwargs = dict(lr=1e-3, batch_size=16, progress=False, schedule="cosine", seed=1)
    one = pixelcourse.fit(tiny_model("mnist"), train, None, epochs=1, checkpoint=first, **kwargs)
    assert one["lr"] == pytest.approx([1e-3 * 0.5 * (1 + math.cos(math.pi * s / 8)) for s in range(8)])

    # Extended to 3 epochs: the cosine is recomputed over 24 steps and reached through a 4-step ramp.
    whole = tmp_path / "whole.pt"
    whole.write_bytes(first.read_bytes())
    history = pixelcourse.fit(tiny_model("mnist"), train, None, epochs=3, checkpoint=whole, restart_warmup=4, **kwargs)
    cosine = [1e-3 * 0.5 * (1 + math.cos(math.pi * s / 24)) for s in range(8, 24)]
    ramp = [c * min(1.0, (i + 1) / 4) for i, c in enumerate(cosine)]
    assert history["step"] == list(range(1, 25))
    assert history["lr"][8:] == pytest.approx(ramp)
    assert history["lr"][8] < one["lr"][0] / 4 + 1e-12 and history["lr"][12:] == pytest.approx(cosine[4:])

    # Killed during the ramp and resumed with the same command: the ramp goes on where it stopped.
    class Killed(Exception):
        pass

    broken = tmp_path / "broken.pt"
    broken.write_bytes(first.read_bytes())
    calls = {"n": 0}
    original_step = torch.optim.Adam.step

    def step_then_die(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Killed()
        return original_step(self, *a, **k)

    torch.optim.Adam.step = step_then_die
    try:
        with pytest.raises(Killed):
            pixelcourse.fit(tiny_model("mnist"), train, None, epochs=3, checkpoint=broken, checkpoint_every=0,
                            restart_warmup=4, **kwargs)
    finally:
        torch.optim.Adam.step = original_step
    resumed = pixelcourse.fit(tiny_model("mnist"), train, None, epochs=3, checkpoint=broken, restart_warmup=4, **kwargs)
    assert resumed["lr"] == pytest.approx(history["lr"])
    assert resumed["loss_bpd"] == pytest.approx(history["loss_bpd"], rel=1e-4)


def test_train_or_load_trains_then_loads(tmp_path, capsys, mnist_small):
    train, test = mnist_small
    path = tmp_path / "mnist.pt"
    model = pixelcourse.train_or_load("mnist", path, epochs=1, max_steps=3, train=train, test=test, hidden=12, layers=1)
    assert "training mnist" in capsys.readouterr().out
    assert len(model.history["loss_bpd"]) == 3 and "test_bpd" in model.metrics
    again = pixelcourse.train_or_load("mnist", path, epochs=1, max_steps=3, train=train, test=test, hidden=12, layers=1)
    assert "Found pretrained mnist.pt" in capsys.readouterr().out
    assert torch.equal(again.head[-1].weight, model.head[-1].weight)


def _cli(args, tmp_path, torchrun=False):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"] if torchrun else [sys.executable]
    cmd += ["-m", "pixelcourse.train", *args]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_cli_and_ddp_with_two_gloo_processes(tmp_path):
    out = tmp_path / "ddp.pt"
    common = ["--preset", "mnist", "--epochs", "1", "--batch-size", "16", "--train-subset", "128", "--test-subset", "32",
              "--threads", "1", "--set", "hidden=12", "layers=1"]
    result = _cli([*common, "--out", str(out)], tmp_path, torchrun=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 process(es)" in result.stdout
    model = pixelcourse.load_checkpoint(out)
    ckpt = read_checkpoint(out)
    assert len(ckpt["history"]["loss_bpd"]) == 4  # 128 images / 2 processes / 16 per batch
    assert ckpt["training"]["finished"] and ckpt["training"]["batch_size"] == 32
    assert model.config.hidden == 12 and math.isfinite(ckpt["metrics"]["test_bpd"])

    # Running again resumes a finished run: nothing more to do.
    again = _cli([*common, "--out", str(out)], tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(read_checkpoint(out)["history"]["loss_bpd"]) == 4


def test_cli_bfloat16_is_recorded_in_the_checkpoint(tmp_path):
    out = tmp_path / "bf16.pt"
    result = _cli(["--preset", "mnist", "--epochs", "1", "--batch-size", "16", "--train-subset", "32", "--test-subset", "16",
                   "--threads", "1", "--set", "hidden=12", "layers=2", "dilations=1,2", "--precision", "bfloat16",
                   "--out", str(out)], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    ckpt = read_checkpoint(out)
    assert tuple(ckpt["config"]["dilations"]) == (1, 2)
    assert ckpt["training"]["precision"] == "bfloat16"
    assert ckpt["hardware"] == f"{describe_cpu()}, 1 thread, bfloat16 autocast"  # the CPU by name, as lscpu gives it
    assert math.isfinite(ckpt["metrics"]["test_bpd"])


def test_cli_bad_preset_is_a_clear_error(tmp_path):
    result = _cli(["--preset", "svhn", "--out", "x.pt"], tmp_path)
    assert result.returncode == 2 and "invalid choice: 'svhn'" in result.stderr
    result = _cli(["--preset", "mnist", "--out", "x.pt", "--set", "dilations=1,two"], tmp_path)
    assert result.returncode == 1 and "--set dilations: expected whole numbers separated by commas, got '1,two'" in result.stderr
    assert not (tmp_path / "x.pt").exists()


def test_a_time_budget_stops_the_run_inside_an_epoch_and_the_next_call_goes_on(tmp_path, mnist_small):
    train, _ = mnist_small  # 512 images: 16 steps of 32 per epoch
    path = tmp_path / "run.pt"
    kwargs = dict(epochs=50, lr=1e-3, batch_size=32, progress=False, checkpoint=path)
    first = pixelcourse.fit(tiny_model("mnist"), train, None, max_seconds=0.3, **kwargs)
    state = read_checkpoint(path)["training"]
    assert first["seconds"] >= 0.3 and 0 < len(first["step"]) < 50 * 16
    assert state["finished"] and state["epoch"] * 16 + state["batch"] == len(first["step"])
    assert pixelcourse.fit(tiny_model("mnist"), train, None, max_seconds=0.3, **kwargs)["step"] == first["step"]

    budget = first["seconds"] + 0.01  # more than the run has had: at least one more step, whatever the machine's speed
    more = pixelcourse.fit(tiny_model("mnist", seed=5), train, None, max_seconds=budget, **kwargs)  # resumes, trains on
    assert more["step"][: len(first["step"])] == first["step"] and len(more["step"]) > len(first["step"])
    assert more["step"] == list(range(1, len(more["step"]) + 1)) and more["seconds"] >= budget


def test_a_step_budget_that_stops_inside_an_epoch_resumes_inside_it(tmp_path, mnist_128):
    train = mnist_128  # 16 steps of 8 per epoch
    path = tmp_path / "run.pt"
    kwargs = dict(epochs=1, lr=1e-3, batch_size=8, progress=False)
    whole = pixelcourse.fit(tiny_model("mnist"), train, None, **kwargs)
    pixelcourse.fit(tiny_model("mnist"), train, None, checkpoint=path, max_steps=5, **kwargs)
    assert read_checkpoint(path)["training"]["batch"] == 5
    resumed = pixelcourse.fit(tiny_model("mnist"), train, None, checkpoint=path, **kwargs)
    assert resumed["loss_bpd"] == pytest.approx(whole["loss_bpd"], rel=1e-4)  # the same batches, in the same order


def test_bad_time_budget_is_one_clear_error():
    with pytest.raises(ValueError, match="max_seconds must be None"):
        pixelcourse.TrainConfig(max_seconds=0)
