"""Stacks and time-lapses: named axes, a synthetic time-lapse, flicker, and a temporal loss term.

NumPy only at import; :class:`TemporalConsistency` builds on torch when first used.
"""

from __future__ import annotations

import numpy as np

STACK_LABELS = "TZSPQ"  # any other letter than Y, X, C is a stack axis too


def parse_axes(axes: str, ndim: int) -> tuple[tuple[int, ...], int | None]:
    """Turn napari-style axis labels (``"TYX"``, ``"ZCYX"``, ``"YXC"``, ``"TZYX"``) into a transpose.

    Returns ``(order, channel_axis)``: ``np.transpose(image, order)`` puts every stack axis first (in
    the given order), then the channel axis (if any) and Y, X last; ``channel_axis`` is the channel
    axis's index in the transposed array (``None`` without ``C``). Labels are case-insensitive.
    """
    labels = axes.upper()
    if len(labels) != ndim:
        raise ValueError(f"axes={axes!r} names {len(labels)} axes but the image has {ndim} "
                         "dimensions; give one letter per axis, e.g. 'TYX' or 'ZCYX'.")
    if len(set(labels)) != len(labels):
        raise ValueError(f"axes={axes!r} repeats a letter; each axis needs its own label.")
    if "Y" not in labels or "X" not in labels:
        raise ValueError(f"axes={axes!r} must name the plane's rows and columns as Y and X.")
    stack = [i for i, a in enumerate(labels) if a not in "YXC"]
    ch = [labels.index("C")] if "C" in labels else []
    order = (*stack, *ch, labels.index("Y"), labels.index("X"))
    return order, (len(stack) if ch else None)


# ----------------------------------------------------------------------------------------------
# a synthetic time-lapse with a known ground truth


def synthetic_timelapse(n_frames: int = 20, size: int = 128, sigma: float = 25.0, seed: int = 0,
                        speed: float = 1.0, turn: float = 1.5):
    """A time-lapse made from scikit-image's bundled ``camera`` image.

    A static background (the camera scene) with a round sub-region (a textured disc cut from
    ``coins``) that drifts ``speed`` pixels and turns ``turn`` degrees per frame, plus seeded
    Gaussian noise of ``sigma`` (uint8 units, clipped) drawn independently for every frame.

    Returns
    -------
    clean, noisy : ndarray, shape (n_frames, size, size), uint8 and float32 (0–255)
    static : ndarray of bool, shape (size, size)
        Pixels the moving disc never touches (with a margin): where flicker is measured.
    """
    from scipy import ndimage
    from skimage import data
    from skimage.transform import resize

    if n_frames < 1 or size < 16:
        raise ValueError("need at least one frame of at least 16×16 pixels.")
    bg = resize(data.camera().astype(np.float32), (size, size), anti_aliasing=True,
                preserve_range=True)
    coins = data.coins().astype(np.float32)
    r = max(4, size // 8)
    patch = resize(coins[40:200, 60:220], (2 * r + 1, 2 * r + 1), anti_aliasing=True,
                   preserve_range=True)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    disc = (yy ** 2 + xx ** 2) <= r * r
    # the disc's path: a slow diagonal drift starting near the upper left quarter
    y0, x0 = size * 0.3, size * 0.3
    clean = np.empty((n_frames, size, size), np.float32)
    touched = np.zeros((size, size), bool)
    for t in range(n_frames):
        frame = bg.copy()
        rot = ndimage.rotate(patch, turn * t, reshape=False, order=1, mode="reflect")
        cy, cx = y0 + speed * t, x0 + 0.6 * speed * t
        iy, ix = int(np.floor(cy)), int(np.floor(cx))
        # sub-pixel placement: shift the patch by the fractional part
        rot = ndimage.shift(rot, (cy - iy, cx - ix), order=1, mode="nearest")
        ys, xs = slice(iy - r, iy + r + 1), slice(ix - r, ix + r + 1)
        if iy - r < 0 or ix - r < 0 or iy + r + 1 > size or ix + r + 1 > size:
            raise ValueError("the moving disc leaves the frame; lower speed or n_frames.")
        frame[ys, xs][disc] = rot[disc]
        touched[ys, xs] |= disc
        clean[t] = frame
    clean8 = np.clip(np.rint(clean), 0, 255).astype(np.uint8)
    rng = np.random.default_rng(seed)
    noisy = np.clip(clean8 + rng.normal(0, sigma, clean8.shape), 0, 255).astype(np.float32)
    static = ~ndimage.binary_dilation(touched, iterations=3)
    return clean8, noisy, static


def flicker(stack, static=None) -> float:
    """Mean absolute frame-to-frame difference over ``static`` pixels (all when None).

    ``stack`` is (T, H, W) or (T, H, W, C); the result is in its intensity units. A clean static
    scene scores 0; an independently denoised one scores its frame-to-frame noise residue.
    """
    s = np.asarray(stack, dtype=np.float64)
    if s.shape[0] < 2:
        return 0.0
    d = np.abs(np.diff(s, axis=0))
    if static is not None:
        d = d[:, np.asarray(static, bool)]
    return float(d.mean())


def psnr_per_frame(reference, stack, data_range: float = 255.0) -> list[float]:
    ref = np.asarray(reference, np.float64)
    out = np.asarray(stack, np.float64)
    mse = ((ref - out) ** 2).reshape(ref.shape[0], -1).mean(axis=1)
    return [float(10 * np.log10(data_range ** 2 / max(m, 1e-12))) for m in mse]


# ----------------------------------------------------------------------------------------------
# temporal consistency


def temporal_consistency(objective, previous, weight: float, y=None, y_previous=None):
    """Wrap ``objective`` (image → loss) with ``weight·mean(w·|x − previous|²)``.

    ``previous`` is the previous frame's restored output (1, C, H, W) in normalised units. The term
    pulls static parts of the frame towards the previous result, which cuts flicker. With ``y``
    and ``y_previous`` (the two measurements, same shape as the images) the term is gated by a
    motion weight ``w``: pixels whose locally averaged measurement changed more than the noise
    explains get ``w`` ≈ 0, so moving content is not dragged back.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    w = None
    if y is not None and y_previous is not None and y.shape == previous.shape:
        diff = (y - y_previous).float()
        k = 7
        local = F.avg_pool2d(diff, k, stride=1, padding=k // 2, count_include_pad=False)
        # noise of a k×k mean of a difference of two noisy frames ≈ sqrt(2)·σ/k; σ from the MAD
        sig = float(torch.median(torch.abs(diff - torch.median(diff)))) * 1.4826 / k
        thr = max(3.0 * sig, 1e-3)
        w = torch.exp(-(local.abs().mean(dim=1, keepdim=True) / thr) ** 2)

    class _Temporal(nn.Module):
        def __init__(self):
            super().__init__()
            self.base = objective
            self.weight = float(weight)
            self.register_buffer("previous", previous.detach().float())
            self.register_buffer("gate", w if w is not None else torch.ones_like(previous[:, :1]))

        def forward(self, x):
            return self.base(x) + self.weight * torch.mean(self.gate * (x - self.previous) ** 2)

    return _Temporal()
