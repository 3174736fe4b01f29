"""What machine this is, in words: the CPU's model name, its generation and its vector extensions.

Every speed figure of the course names the CPU it was measured on, and a training
run records it in its checkpoint. The model name is the one ``lscpu`` prints
(``/proc/cpuinfo`` where lscpu is missing, the platform's processor string
elsewhere). One name can cover CPU generations years apart ("AMD EPYC"), so
``cpu_family`` adds the family and model numbers that tell them apart.
"""

from __future__ import annotations

import functools
import platform
import subprocess


@functools.cache
def _lscpu() -> dict[str, str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in out.splitlines())}


def _cpuinfo(key: str) -> str | None:
    try:
        with open("/proc/cpuinfo") as lines:
            for line in lines:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_name() -> str:
    """The CPU's model name: lscpu's ``Model name``, else /proc/cpuinfo's, else the platform's processor string."""
    return _lscpu().get("Model name") or _cpuinfo("model name") or platform.processor() or "unknown CPU"


def cpu_family() -> str:
    """lscpu's ``CPU family`` and ``Model`` numbers, as "family 25, model 17", or "" where they are unknown."""
    info = _lscpu()
    family, model = info.get("CPU family") or _cpuinfo("cpu family"), info.get("Model") or _cpuinfo("model\t")
    return f"family {family}, model {model}" if family and model else ""


def cpu_vectors() -> str:
    """The vector extensions that matter for torch on a CPU, from its flags: AVX2, AVX-512, AVX-512 BF16, AMX."""
    flags = set((_lscpu().get("Flags") or _cpuinfo("flags") or "").split())
    if not flags:
        return "flags unknown"
    named = [("AVX2", "avx2"), ("AVX-512", "avx512f"), ("AVX-512 BF16", "avx512_bf16"), ("AMX", "amx_tile")]
    found = [name for name, flag in named if flag in flags]
    return ", ".join(found) if found else "no AVX2"


def describe_cpu() -> str:
    """The CPU in one phrase, e.g. "AMD EPYC (family 25, model 17; AVX2, AVX-512, AVX-512 BF16)"."""
    details = "; ".join(part for part in (cpu_family(), cpu_vectors()) if part and part != "flags unknown")
    return f"{cpu_name()} ({details})" if details else cpu_name()
