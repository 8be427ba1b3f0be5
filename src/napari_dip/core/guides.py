"""Network inputs made from the measurement (``Config.input_code = "data"``).

The paper's network starts from a random code and has to build every structure of the image from
it, which takes most of a run's iterations. Giving it the measurement brought to the output grid
as extra input channels lets the skip connections carry that structure to the output from the first
step; the network then spends its iterations on what the measurement lacks. Each function here maps
one tile's measurement to such a guide: (1, C, H, W) float32 on the output grid, in the same
normalised units as the data.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (1, C, H, W) with reflected (or, for tiny images, replicated)
    borders."""
    if sigma <= 0:
        return x
    radius = max(1, round(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = (k / k.sum()).to(x)
    c = x.shape[1]
    h, w = x.shape[-2:]
    mode = "reflect" if radius < min(h, w) else "replicate"
    x = F.pad(x, (radius, radius, radius, radius), mode=mode)
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def fill_holes(y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Known pixels as measured, holes filled smoothly from them (normalised convolution).

    Each hole pixel takes the Gaussian-weighted mean of the known pixels around it at the finest
    scale (sigma 1, 2, 4, ... px) where enough of them are near, so scattered missing pixels get
    a local mean and large holes a smooth continuation of their surroundings.

    Parameters
    ----------
    y : tensor (1, C, H, W)
    known : tensor (1 or C, H, W) or (H, W), bool or 0/1
    """
    m = known.to(torch.float32)
    while m.ndim < 4:
        m = m.unsqueeze(0)
    m = m.expand_as(y)
    out = y * m
    todo = m < 0.5
    sigma = 1.0
    limit = 2.0 * max(y.shape[-2:])
    while bool(todo.any()) and sigma <= limit:
        num = _gaussian_blur(y * m, sigma)
        den = _gaussian_blur(m, sigma)
        ok = todo & (den > 1e-3)
        out = torch.where(ok, num / den.clamp_min(1e-6), out)
        todo = todo & ~ok
        sigma *= 2.0
    if bool(todo.any()):  # nothing known anywhere near (cannot happen with a checked mask)
        mean = (y * m).sum() / m.sum().clamp_min(1.0)
        out = torch.where(todo, mean, out)
    return out


def upsample(y: torch.Tensor, factor: int) -> torch.Tensor:
    """The low-resolution measurement on the output grid (bicubic, clipped to its range)."""
    if factor == 1:
        return y
    up = F.interpolate(y, scale_factor=factor, mode="bicubic", align_corners=False)
    return up.clamp(float(y.min()), float(y.max()))


def smoothed(y: torch.Tensor, sigma: float) -> torch.Tensor:
    """The measurement blurred by a Gaussian of ``sigma`` pixels (0: as it is)."""
    return _gaussian_blur(y, sigma)


def as_tensor(a) -> torch.Tensor:
    return a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))
