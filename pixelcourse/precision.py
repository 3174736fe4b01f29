"""Which precision a training run uses: float32, or bfloat16 autocast where the hardware does it natively.

bfloat16 halves the bytes of every activation, but only hardware with bfloat16
arithmetic turns that into speed: a CUDA GPU of compute capability 8.0 or more,
or a CPU with AVX-512 BF16 or AMX. Elsewhere torch emulates it, and a CPU
without it can train several times slower than in float32. ``"auto"`` (the
default of ``fit`` and ``python -m pixelcourse.train``) therefore chooses
bfloat16 only where it is native.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

PRECISIONS = ("auto", "float32", "bfloat16")
# Features that make bfloat16 native: CPU flags as /proc/cpuinfo names them
# (AMX machines have amx_tile and amx_bf16 together), and "cuda_bf16" for a GPU.
NATIVE_BFLOAT16 = frozenset({"avx512_bf16", "amx_bf16", "amx_tile", "cuda_bf16"})
MATMUL_SIZE = 256  # the square matrix product timed for the warning: a few hundredths of a second


def check_precision(precision: str) -> None:
    """Raise ValueError unless ``precision`` is one of PRECISIONS."""
    if precision not in PRECISIONS:
        raise ValueError(
            f'precision must be "float32" or "bfloat16", or "auto" to use bfloat16 only where the hardware '
            f"does it natively; got {precision!r}."
        )


@functools.cache
def cpu_bfloat16_flags() -> frozenset[str]:
    """The CPU's native-bfloat16 flags among NATIVE_BFLOAT16 (empty when it has none or they cannot be read).

    ``torch.backends.cpu.get_cpu_capability()`` says "AVX512" with or without
    AVX-512 BF16, so it cannot tell; torch's own probes are used where this torch
    has them, else the flags of /proc/cpuinfo (Linux).
    """
    cpu = getattr(torch._C, "_cpu", None)
    probes = {"avx512_bf16": "_is_avx512_bf16_supported", "amx_tile": "_is_amx_tile_supported"}
    if cpu is not None and all(hasattr(cpu, probe) for probe in probes.values()):
        return frozenset(flag for flag, probe in probes.items() if getattr(cpu, probe)())
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return frozenset()  # not Linux: nothing cheap to ask, so assume emulation and stay in float32
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    return frozenset(flags) & NATIVE_BFLOAT16


def bfloat16_capability(device: torch.device | str) -> frozenset[str]:
    """The features of ``device`` that make bfloat16 native (see NATIVE_BFLOAT16); empty if it has none."""
    device = torch.device(device)
    if device.type == "cuda":
        # torch.cuda.is_bf16_supported() also says yes where bfloat16 is only emulated
        return frozenset({"cuda_bf16"}) if torch.cuda.get_device_capability(device) >= (8, 0) else frozenset()
    if device.type == "cpu":
        return cpu_bfloat16_flags()
    return frozenset()


@functools.cache
def matmul_gflops(dtype: torch.dtype, device_type: str = "cpu") -> float:
    """Measured GFLOP/s of a MATMUL_SIZE x MATMUL_SIZE matrix product in ``dtype`` (once per process)."""
    n, repeats = MATMUL_SIZE, 3
    a = torch.randn(n, n, device=device_type).to(dtype)  # (n, n)
    b = torch.randn(n, n, device=device_type).to(dtype)  # (n, n)
    a @ b  # warm-up: the first product allocates and picks a kernel
    if device_type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device_type == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * repeats / max(time.perf_counter() - start, 1e-9) / 1e9


def choose_precision(
    requested: str,
    device: torch.device | str,
    capability: frozenset[str] | None = None,
    speed: Callable[[torch.dtype, str], float] = matmul_gflops,
) -> str:
    """The precision a training run on ``device`` uses: "float32" or "bfloat16".

    requested: "auto" (bfloat16 where ``capability`` makes it native, float32
        otherwise), "float32" or "bfloat16".
    capability: the device's native-bfloat16 features, e.g. {"avx512_bf16"}
        (default: ``bfloat16_capability(device)``).
    speed: speed(dtype, device_type) -> GFLOP/s, measured for the warning that
        an explicit "bfloat16" on hardware that emulates it prints (once): it
        still runs, slower.
    """
    check_precision(requested)
    device = torch.device(device)
    capability = bfloat16_capability(device) if capability is None else frozenset(capability)
    native = bool(capability & NATIVE_BFLOAT16)
    if requested == "auto":
        return "bfloat16" if native else "float32"
    if requested == "bfloat16" and not native:
        # Raised here (stacklevel 1): the same text from the CLI and from fit is then shown once.
        warnings.warn(emulation_warning(device, speed), stacklevel=1)
    return requested


def emulation_warning(device: torch.device, speed: Callable[[torch.dtype, str], float] = matmul_gflops) -> str:
    """One line: why bfloat16 is slow on ``device``, with the measured speed of both precisions."""
    what, why = {"cpu": ("CPU", "no AVX-512 BF16 or AMX"), "cuda": ("GPU", "compute capability below 8.0")}.get(
        device.type, (device.type, "no native bfloat16"))
    slow, fast = speed(torch.bfloat16, device.type), speed(torch.float32, device.type)
    return (
        f"bfloat16 is emulated on this {what} ({why}): a {MATMUL_SIZE}x{MATMUL_SIZE} matrix "
        f"product runs at {slow:.2f} GFLOP/s in bfloat16 against {fast:.2f} in float32, so training will be slower; "
        'precision "auto" would choose float32 here.'
    )
