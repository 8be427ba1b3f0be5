"""Variants of the denoising preset's ``bm-wiener`` step, scored on fits already made.

    python benchmarks/refine_variants.py --outputs DIR --pilots DIR [--out ...]
    python benchmarks/refine_variants.py report

Each variant filters the same noisy image with the same network output as ``bm-wiener``'s
first pass does (``one pass``, :func:`napari_dip.core.refine.wiener_refine`) and is compared
with it, image by image: ``bm3d-window``, BM3D's own second-stage setting (32 blocks per group,
a 39×39 search window, against 16 and 33×33); ``two-pass``, the step run again with its own
output as the guide; ``two-pass-above``, the second pass only when the first changed the
pilot by more than ``REPEAT_ABOVE`` noise variances (what ``bm-wiener`` does now; the threshold
was read off the first 20 cases here, the paper's 9 and 11 crops, before rocket, brick and grass
were added). The fits are those of
``run.py SET --set refine=none --save-outputs DIR`` (``--outputs``, the paper's images) and of
``refine.py --pilots DIR`` (``--pilots``, the 11 scikit-image crops); nothing is refitted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from common import ResultStore, clean_float, now


def _variants() -> dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """Variant name → the step, given (noisy, pilot) planes (C, H, W) in [0, 1]."""
    from napari_dip.core.refine import REPEAT_ABOVE, wiener_refine

    def two_pass(noisy: np.ndarray, pilot: np.ndarray) -> np.ndarray:
        return wiener_refine(noisy, wiener_refine(noisy, pilot, grouped=True), grouped=True)

    return {"one pass": lambda n, p: wiener_refine(n, p, grouped=True),  # the baseline: first
            "bm3d-window": lambda n, p: wiener_refine(n, p, grouped=True, group=32, radius=19),
            "two-pass": two_pass,
            "two-pass-above": lambda n, p: wiener_refine(n, p, grouped=True, repeat_above=REPEAT_ABOVE)}


def cases(outputs: Path | None, pilots: Path | None):
    """(source, case name, noisy, clean, network output) for every saved fit, images as uint8-range
    arrays (H, W) or (H, W, 3)."""
    from refine import IMAGES, NOISES, make_case

    for path in sorted(outputs.glob("*.npz")) if outputs else []:
        d = np.load(path)
        set_name, image = path.stem.rsplit("-", 1)
        yield set_name, image, d["input"], d["truth"], d["output"]
    for path in sorted(pilots.glob("*@*.npz")) if pilots else []:
        image, noise = path.stem.split("@")
        noisy, clean = make_case(image, noise, 10 * IMAGES.index(image) + list(NOISES).index(noise))
        d = np.load(path)
        if not np.array_equal(d["noisy"], noisy):
            raise SystemExit(f"{path}: the cached noisy image is not this case's; refit it")
        yield "scikit-image crops", path.stem, noisy, clean, d["output"]


def score(noisy: np.ndarray, clean: np.ndarray, output: np.ndarray) -> dict:
    """Each variant's PSNR (dB) and seconds on one case."""
    from napari_dip.core.metrics import psnr

    planes = lambda a: (a.transpose(2, 0, 1) if a.ndim == 3 else a[None]).astype(np.float32) / 255.0  # noqa: E731
    image_of = lambda p: 255.0 * (p.transpose(1, 2, 0) if p.shape[0] == 3 else p[0])  # noqa: E731
    rec = {}
    for name, step in _variants().items():
        t0 = time.perf_counter()
        out = np.clip(step(planes(noisy), planes(output)), 0.0, 1.0)
        rec[name] = {"psnr": clean_float(psnr(clean, image_of(out).astype(np.float64), data_range=255)),
                     "seconds": round(time.perf_counter() - t0, 2)}
    return rec


def summary(store: dict) -> list[str]:
    """One line per variant and source: its mean gain over ``bm-wiener`` and the range."""
    lines = []
    if not store["records"]:
        return []
    base, *names = store["records"][0]["variants"]
    sources = list(dict.fromkeys(r["source"] for r in store["records"]))
    for name in names:
        parts = []
        for src in [*sources, "all"]:
            g = [r["variants"][name]["psnr"] - r["variants"][base]["psnr"] for r in store["records"]
                 if src in ("all", r["source"])]
            parts.append(f"{src}: {np.mean(g):+.2f} dB over {len(g)} (from {min(g):+.2f} to {max(g):+.2f})")
        secs = np.mean([r["variants"][name]["seconds"] / r["variants"][base]["seconds"]
                        for r in store["records"]])
        lines.append(f"`{name}` against `{base}`: {'; '.join(parts)}; {secs:.1f}× its time.")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="?", default="run", choices=["run", "report"])
    ap.add_argument("--outputs", type=Path, help="folder of run.py --set refine=none --save-outputs")
    ap.add_argument("--pilots", type=Path, help="folder of refine.py --pilots")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "refine-variants.json")
    args = ap.parse_args(argv)
    if args.what == "run":
        if not (args.outputs or args.pilots):
            raise SystemExit("give --outputs and/or --pilots: folders of saved fits")
        store = ResultStore(args.out, "refine-variants")
        store.set_meta(benchmark="refine variants")
        for source, name, noisy, clean, output in cases(args.outputs, args.pilots):
            key = {"image": name, "method": "dip", "preset": "fast", "overrides": source}
            if store.has(**key):
                continue
            rec = score(noisy, clean, output)
            store.add({**key, "source": source, "variants": rec, "timestamp": now()})
            print(f"[done] {source} {name}: " + ", ".join(f"{k} {v['psnr']:.2f} dB {v['seconds']:.1f} s"
                                                         for k, v in rec.items()), flush=True)
    for line in summary(json.loads(args.out.read_text())):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
