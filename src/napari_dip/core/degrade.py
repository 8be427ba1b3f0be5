"""Seeded corruption simulators for demos, tests and benchmarks.

Images are NumPy arrays shaped (H, W) or (H, W, C) in any numeric dtype; results are float32 in the
same intensity units (noise functions) or boolean masks with True = known pixel.
"""

from __future__ import annotations

import numpy as np


def _as_float(image) -> tuple[np.ndarray, float]:
    """Float32 copy and the top of the data range used for clipping.

    Integers: the dtype's maximum. Floats: 1 for data in [0, 1]; otherwise no upper clip.
    """
    arr = np.asarray(image)
    if np.issubdtype(arr.dtype, np.integer):
        top = float(np.iinfo(arr.dtype).max)
    else:
        top = 1.0 if arr.size and float(np.max(arr)) <= 1.0 else np.inf
    return arr.astype(np.float32), top


def gaussian_noise(image, sigma: float, seed: int = 0, clip: bool = True) -> np.ndarray:
    """Add N(0, sigma²) noise (sigma in the image's units: 25 means 25/255 for uint8 data).

    With ``clip`` the result is clipped to [0, dtype max] for integer input, to [0, 1] for float
    data in [0, 1] and at 0 otherwise, as the Deep Image Prior paper's noisy inputs were.
    """
    x, top = _as_float(image)
    y = x + np.random.default_rng(seed).normal(0.0, sigma, x.shape).astype(np.float32)
    return np.clip(y, 0, top) if clip else y


def poisson_noise(image, peak: float, seed: int = 0) -> np.ndarray:
    """Photon-limited image: scale so the brightest pixel expects ``peak`` photons, sample counts.

    Returns photon counts (float32), the units a photon-counting detector would give.
    """
    x, _ = _as_float(image)
    if peak <= 0:
        raise ValueError(f"peak must be positive; got {peak!r}.")
    scale = peak / max(float(x.max()), 1e-12)
    return np.random.default_rng(seed).poisson(np.clip(x, 0, None) * scale).astype(np.float32)


def salt_and_pepper(image, amount: float = 0.05, seed: int = 0) -> np.ndarray:
    """Set a fraction ``amount`` of pixels to the minimum or maximum of the data range."""
    x, top = _as_float(image)
    rng = np.random.default_rng(seed)
    hit = rng.random(x.shape[:2]) < amount
    salt = rng.random(x.shape[:2]) < 0.5
    y = x.copy()
    y[hit & salt] = top if np.isfinite(top) else float(x.max())
    y[hit & ~salt] = 0
    return y


def speckle_noise(image, sigma: float = 0.2, seed: int = 0, clip: bool = True) -> np.ndarray:
    """Multiplicative noise x·(1 + n), n ~ N(0, sigma²) (ultrasound, OCT, coherent imaging)."""
    x, top = _as_float(image)
    y = x * (1 + np.random.default_rng(seed).normal(0.0, sigma, x.shape).astype(np.float32))
    return np.clip(y, 0, top) if clip else y


def random_mask(shape: tuple[int, int], missing: float = 0.5, seed: int = 0) -> np.ndarray:
    """Boolean mask of ``shape`` with a fraction ``missing`` of pixels False (unknown)."""
    if not 0 <= missing < 1:
        raise ValueError(f"missing must be in [0, 1); got {missing!r}.")
    return np.random.default_rng(seed).random(shape) >= missing


def scribble_mask(shape: tuple[int, int], strokes: int = 8, width: int = 3, seed: int = 0) -> np.ndarray:
    """Mask with random curved strokes (like scratches or a painted-over defect) marked False."""
    from skimage.draw import disk

    rng = np.random.default_rng(seed)
    h, w = shape
    mask = np.ones(shape, dtype=bool)
    for _ in range(strokes):
        y, x = rng.uniform(0, h), rng.uniform(0, w)
        angle = rng.uniform(0, 2 * np.pi)
        for _ in range(int(rng.integers(20, 60))):
            angle += rng.normal(0, 0.3)
            y = float(np.clip(y + 2 * np.sin(angle), 0, h - 1))
            x = float(np.clip(x + 2 * np.cos(angle), 0, w - 1))
            rr, cc = disk((y, x), width / 2 + 0.5, shape=shape)
            mask[rr, cc] = False
    return mask


def text_mask(shape: tuple[int, int], text: str = "Deep Image Prior", size: int | None = None,
              seed: int = 0) -> np.ndarray:
    """Mask with lines of ``text`` overlaid (marked False), as in text-removal inpainting."""
    from PIL import Image, ImageDraw, ImageFont

    h, w = shape
    size = size or max(8, h // 12)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        font = ImageFont.load_default()
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    rng = np.random.default_rng(seed)
    y = int(rng.integers(0, max(1, size // 2)))
    while y < h:
        draw.text((int(rng.integers(-size, size)), y), (text + "  ") * 4, fill=255, font=font)
        y += int(size * 1.8)
    return np.asarray(canvas) == 0


def _planes(image) -> tuple[np.ndarray, bool]:
    x = np.asarray(image, dtype=np.float32)
    if x.ndim == 2:
        return x[None, None], False
    if x.ndim == 3:
        return np.moveaxis(x, -1, 0)[None], True
    raise ValueError(f"Expected (H, W) or (H, W, C); got shape {x.shape}.")


def _unplanes(t, had_channels: bool) -> np.ndarray:
    y = t[0].detach().cpu().numpy()
    return np.moveaxis(y, 0, -1) if had_channels else y[0]


def downsample(image, factor: int, kernel: str = "lanczos2") -> np.ndarray:
    """Low-resolution image made by the super-resolution forward model (see ``Downsample``)."""
    import torch

    from .operators import Downsample

    x, ch = _planes(image)
    with torch.no_grad():
        return _unplanes(Downsample(factor, kernel)(torch.from_numpy(x)), ch)


def blur(image, psf=None, sigma: float | None = None) -> np.ndarray:
    """Blur with ``psf`` (2D array) or a Gaussian PSF of width ``sigma`` (see ``Convolution``)."""
    import torch

    from .operators import Convolution, gaussian_psf

    if psf is None:
        if sigma is None:
            raise ValueError("Give a psf array or a Gaussian sigma.")
        psf = gaussian_psf(sigma)
    x, ch = _planes(image)
    with torch.no_grad():
        return _unplanes(Convolution(psf)(torch.from_numpy(x)), ch)
