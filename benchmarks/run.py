"""Run one benchmark set with the DIP engine and the classical baselines; write resumable JSON.

    python benchmarks/run.py SET --data /path/to/dip-paper [--preset fast|paper]
        [--out benchmarks/results/SET-PRESET.json] [--images a,b] [--max-iterations N]
        [--set KEY=VALUE ...] [--no-baselines] [--no-dip] [--history-every 10]

Sets: denoise-sigma25, inpaint-50pct, sr-x4-set5, text-inpainting, deblur-gauss2, fusion-multifocus.
Every finished (image, method, preset, iteration cap, overrides) record is written at once; a rerun
with the same file skips the records it already holds. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import baselines as bl
from common import (
    ResultStore,
    clean_float,
    load_image,
    machine_info,
    now,
    overrides_key,
    parse_overrides,
    thin_history,
)
from fusion_metrics import fusion_scores
from published import PUBLISHED

SETS = ("denoise-sigma25", "inpaint-50pct", "sr-x4-set5", "text-inpainting", "deblur-gauss2",
        "fusion-multifocus")

PROTOCOLS = {
    "denoise-sigma25": "The paper's noisy inputs (sigma 25, clipped). PSNR over all RGB pixels, range 255 "
                       "(= range 1 on [0, 1] images), of the float output clipped to [0, 255].",
    "inpaint-50pct": "The paper's masked inputs; known mask = input != 0. PSNR on the whole image, "
                     "range 255.",
    "sr-x4-set5": "HR centre-cropped to a multiple of 32; LR = PIL Image.LANCZOS resize to 1/4. Output "
                  "clipped and rounded to uint8; PSNR on BT.601 luminance (16-235) with a 4-pixel border "
                  "crop; SSIM on the same luminance and crop.",
    "text-inpainting": "kate.png with the holes of kate_mask.png (255 = known) zeroed; PSNR on the whole "
                       "RGB image, range 255.",
    "deblur-gauss2": "denoise-sigma25 clean images convolved with a Gaussian PSF (sigma 2 px, 13x13, "
                     "reflected borders), rounded to uint8, plus Gaussian noise sigma 5 (seed = crc32 "
                     "of the image name), clipped and rounded to uint8. PSNR/SSIM against the clean "
                     "image, range 255.",
    "fusion-multifocus": "Multi-focus pairs from the denoise-sigma25 clean images: source a is sharp "
                         "inside a centred ellipse (semi-axes 0.35 H, 0.35 W; edge softened by a "
                         "Gaussian of sigma 2 px) and blurred (Gaussian, sigma 3 px) outside; source "
                         "b the opposite; both rounded to uint8. Plus one two-modality pair "
                         "('camera-modality', from skimage.data.camera(), 512x512): a 'structure' "
                         "source 128 + 1.5 (x - G_4 x) (edges and texture, no regional intensity) and "
                         "an 'intensity' source: the image split into 4 classes by multi-Otsu, each "
                         "class painted with its mean, smoothed by a Gaussian of sigma 2 px. PSNR/SSIM "
                         "against the clean image (for the modality pair also PSNR after a least-"
                         "squares gain and offset, psnr_fit, since any fused intensity scale is "
                         "legitimate there). Plus the plugin's two-modality sample ('ihc-stains': "
                         "hematoxylin and DAB stains of skimage.data.immunohistochemistry(), 192x192, "
                         "noise sigma 6, as napari_dip._napari.sample_data makes it), which has no "
                         "ground truth. Reference-free Q^AB/F, MI(F,A)+MI(F,B) and entropy on "
                         "the luminance of the output clipped to [0, 255].",
}

DENOISE_NAMES = ("F16", "baboon", "hill", "kodim01", "kodim02", "kodim03", "kodim12", "lena", "peppers")
INPAINT_NAMES = ("barbara", "boat", "house", "Lena512", "peppers256", "Cameraman256", "couple",
                 "fingerprint", "hill", "man", "montage")
SR_NAMES = ("baby", "bird", "butterfly", "head", "woman")
MODALITY = "camera-modality"
SAMPLE_PAIR = "ihc-stains"  # the plugin's two-modality sample: no ground truth, reference-free scores only
SR_FACTOR = 4
DEBLUR_SIGMA = 2.0
DEBLUR_NOISE = 5.0
# The README's recipe for text inpainting with the original code, which the engine's generic "paper"
# inpainting preset does not encode: applied on top of preset "paper" for that set (a --set wins).
PAPER_SET_OVERRIDES = {"text-inpainting": {"skip_channels": (128,) * 5, "upsample": "nearest",
                                           "iterations": 6000}}


@dataclass
class Case:
    """One benchmark image: the engine call's arguments, the truth and the scoring rule."""

    name: str
    task: str  # engine task: denoise, inpaint, sr, deblur, fuse
    image: np.ndarray
    truth: np.ndarray | None
    kwargs: dict[str, Any] = field(default_factory=dict)  # extra restore_iter arguments
    score: Callable[[np.ndarray], dict[str, Any]] | None = None
    baselines: dict[str, Callable[[], np.ndarray]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# scoring


def score_plain(truth: np.ndarray) -> Callable[[np.ndarray], dict[str, Any]]:
    from napari_dip.core.metrics import psnr, ssim

    def score(out: np.ndarray) -> dict[str, Any]:
        o = np.clip(np.asarray(out, dtype=np.float64), 0, 255)
        ca = -1 if truth.ndim == 3 else None
        return {"psnr": clean_float(psnr(truth, o, data_range=255.0)),
                "ssim": clean_float(ssim(truth, o, data_range=255.0, channel_axis=ca))}

    return score


def score_inpaint(truth: np.ndarray, known: np.ndarray) -> Callable[[np.ndarray], dict[str, Any]]:
    """The protocol's PSNR, plus one that leaves out clean pixels of value 0 where the protocol's
    mask (``masked != 0``) wrongly calls them missing: peppers256's black first row and column
    (511 px) are lost to every method and cap its PSNR near 26 dB (perfect elsewhere)."""
    plain = score_plain(truth)
    lost = (truth == 0) & ~known

    def score(out: np.ndarray) -> dict[str, Any]:
        res = plain(out)
        if lost.any():
            from napari_dip.core.metrics import psnr

            keep = ~lost
            o = np.clip(np.asarray(out, dtype=np.float64), 0, 255)
            res["psnr_excl_lost_zeros"] = clean_float(psnr(truth[keep], o[keep], data_range=255.0))
            res["lost_zero_pixels"] = int(lost.sum())
        return res

    return score


def score_sr(truth: np.ndarray) -> Callable[[np.ndarray], dict[str, Any]]:
    from napari_dip.core.metrics import psnr_y, rgb_to_y, ssim

    b = 4

    def score(out: np.ndarray) -> dict[str, Any]:
        o = np.clip(np.rint(np.asarray(out, dtype=np.float64)), 0, 255)
        ty, oy = (rgb_to_y(x) if x.ndim == 3 else x.astype(np.float64) for x in (truth, o))
        s = ssim(ty[b:-b, b:-b], oy[b:-b, b:-b], data_range=255.0)
        return {"psnr": clean_float(psnr_y(truth, o, border=b)), "ssim": clean_float(s)}

    return score


def score_fusion(truth: np.ndarray | None, a: np.ndarray, b: np.ndarray, fit: bool):
    plain = score_plain(truth) if truth is not None else (lambda out: {"psnr": None, "ssim": None})

    def score(out: np.ndarray) -> dict[str, Any]:
        res = plain(out)
        o = np.clip(np.asarray(out, dtype=np.float64), 0, 255)
        res.update(fusion_scores(a, b, o))
        if fit:
            from napari_dip.core.metrics import psnr

            x = o.ravel()
            design = np.stack([x, np.ones_like(x)], 1)
            coef, *_ = np.linalg.lstsq(design, truth.astype(np.float64).ravel(), rcond=None)
            res["psnr_fit"] = clean_float(psnr(truth, (design @ coef).reshape(o.shape), 255.0))
        return res

    return score


# ----------------------------------------------------------------------------------------------
# sets


def _names(all_names, wanted: list[str] | None) -> list[str]:
    if not wanted:
        return list(all_names)
    unknown = [w for w in wanted if w not in all_names]
    if unknown:
        raise SystemExit(f"Unknown image(s) {unknown}; this set has {list(all_names)}.")
    return [n for n in all_names if n in wanted]


def _float01(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) / 255.0


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def denoise_cases(data: Path, names) -> Iterator[Case]:
    for n in _names(DENOISE_NAMES, names):
        noisy = load_image(data / "denoise-sigma25" / f"{n}_noisy.png")
        gt = load_image(data / "denoise-sigma25" / f"{n}_GT.png")
        x = _float01(noisy)
        base = {k: (lambda f=f, x=x: 255 * f(x)) for k, f in bl.DENOISERS.items()}
        if bl.bm3d_available():
            base["bm3d"] = lambda x=x: 255 * bl.bm3d(x, 25 / 255)
        yield Case(n, "denoise", noisy, gt, score=score_plain(gt), baselines=base)


def inpaint_cases(data: Path, names) -> Iterator[Case]:
    for n in _names(INPAINT_NAMES, names):
        masked = load_image(data / "inpaint-50pct" / f"{n}_masked.png")
        gt = load_image(data / "inpaint-50pct" / f"{n}_GT.png")
        known = masked != 0
        base = {"biharmonic": lambda m=masked, k=known: 255 * bl.biharmonic(_float01(m), k),
                "dct-fill": lambda m=masked, k=known: 255 * bl.dct_fill(_float01(m), k)}
        yield Case(n, "inpaint", masked, gt, {"mask": known}, score_inpaint(gt, known), base,
                   {"known_fraction": round(float(known.mean()), 4)})


def sr_lowres(hr: np.ndarray, factor: int = SR_FACTOR) -> tuple[np.ndarray, np.ndarray]:
    """The reference implementation's protocol: centre crop to a multiple of 32, PIL Lanczos down."""
    from PIL import Image

    h, w = hr.shape[:2]
    ch, cw = h - h % 32, w - w % 32
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = hr[top:top + ch, left:left + cw]
    lr = Image.fromarray(crop).resize((cw // factor, ch // factor), Image.LANCZOS)
    return crop, np.asarray(lr)


def sr_cases(data: Path, names) -> Iterator[Case]:
    for n in _names(SR_NAMES, names):
        hr = load_image(data / "sr-x4-set5" / f"{n}_GT.png")
        crop, lr = sr_lowres(hr)
        base = {m: (lambda m=m, lr=lr, s=crop.shape[:2]: bl.pil_upsample(lr, s, m).astype(np.float64))
                for m in ("bicubic", "lanczos")}
        yield Case(n, "sr", lr, crop, {"factor": SR_FACTOR, "kernel": "lanczos2"}, score_sr(crop), base,
                   {"hr_crop": list(crop.shape), "lr_shape": list(lr.shape)})


def text_cases(data: Path, names) -> Iterator[Case]:
    for n in _names(("kate",), names):
        img = load_image(data / "text-inpainting" / "kate.png")
        m = load_image(data / "text-inpainting" / "kate_mask.png")
        known = (m if m.ndim == 2 else m[..., 0]) > 127
        holed = img * known[..., None].astype(np.uint8) if img.ndim == 3 else img * known
        base = {"biharmonic": lambda h=holed, k=known: 255 * bl.biharmonic(_float01(h), k),
                "dct-fill": lambda h=holed, k=known: 255 * bl.dct_fill(_float01(h), k)}
        yield Case(n, "inpaint", holed, img, {"mask": known}, score_plain(img), base,
                   {"hole_fraction": round(1 - float(known.mean()), 4)})


def blurred_input(gt: np.ndarray, name: str) -> np.ndarray:
    from napari_dip.core.degrade import blur, gaussian_noise

    blurred = _u8(blur(gt, sigma=DEBLUR_SIGMA))
    return _u8(gaussian_noise(blurred, DEBLUR_NOISE, seed=zlib.crc32(name.encode()) & 0xFFFF))


def deblur_cases(data: Path, names) -> Iterator[Case]:
    from napari_dip.core.operators import gaussian_psf

    psf = gaussian_psf(DEBLUR_SIGMA).astype(np.float64)
    for n in _names(DENOISE_NAMES, names):
        gt = load_image(data / "denoise-sigma25" / f"{n}_GT.png")
        y = blurred_input(gt, n)
        base = {k: (lambda f=f, y=y: 255 * f(_float01(y), psf)) for k, f in bl.DEBLURRERS.items()}
        yield Case(n, "deblur", y, gt, {"psf": DEBLUR_SIGMA}, score_plain(gt), base,
                   {"psf_sigma": DEBLUR_SIGMA, "noise_sigma": DEBLUR_NOISE})


def multifocus_pair(gt: np.ndarray, blur_sigma: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    from scipy import ndimage as ndi

    h, w = gt.shape[:2]
    yy, xx = np.mgrid[:h, :w]
    inside = (((yy - (h - 1) / 2) / (0.35 * h)) ** 2 + ((xx - (w - 1) / 2) / (0.35 * w)) ** 2) <= 1
    m = ndi.gaussian_filter(inside.astype(np.float64), 2.0)
    sig = (blur_sigma, blur_sigma) + ((0,) if gt.ndim == 3 else ())
    blurred = ndi.gaussian_filter(gt.astype(np.float64), sig, mode="reflect")
    if gt.ndim == 3:
        m = m[..., None]
    a = m * gt + (1 - m) * blurred
    b = (1 - m) * gt + m * blurred
    return _u8(a), _u8(b)


def modality_pair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clean, structure source, intensity source), all uint8 (H, W), from skimage.data.camera()."""
    from scipy import ndimage as ndi
    from skimage import data
    from skimage.filters import threshold_multiotsu

    clean = data.camera()
    x = clean.astype(np.float64)
    structure = 128 + 1.5 * (x - ndi.gaussian_filter(x, 4.0, mode="reflect"))
    classes = np.digitize(x, threshold_multiotsu(clean, classes=4))
    means = ndi.mean(x, labels=classes, index=np.arange(4))
    regions = ndi.gaussian_filter(np.asarray(means)[classes], 2.0, mode="reflect")
    return clean, _u8(structure), _u8(regions)


def fusion_cases(data: Path, names) -> Iterator[Case]:
    for n in _names((*DENOISE_NAMES, MODALITY, SAMPLE_PAIR), names):
        if n == SAMPLE_PAIR:
            from napari_dip._napari.sample_data import modality_pair_sample

            (a, _, _), (b, _, _) = modality_pair_sample()
            gt = None
            info = {"kind": "two-modality (plugin sample)", "source_a": "hematoxylin", "source_b": "DAB"}
        elif n == MODALITY:
            gt, a, b = modality_pair()
            info = {"kind": "two-modality", "source_a": "structure", "source_b": "intensity regions"}
        else:
            gt = load_image(data / "denoise-sigma25" / f"{n}_GT.png")
            a, b = multifocus_pair(gt)
            info = {"kind": "multi-focus", "blur_sigma": 3.0}
        fa, fb = a.astype(np.float64), b.astype(np.float64)
        base = {k: (lambda f=f, fa=fa, fb=fb: f(fa, fb)) for k, f in bl.FUSERS.items()}
        yield Case(n, "fuse", a, gt, {"second": b, "fusion": "gradient"},
                   score_fusion(gt, a, b, fit=n == MODALITY), base, info)


CASES = {"denoise-sigma25": denoise_cases, "inpaint-50pct": inpaint_cases, "sr-x4-set5": sr_cases,
         "text-inpainting": text_cases, "deblur-gauss2": deblur_cases, "fusion-multifocus": fusion_cases}


# ----------------------------------------------------------------------------------------------
# running


def run_dip(set_name: str, case: Case, preset: str, cap: int | None, overrides: dict[str, Any],
            history_every: int, save_dir: Path | None = None,
            save_at: tuple[int, ...] = ()) -> dict[str, Any]:
    from napari_dip.api import restore_iter
    from napari_dip.core.fit import drain

    settings = dict(overrides)
    if preset == "paper":
        for k, v in PAPER_SET_OVERRIDES.get(set_name, {}).items():
            settings.setdefault(k, v)
    if cap is not None:
        settings["iterations"] = cap
    # SSIM is scored once on the returned image here; per-iteration SSIM would only add time
    settings.setdefault("ssim_every", 10**9)
    sr = case.task == "sr"
    if sr:  # previews every history_every iterations give the luminance-PSNR curve
        from napari_dip.core.metrics import psnr_y
    # previews on every recorded step: a tiled plane's PSNR is that of the blended plane only in
    # rounds with a preview (between them, the tiles' own errors: another measure)
    settings.setdefault("preview_every", history_every)
    ref = None if sr or case.truth is None else case.truth
    gen = restore_iter(case.task, case.image, reference=ref, preset=preset, **case.kwargs, **settings)
    curve: list[tuple[int, float]] = []
    first_elapsed = last_elapsed = None
    last_it = 0  # steady-state step time leaves out the first step's set-up
    # the reports' history: for a tiled plane these are whole-plane figures (tiles advance together)
    stream: dict[str, list] = {"iteration": [], "loss": [], "stop_metric": [], "psnr": []}

    last_preview: tuple[int, np.ndarray] | None = None  # the fill before any step after the fit
    earlier: dict[str, np.ndarray] = {}

    def record(p) -> None:
        nonlocal first_elapsed, last_elapsed, last_it, last_preview
        if p.iteration == 1:
            first_elapsed = p.elapsed
        if p.preview is not None:
            last_preview = (p.iteration, p.preview)
            if p.iteration in save_at:  # the fill a shorter fixed budget would have returned
                earlier[f"preview_{p.iteration}"] = p.preview
        last_elapsed, last_it = p.elapsed, p.iteration
        for k in stream:
            stream[k].append(getattr(p, k))
        if sr and p.preview is not None:
            y = np.clip(np.rint(p.preview.astype(np.float64)), 0, 255)
            curve.append((p.iteration, clean_float(psnr_y(case.truth, y, border=4))))

    result = drain(gen, record)
    # the output returned is that of the stop rule's pick; a tiled plane ended with its last tile
    stop = max(f.stopped_at for f in result.planes)
    if save_dir is not None:  # input, truth and output, to study steps after the fit offline
        save_dir.mkdir(parents=True, exist_ok=True)
        # when every fit returned its last step, the last preview is the network's output before
        # the step after the fit (inpainting: known pixels as given): the pilot a changed step
        # would start from
        last_out = all(f.stopped_at == f.iterations_run for f in result.planes)
        pilot = {"pilot": last_preview[1]} if last_out and last_preview and last_preview[0] == stop else {}
        np.savez_compressed(save_dir / f"{set_name}-{case.name}.npz", input=case.image,
                            output=result.image, iterations=result.iterations_run,
                            **({} if case.truth is None else {"truth": case.truth}),
                            **({"known": case.kwargs["mask"]} if case.task == "inpaint" else {}),
                            **pilot, **earlier)
        missed = [n for n in save_at if n <= stop and f"preview_{n}" not in earlier]
        if missed:  # previews come every preview_every steps only
            print(f"[warn] no preview at step(s) {missed}: previews came every "
                  f"{settings['preview_every']} steps", flush=True)
    scores = case.score(result.image)
    if case.task == "inpaint":
        # psnr/ssim score what inpaint() returns by default: the known pixels as given, the fill
        # (and the step after the fit, Config.refine, which needs keep_known) in the holes.
        # psnr_raw is the network's output everywhere, what the paper's numbers are of: the fit's
        # own PSNR at the step returned (float, not rounded to the input's uint8)
        last = [v for it, v in zip(stream["iteration"], stream["psnr"], strict=True)
                if it == stop and v is not None]
        scores = {**scores, "psnr_raw": clean_float(last[-1]) if last else None,
                  "output": "known pixels kept"}
    meta = result.metadata()
    tiles = len(result.planes)
    if not any(v is not None for v in stream["psnr"]):
        del stream["psnr"]
    hist = thin_history(stream, history_every)
    # a tiled plane: its iterations are rounds of every tile; it ended when its last tile did
    stops = [f.stopped_at for f in result.planes]
    runs = [f.iterations_run for f in result.planes]
    if sr:
        # the last preview is the network's output; the returned image had the step after the fit,
        # which the history (the network's outputs) leaves out, as for the other tasks
        if result.config.refine == "project" and dict(curve).get(max(stops)) is not None:
            scores["psnr_before_refine"] = dict(curve)[max(stops)]
        else:
            curve = sorted({**dict(curve), max(stops): scores["psnr"]}.items())
        hist["psnr"] = [dict(curve).get(it) for it in hist["iteration"]]
        best_it, best = max(curve, key=lambda t: t[1]) if curve else (None, None)
        hist["psnr_note"] = "luminance PSNR of previews (rounded, 4-px border crop)"
    elif stream.get("psnr"):
        b = int(np.nanargmax(np.array(stream["psnr"], dtype=float)))
        best, best_it = stream["psnr"][b], stream["iteration"][b]
    else:
        best = best_it = None
    return {
        **scores,
        "stopped_at": max(stops),
        "iterations_run": max(runs),
        "stopped_early": any(f.stopped_early for f in result.planes),
        **({"tiles": tiles, "tile_stopped_at": stops} if tiles > 1 else {}),
        "best_psnr": clean_float(best),
        "best_psnr_iteration": best_it,
        "seconds_per_iteration": clean_float(result.wall_time / max(max(runs), 1), 5),
        "seconds_per_iteration_steady": clean_float(
            (last_elapsed - first_elapsed) / (last_it - 1), 5) if last_it > 1 else None,
        "seconds_per_image": clean_float(result.wall_time, 3),
        "engine_metrics": {k: clean_float(v) for k, v in result.metrics.items()},
        "config": result.config.to_dict(),
        "machine": machine_info(meta["device"], meta["precision"]),
        "history": hist,
    }


def run_baseline(case: Case, fn: Callable[[], np.ndarray]) -> dict[str, Any]:
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    return {**case.score(out), "seconds_per_image": clean_float(dt, 3),
            "machine": machine_info("cpu", "float64")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set", choices=SETS)
    ap.add_argument("--data", required=True, type=Path, help="the dip-paper data folder")
    ap.add_argument("--preset", default="fast", choices=("fast", "paper"))
    ap.add_argument("--out", type=Path, help="results JSON (default benchmarks/results/SET-PRESET.json)")
    ap.add_argument("--images", help="comma-separated subset of the set's images")
    ap.add_argument("--max-iterations", type=int, help="iteration cap (overrides the preset's budget)")
    ap.add_argument("--set", dest="overrides", action="append", metavar="KEY=VALUE",
                    help="Config override, e.g. --set channels=16,16,16,16,16 (repeatable)")
    ap.add_argument("--no-baselines", action="store_true", help="skip the classical baselines")
    ap.add_argument("--no-dip", action="store_true", help="run only the baselines")
    ap.add_argument("--history-every", type=int, default=10, help="keep every N-th iteration's PSNR")
    ap.add_argument("--force", action="store_true", help="recompute records already in the file")
    ap.add_argument("--save-outputs", type=Path, metavar="DIR",
                    help="also save each image's input, truth and restored output (float32) as "
                         "DIR/SET-IMAGE.npz, and the network's output before the step after the "
                         "fit as 'pilot' when the run returned its last step")
    ap.add_argument("--save-previews-at", metavar="N,N,...", default="",
                    help="with --save-outputs, also save the previews at these steps as 'preview_N' "
                         "(a fixed budget's fill at a shorter budget, e.g. 1000,2000)")
    ap.add_argument("--pause-file", type=Path,
                    help="between records, wait while this file exists (to run something else on "
                         "the machine without distorting a timing)")
    args = ap.parse_args(argv)

    if not args.data.is_dir():
        raise SystemExit(f"--data {args.data} is not a folder")
    out = args.out or Path(__file__).parent / "results" / f"{args.set}-{args.preset}.json"
    overrides = parse_overrides(args.overrides)
    if overrides:
        from napari_dip.core.config import Config

        Config.preset(args.preset, "denoise", **overrides)  # refuse unknown names before any work
    okey = overrides_key(overrides)
    try:
        save_at = tuple(int(v) for v in args.save_previews_at.split(",") if v.strip())
    except ValueError:
        raise SystemExit(f"--save-previews-at takes step numbers, e.g. 1000,2000; got "
                         f"{args.save_previews_at!r}") from None
    if save_at and args.save_outputs is None:
        raise SystemExit("--save-previews-at saves into the --save-outputs folder: give both")
    store = ResultStore(out, args.set)
    store.set_meta(protocol=PROTOCOLS[args.set], published=PUBLISHED.get(args.set, {}),
                   data=str(args.data), updated=now())
    names = args.images.split(",") if args.images else None
    failures = 0
    for case in CASES[args.set](args.data, names):
        jobs: list[tuple[str, str | None, int | None, str, Callable[[], dict]]] = []
        if not args.no_dip:
            jobs.append(("dip", args.preset, args.max_iterations, okey,
                         lambda c=case: run_dip(args.set, c, args.preset, args.max_iterations, overrides,
                                                args.history_every, args.save_outputs,
                                                save_at)))
        if not args.no_baselines:
            for m, fn in case.baselines.items():
                jobs.append((m, None, None, "", lambda c=case, fn=fn: run_baseline(c, fn)))
        for method, preset, cap, ok, job in jobs:
            key = {"image": case.name, "method": method, "preset": preset, "iteration_cap": cap,
                   "overrides": ok}
            if store.has(**key) and not args.force:
                print(f"[skip] {args.set} {case.name} {method} {preset or ''} (already in {out})")
                continue
            _wait_while(args.pause_file)
            label = f"{args.set} {case.name} {method}" + (f" {preset}" if preset else "") + \
                (f" cap={cap}" if cap else "")
            print(f"[run ] {label} ...", flush=True)
            try:
                res = job()
            except KeyboardInterrupt:
                print("interrupted; finished records are saved", file=sys.stderr)
                return 130
            except Exception:
                failures += 1
                traceback.print_exc()
                continue
            rec = {**key, "set": args.set, "task": case.task, "shape": list(case.image.shape),
                   "info": case.info, **res, "timestamp": now()}
            store.add(rec)
            extra = ""
            if method == "dip":
                extra = (f" stop {rec['stopped_at']}/{rec['iterations_run']}, best {rec['best_psnr']} "
                         f"@ {rec['best_psnr_iteration']}, {rec['seconds_per_iteration']:.3f} s/it")
            fus = "".join(f" {k}={rec[k]}" for k in ("psnr_fit", "qabf", "mi", "entropy") if k in rec)
            q = "no reference" if rec["psnr"] is None else f"PSNR {rec['psnr']:.2f} SSIM {rec['ssim']:.4f}"
            print(f"[done] {label}: {q}{fus}{extra}, "
                  f"{rec['seconds_per_image']:.1f} s", flush=True)
    store.set_meta(updated=now())
    print(f"results: {out}")
    return 1 if failures else 0


def _wait_while(pause: Path | None) -> None:
    if pause is not None and pause.exists():
        print(f"[wait] {pause} exists: paused between records", flush=True)
        while pause.exists():
            time.sleep(5)


if __name__ == "__main__":
    sys.exit(main())
