"""napari-dip: Deep Image Prior restoration for napari and Python.

Denoising, inpainting, super-resolution, deblurring and fusion with an untrained CNN fitted to the
one image at hand. The engine (``napari_dip.api`` and ``napari_dip.core``) needs neither napari nor
Qt. Importing this package is cheap: torch loads on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_LAZY = {
    "denoise": "api", "inpaint": "api", "super_resolve": "api", "deblur": "api", "fuse": "api",
    "restore_iter": "api", "Result": "api", "Config": "core.config", "PRESETS": "core.config",
    "gaussian_psf": "core.operators", "available_devices": "core.device",
    "batch": "batch",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:
    from .api import Result, deblur, denoise, fuse, inpaint, restore_iter, super_resolve
    from .batch import batch
    from .core.config import PRESETS, Config
    from .core.device import available_devices
    from .core.operators import gaussian_psf


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
