"""The machine's description that speed figures and checkpoints carry: the CPU as lscpu names it."""

import subprocess

import pytest

from pixelcourse import machine


@pytest.fixture
def fresh():
    machine._lscpu.cache_clear()
    yield machine
    machine._lscpu.cache_clear()


def _cpuinfo_model_name() -> str | None:
    try:
        with open("/proc/cpuinfo") as lines:
            return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), None)
    except OSError:
        return None


def test_cpu_name_is_lscpus_model_name(fresh):
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("no lscpu on this machine")
    named = [line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name:")]
    if not named:
        pytest.skip("lscpu gives no model name here")
    assert fresh.cpu_name() == named[0]
    assert fresh.describe_cpu().startswith(named[0])


def test_without_lscpu_the_name_comes_from_proc_cpuinfo(fresh, monkeypatch):
    def missing(*args, **kwargs):
        raise FileNotFoundError("lscpu")

    monkeypatch.setattr(subprocess, "run", missing)
    expected = _cpuinfo_model_name()
    if expected is None:
        pytest.skip("no /proc/cpuinfo model name on this machine")
    assert fresh.cpu_name() == expected


def test_describe_cpu_adds_family_and_vector_extensions(fresh, monkeypatch):
    info = {"Model name": "Example CPU 9000", "CPU family": "23", "Model": "1", "Flags": "fpu sse2 avx avx2 fma"}
    monkeypatch.setattr(machine, "_lscpu", lambda: info)
    assert fresh.describe_cpu() == "Example CPU 9000 (family 23, model 1; AVX2)"
    info["Flags"] = "avx2 avx512f avx512_bf16"
    assert fresh.cpu_vectors() == "AVX2, AVX-512, AVX-512 BF16"
    info["Flags"] = "sse2"
    assert fresh.cpu_vectors() == "no AVX2"
