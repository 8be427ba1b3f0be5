"""Seconds and FLOPs per DIP step for networks whose width differs between scales.

    python benchmarks/scale_widths.py [--size 288] [--repeats 3] [--warmup 3] [--timed 15]
        [--out benchmarks/results/scale-widths.json]

The finest (full-resolution) scale of the skip network does most of the arithmetic, so a narrower
finest scale cuts the FLOPs of a step roughly in half. Whether that buys time depends on whether a
step is bound by arithmetic or by memory traffic; this script measures it. Each profile runs the
engine's own loop (``restore_iter``, fast preset, denoising a synthetic RGB image of ``size``², one
plane, fixed stop) ``repeats`` times, interleaved so that drifts of a shared CPU hit every profile
alike; the minimum and median of the mean seconds of the timed steps are reported, with the
forward-and-backward FLOPs counted by ``torch.utils.flop_counter``. Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from common import ResultStore, clean_float, now
from microbench import time_config

PROFILES: dict[str, dict] = {
    "preset": {},
    "fine16": {"channels": (16, 32, 32, 32, 32), "skip_channels": (8, 16, 16, 16, 16)},
    "fine16w48": {"channels": (16, 48, 48, 48, 48), "skip_channels": (8, 16, 16, 16, 16)},
}


def step_flops(size: int, overrides: dict) -> float:
    """Forward + backward FLOPs of one step of the fast denoising network on a size² RGB image."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from napari_dip.core.config import Config
    from napari_dip.core.networks import Generator

    cfg = Config.preset("fast", "denoise", **overrides)
    net = Generator(cfg.network_spec, 3, (size, size))
    z = torch.rand(1, net.in_channels, size, size)
    with FlopCounterMode(display=False) as counter:
        net(z).square().mean().backward()
    return float(counter.get_total_flops())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=288)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--timed", type=int, default=15)
    ap.add_argument("--profiles", default=",".join(PROFILES))
    ap.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "scale-widths.json")
    args = ap.parse_args(argv)
    names = args.profiles.split(",")
    unknown = [n for n in names if n not in PROFILES]
    if unknown:
        ap.error(f"unknown profile(s) {unknown}; choose from {sorted(PROFILES)}")
    times: dict[str, list[float]] = {n: [] for n in names}
    machine: dict = {}
    for rep in range(args.repeats):
        for n in names:
            res = time_config(args.size, 32, "auto", True, args.warmup, args.timed, args.device,
                              **PROFILES[n])
            t, machine = res["seconds_per_iteration"], res["machine"]
            times[n].append(t)
            print(f"[rep {rep + 1}] {n}: {t:.4f} s/step", flush=True)
    store = ResultStore(args.out, "scale-widths")
    store.set_meta(benchmark="scale-widths", updated=now(), size=args.size, warmup=args.warmup,
                   timed=args.timed, repeats=args.repeats)
    base = min(times[names[0]])
    print(f"\n{'profile':>10} {'GFLOP/step':>10} {'min s/step':>10} {'median':>8} {'speed-up':>8}")
    for n in names:
        gf = step_flops(args.size, PROFILES[n]) / 1e9
        rec = {"image": f"{args.size}px", "method": n, "preset": "fast", "iteration_cap": None,
               "overrides": repr(PROFILES[n]), "gflop_per_step": clean_float(gf, 2),
               "seconds_per_step": [clean_float(t, 5) for t in times[n]],
               "seconds_per_step_min": clean_float(min(times[n]), 5),
               "machine": machine, "timestamp": now()}
        store.add(rec)
        print(f"{n:>10} {gf:>10.2f} {min(times[n]):>10.4f} {statistics.median(times[n]):>8.4f} "
              f"{base / min(times[n]):>7.2f}x")
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
