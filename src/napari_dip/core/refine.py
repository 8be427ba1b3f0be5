"""Empirical Wiener filtering with the network's output as the pilot: denoising's last step.

The network's output is a good estimate of the clean image but keeps part of the noise (in
colour images mostly as chroma noise) and smooths some detail. Filtering the *noisy* image in a
sliding-window DCT, each coefficient shrunk by ``p² / (p² + σ²)`` where ``p`` is the same
coefficient of the network's output, keeps what the output says is signal and removes what it
says is noise (the second stage of BM3D, Dabov et al. 2007, without its block matching). It costs
seconds where the fit costs minutes; measured in ``benchmarks/refine.py`` (docs/benchmarks.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .noise import estimate_noise_variance

#: Orthonormal opponent colour transform (luminance, red−blue, green against magenta): white noise
#: of equal variance in R, G and B stays white with that variance in each of these channels.
OPPONENT = np.array([[1, 1, 1], [1, 0, -1], [1, -2, 1]], dtype=np.float64)
OPPONENT /= np.linalg.norm(OPPONENT, axis=1, keepdims=True)

# coefficient-map elements per chunk of patch rows: bounds memory on large planes (~64 MB each)
_CHUNK_ELEMENTS = 1 << 24


def dct_filters(block: int) -> torch.Tensor:
    """The ``block``² orthonormal 2D DCT-II basis images as conv filters, shape (block², 1, block, block)."""
    n = torch.arange(block, dtype=torch.float64)
    d = torch.cos(math.pi * (n[None, :] + 0.5) * n[:, None] / block) * math.sqrt(2.0 / block)
    d[0] /= math.sqrt(2.0)
    return (d[:, None, :, None] * d[None, :, None, :]).reshape(block * block, 1, block, block).float()


def _filter_channel(noisy: torch.Tensor, pilot: torch.Tensor, var: float,
                    basis: torch.Tensor) -> torch.Tensor:
    """Wiener-filter one (H, W) channel; every block×block window, weighted by its inverse noise
    energy (BM3D's aggregation weights), averaged into the pixels it covers."""
    block = basis.shape[-1]
    h, w = noisy.shape
    rows = h - block + 1
    num = torch.zeros(h, w)
    den = torch.zeros(h, w)
    ones = torch.ones(1, 1, block, block)
    step = max(1, _CHUNK_ELEMENTS // (block * block * max(1, w - block + 1)))
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        sl = slice(r0, r1 + block - 1)
        cn = F.conv2d(noisy[None, None, sl], basis)
        cp = F.conv2d(pilot[None, None, sl], basis)
        gain = cp.square() / (cp.square() + var)
        weight = 1.0 / (var * gain.square().sum(1, keepdim=True) + 1e-12)
        num[sl] += F.conv_transpose2d(gain * cn * weight, basis)[0, 0]
        den[sl] += F.conv_transpose2d(weight, ones)[0, 0]
    return num / den


def wiener_refine(noisy: np.ndarray, pilot: np.ndarray, noise_var: float | Sequence[float] | None = None,
                  *, block: int = 8, colour: bool | None = None) -> np.ndarray:
    """Filter ``noisy`` with the empirical Wiener gains of ``pilot`` in a sliding-window DCT.

    Parameters
    ----------
    noisy : array, shape (C, H, W), float
        The noisy image (white noise, the same variance at every pixel of a channel).
    pilot : array, shape (C, H, W), float
        An estimate of the clean image in the same units, e.g. the network's output.
    noise_var : float, sequence of C floats or None
        Noise variance in the image's units squared (per channel); None estimates it from
        ``noisy`` (:func:`napari_dip.core.noise.estimate_noise_variance`).
    block : int
        Side of the DCT windows, in pixels (8, as BM3D uses at moderate noise). Planes smaller
        than that in either direction come back as ``pilot``.
    colour : bool or None
        True: the 3 channels are R, G and B, filtered in an orthonormal opponent colour space
        (:data:`OPPONENT`), where the colour differences' small coefficients are shrunk hard
        (colour noise is most of what the network leaves). False: channel by channel. None:
        True when C is 3.

    Returns
    -------
    ndarray, shape (C, H, W), float32
    """
    noisy = np.asarray(noisy, dtype=np.float64)
    pilot = np.asarray(pilot, dtype=np.float64)
    if noisy.ndim != 3 or noisy.shape != pilot.shape:
        raise ValueError(f"noisy and pilot must both be (C, H, W) of one shape; got {noisy.shape} "
                         f"and {pilot.shape}.")
    c, h, w = noisy.shape
    if min(h, w) < block:
        return pilot.astype(np.float32)
    colour = c == 3 if colour is None else bool(colour)
    if colour and c != 3:
        raise ValueError(f"colour filtering needs 3 channels (R, G, B), not {c}.")
    if noise_var is None:  # channel by channel: noise need not be equal in every channel
        v = np.array([estimate_noise_variance(torch.from_numpy(noisy[k:k + 1]).float())
                      for k in range(c)])
    else:
        v = np.broadcast_to(np.asarray(noise_var, dtype=np.float64), (c,))
    variances = list(OPPONENT ** 2 @ v) if colour else list(v)
    if colour:
        noisy = np.einsum("ij,jhw->ihw", OPPONENT, noisy)
        pilot = np.einsum("ij,jhw->ihw", OPPONENT, pilot)
    basis = dct_filters(block)
    out = np.empty((c, h, w), dtype=np.float64)
    with torch.no_grad():
        for k in range(c):
            if not variances[k] > 0:  # a noiseless channel: nothing to filter
                out[k] = pilot[k]
                continue
            out[k] = _filter_channel(torch.from_numpy(noisy[k]).float(), torch.from_numpy(pilot[k]).float(),
                                     float(variances[k]), basis).double().numpy()
    if colour:
        out = np.einsum("ij,jhw->ihw", OPPONENT.T, out)
    return out.astype(np.float32)
