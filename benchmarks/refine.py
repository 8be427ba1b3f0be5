"""What the Wiener step after the fit (``Config.refine``) gives: denoising with and without it,
and the grouped variant (``bm-wiener``) against the sliding window (``wiener``).

    python benchmarks/refine.py [--images camera,cell,...] [--noises gauss25,...] [--out ...]
    python benchmarks/refine.py report

The fast denoising preset fits the network as usual; with ``refine="wiener"`` its output then
serves as the pilot of an empirical Wiener filter of the noisy image in a sliding 8×8 DCT
(:func:`napari_dip.core.refine.wiener_refine`); ``bm-wiener`` filters groups of similar blocks
instead. One fit per case (``refine="none"``) gives the pilot; both steps then filter it as the
engine would, each timed alone. Central 256² crops of scikit-image's bundled images (not the
paper's), colour and grey, with seeded noise: Gaussian σ = 25 and 50 (clipped to uint8, as the
benchmark sets do), and Poisson noise at a peak of 30 photons fitted with the mse loss
(signal-dependent noise, which the filter's single noise level does not model: does the step
still help or at least not harm?).
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
    from napari_dip.core.metrics import psnr
    from napari_dip.core.refine import wiener_refine

    noisy, clean = make_case(image, noise, seed)
    t0 = time.perf_counter()
    # the fit alone; both steps then filter the same pilot, as the engine would (float output:
    # the engine's own pilot, not a rounded copy)
    res = denoise(noisy, reference=clean, refine="none", channel_axis=-1 if noisy.ndim == 3 else None)
    seconds = time.perf_counter() - t0
    planes = lambda a: (a.transpose(2, 0, 1) if a.ndim == 3 else a[None]).astype(np.float32) / 255.0  # noqa: E731
    image_of = lambda p: 255.0 * (p.transpose(1, 2, 0) if p.shape[0] == 3 else p[0])  # noqa: E731
    rec = {"psnr_before_refine": clean_float(res.metrics["psnr"])}
    for key, grouped in (("", False), ("grouped_", True)):
        t1 = time.perf_counter()
        out = np.clip(wiener_refine(planes(noisy), planes(res.image), grouped=grouped), 0.0, 1.0)
        rec[f"{key}refine_seconds"] = round(time.perf_counter() - t1, 2)
        rec[f"psnr_{key}refined"] = clean_float(psnr(clean, image_of(out).astype(np.float64), data_range=255))
    p0 = res.planes[0]
    return {"psnr": rec["psnr_refined"], **rec, "stopped_at": res.stopped_at,
            "iterations_run": res.iterations_run, "seconds": round(seconds, 1),
            "config": res.config.to_dict(), "machine": machine_info(p0.device, p0.precision)}


def rows(store: dict) -> list[list[str]]:
    out = []
    for r in store["records"]:
        before, after, grouped = r.get("psnr_before_refine"), r["psnr"], r.get("psnr_grouped_refined")
        out.append([r["image"], NOISES.get(r["noise"], r["noise"]), f"{before:.2f}" if before else "–",
                    f"{after:.2f}", f"{after - before:+.2f}" if before else "–",
                    f"{grouped:.2f}" if grouped else "–",
                    f"{grouped - after:+.2f}" if grouped else "–",
                    f"{r['stopped_at']} / {r['iterations_run']}", f"{r['seconds']:.0f} s",
                    f"{r['refine_seconds']:.2f} s",
                    f"{r['grouped_refine_seconds']:.2f} s" if grouped else "–"])
    return out


HEADER = ["image", "noise", "network output (dB)", "wiener", "gain", "bm-wiener", "over wiener",
          "stopped at / ran", "fit", "wiener step", "bm-wiener step"]


def report(path: Path) -> None:
    d = json.loads(path.read_text())
    print(" | ".join(HEADER))
    for row in rows(d):
        print(" | ".join(row))
    gains = [r["psnr"] - r["psnr_before_refine"] for r in d["records"] if r.get("psnr_before_refine")]
    if gains:
        print(f"wiener: mean gain {np.mean(gains):+.2f} dB over {len(gains)} cases, least {min(gains):+.2f}")
    more = [r["psnr_grouped_refined"] - r["psnr"] for r in d["records"] if r.get("psnr_grouped_refined")]
    if more:
        print(f"bm-wiener over wiener: {np.mean(more):+.2f} dB on average over {len(more)} cases, "
              f"from {min(more):+.2f} to {max(more):+.2f}")


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
        print(f"[done] {case}: {rec['psnr_before_refine']} -> {rec['psnr']} dB (bm-wiener "
              f"{rec['psnr_grouped_refined']}) in {rec['seconds']} s", flush=True)
    report(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
