"""What inpainting's step after the fit (``refine="fill-dct"``) gives, and what it gives alone.

    python benchmarks/fill.py [--cases camera@random50,astronaut@scribble,...] [--pilots DIR] [--out ...]
    python benchmarks/fill.py saved --outputs DIR    # run.py --save-outputs DIR
    python benchmarks/fill.py report [--out ...]

The fast inpainting preset fits the network as usual; with ``refine="fill-dct"`` its output then
starts an iterated hard thresholding in a sliding 8×8 DCT with the known pixels restored after
every iteration (:func:`napari_dip.core.refine.fill_refine`). One fit per case (``refine="none"``)
gives the start, and the step is scored on it. The same step started from scikit-image's
biharmonic fill (with the higher thresholds of ``baselines.DCT_FILL_FROM_SMOOTH``) is scored
beside it: it is a classical inpainting method by itself, and the gap between the two starts is
what the network adds.

Central 256² crops of scikit-image's bundled images (not the paper's; colour ones made grey, as
the benchmark set is), with seeded masks: 50 % of the pixels missing at random (the benchmark set's
problem), random strokes 3 px wide (scratches, a painted-over defect) and text 24 px high (holes
wider than the 8 px windows: does the step harm a fill it cannot see around?). Each fit runs 3000
steps and its fill is scored at several budgets (:data:`BUDGETS`). ``--pilots DIR`` keeps the
fills, so a changed step is scored again in seconds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from common import ResultStore, clean_float, machine_info, now, step_benchmark_cli

IMAGES = ("camera", "brick", "moon", "coins", "grass", "gravel", "text", "astronaut", "coffee",
          "chelsea", "rocket", "page")
#: the crops the thresholds were chosen on (the others are held out)
TUNED_ON = ("camera", "brick", "moon", "coins", "astronaut", "rocket")
#: the network's fill is scored at these steps of one fit (a fixed budget, no learning-rate
#: schedule: the output at step N is what a run of N steps returns)
BUDGETS = (1000, 1500, 2000, 3000)
MASKS = {"random50": "50 % of the pixels missing at random",
         "scribble": "12 random strokes 3 px wide",
         "text": "text 24 px high across the crop"}
DEFAULT_CASES = [f"{i}@random50" for i in IMAGES] + ["camera@scribble", "astronaut@scribble",
                                                     "camera@text", "astronaut@text"]


def seed_of(image: str, mask: str) -> int:
    return IMAGES.index(image) + 100 * list(MASKS).index(mask)


def make_case(image: str, mask: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(masked uint8 with holes 0, known bool (H, W), clean uint8) for a grey 256² crop (colour
    images made grey, as the benchmark set is)."""
    from skimage import color, data

    from napari_dip.core import degrade

    seed = seed_of(image, mask)
    img = getattr(data, image)()
    if img.ndim == 3:
        img = np.rint(color.rgb2gray(img[..., :3]) * 255).astype(np.uint8)
    h, w = img.shape
    s = min(256, h, w)
    clean = np.ascontiguousarray(img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s])
    hw = clean.shape[:2]
    if mask == "random50":
        known = degrade.random_mask(hw, 0.5, seed=seed)
    elif mask == "scribble":
        known = degrade.scribble_mask(hw, strokes=12, width=3, seed=seed)
    elif mask == "text":
        known = degrade.text_mask(hw, size=24)
    else:
        raise ValueError(f"unknown mask {mask!r}")
    return np.where(known, clean, 0).astype(np.uint8), known, clean


def fit_pilots(image: str, mask: str, cache: Path | None) -> tuple[dict[int, np.ndarray], dict]:
    """The network's fills (0-255 float, known pixels kept) at each of :data:`BUDGETS` of one
    fast-preset fit without the step, and the fit's facts; from ``cache`` when there."""
    from napari_dip.api import restore_iter
    from napari_dip.core.fit import drain

    masked, known, _ = make_case(image, mask)
    path = None if cache is None else cache / f"{image}@{mask}.npz"
    if path is not None and path.exists():
        d = np.load(path)
        if np.array_equal(d["masked"], masked):
            return {b: d[f"it{b}"] for b in BUDGETS}, json.loads(str(d["facts"]))
    fills: dict[int, np.ndarray] = {}

    def keep(p) -> None:
        if p.preview is not None and p.iteration in BUDGETS:
            fills[p.iteration] = np.asarray(p.preview, dtype=np.float32)

    t0 = time.perf_counter()
    res = drain(restore_iter("inpaint", masked, mask=known, preset="fast", refine="none",
                             iterations=max(BUDGETS), preview_every=500), keep)
    p0 = res.planes[0]
    facts = {"seconds": round(time.perf_counter() - t0, 1), "config": res.config.to_dict(),
             "machine": machine_info(p0.device, p0.precision)}
    if path is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, masked=masked, facts=json.dumps(facts),
                            **{f"it{b}": v for b, v in fills.items()})
    return fills, facts


def score(masked: np.ndarray, known: np.ndarray, clean: np.ndarray,
          fills: dict[int, np.ndarray]) -> dict:
    """PSNR (dB, range 255) of each start (the network's fill at each budget, biharmonic) and of
    the step from it, and the steps' seconds. Grey (H, W) images."""
    from skimage.restoration import inpaint_biharmonic

    from baselines import DCT_FILL_FROM_SMOOTH
    from napari_dip.core.metrics import psnr
    from napari_dip.core.refine import FILL_THRESHOLDS, fill_refine

    db = lambda x: clean_float(psnr(clean, np.clip(x, 0, 255).astype(np.float64), data_range=255))  # noqa: E731
    rec: dict = {}
    t0 = time.perf_counter()
    bih = 255.0 * inpaint_biharmonic(masked / 255.0, ~known)
    rec["biharmonic_seconds"] = round(time.perf_counter() - t0, 2)
    starts = {f"network_{b}": (f, FILL_THRESHOLDS) for b, f in fills.items()}
    starts["biharmonic"] = (bih, DCT_FILL_FROM_SMOOTH)
    for name, (start, thresholds) in starts.items():
        start = np.where(known, masked, start.astype(np.float64).reshape(masked.shape))
        rec[f"psnr_{name}"] = db(start)
        t1 = time.perf_counter()
        out = fill_refine(masked[None] / 255.0, known[None], start[None] / 255.0, thresholds=thresholds)
        rec[f"{name}_fill_seconds"] = round(time.perf_counter() - t1, 2)
        rec[f"psnr_{name}_fill"] = db(255.0 * out[0])
    return rec


def score_saved(folder: Path, store: ResultStore) -> None:
    """The step on the fits ``run.py --save-outputs`` left in ``folder`` (SET-IMAGE.npz: input,
    truth, known, and the fill before the step as ``pilot``, or as ``output`` from a run with
    ``--set refine=none``): the sets' own fits."""
    for path in sorted(folder.glob("*.npz")):
        set_name, image = path.stem.rsplit("-", 1)
        d = np.load(path)
        if "known" not in d or "truth" not in d or d["input"].ndim != 2:
            continue
        key = {"image": image, "method": "dip", "preset": "fast", "overrides": f"saved {set_name}"}
        if store.has(**key):
            continue
        fill = d["pilot"] if "pilot" in d else d["output"]
        fills = {int(np.max(d["iterations"])) if "iterations" in d else 0: fill}
        # run.py --save-previews-at: the same fit's fills at shorter budgets
        fills.update({int(k.split("_")[1]): d[k] for k in d.files if k.startswith("preview_")})
        fills = dict(sorted(fills.items()))
        rec = score(d["input"], d["known"].astype(bool), d["truth"], fills)
        store.add({**key, "mask": set_name, **rec, "timestamp": now()})
        print(f"[done] {set_name} {image}: " + describe(rec), flush=True)


def _budgets(rec: dict) -> list[int]:
    return sorted(int(k.split("_")[2]) for k in rec if k.startswith("psnr_network_")
                  and not k.endswith("_fill"))


def describe(rec: dict) -> str:
    parts = [f"network@{b} {rec[f'psnr_network_{b}']} -> {rec[f'psnr_network_{b}_fill']}"
             for b in _budgets(rec)]
    parts.append(f"biharmonic {rec['psnr_biharmonic']} -> {rec['psnr_biharmonic_fill']} dB")
    return "; ".join(parts)


def header(budgets: list[int]) -> list[str]:
    return ["image", "mask", *[f"network @{b} → + fill-dct" for b in budgets],
            "biharmonic → + fill-dct", "step (s)"]


def rows(recs: list[dict], budgets: list[int]) -> list[list[str]]:
    out = []
    for r in recs:
        cells = [f"{r[f'psnr_network_{b}']:.2f} → {r[f'psnr_network_{b}_fill']:.2f}"
                 if f"psnr_network_{b}" in r else "–" for b in budgets]
        step = next((r[k] for k in r if k.startswith("network_") and k.endswith("_fill_seconds")),
                    r["biharmonic_fill_seconds"])
        out.append([r["image"], r["mask"], *cells,
                    f"{r['psnr_biharmonic']:.2f} → {r['psnr_biharmonic_fill']:.2f}", f"{step:.2f}"])
    return out


def summary(recs: list[dict], images: tuple[str, ...] | None = None) -> list[str]:
    """Mean PSNR per start and budget, by mask (and, for random50, tuned-on against held out)."""
    out = []
    groups: dict[str, list[dict]] = {}
    for r in recs:
        groups.setdefault(r["mask"], []).append(r)
        if r["mask"] == "random50" and images is not None:
            groups.setdefault("random50, " + ("crops the thresholds were chosen on" if r["image"] in images
                                              else "held-out crops"), []).append(r)
    for name, rs in groups.items():
        budgets = sorted(set.intersection(*[set(_budgets(r)) for r in rs]))
        def mean(k: str, rs: list[dict] = rs) -> float:
            return float(np.mean([r[k] for r in rs]))

        parts = [f"network @{b} {mean(f'psnr_network_{b}'):.2f} → {mean(f'psnr_network_{b}_fill'):.2f}"
                 for b in budgets]
        out.append(f"{MASKS.get(name, name)} ({len(rs)}): " + "; ".join(
            [*parts, f"biharmonic {mean('psnr_biharmonic'):.2f} → {mean('psnr_biharmonic_fill'):.2f} dB"]))
    return out


def report(path: Path) -> None:
    recs = json.loads(path.read_text())["records"]
    budgets = sorted({b for r in recs for b in _budgets(r)})
    print(" | ".join(header(budgets)))
    for row in rows(recs, budgets):
        print(" | ".join(row))
    for line in summary(recs, TUNED_ON):
        print(line)


def main(argv: list[str] | None = None) -> int:
    cli = step_benchmark_cli(argv, __doc__, "fill", cases_default=",".join(DEFAULT_CASES),
                             cases_help="comma-separated image@mask, e.g. camera@random50,astronaut@text",
                             score_saved=score_saved, report=report)
    if cli is None:
        return 0
    args, store = cli
    store.set_meta(benchmark="fill-dct", size=256, budgets=list(BUDGETS))
    for case in args.cases.split(","):
        image, mask = case.split("@")
        if image not in IMAGES or mask not in MASKS:
            raise SystemExit(f"unknown case {case!r}: images {IMAGES}, masks {tuple(MASKS)}")
        key = {"image": image, "method": "dip", "preset": "fast", "overrides": mask}
        if store.has(**key):
            continue
        print(f"[run ] {case}", flush=True)
        masked, known, clean = make_case(image, mask)
        fills, facts = fit_pilots(image, mask, args.pilots)
        rec = {**score(masked, known, clean, fills), **facts}
        store.add({**key, "mask": mask, **rec, "timestamp": now()})
        print(f"[done] {case}: " + describe(rec), flush=True)
    report(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
