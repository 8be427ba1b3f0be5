"""How much room above the blurred input deblurring needs: point sources and a natural image.

    python benchmarks/deblur_headroom.py run [--headrooms 1,2,4,8] [--iterations 2000]
    python benchmarks/deblur_headroom.py report

Deconvolution gathers the light a PSF spread out, so the restored peak of a point source is brighter
than any blurred pixel (a Gaussian PSF of sigma 2 px spreads a point over 2π·2² ≈ 25 pixels). With
the output bounded by the blurred input's range (``headroom`` 1), bead peaks come out capped. Two
synthetic problems, no downloads, each with a Gaussian PSF of sigma 2 px:

- ``beads``: 192×192 uint16, background 200 with a faint smooth structure, 40 beads (Gaussians of
  sigma 0.8 px, peaks 2000-6000 counts), blurred, Gaussian noise sigma 20 (seeded);
- ``astronaut``: a 192×192 grayscale crop of scikit-image's astronaut (uint8), blurred, noise
  sigma 5, as the ``deblur-gauss2`` set degrades its images.

Per headroom: PSNR against the truth (data range: the truth's), and for the beads the restored
peak height ÷ the true one (median over beads, each peak the maximum in a 5×5 window at the bead;
background subtracted), against Richardson-Lucy (scikit-image, 30 iterations, mirrored borders,
unclipped). Records go to
``benchmarks/results/deblur-headroom.json`` and are resumed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from common import ResultStore, clean_float, machine_info, now

OUT = Path(__file__).parent / "results" / "deblur-headroom.json"
SIGMA = 2.0


def beads(size: int = 192, n: int = 40, seed: int = 0):
    """(truth float64, blurred noisy uint16, bead centres (n, 2))."""
    from napari_dip.core.degrade import blur

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    smooth = ((yy - size * 0.6) / (size * 0.3)) ** 2 + ((xx - size * 0.4) / (size * 0.25)) ** 2
    truth = 200 + 150 * np.exp(-smooth)
    centres = rng.uniform(12, size - 12, (n, 2))
    for (cy, cx), amp in zip(centres, rng.uniform(2000, 6000, n), strict=True):
        truth += amp * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 0.8**2))
    blurred = blur(truth, sigma=SIGMA)
    noisy = blurred + rng.normal(0, 20, blurred.shape)
    return truth, np.clip(np.rint(noisy), 0, 65535).astype(np.uint16), np.rint(centres).astype(int)


def astronaut(size: int = 192):
    from skimage import data
    from skimage.color import rgb2gray

    from napari_dip.core.degrade import blur, gaussian_noise

    g = np.rint(255 * rgb2gray(data.astronaut())[40:40 + size, 180:180 + size]).astype(np.uint8)
    y = np.clip(np.rint(blur(g, sigma=SIGMA)), 0, 255)
    y = np.clip(np.rint(gaussian_noise(y, 5.0, seed=7)), 0, 255).astype(np.uint8)
    return g.astype(np.float64), y, None


def peak_ratio(out: np.ndarray, truth: np.ndarray, centres, background: float = 200.0) -> float:
    r = []
    for cy, cx in centres:
        w = (slice(cy - 2, cy + 3), slice(cx - 2, cx + 3))
        r.append((out[w].max() - background) / (truth[w].max() - background))
    return float(np.median(r))


def psnr(truth: np.ndarray, out: np.ndarray) -> float:
    mse = float(np.mean((truth - out) ** 2))
    return 10 * np.log10(float(truth.max() - truth.min()) ** 2 / mse)


def run(headrooms: list[float], iterations: int) -> None:
    from skimage.restoration import richardson_lucy

    from napari_dip import deblur
    from napari_dip.core.operators import gaussian_psf

    store = ResultStore(OUT, "deblur-headroom")
    psf = gaussian_psf(SIGMA)
    for name, make in (("beads", beads), ("astronaut", astronaut)):
        truth, y, centres = make()
        if not store.has(image=name, method="richardson_lucy"):
            from baselines import _per_channel

            # mirrored borders (the set's baseline does the same) and no clipping to the blurred
            # range, which would cap the peaks this measures
            scale = float(y.max())
            rl = _per_channel(lambda p: richardson_lucy(p, psf, num_iter=30, clip=False),
                              y / scale, 2 * psf.shape[0]) * scale
            rec = {"image": name, "method": "richardson_lucy", "psnr": clean_float(psnr(truth, rl))}
            if centres is not None:
                rec["peak_ratio"] = clean_float(peak_ratio(rl, truth, centres))
            store.add({**rec, "timestamp": now()})
        for h in headrooms:
            key = {"image": name, "method": "dip", "preset": "fast", "overrides": f"headroom={h}"}
            if store.has(**key):
                continue
            t0 = time.perf_counter()
            res = deblur(y, psf, headroom=h, stop="fixed", iterations=iterations, seed=0)
            rec = {**key, "headroom": h, "iterations": iterations,
                   "psnr": clean_float(psnr(truth, res.image)),
                   "seconds": clean_float(time.perf_counter() - t0, 1),
                   "machine": machine_info(res.planes[0].device, res.planes[0].precision)}
            if centres is not None:
                rec["peak_ratio"] = clean_float(peak_ratio(res.image, truth, centres))
            store.add({**rec, "timestamp": now()})
            print(f"[done] {name} headroom {h}: {rec['psnr']} dB, peak ratio {rec.get('peak_ratio')}",
                  flush=True)


def report() -> None:
    import json

    d = json.loads(OUT.read_text())
    for r in d["records"]:
        print(f"{r['image']:<10} {r['method']:<16} {r.get('headroom', '-')!s:>8} {r['psnr']:>7} "
              f"{r.get('peak_ratio', '-')!s:>7} {r.get('seconds', '-')!s:>7}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["run", "report"])
    ap.add_argument("--headrooms", default="1,2,4,8")
    ap.add_argument("--iterations", type=int, default=2000)
    args = ap.parse_args(argv)
    if args.what == "run":
        run([float(h) for h in args.headrooms.split(",")], args.iterations)
    report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
