"""Steps after the fit: denoising's empirical Wiener filter, super-resolution's projection.

**Denoising** (:func:`wiener_refine`).
The network's output is a good estimate of the clean image but keeps part of the noise (in
colour images mostly as chroma noise) and smooths some detail. Filtering the *noisy* image in a
sliding-window DCT, each coefficient shrunk by ``p² / (p² + σ²)`` where ``p`` is the same
coefficient of the network's output, keeps what the output says is signal and removes what it
says is noise (the second stage of BM3D, Dabov et al. 2007, without its block matching). With
``grouped=True`` it is that stage with its block matching: each 8×8 block is filtered together
with the blocks most like it (found in the pilot), in a 3D transform where what they share is
concentrated in few coefficients and so survives the shrinkage better. When that changes the
pilot by much, the pilot was far from the image and the output is a better one: filtering again
with it gains (``repeat_above``). It costs seconds where the fit costs minutes; measured in
``benchmarks/refine.py`` and ``benchmarks/refine_variants.py`` (docs/benchmarks.md).

**Super-resolution** (:func:`project_to_measurement`). The fit only approaches ``A(x) = y``: the
averaged output of a fixed budget still misses the low-resolution image by a few grey levels.
Projecting it onto the images the downsampler maps exactly onto ``y`` (the nearest such image,
``x + Aᵀ(AAᵀ)⁻¹(y − A x)``) puts back what the input says and the fit had not reached yet, the
way inpainting keeps the known pixels. It assumes the low-resolution image is noise-free, as
super-resolution's loss does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .noise import estimate_noise_variance

#: Orthonormal opponent colour transform (luminance, red−blue, green against magenta): white noise
#: of equal variance in R, G and B stays white with that variance in each of these channels.
OPPONENT = np.array([[1, 1, 1], [1, 0, -1], [1, -2, 1]], dtype=np.float64)
OPPONENT /= np.linalg.norm(OPPONENT, axis=1, keepdims=True)

#: Where ``bm-wiener`` moves from the sliding window's estimate to the grouped one: the pilot's
#: gradient magnitude (Gaussian derivative at a 2-pixel scale) from the first to the second value,
#: in noise standard deviations per pixel. Grouping trusts the pilot more: on edges and texture
#: that gains, in flat regions it keeps the pilot's low-frequency blotches (benchmarks/refine.py).
EDGE_RAMP = (0.08, 0.16)

#: ``bm-wiener`` filters a second time, with its own output as the pilot, when the first pass
#: moved the pilot by more than this mean square, in noise variances: a pilot the step corrects
#: that much is far from the image, and the step's output is a better one. On 20 saved fits
#: (benchmarks/refine_variants.py) every case above 0.0154 gained from the second pass (+0.00 to
#: +1.00 dB) and every case below 0.0136 lost or tied (-0.21 to 0.00): the paper's well-fitted
#: photographs lose, weak pilots (smooth images stopped early, heavy texture) gain. Three crops
#: added after the threshold was chosen all lie above it: brick +0.35, rocket -0.02, grass -0.09.
REPEAT_ABOVE = 0.0145

#: ``fill-dct``'s hard thresholds, one per iteration, for images scaled to [0, 1]: from 20 grey
#: levels of 255 to 0.5, geometrically, in 30 iterations. On six 256² scikit-image crops with half
#: the pixels missing, from the network's fill: 37.23 dB on average at step 3000 (from 10: 37.26;
#: from 20 to 1 in 15 iterations: 37.14) and 37.06 at step 1000 (from 10: 36.77): a higher start
#: suits weaker fills, the low end suits smooth images (benchmarks/fill.py).
FILL_THRESHOLDS = tuple(float(t) for t in np.geomspace(20 / 255, 0.5 / 255, 30))

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


def edge_weight(image: np.ndarray, sigma: float, ramp: tuple[float, float] = EDGE_RAMP,
                scale: float = 2.0) -> np.ndarray:
    """Per pixel of ``image`` (H, W), 0 where it is flat and 1 on edges and texture: its gradient
    magnitude at ``scale`` pixels mapped linearly from ``ramp[0] * sigma`` (0) to
    ``ramp[1] * sigma`` (1); ``sigma`` is the noise's standard deviation in the image's units."""
    from scipy import ndimage

    lo, hi = ramp[0] * sigma, ramp[1] * sigma
    g = ndimage.gaussian_gradient_magnitude(np.asarray(image, dtype=np.float64), scale)
    return np.clip((g - lo) / max(hi - lo, 1e-12), 0.0, 1.0)


def _starts(length: int, block: int, stride: int) -> torch.Tensor:
    """Block positions every ``stride`` pixels along an axis, the last one flush with the end."""
    s = list(range(0, length - block + 1, stride))
    if s[-1] != length - block:
        s.append(length - block)
    return torch.tensor(s)


def _hadamard(n: int) -> torch.Tensor:
    """Orthonormal Walsh-Hadamard matrix of a power-of-two size ``n``."""
    h = torch.ones(1, 1)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h / math.sqrt(n)


def match_blocks(guide: torch.Tensor, block: int, stride: int, radius: int,
                 group: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For reference blocks every ``stride`` pixels of ``guide`` (H, W), the top-left corners of
    the ``group`` blocks within ``radius`` pixels that are nearest in squared distance (itself
    first). Returns row and column corners, each (R, group) long tensors."""
    h, w = guide.shape
    sy, sx = _starts(h, block, stride), _starts(w, block, stride)
    ry, rx = torch.meshgrid(sy, sx, indexing="ij")
    ry, rx = ry.reshape(-1), rx.reshape(-1)
    ph, pw = h - block + 1, w - block + 1
    offsets = torch.tensor([(dy, dx) for dy in range(-radius, radius + 1)
                            for dx in range(-radius, radius + 1)])
    best = torch.full((group, ry.numel()), math.inf)
    best_i = torch.zeros((group, ry.numel()), dtype=torch.long)
    g = guide.float()
    # block sums at the reference corners only, separably: the rows of each reference band, then
    # the columns of each reference block (short sums, exact enough in float32; 3.7× faster at
    # 2048² than an integral image, which needed float64 for its long running sums)
    band_rows = (sy[:, None] + torch.arange(block)).reshape(-1)
    block_cols = (sx[:, None] + torch.arange(block)).reshape(-1)
    for c0 in range(0, len(offsets), 64):  # 64 displacements at a time: bounded memory
        dists = []
        for dy, dx in offsets[c0:c0 + 64].tolist():
            # wrapped pixels only reach blocks whose partner lies outside, masked below
            sq = (g - torch.roll(g, shifts=(-dy, -dx), dims=(0, 1))).square()
            bands = sq.index_select(0, band_rows).reshape(len(sy), block, w).sum(1)
            d = bands.index_select(1, block_cols).reshape(len(sy), len(sx), block).sum(2)
            d = d.reshape(-1) / (block * block)
            ty, tx = ry + dy, rx + dx
            if dy == 0 and dx == 0:  # the reference itself, first even among ties (flat regions):
                d = torch.full_like(d, -1.0)  # every pixel then lies in some group
            dists.append(d.masked_fill((ty < 0) | (ty >= ph) | (tx < 0) | (tx >= pw), math.inf))
        d = torch.stack(dists)
        idx = torch.arange(c0, c0 + len(dists))[:, None].expand_as(d)
        best, sel = torch.topk(torch.cat([best, d]), group, dim=0, largest=False)
        best_i = torch.gather(torch.cat([best_i, idx]), 0, sel)
    my = ry[None] + offsets[best_i, 0]
    mx = rx[None] + offsets[best_i, 1]
    return my.T.contiguous(), mx.T.contiguous()


def _filter_grouped(noisy: torch.Tensor, pilot: torch.Tensor, variances: Sequence[float],
                    guide: torch.Tensor, block: int, stride: int, radius: int,
                    group: int) -> torch.Tensor:
    """Wiener-filter (C, H, W) in groups of matched blocks: a 2D DCT of each block and a
    Walsh-Hadamard transform across the group, gains from the pilot's coefficients; each group
    weighted by its inverse noise energy, averaged into the pixels its blocks cover."""
    c, h, w = noisy.shape
    ph, pw = h - block + 1, w - block + 1
    # every reference block has this many candidates at least: groups of one power-of-2 size
    k = min(group, min(radius + 1, ph) * min(radius + 1, pw))
    k = 1 << (k.bit_length() - 1)
    my, mx = match_blocks(guide, block, stride, radius, k)
    d2 = dct_filters(block).reshape(block * block, block * block)  # rows: basis images
    hk = _hadamard(k)
    corner = (torch.arange(block)[:, None] * w + torch.arange(block)[None, :]).reshape(-1)
    var = torch.tensor([float(v) for v in variances]).reshape(c, 1, 1, 1)
    flat_n, flat_p = noisy.reshape(c, -1), pilot.reshape(c, -1)
    num = torch.zeros(c, h * w)
    den = torch.zeros(c, h * w)
    chunk = max(1, _CHUNK_ELEMENTS // (c * k * block * block))
    for r0 in range(0, my.shape[0], chunk):
        pix = ((my[r0:r0 + chunk] * w + mx[r0:r0 + chunk])[..., None] + corner).reshape(-1)
        n = pix.numel() // (k * block * block)

        def spectrum(flat: torch.Tensor, pix=pix, n=n) -> torch.Tensor:
            blocks = flat[:, pix].reshape(c, n, k, block * block) @ d2.T
            return torch.einsum("ab,cnbp->cnap", hk, blocks)

        yn, yp = spectrum(flat_n), spectrum(flat_p)
        gain = yp.square() / (yp.square() + var)
        est = torch.einsum("ab,cnap->cnbp", hk, gain * yn) @ d2
        weight = 1.0 / (var.reshape(c, 1) * gain.square().sum((2, 3)) + 1e-12)
        weight = weight[..., None, None].expand(c, n, k, block * block)
        num.index_add_(1, pix, (est * weight).reshape(c, -1))
        den.index_add_(1, pix, weight.reshape(c, -1))
    return (num / den).reshape(c, h, w)


def wiener_refine(noisy: np.ndarray, pilot: np.ndarray, noise_var: float | Sequence[float] | None = None,
                  *, block: int = 8, colour: bool | None = None, grouped: bool = False,
                  group: int = 16, radius: int = 16, stride: int = 3,
                  edge_ramp: tuple[float, float] | None = EDGE_RAMP,
                  repeat_above: float | None = None) -> np.ndarray:
    """Filter ``noisy`` with the empirical Wiener gains of ``pilot`` in a sliding-window DCT, or
    in groups of similar blocks (``grouped``).

    Parameters
    ----------
    noisy : array, shape (C, H, W), float
        The noisy image (white noise, the same variance at every pixel of a channel).
    pilot : array, shape (C, H, W), float
        An estimate of the clean image in the same units, e.g. the network's output. NaN where
        there is none (tiles a stopped run never reached): those pixels come back NaN, the others
        are filtered with the noisy image standing in for the pilot there.
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
    grouped : bool
        Filter each block together with the ``group`` blocks most like it in the pilot within
        ``radius`` pixels (BM3D's second stage; reference blocks every ``stride`` pixels). The
        blocks are matched on the luminance (colour) or the channels' mean. Slower (about 0.5-1 s
        a pass for a 256² image here, against 0.05-0.15 s). Grouped everywhere (``edge_ramp=None``) it
        is better on textured photographs and worse on smooth images (cell, moon: -0.6 to
        -0.9 dB against the sliding window); ``benchmarks/refine.py``, docs/benchmarks.md.
    group, radius, stride : int
        The grouped filter's group size (rounded down to a power of 2 where a small plane has
        fewer blocks), search radius and reference spacing, in blocks and pixels.
    edge_ramp : (float, float) or None
        With ``grouped``: the grouped estimate only on the pilot's edges and texture, the sliding
        window's in its flat regions, blended by :func:`edge_weight` of the pilot's channel mean
        with these thresholds (noise standard deviations per pixel). None: grouped everywhere.
    repeat_above : float or None
        Filter once more, with the first pass's output as the pilot, when the first pass changed
        the pilot by a mean square of more than this many noise variances (``bm-wiener`` uses
        :data:`REPEAT_ABOVE`). None: one pass.

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
    # pixels without an estimate (NaN where a stopped run never reached): the input stands in for
    # the pilot there, so that windows and groups reaching them stay finite; they stay NaN
    missing = ~np.isfinite(pilot)
    if missing.any():
        noisy = np.nan_to_num(noisy)
        pilot = np.where(missing, noisy, pilot)
    noisy_rgb, pilot_rgb = noisy, pilot  # as filled in, before any colour transform: a second pass
    colour = c == 3 if colour is None else bool(colour)
    if colour and c != 3:
        raise ValueError(f"colour filtering needs 3 channels (R, G, B), not {c}.")
    if noise_var is None:  # channel by channel: noise need not be equal in every channel
        v = np.array([estimate_noise_variance(torch.from_numpy(noisy[k:k + 1]).float())
                      for k in range(c)])
    else:
        v = np.broadcast_to(np.asarray(noise_var, dtype=np.float64), (c,))
    variances = list(OPPONENT ** 2 @ v) if colour else list(v)
    # grouped on edges and texture, sliding in flat regions: decided on the pilot's channel mean
    edges = edge_weight(pilot.mean(0), math.sqrt(float(np.mean(v))), edge_ramp) \
        if grouped and edge_ramp is not None and np.mean(v) > 0 else None
    if colour:
        noisy = np.einsum("ij,jhw->ihw", OPPONENT, noisy)
        pilot = np.einsum("ij,jhw->ihw", OPPONENT, pilot)
    out = np.empty((c, h, w), dtype=np.float64)
    live = [k for k in range(c) if variances[k] > 0]  # noiseless channels keep the pilot
    out[:] = pilot
    # each filter only where some pixel takes it (a flat plane needs no block matching)
    run_grouped = bool(live) and grouped and (edges is None or bool(edges.any()))
    run_sliding = bool(live) and (not grouped or (edges is not None and not bool((edges == 1).all())))
    with torch.no_grad():
        if run_grouped:  # one block matching, on the pilot, serves every channel
            p = torch.from_numpy(pilot).float()
            guide = p[0] if colour else p.mean(0)
            out[live] = _filter_grouped(torch.from_numpy(noisy[live]).float(), p[live],
                                        [variances[k] for k in live], guide, block, stride,
                                        radius, group).double().numpy()
        if run_sliding:
            basis = dct_filters(block)
            for k in live:
                sliding = _filter_channel(torch.from_numpy(noisy[k]).float(),
                                          torch.from_numpy(pilot[k]).float(), float(variances[k]),
                                          basis).double().numpy()
                out[k] = sliding if not run_grouped else edges * out[k] + (1.0 - edges) * sliding
    if colour:
        out = np.einsum("ij,jhw->ihw", OPPONENT.T, out)
    if repeat_above is not None and np.mean(v) > 0:
        change = float(np.mean((out - pilot_rgb)[:, ~missing.any(0)] ** 2)) / float(np.mean(v))
        if change > repeat_above:
            out = wiener_refine(noisy_rgb, out, v, block=block, colour=colour, grouped=grouped,
                                group=group, radius=radius, stride=stride, edge_ramp=edge_ramp)
    out[missing] = np.nan
    return out.astype(np.float32)


def _hard_threshold_channel(plane: torch.Tensor, threshold: float,
                            basis: torch.Tensor) -> torch.Tensor:
    """Hard-threshold one (H, W) plane in a sliding-window DCT (the mean of each window always
    kept) and average every window's estimate into the pixels it covers."""
    block = basis.shape[-1]
    h, w = plane.shape
    rows = h - block + 1
    num = torch.zeros(h, w)
    step = max(1, _CHUNK_ELEMENTS // (block * block * max(1, w - block + 1)))
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        sl = slice(r0, r1 + block - 1)
        c = F.conv2d(plane[None, None, sl], basis)
        keep = c.abs() > threshold
        keep[:, 0] = True
        num[sl] += F.conv_transpose2d(c * keep, basis)[0, 0]
    # windows per pixel: fewer near the edges
    ones = torch.ones(1, 1, rows, w - block + 1)
    return num / F.conv_transpose2d(ones, torch.ones(1, 1, block, block))[0, 0]


def fill_refine(image: np.ndarray, known: np.ndarray, pilot: np.ndarray, *,
                thresholds: Sequence[float] = FILL_THRESHOLDS, block: int = 8) -> np.ndarray:
    """Refine an inpainting's holes by iterated hard thresholding in a sliding-window DCT.

    Each iteration keeps, in every ``block``² window, the DCT coefficients larger than the
    current threshold, averages the windows back and restores the known pixels; the thresholds
    fall from one iteration to the next. Natural images are sparse in such a transform, so the
    holes take the values that keep them sparse and agree with the known pixels around them
    (Guleryuz 2006, "Nonlinear approximation based image recovery"). Started from the network's
    output it sharpens what the fit left soft; on its own (from a smooth fill) it is a classical
    inpainting method.

    Parameters
    ----------
    image : array, shape (C, H, W), float
        The measured image; only its known pixels are read.
    known : array of bool, shape (C, H, W) or (1, H, W)
        True where ``image`` is measured (exactly: they are restored after every iteration).
    pilot : array, shape (C, H, W), float
        The fill to start from, e.g. the network's output, in the units of ``image``. NaN where
        there is none (tiles a stopped run never reached): those holes come back NaN.
    thresholds : sequence of float
        One hard threshold per iteration, in the units of ``image`` (the coefficients are
        orthonormal, so a threshold compares with pixel values); :data:`FILL_THRESHOLDS` is
        for images scaled to [0, 1].
    block : int
        Side of the DCT windows, in pixels. Planes smaller than that come back as ``pilot``
        with the known pixels restored.

    Returns
    -------
    ndarray, shape (C, H, W), float32
    """
    image = np.asarray(image, dtype=np.float64)
    pilot = np.asarray(pilot, dtype=np.float64)
    known = np.asarray(known, dtype=bool)
    if image.ndim != 3 or image.shape != pilot.shape or known.shape not in (image.shape,
                                                                           (1, *image.shape[1:])):
        raise ValueError(f"image and pilot must both be (C, H, W) of one shape and known (C, H, W) "
                         f"or (1, H, W); got {image.shape}, {pilot.shape} and {known.shape}.")
    known = np.broadcast_to(known, image.shape)
    # pixels without an estimate (NaN where a stopped run never reached) stay NaN; meanwhile the
    # channel's mean known value stands in for them so that the windows reaching them stay finite
    missing = ~np.isfinite(pilot) & ~known
    image = np.where(known, image, 0.0)
    if missing.any():
        means = [image[c][known[c]].mean() if known[c].any() else 0.0 for c in range(image.shape[0])]
        pilot = np.where(missing, np.asarray(means)[:, None, None], pilot)
    x = torch.from_numpy(np.where(known, image, pilot)).float()
    if min(image.shape[1:]) >= block:
        k = torch.from_numpy(known.copy())
        y = torch.from_numpy(image).float()
        basis = dct_filters(block)
        with torch.no_grad():
            for t in thresholds:
                for c in range(x.shape[0]):
                    x[c] = torch.where(k[c], y[c], _hard_threshold_channel(x[c], float(t), basis))
    out = x.numpy()
    out[missing] = np.nan
    return out


def project_to_measurement(measurement: np.ndarray, estimate: np.ndarray,
                           operator: Callable[[torch.Tensor], torch.Tensor], *,
                           iterations: int = 20, rtol: float = 1e-4) -> np.ndarray:
    """The image nearest ``estimate`` (least squares) that ``operator`` maps onto ``measurement``.

    Solves ``A Aᵀ u = y − A x`` by conjugate gradients (``A`` linear, ``Aᵀ`` its adjoint from
    autograd) and returns ``x + Aᵀ u``, in float64.

    Parameters
    ----------
    measurement : array, shape (C, h, w), float
        ``y``, e.g. the low-resolution image.
    estimate : array, shape (C, H, W), float
        ``x``, e.g. the network's output at the high resolution, in the same units as ``y``.
    operator : callable
        The linear forward model, tensors (1, C, H, W) → (1, C, h, w) in float64 (for instance
        :class:`napari_dip.core.operators.Downsample` converted with ``.double()``).
    iterations : int
        At most this many conjugate-gradient steps; a downsampler's ``A Aᵀ`` is well
        conditioned, and 3 steps reach all but 0.001 dB of the exact projection.
    rtol : float
        Stop once the residual's norm is below ``rtol`` times the initial misfit's.

    Returns
    -------
    ndarray, shape (C, H, W), float32
        Not clipped: the projection can overshoot the estimate's range by a little.
    """
    y = torch.as_tensor(np.asarray(measurement, dtype=np.float64))[None]
    x = torch.as_tensor(np.asarray(estimate, dtype=np.float64))[None]
    if y.dim() != 4 or x.dim() != 4 or y.shape[1] != x.shape[1]:
        raise ValueError(f"measurement and estimate must be (C, h, w) and (C, H, W) with one C; got "
                         f"{tuple(y.shape[1:])} and {tuple(x.shape[1:])}.")
    with torch.no_grad():
        ax = operator(x)
    if tuple(ax.shape) != tuple(y.shape):
        raise ValueError(f"the operator maps the estimate to {tuple(ax.shape[1:])}, not the "
                         f"measurement's {tuple(y.shape[1:])}.")
    r = y - ax

    def adjoint(v: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            z = torch.zeros_like(x, requires_grad=True)
            (g,) = torch.autograd.grad(operator(z), z, grad_outputs=v)
        return g

    u = torch.zeros_like(r)
    res = r.clone()
    p = res.clone()
    rr = float((res * res).sum())
    stop = (rtol ** 2) * rr
    for _ in range(iterations):
        if rr <= stop or rr == 0.0:
            break
        with torch.no_grad():
            ap = operator(adjoint(p))
        alpha = rr / float((p * ap).sum())
        u += alpha * p
        res -= alpha * ap
        rr_new = float((res * res).sum())
        p = res + (rr_new / rr) * p
        rr = rr_new
    return (x + adjoint(u))[0].detach().float().numpy()
