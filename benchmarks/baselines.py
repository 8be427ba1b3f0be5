"""Classical baselines, each a function of plain arrays returning a float image in the input's units.

Denoising and deblurring baselines take float images in [0, 1]; super-resolution baselines take and
return uint8 (PIL); fusion baselines take two float arrays in one common range.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

# ----------------------------------------------------------------------------------------------
# denoising (float RGB/gray in [0, 1])


def _channel_axis(x: np.ndarray) -> int | None:
    return -1 if x.ndim == 3 else None


def nl_means(x: np.ndarray) -> np.ndarray:
    """Non-local means, noise level from ``estimate_sigma``, fast mode, 5×5 patches in a 13×13 window."""
    from skimage.restoration import denoise_nl_means, estimate_sigma

    sigma = float(np.mean(estimate_sigma(x, channel_axis=_channel_axis(x))))
    return denoise_nl_means(x, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5,
                            patch_distance=6, channel_axis=_channel_axis(x))


def tv_chambolle(x: np.ndarray) -> np.ndarray:
    """Total-variation (Chambolle), weight 0.08 (for sigma 25/255 ≈ 0.1)."""
    from skimage.restoration import denoise_tv_chambolle

    return denoise_tv_chambolle(x, weight=0.08, channel_axis=_channel_axis(x))


def wavelet(x: np.ndarray) -> np.ndarray:
    """Wavelet shrinkage: BayesShrink, soft threshold, in YCbCr for colour."""
    from skimage.restoration import denoise_wavelet

    rgb = x.ndim == 3
    return denoise_wavelet(x, channel_axis=_channel_axis(x), convert2ycbcr=rgb, method="BayesShrink",
                           mode="soft", rescale_sigma=True)


def bm3d_available() -> bool:
    try:
        import bm3d  # noqa: F401
    except Exception:
        return False
    return True


def bm3d(x: np.ndarray, sigma: float) -> np.ndarray:
    """BM3D / CBM3D (the ``bm3d`` package; free for non-commercial use only, see its licence)."""
    import bm3d as _bm3d

    if x.ndim == 3:
        return _bm3d.bm3d_rgb(x, sigma_psd=sigma)
    return _bm3d.bm3d(x, sigma_psd=sigma)


DENOISERS = {"nl_means": nl_means, "tv_chambolle": tv_chambolle, "wavelet": wavelet}


# ----------------------------------------------------------------------------------------------
# inpainting


def biharmonic(x: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Biharmonic inpainting of the pixels where ``known`` is False."""
    from skimage.restoration import inpaint_biharmonic

    return inpaint_biharmonic(x, ~known.astype(bool), channel_axis=_channel_axis(x))


#: the DCT fill's thresholds from a biharmonic start, for images in [0, 1]: a smooth start is far
#: from the image, and starting higher suits it (40 to 1 grey levels of 255 in 30 iterations: 36.99
#: dB on six 256² scikit-image crops with half the pixels missing, against 36.45 from 40 to 4 in 12
#: and 36.37 from 20 to 2; benchmarks/fill.py)
DCT_FILL_FROM_SMOOTH = tuple(float(t) for t in np.geomspace(40 / 255, 1 / 255, 30))


def dct_fill(x: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Biharmonic inpainting, then the engine's DCT fill (``refine="fill-dct"``) from it: the
    step after the fit without the network, a classical sparse-coding inpainting by itself."""
    from napari_dip.core.refine import fill_refine

    start = biharmonic(x, known)
    k = known.astype(bool)
    if x.ndim == 3:  # (H, W, C) -> (C, H, W)
        out = fill_refine(x.transpose(2, 0, 1), k[None], start.transpose(2, 0, 1),
                          thresholds=DCT_FILL_FROM_SMOOTH)
        return out.transpose(1, 2, 0)
    return fill_refine(x[None], k[None], start[None], thresholds=DCT_FILL_FROM_SMOOTH)[0]


# ----------------------------------------------------------------------------------------------
# super-resolution (uint8 in, uint8 out)


def pil_upsample(lr: np.ndarray, size_hw: tuple[int, int], method: str) -> np.ndarray:
    from PIL import Image

    resample = {"bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}[method]
    return np.asarray(Image.fromarray(lr).resize((size_hw[1], size_hw[0]), resample))


# ----------------------------------------------------------------------------------------------
# deblurring (float in [0, 1]; the image is reflect-padded so FFT/zero borders do not ring)


def _per_channel(fn, x: np.ndarray, pad: int) -> np.ndarray:
    planes = [x] if x.ndim == 2 else [x[..., c] for c in range(x.shape[-1])]
    out = []
    for p in planes:
        padded = np.pad(p, pad, mode="reflect")
        out.append(fn(padded)[pad:-pad, pad:-pad])
    return out[0] if x.ndim == 2 else np.stack(out, axis=-1)


def richardson_lucy(x: np.ndarray, psf: np.ndarray, num_iter: int = 30) -> np.ndarray:
    """Richardson–Lucy, 30 iterations (a fixed choice, not tuned on the ground truth)."""
    from skimage.restoration import richardson_lucy as rl

    return _per_channel(lambda p: rl(p, psf, num_iter=num_iter, clip=True), x, 2 * psf.shape[0])


def wiener(x: np.ndarray, psf: np.ndarray, balance: float = 0.01) -> np.ndarray:
    """Wiener–Hunt deconvolution (Laplacian regulariser), balance 0.01 (fixed, not tuned)."""
    from skimage.restoration import wiener as wh

    return _per_channel(lambda p: wh(p, psf, balance, clip=True), x, 2 * psf.shape[0])


def unsupervised_wiener(x: np.ndarray, psf: np.ndarray) -> np.ndarray:
    """Wiener–Hunt with the balance estimated by Gibbs sampling (no parameter), seeded."""
    from skimage.restoration import unsupervised_wiener as uw

    return _per_channel(lambda p: uw(p, psf, clip=True, rng=0)[0], x, 2 * psf.shape[0])


DEBLURRERS = {"richardson_lucy": richardson_lucy, "wiener": wiener,
              "unsupervised_wiener": unsupervised_wiener}


# ----------------------------------------------------------------------------------------------
# fusion (two float arrays in one common range, (H, W) or (H, W, C))


def fuse_average(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a.astype(np.float64) + b) / 2


def _gradient_energy(x: np.ndarray, window: int) -> np.ndarray:
    x = x.astype(np.float64)
    planes = [x] if x.ndim == 2 else [x[..., c] for c in range(x.shape[-1])]
    e = sum(ndi.sobel(p, 0) ** 2 + ndi.sobel(p, 1) ** 2 for p in planes)
    return ndi.uniform_filter(e, window)


def fuse_max_gradient(a: np.ndarray, b: np.ndarray, window: int = 5) -> np.ndarray:
    """Per pixel, the source whose locally averaged (``window``²) Sobel energy is larger."""
    pick_a = _gradient_energy(a, window) >= _gradient_energy(b, window)
    if a.ndim == 3:
        pick_a = pick_a[..., None]
    return np.where(pick_a, a, b).astype(np.float64)


def _down(x: np.ndarray) -> np.ndarray:
    sig = (1.0, 1.0) + ((0.0,) if x.ndim == 3 else ())
    return ndi.gaussian_filter(x, sig, mode="reflect")[::2, ::2]


def _up(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    from skimage.transform import resize

    return resize(x, shape, order=1, mode="reflect", anti_aliasing=False)


def laplacian_pyramid(x: np.ndarray, levels: int) -> list[np.ndarray]:
    pyr, cur = [], x.astype(np.float64)
    for _ in range(levels - 1):
        nxt = _down(cur)
        pyr.append(cur - _up(nxt, cur.shape))
        cur = nxt
    pyr.append(cur)
    return pyr


def collapse(pyr: list[np.ndarray]) -> np.ndarray:
    cur = pyr[-1]
    for lap in reversed(pyr[:-1]):
        cur = lap + _up(cur, lap.shape)
    return cur


def fuse_laplacian(a: np.ndarray, b: np.ndarray, levels: int | None = None) -> np.ndarray:
    """Laplacian-pyramid fusion (Burt & Adelson): per level and pixel the detail coefficient with the
    larger magnitude (summed over channels); the coarsest level averaged."""
    if levels is None:
        levels = max(2, min(5, int(np.log2(min(a.shape[:2]) / 16)) + 1))
    pa, pb = laplacian_pyramid(a, levels), laplacian_pyramid(b, levels)
    fused = []
    for la, lb in zip(pa[:-1], pb[:-1], strict=True):
        ma = np.abs(la) if la.ndim == 2 else np.abs(la).sum(-1, keepdims=True)
        mb = np.abs(lb) if lb.ndim == 2 else np.abs(lb).sum(-1, keepdims=True)
        fused.append(np.where(ma >= mb, la, lb))
    fused.append((pa[-1] + pb[-1]) / 2)
    return collapse(fused)


FUSERS = {"average": fuse_average, "max_gradient": fuse_max_gradient, "laplacian_pyramid": fuse_laplacian}
