"""Device and numeric precision selection, decided at run time (CUDA, Apple MPS or CPU)."""

from __future__ import annotations

import os
from functools import cache

import torch

from .options import DEVICES, PRECISIONS

__all__ = ["DEVICES", "PRECISIONS"]


def available_devices() -> list[str]:
    """Return the devices present on this machine, best first (always ends with ``"cpu"``)."""
    found = []
    if torch.cuda.is_available():
        found += [f"cuda:{i}" if torch.cuda.device_count() > 1 else "cuda"
                  for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    found.append("cpu")
    return found


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"`` into the best present device (CUDA, then MPS, then CPU); check explicit choices."""
    if isinstance(device, torch.device):
        return device
    name = str(device).lower()
    if name == "auto":
        return torch.device(available_devices()[0])
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for, but no CUDA GPU is available here; "
                         f"use one of {available_devices()} or 'auto'.")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None)
                                  and torch.backends.mps.is_available()):
        raise ValueError(f"device={device!r} was asked for, but Apple MPS is not available here; "
                         f"use one of {available_devices()} or 'auto'.")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"Unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'mps'.")
    return dev


@cache
def cpu_has_native_bf16() -> bool:
    """True when the CPU has bfloat16 instructions (AVX-512 BF16, AMX or Arm BF16).

    Without them bfloat16 autocast is emulated and usually slower than float32.
    """
    try:
        with open("/proc/cpuinfo") as fh:
            text = fh.read()
    except OSError:  # not Linux: be conservative, float32 is never slower than emulated bf16
        return False
    return any(flag in text for flag in (" avx512_bf16", " amx_bf16", " bf16"))


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """Return the autocast dtype for ``precision`` on ``device``, or None for plain float32.

    ``"auto"`` picks bfloat16 on CPUs with native bfloat16 support and on CUDA GPUs that support it,
    float16 on MPS, and float32 otherwise.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}.")
    if precision == "float32":
        return None
    if precision in ("bfloat16", "float16") and not _autocast_available(device.type):
        raise ValueError(f"precision={precision!r}: this torch ({torch.__version__}) has no mixed "
                         f"precision on {device.type}; use 'float32' or 'auto'.")
    if precision == "bfloat16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError("precision='bfloat16': this CUDA GPU does not support bfloat16; use "
                             "'float16', 'float32' or 'auto'.")
        return torch.bfloat16
    if precision == "float16":
        return torch.float16
    # auto
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":  # autocast on MPS came with torch 2.5: float32 before
        return torch.float16 if _autocast_available("mps") else None
    return torch.bfloat16 if cpu_has_native_bf16() else None


def _autocast_available(device_type: str) -> bool:
    check = getattr(torch.amp, "is_autocast_available", None)  # torch >= 2.4
    if check is None:
        return device_type in ("cpu", "cuda")
    try:
        return bool(check(device_type))
    except RuntimeError:
        return False


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads and return them.

    ``threads`` (or ``OMP_NUM_THREADS`` when set) is used as given. Otherwise torch's own setting
    stands (a user's ``torch.set_num_threads`` included), lowered to the cores this process may
    use: in containers torch's default can count the host's cores and oversubscribe the few it
    got, which slowed runs about tenfold here.
    """
    if threads is None and os.environ.get("OMP_NUM_THREADS", "").isdigit():
        threads = int(os.environ["OMP_NUM_THREADS"])
    if threads is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # macOS, Windows
            cores = os.cpu_count() or 1
        threads = min(torch.get_num_threads(), cores)
    threads = max(1, int(threads))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
