"""How the denoising output is averaged over iterations: the engine's exponential average against
longer and growing windows, from one run's raw iterates.

    python benchmarks/averaging.py [--size 288] [--iterations 3000] [--out benchmarks/results/averaging.json]
    python benchmarks/averaging.py report

The deep image prior's iterates fluctuate from step to step (the input jitter moves them), and part of
their error is that fluctuation: the paper's F16 run peaks near 30.7 dB raw and reaches 33.7 averaged.
The engine averages with a fixed weight (``Config.ema`` 0.99, about 100 steps). Each run here is the
fast denoising preset with averaging off (``ema=0``) and a preview every step, so every raw iterate
reaches this script, which keeps several averages of them side by side and records the PSNR of each
against the clean crop: one run, every scheme on the same iterates. Crops of scikit-image images (not
the paper's), Gaussian noise σ = 25, seeded as ``tune.py`` makes them; ``--size`` 288 is the size of the
fast preset's tiles.

Schemes: ``ema β`` (fixed weight β); ``grow γ``: weight ``max(0.99, 1 − γ/t)`` at step t, so the window
grows with the run (about t/γ steps) while the early output still follows the fit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from common import ResultStore, clean_float, machine_info, now
from tune import tuning_images

SCHEMES = {"ema 0.99": ("ema", 0.99), "ema 0.995": ("ema", 0.995), "ema 0.998": ("ema", 0.998),
           "grow 2": ("grow", 2.0), "grow 4": ("grow", 4.0), "grow 8": ("grow", 8.0)}
CHECKPOINTS = (300, 600, 900, 1200, 1500, 1800, 2100, 2400, 2700, 3000)


def weight(kind: str, value: float, t: int) -> float:
    return value if kind == "ema" else max(0.99, 1.0 - value / t)


def run_one(case: dict, iterations: int, every: int = 10) -> dict:
    from napari_dip.api import restore_iter
    from napari_dip.core.fit import drain

    truth = case["truth"].astype(np.float64)
    avgs: dict[str, np.ndarray | None] = dict.fromkeys(SCHEMES)
    curves: dict[str, list] = {k: [] for k in ["raw", *SCHEMES]}
    step = {"t": 0}

    def psnr(x: np.ndarray) -> float:
        return float(10 * np.log10(255.0**2 / np.mean((np.clip(x, 0, 255) - truth) ** 2)))

    def on_progress(p) -> None:
        step["t"] += 1
        t = step["t"]
        raw = p.preview.astype(np.float64)  # ema=0: the preview is the raw iterate
        for name, (kind, value) in SCHEMES.items():
            a = avgs[name]
            w = weight(kind, value, t)
            avgs[name] = raw.copy() if a is None else a * w + raw * (1 - w)
        if t % every == 0:
            curves["raw"].append(clean_float(psnr(raw), 3))
            for name in SCHEMES:
                curves[name].append(clean_float(psnr(avgs[name]), 3))

    t0 = time.perf_counter()
    gen = restore_iter("denoise", case["image"], preset="fast", ema=0.0, stop="fixed",
                       iterations=iterations, preview_every=1, tile=0)
    result = drain(gen, on_progress)
    p0 = result.planes[0]
    return {"every": every, "curves": curves, "seconds": round(time.perf_counter() - t0, 1),
            "config": result.config.to_dict(), "machine": machine_info(p0.device, p0.precision)}


def table(store: dict) -> tuple[list[str], list[list[str]]]:
    """Mean PSNR over the images at each checkpoint, a row per scheme: (header, rows)."""
    recs = store["records"]
    every = recs[0]["every"]
    rows = []
    for name in ["raw", *SCHEMES]:
        row = [name]
        for c in CHECKPOINTS:
            vals = [r["curves"][name][c // every - 1] for r in recs if len(r["curves"][name]) >= c // every]
            row.append(f"{np.mean(vals):.2f}" if len(vals) == len(recs) else "–")
        rows.append([*row, f"{np.mean([max(r['curves'][name]) for r in recs]):.2f}"])
    return ["scheme", *(f"@{c}" for c in CHECKPOINTS), "best"], rows


def report(path: Path) -> None:
    d = json.loads(path.read_text())
    header, rows = table(d)
    print(f"{path.name}: mean PSNR over {', '.join(r['image'] for r in d['records'])}")
    print("".join(f"{h:>8}" for h in header))
    for row in rows:
        print(f"{row[0]:>8}" + "".join(f"{v:>8}" for v in row[1:]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="?", default="run", choices=["run", "report"])
    ap.add_argument("--size", type=int, default=288)
    ap.add_argument("--iterations", type=int, default=3000)
    ap.add_argument("--images", help="comma-separated subset, e.g. astronaut@288")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "averaging.json")
    args = ap.parse_args(argv)
    if args.what == "report":
        report(args.out)
        return 0
    store = ResultStore(args.out, "averaging")
    store.set_meta(benchmark="averaging", iterations=args.iterations, size=args.size)
    cases = tuning_images("denoise", args.size)
    if args.images:
        cases = {k: v for k, v in cases.items() if k in args.images.split(",")}
    for image, case in cases.items():
        key = {"image": image, "method": "dip", "preset": "fast", "overrides": "ema=0"}
        if store.has(**key):
            continue
        print(f"[run ] {image}", flush=True)
        rec = run_one(case, args.iterations)
        store.add({**key, **rec, "timestamp": now()})
        print(f"[done] {image} in {rec['seconds']} s", flush=True)
    report(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
