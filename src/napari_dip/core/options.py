"""Names of the engine's options, free of torch so that settings and widgets load instantly."""

from __future__ import annotations

from dataclasses import dataclass

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "float32", "bfloat16", "float16")
NETWORKS = ("skip", "unet", "resnet", "deep_decoder")
UPSAMPLE_MODES = ("nearest", "bilinear")
LOSSES = ("mse", "l1", "poisson")
DOWNSAMPLE_KERNELS = ("lanczos2", "bicubic", "box")
SR_FACTORS = (2, 3, 4, 8)
FUSION_MODES = ("gradient", "guided")
REFINES = ("none", "wiener", "bm-wiener", "project", "fill-dct")
#: The tasks each step after the fit (``Config.refine``) applies to; the others ignore it.
REFINE_TASKS = {"wiener": ("denoise",), "bm-wiener": ("denoise",), "project": ("sr",),
                "fill-dct": ("inpaint",)}


def refine_choices(task: str) -> list[str]:
    """The ``Config.refine`` values that mean something for ``task``: ``"none"`` first."""
    return ["none"] + [r for r, tasks in REFINE_TASKS.items() if task in tasks]


_METRIC_LABELS = {"psnr_before_refine": "PSNR before the refine step"}


def metric_label(key: str) -> str:
    """How :attr:`napari_dip.api.Result.metrics` keys read in a status line."""
    return _METRIC_LABELS.get(key, key.upper())


@dataclass(frozen=True)
class NetworkSpec:
    """What a network needs to be built; see :class:`napari_dip.core.config.Config`."""

    kind: str = "skip"
    channels: tuple[int, ...] = (128, 128, 128, 128, 128)
    skip_channels: tuple[int, ...] = (4, 4, 4, 4, 4)
    upsample: str = "bilinear"
    input_channels: int = 32
    resnet_blocks: int = 8
