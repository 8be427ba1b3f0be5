"""Image quality metrics (scikit-image under the hood), on NumPy arrays."""

from __future__ import annotations

import numpy as np


def psnr(reference, image, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB.

    ``data_range`` defaults to 255 for uint8 references, 1 for floats in [0, 1] and the reference's
    max − min otherwise. Shapes must match.
    """
    from skimage.metrics import peak_signal_noise_ratio

    ref = np.asarray(reference)
    img = np.asarray(image)
    if ref.shape != img.shape:
        raise ValueError(f"Shapes differ: reference {ref.shape} vs image {img.shape}.")
    dr = _data_range(ref, data_range)
    return float(peak_signal_noise_ratio(ref.astype(np.float64), img.astype(np.float64),
                                         data_range=dr))


def ssim(reference, image, data_range: float | None = None, channel_axis: int | None = None) -> float:
    """Structural similarity (Wang et al. 2004, scikit-image's implementation).

    A 3D array whose last axis has 3 or 4 entries is read as colour unless ``channel_axis`` says
    otherwise.
    """
    from skimage.metrics import structural_similarity

    ref = np.asarray(reference, dtype=np.float64)
    img = np.asarray(image, dtype=np.float64)
    if ref.shape != img.shape:
        raise ValueError(f"Shapes differ: reference {ref.shape} vs image {img.shape}.")
    if channel_axis is None and ref.ndim == 3 and ref.shape[-1] in (3, 4):
        channel_axis = -1
    dr = _data_range(np.asarray(reference), data_range)
    return float(structural_similarity(ref, img, data_range=dr, channel_axis=channel_axis))


def rgb_to_y(image: np.ndarray, data_range: float = 255.0) -> np.ndarray:
    """Luminance Y of YCbCr (ITU-R BT.601, 16–235 for data_range 255) of an (..., 3) RGB array."""
    x = np.asarray(image, dtype=np.float64) / data_range
    y = 16.0 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]
    return y * (data_range / 255.0)


def psnr_y(reference, image, border: int = 4, data_range: float = 255.0) -> float:
    """Super-resolution PSNR: on luminance (grayscale as is), with ``border`` pixels cropped."""
    ref = np.asarray(reference, dtype=np.float64)
    img = np.asarray(image, dtype=np.float64)
    if ref.shape != img.shape:
        raise ValueError(f"Shapes differ: reference {ref.shape} vs image {img.shape}.")
    if ref.ndim == 3 and ref.shape[-1] >= 3:
        ref, img = rgb_to_y(ref[..., :3], data_range), rgb_to_y(img[..., :3], data_range)
    if border:
        ref, img = ref[border:-border, border:-border], img[border:-border, border:-border]
    mse = np.mean((ref - img) ** 2)
    return float(10 * np.log10(data_range**2 / max(mse, 1e-20)))


def _data_range(ref: np.ndarray, data_range: float | None) -> float:
    if data_range is not None:
        return float(data_range)
    if ref.dtype == np.uint8:
        return 255.0
    if np.issubdtype(ref.dtype, np.integer):
        return float(ref.max() - ref.min()) or 1.0
    lo, hi = float(ref.min()), float(ref.max())
    if lo >= 0.0 and hi <= 1.0:
        return 1.0
    return (hi - lo) or 1.0
