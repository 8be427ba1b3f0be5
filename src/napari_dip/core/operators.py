"""Forward models A: the only thing that differs between restoration tasks.

Each operator maps an image estimate ``x`` shaped (B, C, H, W) to what was measured, knows the
measurement's shape for a given image shape and back, and validates its own parameters. A task is
then ``loss(A(f(z)), y)``; see :class:`DataFidelity`. Fusion is an objective without a single
measurement, :class:`FusionObjective`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .options import DOWNSAMPLE_KERNELS, LOSSES, SR_FACTORS

__all__ = ["DOWNSAMPLE_KERNELS", "LOSSES", "SR_FACTORS"]
MIN_LOW_RES = 8  # fewer low-resolution pixels than this per side leaves nothing to fit


class Operator(nn.Module):
    """Base class: identity. Subclasses override :meth:`forward` and the shape maps."""

    name = "identity"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def measurement_hw(self, image_hw: tuple[int, int]) -> tuple[int, int]:
        """Shape (H, W) of A(x) for an image of shape ``image_hw``."""
        return tuple(image_hw)

    def image_hw(self, measurement_hw: tuple[int, int]) -> tuple[int, int]:
        """Shape (H, W) of the image to estimate from a measurement of shape ``measurement_hw``."""
        return tuple(measurement_hw)

    def loss_weight(self) -> torch.Tensor | None:
        """Per-pixel weight of the data term in measurement space (None: all pixels count)."""
        return None


class Identity(Operator):
    """Denoising: the measurement is the image itself."""


class Mask(Operator):
    """Inpainting: A(x) = m ⊙ x with m = 1 on known pixels and 0 on pixels to fill.

    Parameters
    ----------
    mask : array or tensor, shape (H, W) or (C, H, W)
        Non-zero (True) where the pixel is known.
    """

    name = "mask"

    def __init__(self, mask):
        super().__init__()
        m = torch.as_tensor(np.asarray(mask), dtype=torch.float32)
        if m.ndim == 2:
            m = m[None]
        if m.ndim != 3:
            raise ValueError(f"mask must be 2D (H, W) or 3D (C, H, W); got shape {tuple(m.shape)}.")
        m = (m != 0).float()
        known = float(m.mean())
        if known == 0.0:
            raise ValueError("The mask marks no pixel as known (mask is all zero); at least some "
                             "pixels must be known to fill the others. Mask: 1 = known, 0 = fill.")
        self.register_buffer("mask", m[None])
        self.known_fraction = known

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask

    def loss_weight(self) -> torch.Tensor:
        return self.mask


def _kernel_1d(factor: int, kind: str) -> np.ndarray:
    """Separable anti-aliasing kernel for downsampling by ``factor`` (phase 0.5: even taps)."""
    if kind == "box":
        return np.full(factor, 1.0 / factor)
    taps = 4 * factor
    # tap centres relative to the kernel centre, in low-resolution pixel units
    d = np.abs(np.arange(taps) - (taps - 1) / 2.0) / factor
    if kind == "lanczos2":
        support = 2.0
        with np.errstate(divide="ignore", invalid="ignore"):
            k = support * np.sin(np.pi * d) * np.sin(np.pi * d / support) / (np.pi**2 * d**2)
        k[d == 0] = 1.0
    elif kind == "bicubic":
        a = -0.5
        k = np.where(d <= 1, (a + 2) * d**3 - (a + 3) * d**2 + 1,
                     np.where(d < 2, a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a, 0.0))
    else:
        raise ValueError(f"Unknown downsampling kernel {kind!r}; use one of {DOWNSAMPLE_KERNELS}.")
    return k / k.sum()


class Downsample(Operator):
    """Super-resolution: anti-aliased downsampling by an integer factor.

    The default kernel is the Deep Image Prior paper's separable Lanczos-2 (4·factor taps, phase
    0.5), with edge replication; ``bicubic`` (Keys, a = -0.5) and ``box`` (pixel binning) are
    alternatives. An image of shape (H, W) maps to (H // factor, W // factor).
    """

    name = "downsample"

    def __init__(self, factor: int, kernel: str = "lanczos2"):
        super().__init__()
        if int(factor) != factor or int(factor) not in SR_FACTORS:
            raise ValueError(f"factor must be one of {SR_FACTORS}; got {factor!r}.")
        self.factor = int(factor)
        self.kernel_name = kernel
        k = torch.as_tensor(_kernel_1d(self.factor, kernel), dtype=torch.float32)
        self.register_buffer("k1d", k)
        total = len(k) - self.factor
        self.pad = (total // 2, total - total // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        k = self.k1d.to(x.dtype)
        x = F.pad(x, (*self.pad, *self.pad), mode="replicate")
        x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1).contiguous(), stride=(1, self.factor),
                     groups=c)
        return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1).contiguous(),
                        stride=(self.factor, 1), groups=c)

    def measurement_hw(self, image_hw):
        return image_hw[0] // self.factor, image_hw[1] // self.factor

    def image_hw(self, measurement_hw):
        h, w = measurement_hw
        if min(h, w) < MIN_LOW_RES:
            raise ValueError(f"The low-resolution image is {h}×{w} pixels; at least "
                             f"{MIN_LOW_RES}×{MIN_LOW_RES} are needed for super-resolution.")
        return h * self.factor, w * self.factor


def gaussian_psf(sigma: float, size: int | None = None) -> np.ndarray:
    """Normalised 2D Gaussian point-spread function.

    Parameters
    ----------
    sigma : float
        Standard deviation in pixels (> 0).
    size : int, optional
        Odd side length; default ``2 * ceil(3 * sigma) + 1``.

    Returns
    -------
    psf : ndarray, float32, shape (size, size), summing to 1.
    """
    if not sigma > 0:
        raise ValueError(f"PSF sigma must be positive; got {sigma!r}.")
    if size is None:
        size = 2 * math.ceil(3 * sigma) + 1
    if size < 1 or size % 2 == 0:
        raise ValueError(f"PSF size must be a positive odd number; got {size!r}.")
    r = np.arange(size) - size // 2
    g = np.exp(-(r**2) / (2 * sigma**2))
    psf = np.outer(g, g)
    return (psf / psf.sum()).astype(np.float32)


def check_psf(psf, image_hw: tuple[int, int] | None = None) -> np.ndarray:
    """Validate a PSF array and return it as float32 summing to 1 (the input is not modified)."""
    p = np.asarray(psf, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"The PSF must be a 2D array; got shape {p.shape}.")
    if not np.isfinite(p).all():
        raise ValueError("The PSF contains NaN or infinite values.")
    if (p < 0).any():
        p = np.clip(p, 0, None)  # noise in a measured PSF; negative lobes are not physical here
    if p.sum() <= 0:
        raise ValueError("The PSF sums to zero (or is negative everywhere); a PSF needs positive mass.")
    if image_hw is not None and (p.shape[0] > image_hw[0] or p.shape[1] > image_hw[1]):
        raise ValueError(f"The PSF ({p.shape[0]}×{p.shape[1]}) is larger than the image "
                         f"({image_hw[0]}×{image_hw[1]}); crop it around its peak.")
    return (p / p.sum()).astype(np.float32)


class Convolution(Operator):
    """Deblurring: A(x) = psf ∗ x (same size, mirrored borders), one PSF for every channel.

    Parameters
    ----------
    psf : 2D array
        See :func:`check_psf`.
    cut_sides : (top, bottom, left, right) bools, optional
        Sides of a tile that face a neighbouring tile rather than the image border: measured pixels
        within the PSF's reach of such a side were blurred from pixels outside the tile, which the
        mirrored border cannot explain, so the data term leaves them out (``loss_weight``); the
        overlapping neighbour fits them instead.
    hw : (H, W), optional
        The measurement's size, needed with ``cut_sides``.
    """

    name = "convolution"

    def __init__(self, psf, cut_sides: tuple[bool, bool, bool, bool] | None = None,
                 hw: tuple[int, int] | None = None):
        super().__init__()
        p = torch.as_tensor(check_psf(psf))
        # conv2d correlates; flipping makes it a true convolution for asymmetric PSFs
        self.register_buffer("psf", torch.flip(p, (0, 1))[None, None])
        kh, kw = p.shape
        self.pad = ((kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2)
        self.register_buffer("valid", None)
        if cut_sides is not None and any(cut_sides):
            if hw is None:
                raise ValueError("Convolution: cut_sides needs the measurement's size hw.")
            h, w = int(hw[0]), int(hw[1])
            top, bottom, left, right = (bool(c) for c in cut_sides)
            # a pixel is explained by the tile alone when its PSF footprint lies inside the tile
            y0, y1 = (self.pad[2] if top else 0), h - (self.pad[3] if bottom else 0)
            x0, x1 = (self.pad[0] if left else 0), w - (self.pad[1] if right else 0)
            if y1 - y0 < 1 or x1 - x0 < 1:
                raise ValueError(f"Convolution: a {h}×{w} tile is too small for a {kh}×{kw} PSF.")
            m = torch.zeros((1, 1, h, w))
            m[..., y0:y1, x0:x1] = 1.0
            self.register_buffer("valid", m)

    def loss_weight(self) -> torch.Tensor | None:
        return self.valid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        h, w = x.shape[-2:]
        mode = "reflect" if max(self.pad) < min(h, w) else "replicate"
        xp = F.pad(x, self.pad, mode=mode)
        return F.conv2d(xp, self.psf.to(x.dtype).expand(c, 1, -1, -1).contiguous(), groups=c)


# --------------------------------------------------------------------------------------------
# losses and objectives



def data_loss(pred: torch.Tensor, target: torch.Tensor, kind: str,
              weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean data misfit over the pixels with non-zero ``weight`` (all pixels when None).

    ``poisson`` is the Poisson negative log-likelihood up to a constant, for photon counts scaled to
    [0, 1] with zero kept at zero.
    """
    if kind == "mse":
        err = (pred - target) ** 2
    elif kind == "l1":
        err = (pred - target).abs()
    elif kind == "poisson":
        eps = 1e-4
        err = pred - target * torch.log(pred + eps)
    else:
        raise ValueError(f"loss must be one of {LOSSES}; got {kind!r}.")
    if weight is None:
        return err.mean()
    return (err * weight).sum() / (weight.expand_as(err).sum().clamp_min(1.0))


class DataFidelity(nn.Module):
    """Objective ``loss(A(x), y)``: denoising, inpainting, super-resolution and deblurring."""

    def __init__(self, operator: Operator, y: torch.Tensor, loss: str = "mse"):
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}; got {loss!r}.")
        self.operator = operator
        self.loss_kind = loss
        self.register_buffer("y", y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return data_loss(self.operator(x), self.y, self.loss_kind, self.operator.loss_weight())


def image_gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences (B, C, H, W) → (gy, gx), each (B, C, H, W) with a zero last row/column."""
    gy = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))
    gx = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1, 0, 0))
    return gy, gx


class FusionObjective(nn.Module):
    """Gradient-domain fusion of two co-registered sources a and b (both in [0, 1]).

    loss = ‖F − (w·a + (1 − w)·b)‖² + λ·‖∇F − G‖₁, where G takes, pixel by pixel, the gradient of
    whichever source has the larger locally averaged gradient magnitude. The intensity term anchors
    F's brightness to a weighted mean; the gradient term keeps the sharper structure of each source.
    """

    def __init__(self, a: torch.Tensor, b: torch.Tensor, weight: float = 0.5,
                 gradient_weight: float = 1.0, window: int = 5):
        super().__init__()
        if a.shape != b.shape:
            raise ValueError(f"Fusion sources differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}.")
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"fusion weight must be in [0, 1]; got {weight!r}.")
        self.gradient_weight = float(gradient_weight)
        self.register_buffer("target", weight * a + (1 - weight) * b)
        gya, gxa = image_gradients(a)
        gyb, gxb = image_gradients(b)
        # pick per pixel by local gradient energy (a box average keeps noise from flipping the choice)
        pool = nn.AvgPool2d(window, stride=1, padding=window // 2, count_include_pad=False)
        ea = pool((gya**2 + gxa**2).sum(1, keepdim=True))
        eb = pool((gyb**2 + gxb**2).sum(1, keepdim=True))
        pick_a = (ea >= eb).float()
        self.register_buffer("gy", pick_a * gya + (1 - pick_a) * gyb)
        self.register_buffer("gx", pick_a * gxa + (1 - pick_a) * gxb)
        self.register_buffer("pick_a", pick_a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gy, gx = image_gradients(x)
        grad = (gy - self.gy).abs().mean() + (gx - self.gx).abs().mean()
        return ((x - self.target) ** 2).mean() + self.gradient_weight * grad
