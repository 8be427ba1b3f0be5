"""What the Wiener step after the fit (``Config.refine``) gives: denoising with and without it,
and the grouped variant (``bm-wiener``) against the sliding window (``wiener``).

    python benchmarks/refine.py [--cases camera@gauss25,cell@poisson30,...] [--pilots DIR] [--out ...]
    python benchmarks/refine.py report

The fast denoising preset fits the network as usual; with ``refine="wiener"`` its output then
serves as the pilot of an empirical Wiener filter of the noisy image in a sliding 8×8 DCT
(:func:`napari_dip.core.refine.wiener_refine`); ``bm-wiener`` filters groups of similar blocks
on the pilot's edges and texture and keeps the sliding window's estimate in its flat regions,
and filters a second time when the first pass changed the pilot by much (``REPEAT_ABOVE``);
"grouped everywhere" (``edge_ramp=None``, one pass) is shown for comparison. One fit per case
(``refine="none"``) gives the pilot; each step then filters it as the engine would, timed alone.
``--pilots DIR`` keeps the fits, so a changed step is scored again in seconds.
Central 256² crops of scikit-image's bundled images (not the
paper's), colour and grey, with seeded noise: Gaussian σ = 25 and 50 (clipped to uint8, as the
benchmark sets do), and Poisson noise at a peak of 30 photons fitted with the mse loss
(signal-dependent noise, which the filter's single noise level does not model: does the step
still help or at least not harm?).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from common import ResultStore, clean_float, machine_info, now, step_benchmark_cli
from napari_dip.core.refine import REPEAT_ABOVE
from tune import _crop

IMAGES = ("astronaut", "coffee", "chelsea", "immunohistochemistry", "camera", "cell", "moon",
          # added after bm-wiener's second-pass threshold was chosen: cases it was not chosen on
          "rocket", "brick", "grass")
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


def fit_pilot(image: str, noise: str, seed: int,
              cache: Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """(noisy, clean, the network's float output, the fit's facts) for one case, read from
    ``cache`` when an earlier run left it there (the fit is seeded: a rerun gives the same)."""
    from napari_dip.api import denoise

    noisy, clean = make_case(image, noise, seed)
    path = None if cache is None else cache / f"{image}@{noise}.npz"
    if path is not None and path.exists():
        d = np.load(path)
        if np.array_equal(d["noisy"], noisy):
            return noisy, clean, d["output"], json.loads(str(d["facts"]))
    t0 = time.perf_counter()
    # the fit alone; each step then filters the same pilot, as the engine would (float output:
    # the engine's own pilot, not a rounded copy)
    res = denoise(noisy, reference=clean, refine="none", channel_axis=-1 if noisy.ndim == 3 else None)
    p0 = res.planes[0]
    facts = {"psnr_before_refine": clean_float(res.metrics["psnr"]), "stopped_at": res.stopped_at,
             "iterations_run": res.iterations_run, "seconds": round(time.perf_counter() - t0, 1),
             "config": res.config.to_dict(), "machine": machine_info(p0.device, p0.precision)}
    if path is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, noisy=noisy, output=res.image, facts=json.dumps(facts))
    return noisy, clean, res.image, facts


#: record key prefix → wiener_refine's options: the engine's two steps and grouping on every pixel
STEPS = {"": {}, "grouped_": {"grouped": True, "repeat_above": REPEAT_ABOVE},
         "everywhere_": {"grouped": True, "edge_ramp": None}}
#: Config.refine → its STEPS prefix
CONFIG_STEPS = {"wiener": "", "bm-wiener": "grouped_"}


def record_keys(refine: str) -> tuple[str, str | None] | None:
    """A record's (PSNR key, seconds key) for the output of ``Config.refine`` = ``refine``."""
    if refine == "none":
        return "psnr_before_refine", None
    if refine not in CONFIG_STEPS:
        return None
    prefix = CONFIG_STEPS[refine]
    return f"psnr_{prefix}refined", f"{prefix}refine_seconds"


def run_one(image: str, noise: str, seed: int, cache: Path | None = None) -> dict:
    noisy, clean, output, facts = fit_pilot(image, noise, seed, cache)
    return score_steps(noisy, clean, output, facts)


def score_steps(noisy: np.ndarray, clean: np.ndarray, output: np.ndarray, facts: dict) -> dict:
    """Each step of :data:`STEPS` on one pilot (``output``, 0-255 float), scored and timed."""
    from napari_dip.core.metrics import psnr
    from napari_dip.core.refine import wiener_refine

    planes = lambda a: (a.transpose(2, 0, 1) if a.ndim == 3 else a[None]).astype(np.float32) / 255.0  # noqa: E731
    image_of = lambda p: 255.0 * (p.transpose(1, 2, 0) if p.shape[0] == 3 else p[0])  # noqa: E731
    rec = {}
    for key, options in STEPS.items():
        t1 = time.perf_counter()
        out = np.clip(wiener_refine(planes(noisy), planes(output), **options), 0.0, 1.0)
        rec[f"{key}refine_seconds"] = round(time.perf_counter() - t1, 2)
        rec[f"psnr_{key}refined"] = clean_float(psnr(clean, image_of(out).astype(np.float64), data_range=255))
    return {"psnr": rec["psnr_refined"], **rec, **facts}


def score_saved(folder: Path, store: ResultStore) -> None:
    """Score the steps on the outputs ``run.py --save-outputs`` left in ``folder`` (SET-IMAGE.npz:
    input, truth, and the network's output before the step as ``pilot``, or as ``output`` from a
    run with ``--set refine=none``): the benchmark sets' own fits."""
    from napari_dip.core.metrics import psnr

    for path in sorted(folder.glob("*.npz")):
        set_name, image = path.stem.rsplit("-", 1)
        key = {"image": image, "method": "dip", "preset": "fast", "overrides": f"saved {set_name}"}
        if store.has(**key):
            continue
        d = np.load(path)
        noisy, clean = d["input"], d["truth"]
        output = d["pilot"] if "pilot" in d else d["output"]
        facts = {"psnr_before_refine": clean_float(psnr(clean, np.clip(output.astype(np.float64), 0, 255),
                                                        data_range=255))}
        rec = score_steps(noisy, clean, output, facts)
        store.add({**key, "noise": set_name, **rec, "timestamp": now()})
        print(f"[done] {set_name} {image}: {rec['psnr_before_refine']} -> {rec['psnr']} dB (bm-wiener "
              f"{rec['psnr_grouped_refined']}, grouped everywhere {rec['psnr_everywhere_refined']})",
              flush=True)


def rows(store: dict) -> list[list[str]]:
    out = []
    for r in store["records"]:
        before, after = r.get("psnr_before_refine"), r["psnr"]
        grouped, everywhere = r.get("psnr_grouped_refined"), r.get("psnr_everywhere_refined")
        out.append([r["image"], NOISES.get(r["noise"], r["noise"]), f"{before:.2f}" if before else "–",
                    f"{after:.2f}", f"{after - before:+.2f}" if before else "–",
                    f"{grouped:.2f}" if grouped else "–",
                    f"{grouped - after:+.2f}" if grouped else "–",
                    f"{everywhere - after:+.2f}" if everywhere else "–",
                    f"{r['stopped_at']} / {r['iterations_run']}" if "stopped_at" in r else "–",
                    f"{r['seconds']:.0f} s" if "seconds" in r else "–",
                    f"{r['refine_seconds']:.2f} s",
                    f"{r['grouped_refine_seconds']:.2f} s" if grouped else "–"])
    return out


HEADER = ["image", "noise", "network output (dB)", "wiener", "gain", "bm-wiener", "over wiener",
          "grouped everywhere, over wiener", "stopped at / ran", "fit", "wiener step", "bm-wiener step"]


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
    every = [r["psnr_everywhere_refined"] - r["psnr"] for r in d["records"]
             if r.get("psnr_everywhere_refined")]
    if every:
        print(f"grouped everywhere over wiener: {np.mean(every):+.2f} dB on average, "
              f"from {min(every):+.2f} to {max(every):+.2f}")


def main(argv: list[str] | None = None) -> int:
    cli = step_benchmark_cli(argv, __doc__, "refine", cases_default=",".join(DEFAULT_CASES),
                             cases_help="comma-separated image@noise, e.g. camera@gauss25,cell@poisson30",
                             score_saved=score_saved, report=report)
    if cli is None:
        return 0
    args, store = cli
    store.set_meta(benchmark="refine", size=256)
    for case in args.cases.split(","):
        image, noise = case.split("@")
        if image not in IMAGES or noise not in NOISES:
            raise SystemExit(f"unknown case {case!r}: images {IMAGES}, noises {tuple(NOISES)}")
        key = {"image": image, "method": "dip", "preset": "fast", "overrides": noise}
        if store.has(**key):
            continue
        print(f"[run ] {case}", flush=True)
        rec = run_one(image, noise, seed=10 * IMAGES.index(image) + list(NOISES).index(noise),
                      cache=args.pilots)
        store.add({**key, "noise": noise, **rec, "timestamp": now()})
        print(f"[done] {case}: {rec['psnr_before_refine']} -> {rec['psnr']} dB (bm-wiener "
              f"{rec['psnr_grouped_refined']}, grouped everywhere {rec['psnr_everywhere_refined']}), "
              f"fit {rec['seconds']} s", flush=True)
    report(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
