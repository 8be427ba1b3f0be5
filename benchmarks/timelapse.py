"""Warm start on a time-lapse: restoring frames independently vs from the previous frame's network.

    python benchmarks/timelapse.py [--quick] [--frames 20] [--size 128] [--sigma 25] [--seed 0]
        [--modes independent,warm,warm+temporal] [--temporal-weight 1.0] [--device cpu]
        [--set KEY=VALUE ...] [--out benchmarks/results/timelapse.json]

The time-lapse is synthetic (``napari_dip.core.stacks.synthetic_timelapse``): scikit-image's
``camera`` scene as a static background with a textured disc that drifts and turns a little every
frame, plus seeded Gaussian noise (σ = 25 of 255 by default) drawn afresh for every frame. Each mode
denoises the whole stack with the ``fast`` preset through ``restore_iter``:

- ``independent``: every frame from scratch (``warm_start=False``);
- ``warm``: every frame after the first starts from the previous frame's weights, input code and
  output and stops by the warm-start rule (``warm_min_iterations``, ``warm_stop_patience``);
- ``warm+temporal``: warm, plus the anti-flicker term (``temporal_weight``).

Reported per mode: total seconds, average PSNR over frames (dB, against the clean frames),
iterations per frame, and flicker (mean absolute frame-to-frame difference on the pixels the disc
never touches, 0–255 units; the clean stack scores 0). The target of issue 6: warm start at least
3× faster than independent at equal average PSNR (within 0.2 dB).

``--quick`` checks the script end to end in seconds (4 frames of 32×32, tiny network, short budget);
its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from common import clean_float, machine_info, now, parse_overrides

MODES = ("independent", "warm", "warm+temporal")


def run_mode(mode: str, noisy: np.ndarray, clean: np.ndarray, static: np.ndarray, settings: dict,
             temporal_weight: float) -> dict:
    from napari_dip.api import restore_iter
    from napari_dip.core.stacks import flicker, psnr_per_frame

    kw = dict(settings)
    if mode == "warm+temporal":
        kw["temporal_weight"] = temporal_weight
    t0 = time.perf_counter()
    gen = restore_iter("denoise", noisy, warm_start=mode != "independent", **kw)
    while True:
        try:
            p = next(gen)
            if p.iteration == 1:
                print(f"  {mode}: frame {p.plane + 1}/{p.n_planes}", file=sys.stderr, flush=True)
        except StopIteration as done:
            result = done.value
            break
    seconds = time.perf_counter() - t0
    out = result.image
    psnrs = psnr_per_frame(clean, out)
    its = [p.iterations_run for p in result.planes]
    return {"mode": mode, "seconds": clean_float(seconds, 2), "psnr_mean": clean_float(np.mean(psnrs)),
            "psnr_per_frame": [clean_float(v, 3) for v in psnrs],
            "iterations_per_frame": its, "iterations_mean": clean_float(np.mean(its), 1),
            "iterations_after_first": clean_float(np.mean(its[1:]) if len(its) > 1 else its[0], 1),
            "stopped_at": [p.stopped_at for p in result.planes],
            "flicker": clean_float(flicker(out, static), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny end-to-end check (numbers meaningless)")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--sigma", type=float, default=25.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--temporal-weight", type=float, default=1.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--set", action="append", metavar="KEY=VALUE", help="settings for every mode")
    ap.add_argument("--out", default="benchmarks/results/timelapse.json")
    args = ap.parse_args(argv)

    from napari_dip.core.stacks import flicker, synthetic_timelapse

    settings: dict = {"preset": "fast", "device": args.device, "seed": args.seed}
    frames, size = args.frames, args.size
    if args.quick:
        frames, size = min(frames, 4), 32
        settings.update(channels=(8, 8, 8), skip_channels=(2, 2, 2), input_channels=4,
                        iterations=60, stop_window=10, stop_patience=20, min_iterations=10,
                        warm_stop_patience=10)
    settings.update(parse_overrides(args.set))
    clean, noisy, static = synthetic_timelapse(frames, size, args.sigma, args.seed)
    modes = [m for m in args.modes.split(",") if m]
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        ap.error(f"unknown mode(s) {unknown}; choose from {MODES}")

    records = []
    for mode in modes:
        rec = run_mode(mode, noisy, clean, static, settings, args.temporal_weight)
        records.append(rec)
    base = next((r for r in records if r["mode"] == "independent"), None)
    for r in records:
        if base is not None:
            r["speedup"] = clean_float(base["seconds"] / max(r["seconds"], 1e-9), 2)
            r["psnr_delta_db"] = clean_float(r["psnr_mean"] - base["psnr_mean"], 3)

    noisy_psnr = float(np.mean([10 * np.log10(255.0 ** 2 / np.mean((clean[i] - noisy[i]) ** 2))
                                for i in range(frames)]))
    print(f"\nTime-lapse: {frames} frames of {size}×{size}, σ = {args.sigma:g}; noisy input "
          f"{noisy_psnr:.2f} dB, flicker {flicker(noisy, static):.2f}; static pixels "
          f"{100 * static.mean():.0f}%")
    head = f"{'mode':<15}{'seconds':>9}{'speed-up':>10}{'PSNR dB':>9}{'Δ dB':>7}{'it/frame':>10}" \
           f"{'it (2nd+)':>10}{'flicker':>9}"
    print(head)
    print("-" * len(head))
    for r in records:
        print(f"{r['mode']:<15}{r['seconds']:>9.1f}{r.get('speedup') or float('nan'):>10.2f}"
              f"{r['psnr_mean']:>9.2f}{r.get('psnr_delta_db') or 0.0:>7.2f}{r['iterations_mean']:>10.0f}"
              f"{r['iterations_after_first']:>10.0f}{r['flicker']:>9.2f}")
    warm = next((r for r in records if r["mode"] == "warm"), None)
    target = None
    if base is not None and warm is not None:
        target = bool(warm["speedup"] >= 3 and warm["psnr_delta_db"] >= -0.2)
        print(f"\nTarget (warm ≥ 3× faster, PSNR within 0.2 dB): {'met' if target else 'NOT met'} "
              f"({warm['speedup']:.2f}×, {warm['psnr_delta_db']:+.2f} dB)")
    out = {"benchmark": "timelapse", "date": now(), "quick": args.quick, "frames": frames,
           "size": size, "sigma": args.sigma, "seed": args.seed, "settings": settings,
           "temporal_weight": args.temporal_weight, "noisy_psnr": clean_float(noisy_psnr),
           "noisy_flicker": clean_float(flicker(noisy, static), 3),
           "static_fraction": clean_float(float(static.mean()), 3), "target_met": target,
           "machine": machine_info(args.device), "records": records}
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=str))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
