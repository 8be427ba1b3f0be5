"""Seconds per DIP iteration against image size, network width, precision and memory layout.

    python benchmarks/microbench.py [--quick] [--out benchmarks/results/microbench.json]
        [--sizes 128,256,512,1024] [--widths 16,32,64,128] [--precisions float32,bfloat16]
        [--layouts contiguous,channels_last] [--warmup 2] [--timed 3] [--device cpu]

Each configuration runs the engine's own loop (``restore_iter``, denoising an RGB image of that size,
skip network with that width at all 5 scales, fixed stop, no reference) for ``warmup`` + ``timed``
iterations; the time of the last ``timed`` iterations is reported. Two sweeps by default:
size × width (in the fast preset's layout and precision choice) and, at 256² and 512² for widths 32
and 128, precision × layout. Records are saved as they finish; a rerun skips measured ones.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

from common import ResultStore, clean_float, machine_info, now


def synthetic_rgb(size: int, seed: int = 0) -> np.ndarray:
    """A smooth random RGB scene with noise, uint8 (the content does not change the timing)."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    x = ndi.gaussian_filter(rng.random((size, size, 3)), (size / 32, size / 32, 0))
    x = (x - x.min()) / (np.ptp(x) + 1e-12) * 200 + 20 + rng.normal(0, 25, x.shape)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def time_config(size: int, width: int, precision: str, channels_last: bool, warmup: int, timed: int,
                device: str, **overrides) -> dict:
    """Seconds per step of the timed iterations; ``overrides`` (Config fields) win over ``width``."""
    from napari_dip.api import restore_iter
    from napari_dip.core.fit import drain

    img = synthetic_rgb(size)
    kw = {"channels": (width,) * 5, **overrides}
    gen = restore_iter("denoise", img, preset="fast", stop="fixed", iterations=warmup + timed,
                       precision=precision, channels_last=channels_last,
                       preview_every=10**6, device=device, tile=0, **kw)  # the whole plane, never tiles
    marks = {}
    result = drain(gen, lambda p: marks.__setitem__(p.iteration, p.elapsed))
    first = marks[warmup] if warmup > 0 else 0.0
    per_it = (marks[warmup + timed] - first) / timed
    meta = result.metadata()
    return {"seconds_per_iteration": clean_float(per_it, 5),
            "first_iterations_s": clean_float(first, 3),
            "resolved_precision": meta["precision"],
            "machine": machine_info(meta["device"], meta["precision"])}


def plan(args) -> list[tuple[int, int, str, bool]]:
    sizes = [int(s) for s in args.sizes.split(",")]
    widths = [int(w) for w in args.widths.split(",")]
    precisions = args.precisions.split(",")
    layouts = [lay == "channels_last" for lay in args.layouts.split(",")]
    configs = [(s, w, "auto", True) for s, w in itertools.product(sizes, widths)]  # fast defaults
    psizes = [s for s in sizes if s in (256, 512)] or sizes[:1]
    pwidths = [w for w in widths if w in (32, 128)] or widths[:1]
    configs += list(itertools.product(psizes, pwidths, precisions, layouts))
    seen, out = set(), []
    for c in configs:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def label(size: int, width: int, precision: str, cl: bool) -> str:
    return f"{size}px w{width} {precision} {'channels_last' if cl else 'contiguous'}"


def print_table(records: list[dict]) -> None:
    print(f"{'size':>6} {'width':>5} {'precision':>9} {'(ran as)':>9} {'layout':>13} {'s/it':>8}")
    for r in sorted(records, key=lambda r: (r["size"], r["width"], r["precision"], r["channels_last"])):
        print(f"{r['size']:>6} {r['width']:>5} {r['precision']:>9} {r['resolved_precision']:>9} "
              f"{'channels_last' if r['channels_last'] else 'contiguous':>13} "
              f"{r['seconds_per_iteration']:>8.4f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes and widths, 1+2 iterations")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "microbench.json")
    ap.add_argument("--sizes", default="128,256,512,1024")
    ap.add_argument("--widths", default="16,32,64,128")
    ap.add_argument("--precisions", default="float32,bfloat16")
    ap.add_argument("--layouts", default="contiguous,channels_last")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--timed", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.widths, args.warmup, args.timed = "64,128", "8,16", 1, 2
        if args.out == ap.get_default("out"):
            args.out = args.out.with_name("microbench-quick.json")
    store = ResultStore(args.out, "microbench")
    store.set_meta(updated=now(), warmup=args.warmup, timed=args.timed,
                   protocol="engine loop (restore_iter) denoising a synthetic RGB image, skip net with "
                            "the given width at 5 scales, fixed stop; mean seconds of the timed "
                            "iterations after the warm-up")
    done = []
    for size, width, precision, cl in plan(args):
        key = {"image": str(size), "method": f"w{width}-{precision}-{'cl' if cl else 'contig'}",
               "preset": args.device, "iteration_cap": args.warmup + args.timed, "overrides": ""}
        if store.has(**key):
            done.append(next(r for r in store.data["records"] if all(r.get(k) == v for k, v in key.items())))
            continue
        print(f"[run ] {label(size, width, precision, cl)} ...", flush=True)
        try:
            res = time_config(size, width, precision, cl, args.warmup, args.timed, args.device)
        except KeyboardInterrupt:
            print("interrupted; finished records are saved", file=sys.stderr)
            return 130
        rec = {**key, "size": size, "width": width, "precision": precision, "channels_last": cl,
               **res, "timestamp": now()}
        store.add(rec)
        done.append(rec)
        print(f"[done] {label(size, width, precision, cl)}: {rec['seconds_per_iteration']:.4f} s/it "
              f"(ran as {rec['resolved_precision']})", flush=True)
    print_table(done)
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
