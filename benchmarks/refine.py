"""What the Wiener step after the fit (``Config.refine``) gives: denoising with and without it.

    python benchmarks/refine.py [--images camera,cell,...] [--noises gauss25,...] [--out ...]
    python benchmarks/refine.py report

The fast denoising preset fits the network as usual; with ``refine="wiener"`` its output then
serves as the pilot of an empirical Wiener filter of the noisy image in a sliding 8×8 DCT
(:func:`napari_dip.core.refine.wiener_refine`). One run per case gives both numbers: the engine
records the PSNR of the network's output before the step (``psnr_before_refine``) beside the
returned image's. Central 256² crops of scikit-image's bundled images (not the paper's), colour and
grey, with seeded noise: Gaussian σ = 25 and 50 (clipped to uint8, as the benchmark sets do), and
Poisson noise at a peak of 30 photons fitted with the mse loss (signal-dependent noise, which the
filter's single noise level does not model: does the step still help or at least not harm?).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from common import ResultStore, clean_float, machine_info, now
from tune import _crop

IMAGES = ("astronaut", "coffee", "chelsea", "immunohistochemistry", "camera", "cell", "moon")
NOISES = {"gauss25": "Gaussian σ = 25, clipped to uint8",
          "gauss50": "Gaussian σ = 50, clipped to uint8",
          "poisson30": "Poisson, peak 30 photons (uint8 counts scaled back to 0-255), mse loss"}
DEFAULT_CASES = [f"{i}@gauss25" for i in IMAGES] + ["camera@gauss50", "astronaut@gauss50",
                                                    "cell@poisson30", "moon@poisson30"]


def make_case(image: str, noise: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(noisy uint8, clean uint8) for a central 256² crop of scikit-image's ``image``."""
    from skimage import data

    from napari_dip.core import degrade

    clean = _crop(getattr(data, image)(), 256)
    if noise.startswith("gauss"):
        noisy = degrade.gaussian_noise(clean, float(noise[5:]), seed=seed)
    else:
        peak = float(noise[7:])
        counts = np.random.default_rng(seed).poisson(clean.astype(np.float64) / 255.0 * peak)
        noisy = counts * (255.0 / peak)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8), clean


def run_one(image: str, noise: str, seed: int) -> dict:
    from napari_dip.api import denoise
    from napari_dip.core.refine import wiener_refine

    noisy, clean = make_case(image, noise, seed)
    t0 = time.perf_counter()
    res = denoise(noisy, reference=clean, channel_axis=-1 if noisy.ndim == 3 else None)
    seconds = time.perf_counter() - t0
    # the step's own cost at this size: once more on the returned image as the pilot
    planes = lambda a: (a.transpose(2, 0, 1) if a.ndim == 3 else a[None]).astype(np.float32) / 255.0  # noqa: E731
    t1 = time.perf_counter()
    wiener_refine(planes(noisy), planes(res.image))
    refine_s = time.perf_counter() - t1
    p0 = res.planes[0]
    return {"psnr": clean_float(res.metrics["psnr"]), "ssim": clean_float(res.metrics.get("ssim")),
            "psnr_before_refine": clean_float(res.metrics.get("psnr_before_refine")),
            "stopped_at": res.stopped_at, "iterations_run": res.iterations_run,
            "seconds": round(seconds, 1), "refine_seconds": round(refine_s, 2),
            "config": res.config.to_dict(), "machine": machine_info(p0.device, p0.precision)}


def rows(store: dict) -> list[list[str]]:
    out = []
    for r in store["records"]:
        before, after = r.get("psnr_before_refine"), r["psnr"]
        out.append([r["image"], NOISES.get(r["noise"], r["noise"]), f"{before:.2f}" if before else "–",
                    f"{after:.2f}", f"{after - before:+.2f}" if before else "–",
                    f"{r['stopped_at']} / {r['iterations_run']}", f"{r['seconds']:.0f} s",
                    f"{r['refine_seconds']:.2f} s"])
    return out


HEADER = ["image", "noise", "network output (dB)", "after the Wiener step", "gain", "stopped at / ran",
          "run", "Wiener step"]


def report(path: Path) -> None:
    d = json.loads(path.read_text())
    print(" | ".join(HEADER))
    for row in rows(d):
        print(" | ".join(row))
    gains = [r["psnr"] - r["psnr_before_refine"] for r in d["records"] if r.get("psnr_before_refine")]
    if gains:
        print(f"mean gain {np.mean(gains):+.2f} dB over {len(gains)} cases, least {min(gains):+.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="?", default="run", choices=["run", "report"])
    ap.add_argument("--cases", default=",".join(DEFAULT_CASES),
                    help="comma-separated image@noise, e.g. camera@gauss25,cell@poisson30")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "refine.json")
    args = ap.parse_args(argv)
    if args.what == "report":
        report(args.out)
        return 0
    store = ResultStore(args.out, "refine")
    store.set_meta(benchmark="refine", size=256)
    for case in args.cases.split(","):
        image, noise = case.split("@")
        if image not in IMAGES or noise not in NOISES:
            raise SystemExit(f"unknown case {case!r}: images {IMAGES}, noises {tuple(NOISES)}")
        key = {"image": image, "method": "dip", "preset": "fast", "overrides": noise}
        if store.has(**key):
            continue
        print(f"[run ] {case}", flush=True)
        rec = run_one(image, noise, seed=10 * IMAGES.index(image) + list(NOISES).index(noise))
        store.add({**key, "noise": noise, **rec, "timestamp": now()})
        print(f"[done] {case}: {rec['psnr_before_refine']} -> {rec['psnr']} dB in {rec['seconds']} s",
              flush=True)
    report(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
