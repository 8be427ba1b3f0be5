"""Which output should the automatic stop return? Replays stopping rules on recorded outputs.

Runs one fixed-length fast-preset denoising fit on a 96×96 crop of a bundled image (Gaussian noise
σ = 25), records every raw network output and the PSNR of the averaged output, then replays the
windowed-moving-variance rule offline for several windows and patiences, and reports the PSNR of

* ``minimum``: the averaged output at the variance minimum (ES-WMV as published), and
* ``average``: the averaged output when the rule fires (the engine's default ``stop_output``),

against the best PSNR seen during the run. Usage::

    python benchmarks/stop_rule.py [--image camera|astronaut] [--iterations 1500]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from skimage import data

from napari_dip.core import degrade, operators
from napari_dip.core import fit as fitmod
from napari_dip.core.config import Config


class _Recorder:
    """A stopping rule that never stops and keeps every raw output."""

    name = "record"
    metric = float("nan")
    best_iteration = 0
    best_output = None

    def __init__(self) -> None:
        self.outputs: list[np.ndarray] = []

    def update(self, iteration, output, candidate) -> bool:
        self.outputs.append(output[0].float().cpu().numpy().ravel().copy())
        return False


def windowed_variance(x: np.ndarray, window: int) -> np.ndarray:
    cs = np.cumsum(np.vstack([np.zeros(x.shape[1]), x]), 0)
    cs2 = np.cumsum(np.vstack([np.zeros(x.shape[1]), x**2]), 0)
    v = np.full(len(x), np.nan)
    for t in range(window - 1, len(x)):
        m = (cs[t + 1] - cs[t + 1 - window]) / window
        v[t] = ((cs2[t + 1] - cs2[t + 1 - window]) / window - m**2).mean()
    return v


def replay(v: np.ndarray, patience: int, min_iterations: int = 100) -> tuple[int, int | None]:
    best, best_it = np.inf, 0
    for t, val in enumerate(v):
        it = t + 1
        if np.isnan(val) or it < min_iterations:
            continue
        if val < best:
            best, best_it = val, it
        if it - best_it >= patience:
            return best_it, it
    return best_it, None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default="camera", choices=["camera", "astronaut"])
    ap.add_argument("--iterations", type=int, default=1500)
    args = ap.parse_args()
    clean = data.camera()[100:196, 100:196] if args.image == "camera" else \
        data.astronaut()[30:126, 150:246]
    noisy = np.clip(np.rint(degrade.gaussian_noise(clean, 25, seed=1)), 0, 255).astype(np.uint8)

    def chw(a):
        a = a.astype(np.float32) / 255
        return torch.from_numpy(a[None, None] if a.ndim == 2 else np.moveaxis(a, -1, 0)[None])

    y, ref = chw(noisy), chw(clean)
    rec = _Recorder()
    original = fitmod.make_stopping_rule
    fitmod.make_stopping_rule = lambda *a: rec
    try:
        cfg = Config.preset("fast", "denoise", stop="fixed", iterations=args.iterations)
        problem = fitmod.Problem(operators.DataFidelity(operators.Identity(), y), y.shape[1],
                                 tuple(y.shape[-2:]), reference=ref)
        res = fitmod.run(problem, cfg)
    finally:
        fitmod.make_stopping_rule = original
    psnr = np.array(res.history["psnr"])
    raw = np.array(rec.outputs, dtype=np.float64)
    print(f"{args.image}: best PSNR of the averaged output {psnr.max():.2f} dB at iteration "
          f"{int(psnr.argmax()) + 1}")
    print("| window | patience | variance min | PSNR there (minimum) | fires at | PSNR there (average) |")
    print("|---|---|---|---|---|---|")
    for window in (25, 50, 100):
        v = windowed_variance(raw, window)
        for patience in (100, 150, 200, 300):
            at_min, fired = replay(v, patience)
            if fired is None:
                print(f"| {window} | {patience} | {at_min} | {psnr[at_min - 1]:.2f} | never | - |")
                continue
            print(f"| {window} | {patience} | {at_min} | {psnr[at_min - 1]:.2f} | {fired} | "
                  f"{psnr[fired - 1]:.2f} |")


if __name__ == "__main__":
    main()
