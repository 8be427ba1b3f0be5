"""Sample data for File > Open Sample > napari-dip.

Every sample is made from an image bundled with scikit-image, corrupted with a fixed seed by
:mod:`napari_dip.core.degrade`, and kept small (at most 256 pixels a side) so demos run quickly on a
CPU. Nothing is downloaded. Each sample also returns the clean image, hidden, to use as the
widgets' optional reference (live PSNR).
"""

from __future__ import annotations

import numpy as np

SEED = 0


def _resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from skimage.transform import resize

    out = resize(image, shape, order=3, anti_aliasing=True, preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _reference(image, name: str, **kwargs) -> tuple:
    return (image, {"name": name, "visible": False, **kwargs}, "image")


def noisy_sample() -> list[tuple]:
    """Cameraman (192×192, uint8 range) with Gaussian noise of sigma 25."""
    from skimage import data

    from ..core.degrade import gaussian_noise

    clean = _resize(data.camera(), (192, 192))
    noisy = gaussian_noise(clean, 25, seed=SEED)
    return [_reference(clean, "cameraman (clean)", contrast_limits=(0, 255)),
            (noisy, {"name": "cameraman (noisy σ=25)", "contrast_limits": (0, 255),
                     "metadata": {"degradation": "gaussian noise sigma 25, seed 0"}}, "image")]


def masked_sample() -> list[tuple]:
    """A cat (144×192 RGB) with text and scratches painted over, and a Labels layer of the defects."""
    from skimage import data

    from ..core.degrade import scribble_mask, text_mask

    clean = _resize(data.chelsea()[6:294, 30:414], (144, 192))
    known = text_mask(clean.shape[:2], "DIP", size=16, seed=SEED) & \
        scribble_mask(clean.shape[:2], strokes=3, width=3, seed=SEED)
    damaged = clean.copy()
    damaged[~known] = 255
    defects = (~known).astype(np.uint8)
    return [_reference(clean, "chelsea (clean)"),
            (damaged, {"name": "chelsea (damaged)"}, "image"),
            (defects, {"name": "defects", "opacity": 0.5}, "labels")]


def lowres_sample() -> list[tuple]:
    """Astronaut reduced 4× to 64×64 RGB with the super-resolution forward model (lanczos2).

    The low-resolution layer has scale 4 (and the matching half-pixel translate), so it overlays the
    hidden 256×256 ground truth, as the super-resolved result will.
    """
    from skimage import data

    from ..core.degrade import downsample

    factor = 4
    clean = _resize(data.astronaut(), (256, 256))
    low = np.clip(downsample(clean.astype(np.float32), factor), 0, 255)
    offset = (factor - 1) / 2
    return [_reference(clean, "astronaut (clean)", contrast_limits=(0, 255)),
            (low, {"name": "astronaut (low-res ×4)", "scale": (factor, factor),
                   "translate": (offset, offset), "contrast_limits": (0, 255),
                   "metadata": {"degradation": "lanczos2 downsampling by 4"}}, "image")]


def blurred_sample() -> list[tuple]:
    """Coins (160×208) blurred with a Gaussian PSF of sigma 2 pixels, with slight noise."""
    from skimage import data

    from ..core.degrade import blur, gaussian_noise

    clean = _resize(data.coins()[:, :384], (160, 208))
    blurred = np.clip(gaussian_noise(blur(clean.astype(np.float32), sigma=2.0), 2.0, seed=SEED), 0, 255)
    return [_reference(clean, "coins (sharp)", contrast_limits=(0, 255)),
            (blurred, {"name": "coins (blurred, σ=2)", "contrast_limits": (0, 255),
                       "metadata": {"degradation": "gaussian blur sigma 2 px, noise sigma 2",
                                    "psf_sigma": 2.0}},
             "image")]


def modality_pair_sample() -> list[tuple]:
    """Two stains of one immunohistochemistry slide (hematoxylin and DAB), 192×192, co-registered."""
    from skimage import data
    from skimage.color import rgb2hed

    from ..core.degrade import gaussian_noise

    rgb = data.immunohistochemistry()[200:392, 200:392]
    hed = rgb2hed(rgb)

    def scaled(channel: np.ndarray) -> np.ndarray:
        lo, hi = np.percentile(channel, (0.5, 99.5))
        return np.clip((channel - lo) / (hi - lo) * 255, 0, 255).astype(np.float32)

    hema = np.clip(gaussian_noise(scaled(hed[..., 0]), 6.0, seed=SEED), 0, 255)
    dab = np.clip(gaussian_noise(scaled(hed[..., 2]), 6.0, seed=SEED + 1), 0, 255)
    common = {"contrast_limits": (0, 255), "blending": "additive"}
    return [(hema, {"name": "hematoxylin", "colormap": "cyan", **common}, "image"),
            (dab, {"name": "DAB", "colormap": "magenta", **common}, "image")]
