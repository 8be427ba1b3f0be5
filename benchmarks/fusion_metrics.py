"""Reference-free image-fusion metrics: Q^AB/F (Xydeas–Petrović), mutual information, entropy.

All functions take the sources ``a``, ``b`` and the fused image ``f`` as arrays of one shape, (H, W) or
(H, W, 3) (RGB is reduced to BT.601 luminance), in one common intensity range given by ``data_range``
(255 for 8-bit data). Run this file to execute the self-check.

References
----------
C. S. Xydeas and V. Petrović, "Objective image fusion performance measure", Electronics Letters 36(4),
2000. Constants Γ_g = 0.9994, κ_g = −15, σ_g = 0.5, Γ_α = 0.9879, κ_α = −22, σ_α = 0.8, L = 1.

G. Qu, D. Zhang and P. Yan, "Information measure for performance of image fusion", Electronics
Letters 38(7), 2002: MI = MI(F, A) + MI(F, B), from 256-bin joint histograms.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

GAMMA_G, KAPPA_G, SIGMA_G = 0.9994, -15.0, 0.5
GAMMA_A, KAPPA_A, SIGMA_A = 0.9879, -22.0, 0.8


def to_gray(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3 and x.shape[-1] >= 3:
        return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    if x.ndim == 3 and x.shape[-1] == 1:
        return x[..., 0]
    if x.ndim != 2:
        raise ValueError(f"Expected (H, W) or (H, W, 3); got shape {x.shape}.")
    return x


def _quantise(x: np.ndarray, data_range: float, bins: int = 256) -> np.ndarray:
    q = np.floor(np.clip(to_gray(x) / data_range, 0, 1) * (bins - 1) + 0.5)
    return q.astype(np.int64)


def entropy(f: np.ndarray, data_range: float = 255.0, bins: int = 256) -> float:
    """Shannon entropy (bits) of the fused image's grey-level histogram."""
    hist = np.bincount(_quantise(f, data_range, bins).ravel(), minlength=bins).astype(np.float64)
    p = hist[hist > 0] / hist.sum()
    return float(-(p * np.log2(p)).sum())


def _mi(x: np.ndarray, y: np.ndarray, bins: int) -> float:
    joint = np.bincount((x * bins + y).ravel(), minlength=bins * bins).astype(np.float64)
    joint = joint.reshape(bins, bins) / joint.sum()
    px, py = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log2(joint[nz] / (px @ py)[nz])).sum())


def mutual_information(a: np.ndarray, b: np.ndarray, f: np.ndarray, data_range: float = 255.0,
                       bins: int = 256) -> float:
    """MI(F, A) + MI(F, B) in bits."""
    qa, qb, qf = (_quantise(x, data_range, bins) for x in (a, b, f))
    return _mi(qf, qa, bins) + _mi(qf, qb, bins)


def _sobel(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sx = ndi.sobel(x, axis=1, mode="reflect")
    sy = ndi.sobel(x, axis=0, mode="reflect")
    g = np.hypot(sx, sy)
    alpha = np.arctan(sy / np.where(sx == 0, 1e-12, sx))  # in (−π/2, π/2), as in the paper
    return g, alpha


def _edge_preservation(g_s, a_s, g_f, a_f) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(g_s > g_f, g_f / g_s, g_s / g_f)
    rel = np.where((g_s == 0) & (g_f == 0), 0.0, np.nan_to_num(rel))
    d = np.abs(a_s - a_f)
    d = np.minimum(d, np.pi - d)  # orientations are modulo π; keeps A in [0, 1]
    orient = 1.0 - d / (np.pi / 2)
    qg = GAMMA_G / (1.0 + np.exp(KAPPA_G * (rel - SIGMA_G)))
    qa = GAMMA_A / (1.0 + np.exp(KAPPA_A * (orient - SIGMA_A)))
    return qg * qa


def qabf(a: np.ndarray, b: np.ndarray, f: np.ndarray, weight_power: float = 1.0) -> float:
    """Q^AB/F: how much of the sources' edge strength and orientation the fused image keeps (0..1).

    Scale-invariant per image pair only through the relative strengths, so pass all three images in
    the same intensity units.
    """
    ga, aa = _sobel(to_gray(a))
    gb, ab = _sobel(to_gray(b))
    gf, af = _sobel(to_gray(f))
    qaf = _edge_preservation(ga, aa, gf, af)
    qbf = _edge_preservation(gb, ab, gf, af)
    wa, wb = ga**weight_power, gb**weight_power
    den = (wa + wb).sum()
    return float(((qaf * wa + qbf * wb).sum() / den) if den > 0 else 0.0)


def fusion_scores(a, b, f, data_range: float = 255.0) -> dict[str, float]:
    """All three metrics, rounded for JSON."""
    f = np.clip(np.asarray(f, dtype=np.float64), 0, data_range)
    return {"qabf": round(qabf(a, b, f), 4), "mi": round(mutual_information(a, b, f, data_range), 4),
            "entropy": round(entropy(f, data_range), 4)}


def self_check() -> None:
    """Known values: identities and orderings that any correct implementation satisfies."""
    rng = np.random.default_rng(0)
    # entropy: 256 equally frequent levels → 8 bits; a constant image → 0
    ramp = np.tile(np.arange(256, dtype=np.float64), (4, 1))
    assert abs(entropy(ramp) - 8.0) < 1e-9
    assert entropy(np.full((8, 8), 7.0)) == 0.0
    # MI(X, X) = H(X); MI with an independent image ≈ 0
    x = rng.integers(0, 256, (128, 128)).astype(np.float64)
    y = rng.integers(0, 256, (128, 128)).astype(np.float64)
    assert abs(_mi(_quantise(x, 255), _quantise(x, 255), 256) - entropy(x)) < 1e-9
    assert mutual_information(x, x, x) > 2 * 7.9
    # independent 256-level images on 16k pixels: the plug-in estimate has a positive bias (~2 bits)
    assert mutual_information(x, x, y) < 0.5 * mutual_information(x, x, x)
    # Q^AB/F: F equal to both sources → the constants' maximum Γ_g·Γ_α/(…) ≈ 0.975
    from skimage import data, filters

    img = data.camera()[::2, ::2].astype(np.float64)
    qmax = (GAMMA_G / (1 + np.exp(KAPPA_G * (1 - SIGMA_G)))
            * GAMMA_A / (1 + np.exp(KAPPA_A * (1 - SIGMA_A))))
    q_same = qabf(img, img, img)
    assert abs(q_same - qmax) < 1e-6, q_same
    # a flat F keeps no edges → 0
    assert qabf(img, img, np.full_like(img, img.mean())) < 1e-3
    # multi-focus: sharp-left/blurred-right and the opposite; choosing the sharp halves beats averaging
    blur = filters.gaussian(img, sigma=3, preserve_range=True)
    half = np.zeros_like(img, dtype=bool)
    half[:, : img.shape[1] // 2] = True
    a = np.where(half, img, blur)
    b = np.where(half, blur, img)
    q_best, q_avg = qabf(a, b, img), qabf(a, b, (a + b) / 2)
    assert q_best > q_avg, (q_best, q_avg)
    assert mutual_information(a, b, img) > 0
    # RGB is reduced to luminance: an RGB copy of a gray image scores the same
    rgb = np.repeat(img[..., None], 3, axis=-1)
    assert abs(qabf(rgb, rgb, rgb) - q_same) < 1e-9
    print(f"fusion_metrics self-check passed: Q_max={qmax:.4f}, multi-focus Q(ideal)={q_best:.3f} > "
          f"Q(average)={q_avg:.3f}, MI(ideal)={mutual_information(a, b, img):.3f}, "
          f"H(camera)={entropy(img):.3f} bits")


if __name__ == "__main__":
    self_check()
