"""The choice of precision, the learning-rate schedule and the training settings: mostly pure functions, no data set.

The hardware is faked by passing its capability in (a set of features such as
"avx512_bf16"), so the choice is tested for machines this one is not.
"""

import math
import warnings
from pathlib import Path

import pytest
import torch

import pixelcourse
from pixelcourse.checkpoints import CheckpointError, read_checkpoint, write_manifest
from pixelcourse.precision import NATIVE_BFLOAT16, bfloat16_capability, choose_precision
from pixelcourse.train import config_from_args, parse_args
from pixelcourse.training import TrainConfig, lr_at
from conftest import tiny_model


def no_speed(dtype, device_type):
    raise AssertionError("nothing should be measured when no warning is due")


@pytest.mark.parametrize(
    "device, capability, chosen",
    [
        ("cpu", {"avx512_bf16"}, "bfloat16"),  # AMD Zen 4/5, Intel Cooper Lake and later
        ("cpu", {"amx_bf16", "amx_tile"}, "bfloat16"),  # Intel Sapphire Rapids and later
        ("cpu", {"amx_tile"}, "bfloat16"),  # what torch's own AMX probe reports
        ("cpu", set(), "float32"),  # AVX2-only: bfloat16 would be emulated
        ("cpu", {"avx512f", "avx2"}, "float32"),  # AVX-512 without BF16
        ("cuda", {"cuda_bf16"}, "bfloat16"),
        ("cuda", set(), "float32"),  # a GPU older than compute capability 8.0
    ],
)
def test_auto_chooses_bfloat16_only_where_the_hardware_does_it_natively(device, capability, chosen):
    assert choose_precision("auto", device, frozenset(capability), speed=no_speed) == chosen
    assert choose_precision("float32", device, frozenset(capability), speed=no_speed) == "float32"


def test_explicit_bfloat16_where_it_is_emulated_runs_with_one_measured_warning():
    speeds = {torch.bfloat16: 0.39, torch.float32: 174.0}  # GFLOP/s of an AVX2-only AMD EPYC
    with pytest.warns(UserWarning) as caught:
        chosen = choose_precision("bfloat16", "cpu", frozenset(), speed=lambda dtype, device_type: speeds[dtype])
    assert chosen == "bfloat16"
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "\n" not in message and "AVX-512 BF16 or AMX" in message
    assert "0.39 GFLOP/s in bfloat16 against 174.00 in float32" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert choose_precision("bfloat16", "cpu", frozenset({"avx512_bf16"}), speed=no_speed) == "bfloat16"


def test_an_unknown_precision_is_one_clear_error():
    with pytest.raises(ValueError, match='precision must be "float32" or "bfloat16", or "auto"'):
        choose_precision("float16", "cpu", frozenset())
    with pytest.raises(ValueError, match="got 'fp32'"):
        TrainConfig(precision="fp32")


def test_this_machine_capability_matches_its_cpu_flags():
    found = bfloat16_capability("cpu")
    assert found <= NATIVE_BFLOAT16
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        flags = set(next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")).split(":")[1].split())
        assert ("avx512_bf16" in flags or "amx_bf16" in flags) == bool(found & {"avx512_bf16", "amx_bf16", "amx_tile"})


def test_the_checkpoint_records_the_precision_actually_used(tmp_path):
    data = torch.utils.data.TensorDataset(torch.randint(0, 256, (8, 1, 28, 28)), torch.zeros(8, dtype=torch.long))
    pixelcourse.fit(tiny_model("mnist"), data, epochs=1, batch_size=8, progress=False, checkpoint=tmp_path / "run.pt")
    training = read_checkpoint(tmp_path / "run.pt")["training"]
    assert training["precision"] == choose_precision("auto", "cpu") != "auto"
    assert TrainConfig.from_checkpoint({"training": training}).precision == training["precision"]


def test_lr_at_is_a_pure_function_of_the_step():
    assert [lr_at(s, 8, 1e-3) for s in (0, 7, 100)] == [1e-3] * 3
    assert lr_at(0, 8, 1e-3, "cosine") == 1e-3
    assert lr_at(4, 8, 1e-3, "cosine") == pytest.approx(5e-4)
    assert lr_at(8, 8, 1e-3, "cosine") == lr_at(20, 8, 1e-3, "cosine") == pytest.approx(0.0, abs=1e-18)
    # A warm restart at step 8 of 24 with a 4-step ramp: 1/4, 2/4, 3/4, then the cosine itself.
    cosine = [1e-3 * 0.5 * (1 + math.cos(math.pi * s / 24)) for s in range(8, 14)]
    ramped = [lr_at(s, 24, 1e-3, "cosine", warmup=4, start=8) for s in range(8, 14)]
    assert ramped == pytest.approx([c * f for c, f in zip(cosine, (0.25, 0.5, 0.75, 1, 1, 1))])


def test_settings_of_checkpoints_written_before_a_setting_existed():
    old = {"epoch": 2, "batch": 0, "finished": True, "optimizer": {}, "epochs": 2, "lr": 2e-3, "batch_size": 64,
           "seed": 0, "schedule": "cosine", "restart_step": None}  # no precision, restart_warmup, max_steps
    settings = TrainConfig.from_checkpoint({"training": old})
    assert settings == TrainConfig(epochs=2, lr=2e-3, batch_size=64, schedule="cosine", precision="float32", restart_warmup=0)
    with pytest.raises(CheckpointError, match="no training settings"):
        TrainConfig.from_checkpoint({"format_version": 1})


def test_the_command_line_options_are_the_fields_of_train_config():
    args = parse_args(["--preset", "mnist", "--out", "x.pt", "--max-steps", "5", "--batch-size", "16"])
    settings = config_from_args(args)
    assert settings == TrainConfig(epochs=10, max_steps=5, batch_size=16)
    assert settings.precision == "auto"
    with pytest.raises(SystemExit):
        parse_args(["--preset", "mnist", "--out", "x.pt", "--precision", "float16"])


def test_fit_names_an_unknown_setting():
    with pytest.raises(TypeError, match=r"unknown settings \['learning_rate'\].*TrainConfig"):
        pixelcourse.fit(tiny_model("mnist"), [], learning_rate=1e-3)


def test_write_manifest_pins_a_checkpoint_that_load_pretrained_then_verifies(tmp_path):
    model = tiny_model("mnist")
    path = pixelcourse.save_checkpoint(model, tmp_path / "tiny.pt", metrics={"test_bpd": 5.0})
    entry = write_manifest("tiny", path, tmp_path, test_bits_per_dim=5.0)
    assert entry["file"] == "tiny.pt" and entry["size_bytes"] == path.stat().st_size and len(entry["sha256"]) == 64
    assert pixelcourse.load_pretrained("tiny", tmp_path).metrics == {"test_bpd": 5.0}
    with pytest.raises(ValueError, match="is not in"):
        write_manifest("tiny", path, tmp_path / "elsewhere")
