"""Levers of issue 5 measured on whole paper images or crops of them: one long run per setting.

    python benchmarks/levers.py run NAME[,NAME...] --data ../shared/data/dip-paper
    python benchmarks/levers.py list
    python benchmarks/levers.py report

Each named setting is a change against a pinned base, the fast denoising preset as it was on
2026-11-25 (4 skip channels, tiles only above 1024 px, jitter halved from 256² up), so a record
stays what it says after the preset moves on. A run records the whole-plane PSNR of the averaged
output every 20 iterations (for a tiled plane, from every tile's error: tiles advance together),
the final PSNR of the returned image against the clean one, the wall-clock time and the seconds
per iteration, in ``benchmarks/results/levers.json``. ``tune.py`` tunes on scikit-image images;
these runs check on the paper's own images what the tuning could not see (whole 512² planes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from common import ResultStore, clean_float, machine_info, now

# the fast denoising preset of 2026-11-25, pinned
BASE = {"skip_channels": (4,) * 5, "tile": 1024, "tile_overlap": 64, "reg_noise_pixels": 128 * 128,
        "reg_noise_floor": 0.5, "reg_noise_ramp": (0, 0, 1.0), "iterations": 2000,
        "stop_noise_floor": 1.0}
RAMP = {"reg_noise_pixels": 0, "reg_noise_ramp": (300, 900, 0.5)}  # jitter 1/30, begun at half
LEVERS: dict[str, dict] = {
    # name: image [crop y0:y1:x0:x1], change against BASE (fixed budgets: the curve is the point)
    "F16-untiled-ramp": {"image": "F16", "set": {**RAMP, "stop": "fixed", "iterations": 2400,
                                                 "channels_last": False}},
    "F16-tiles288-ramp": {"image": "F16", "set": {**RAMP, "tile": 288, "tile_overlap": 32,
                                                  "stop": "fixed", "iterations": 2000,
                                                  "channels_last": False}},
    "F16crop256-ramp": {"image": "F16", "crop": (0, 256, 0, 256),
                        "set": {**RAMP, "stop": "fixed", "iterations": 2400}},
    "F16crop256-tiles144-ramp": {"image": "F16", "crop": (0, 256, 0, 256),
                                 "set": {**RAMP, "tile": 144, "tile_overlap": 16, "stop": "fixed",
                                         "iterations": 2400}},
}
MARKS = (400, 800, 1200, 1600, 2000, 2400)


def load(data: Path, lever: dict) -> tuple[np.ndarray, np.ndarray]:
    from skimage.io import imread

    folder = data / "denoise-sigma25"
    clean = imread(folder / f"{lever['image']}_GT.png")[..., :3]
    noisy = imread(folder / f"{lever['image']}_noisy.png")[..., :3]
    if "crop" in lever:
        y0, y1, x0, x1 = lever["crop"]
        clean, noisy = clean[y0:y1, x0:x1], noisy[y0:y1, x0:x1]
    return clean, noisy


def run_one(data: Path, lever: dict) -> dict:
    from napari_dip.api import restore_iter
    from napari_dip.core.fit import drain
    from napari_dip.core.metrics import psnr

    clean, noisy = load(data, lever)
    # a tiled plane reports its (blended) PSNR on the rounds with a preview
    settings = {**BASE, **lever["set"], "preview_every": 20, "ssim_every": 10**9}
    gen = restore_iter("denoise", noisy, reference=clean, preset="fast", **settings)
    curve: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    result = drain(gen, lambda p: curve.append((p.iteration, p.psnr))
                   if p.iteration % 20 == 0 and p.psnr is not None else None)
    wall = time.perf_counter() - t0
    final = psnr(clean, np.clip(result.image, 0, 255), data_range=255.0)
    # the reports' PSNR is in the engine's normalised units: shift it onto the 0-255 scale
    shift = final - curve[-1][1] if curve and curve[-1][0] == result.iterations_run else 0.0
    rounds = max(f.iterations_run for f in result.planes)
    return {"psnr": clean_float(final, 3), "tiles": len(result.planes),
            "curve": [[it, clean_float(v + shift, 3)] for it, v in curve],
            "seconds": clean_float(wall, 1), "seconds_per_iteration": clean_float(wall / rounds, 4),
            "config": result.config.to_dict(),
            "machine": machine_info(result.planes[0].device, result.planes[0].precision)}


def table(store: dict) -> list[str]:
    rows = ["| setting | image | tiles | " + " | ".join(f"@{m}" for m in MARKS)
            + " | best @ it | returned | time | s/it (whole plane) |",
            "|---|---|---|" + "---|" * len(MARKS) + "---|---|---|---|"]
    for r in store["records"]:
        at = {int(i): v for i, v in r["curve"]}
        crop = r.get("crop")
        img = r["image"] + (f" [{crop[0]}:{crop[1]}, {crop[2]}:{crop[3]}]" if crop else "")
        marks = " | ".join(f"{at[m]:.2f}" if at.get(m) is not None else "–" for m in MARKS)
        best = max(r["curve"], key=lambda c: c[1])
        rows.append(f"| {r['lever']} | {img} | {r['tiles']} | {marks} | {best[1]:.2f} @ {best[0]} | "
                    f"{r['psnr']:.2f} | {r['seconds']:.0f} s | {r['seconds_per_iteration']:.3f} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["run", "list", "report"])
    ap.add_argument("names", nargs="?", default="")
    ap.add_argument("--data", type=Path)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "levers.json")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    if args.action == "list":
        for name, lever in LEVERS.items():
            print(f"{name}: {lever}")
        return 0
    store = ResultStore(args.out, "levers")
    store.data["benchmark"] = "levers"
    if args.action == "report":
        print("\n".join(table(store.data)))
        return 0
    if args.data is None:
        ap.error("run needs --data (the dip-paper folder)")
    for name in [n for n in args.names.split(",") if n]:
        lever = LEVERS[name]
        key = {"image": lever["image"], "method": "dip", "preset": "fast", "overrides": name}
        if store.has(**key) and not args.force:
            continue
        print(f"[run ] {name}", flush=True)
        rec = run_one(args.data, lever)
        store.add({**key, "lever": name, "crop": lever.get("crop"), **rec, "timestamp": now()})
        print(f"[done] {name}: {rec['psnr']} dB, {rec['seconds']} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
