"""How long the automatic stop should wait for the loss to reach the noise level (denoising).

    python benchmarks/stop_floor.py [--out benchmarks/results/stop-floor.json]

On strongly textured images the windowed variance of the outputs has an early, shallow minimum
while the network is still learning the texture, and the stop fired there (baboon: 19.8 dB at step
354). ``stop_noise_floor`` holds the stop while the fitting loss (mean of the last ``stop_window``
steps) is above k × the noise variance estimated from the input. This script runs the fast
denoising preset on crops of scikit-image's bundled images (σ = 25, seeded) with the stop never
firing, keeps the loss, the stop metric and the PSNR of the averaged output at every step, and
replays the rule offline for several k (the rule reads only the metric and the loss, so the replay
returns what a real run would). Records are written as they finish; a rerun skips them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from common import clean_float, finish, machine_info, now

ROOT = Path(__file__).resolve().parents[1]
FLOORS = (0.0, 0.9, 0.95, 1.0, 1.1)


def cases() -> dict[str, tuple[np.ndarray, int]]:
    from skimage import data

    def crop(a, n, y, x):
        return a[y:y + n, x:x + n]

    return {"camera96": (crop(data.camera(), 96, 100, 200), 1000),
            "gravel256": (crop(data.gravel(), 256, 128, 128), 1500),
            "grass256": (crop(data.grass(), 256, 128, 128), 1500),
            "ihc256": (crop(data.immunohistochemistry(), 256, 128, 128), 1500),
            "astro256": (crop(data.astronaut(), 256, 0, 128), 1500)}


def run_case(clean: np.ndarray, iterations: int) -> dict:
    import torch

    from napari_dip.api import restore_iter
    from napari_dip.core import degrade
    from napari_dip.core.metrics import psnr
    from napari_dip.core.noise import estimate_noise_variance

    noisy = np.clip(np.rint(degrade.gaussian_noise(clean, 25, seed=1)), 0, 255).astype(np.uint8)
    gen = restore_iter("denoise", noisy, reference=clean, preset="fast", stop="auto",
                       stop_patience=iterations + 1, iterations=iterations, preview_every=iterations)
    t0 = time.perf_counter()
    res = finish(gen)
    plane = res.planes[0]
    h = plane.history
    shift = psnr(clean, np.clip(res.image, 0, 255), data_range=255.0) - h["psnr"][-1]
    y = torch.from_numpy(np.moveaxis(np.atleast_3d(noisy).astype(np.float32) / 255, -1, 0))
    return {"psnr_curve": [clean_float(p + shift, 3) for p in h["psnr"]],
            "loss": [clean_float(v, 7) for v in h["loss"]],
            "stop_metric": [clean_float(m, 9) for m in h["stop_metric"]],
            # in the engine's units the image spans [0, 1] (uint8 inputs are divided by 255)
            "noise_variance": estimate_noise_variance(y), "sigma2": (25 / 255) ** 2,
            "seconds": round(time.perf_counter() - t0, 1), "config": res.config.to_dict(),
            "machine": machine_info(plane.device, plane.precision), "timestamp": now()}


def replay(rec: dict, k: float, gated: bool = True) -> int:
    """The step at which the fast preset's rule with ``stop_noise_floor = k`` stops.

    ``gated`` mirrors ``WindowedVariance`` since 2026-11-25: variance minima count only once the
    loss has reached the floor. ``gated=False`` is the rule before: minima from the start, the
    stop merely held while the loss is above the floor.
    """
    cfg = rec["config"]
    window, patience, min_it = cfg["stop_window"], cfg["stop_patience_fast"], cfg["min_iterations"]
    floor = k * rec["noise_variance"]
    loss = rec["loss"]
    best, best_it = float("inf"), 0
    for i, m in enumerate(rec["stop_metric"], start=1):
        if m is None or m != m or i < min_it:
            continue
        above = k > 0 and np.mean(loss[max(0, i - window):i]) > floor
        if gated and above:
            continue
        if m < best:
            best, best_it = m, i
        if i - best_it >= patience and not above:
            return i
    return len(rec["stop_metric"])


def table(store: dict) -> list[str]:
    rows = ["| image | best PSNR @ step | loss ÷ estimate at best | "
            + " | ".join(f"k = {k:g}" for k in FLOORS) + " | k = 1, ungated |",
            "|---|---|---|" + "---|" * (len(FLOORS) + 1)]
    for name, rec in store.items():
        c = rec["psnr_curve"]
        b = int(np.argmax(c))
        at_best = np.mean(rec["loss"][max(0, b - 49):b + 1]) / rec["noise_variance"]
        cells = []
        for k, gated in [(k, True) for k in FLOORS] + [(1.0, False)]:
            s = replay(rec, k, gated)
            cells.append(f"{c[s - 1]:.2f} @ {s}")
        rows.append(f"| {name} | {c[b]:.2f} @ {b + 1} | {at_best:.2f} | " + " | ".join(cells) + " |")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "stop-floor.json")
    args = ap.parse_args(argv)
    store = json.loads(args.out.read_text()) if args.out.exists() else {}
    for name, (clean, iterations) in cases().items():
        if name in store:
            continue
        print(f"[run ] {name}", flush=True)
        rec = run_case(clean, iterations)
        rec["config"]["stop_patience_fast"] = 200  # the fast preset's patience, replayed
        store[name] = rec
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(store))
    print("\n".join(table(store)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
