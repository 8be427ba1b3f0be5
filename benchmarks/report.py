"""Write docs/benchmarks.md and its plots from the results JSON files of run.py and microbench.py.

    python benchmarks/report.py [FILE_OR_DIR ...] [--out docs/benchmarks.md] [--plots docs/benchmarks]

Without arguments it reads benchmarks/results/*.json. Averages are computed here, per method, over
the images that method has results for (a partial average is marked n/N).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import textwrap
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from common import now, record_key
from published import PUBLISHED, PUBLISHED_AVERAGE, README_CPU_BASELINES
from run import (
    DENOISE_NAMES,
    INPAINT_NAMES,
    MODALITY,
    PAPER_SET_OVERRIDES,
    PROTOCOLS,
    SAMPLE_PAIR,
    SETS,
    SR_NAMES,
)

ROOT = Path(__file__).resolve().parent.parent
IMAGES = {"denoise-sigma25": DENOISE_NAMES, "inpaint-50pct": INPAINT_NAMES, "sr-x4-set5": SR_NAMES,
          "text-inpainting": ("kate",), "deblur-gauss2": DENOISE_NAMES,
          "fusion-multifocus": (*DENOISE_NAMES, MODALITY, SAMPLE_PAIR)}
NOT_AVERAGED = (MODALITY, SAMPLE_PAIR)
TITLES = {"denoise-sigma25": "Denoising, sigma 25 (colour)", "inpaint-50pct": "Inpainting, 50 % missing",
          "sr-x4-set5": "Super-resolution x4, Set5", "text-inpainting": "Text inpainting (kate)",
          "deblur-gauss2": "Deblurring, Gaussian PSF sigma 2 + noise sigma 5 (synthetic)",
          "fusion-multifocus": "Fusion: multi-focus pairs and a two-modality pair (synthetic)"}
TASK = {"denoise-sigma25": "denoise", "inpaint-50pct": "inpaint", "sr-x4-set5": "sr",
        "text-inpainting": "inpaint", "deblur-gauss2": "deblur", "fusion-multifocus": "fuse"}
BASELINE_NAMES = {"nl_means": "NLM (skimage)", "tv_chambolle": "TV Chambolle (skimage)",
                  "wavelet": "wavelet (skimage)", "bm3d": "BM3D (bm3d pkg)†",
                  "biharmonic": "biharmonic (skimage)",
                  "dct-fill": "biharmonic + DCT fill (fill-dct without the network)",
                  "bicubic": "bicubic (PIL)",
                  "lanczos": "Lanczos (PIL)", "richardson_lucy": "Richardson-Lucy (skimage)",
                  "wiener": "Wiener (skimage)", "unsupervised_wiener": "unsupervised Wiener (skimage)",
                  "average": "average", "max_gradient": "max-gradient selection",
                  "laplacian_pyramid": "Laplacian pyramid"}
# README: one step of the original 128-channel net costs ~1.2 s at 256² and ~5.7 s at 512² (fp32, 2 cores)
README_STEP = ((256 * 256, 1.2), (512 * 512, 5.7))
# Issue 5's targets for the fast preset: (average PSNR, largest fraction of the paper recipe's time)
TARGETS = {"denoise-sigma25": (31.0, 1 / 20), "inpaint-50pct": (33.0, 1 / 10), "sr-x4-set5": (29.7, 1 / 10)}
STOP_GAP_TARGET = 0.5


# ----------------------------------------------------------------------------------------------
# loading


def load(paths: list[Path]) -> tuple[dict[str, list[dict]], list[dict]]:
    files: list[Path] = []
    for p in paths:
        files += sorted(p.glob("*.json")) if p.is_dir() else [p]
    by_set: dict[str, dict[tuple, dict]] = defaultdict(dict)
    micro: dict[tuple, dict] = {}
    for f in files:
        with open(f) as fh:
            d = json.load(fh)
        if d.get("benchmark") in ("timelapse", "tiling", "tune", "levers", "averaging",
                                  "scale-widths", "prototype-levers"):  # own sections, by name
            continue
        target = micro if d.get("set") == "microbench" else by_set[d.get("set")]
        for r in d.get("records", []):
            _inpaint_output(r)
            k = record_key(r)
            if k not in target or r.get("timestamp", "") >= target[k].get("timestamp", ""):
                target[k] = r
    for recs in by_set.values():
        for r in recs.values():
            _drop_redundant_overrides(r)
    return {s: list(v.values()) for s, v in by_set.items()}, list(micro.values())


def _drop_redundant_overrides(r: dict) -> None:
    """A DIP run given overrides that only restate today's preset (run before the preset took them
    on) is a run of the preset: count it as one (the overrides move to ``overrides_given``)."""
    if r.get("method") != "dip" or not r.get("overrides") or r.get("iteration_cap") \
            or r.get("preset") not in ("fast", "paper") or not r.get("task"):
        return
    if preset_changes({**r, "overrides": ""}) == {}:
        r["overrides_given"], r["overrides"] = r["overrides"], ""


def _inpaint_output(r: dict) -> None:
    """Inpainting records scored before the engine kept known pixels (``psnr_known_kept`` beside a
    raw ``psnr``): make ``psnr`` the known-pixels-kept output that ``inpaint`` now returns by
    default, as newer records have it, and move the raw scores to ``*_raw``. The SSIM of that output
    was not recorded then: None."""
    if "psnr_known_kept" in r and "output" not in r:
        r["psnr_raw"], r["ssim_raw"] = r["psnr"], r.get("ssim")
        r["psnr"], r["ssim"] = r.pop("psnr_known_kept"), None
        r["output"] = "known pixels kept"


def before_after_refine(r: dict) -> tuple[float, float] | None:
    """(network output, returned) PSNR of a run that had a step after the fit, else None: from
    the engine's metrics, or for super-resolution from the benchmark's own luminance scores."""
    em = r.get("engine_metrics") or {}
    if em.get("psnr_before_refine") is not None:
        return em["psnr_before_refine"], em["psnr"]
    if r.get("psnr_before_refine") is not None:
        return r["psnr_before_refine"], r["psnr"]
    return None


def raw_psnr(r: dict) -> float | None:
    """PSNR of the network's own output, the quantity its PSNR history and best iterate follow
    (inpainting: before the known pixels are put back; denoising and super-resolution: before
    the step after the fit, ``Config.refine``)."""
    pair = before_after_refine(r)
    return r.get("psnr_raw", pair[0] if pair else r.get("psnr"))


#: How the report names each step after the fit (``Config.refine``).
STEP_NAMES = {"wiener": "the Wiener step", "bm-wiener": "the grouped Wiener step",
              "project": "the projection onto the input"}


def step_name(rs: list[dict]) -> str:
    """The step after the fit these runs had, in words (one name, or the names joined)."""
    names = sorted({(r.get("config") or {}).get("refine", "wiener") for r in rs} - {"none"})
    return " / ".join(STEP_NAMES.get(n, n) for n in names) or "the step after the fit"


def refine_lines(rs: list[dict], label: str) -> list[str]:
    """What the step after the fit (``Config.refine``) gave these runs, if they had it."""
    rs = [r for r in rs if before_after_refine(r)]
    pairs = [before_after_refine(r) for r in rs]
    if not pairs:
        return []
    gains = [a - b for b, a in pairs]
    refines = ", ".join(sorted({(r.get("config") or {}).get("refine", "wiener") for r in rs}))
    return [f"- {label}: {step_name(rs)} after the fit (`refine` = {refines}) took the network's output "
            f"from {_mean([b for b, _ in pairs]):.2f} to {_mean([a for _, a in pairs]):.2f} dB on "
            f"average over {len(pairs)} image(s) (+{_mean(gains):.2f}; from {min(gains):+.2f} to "
            f"{max(gains):+.2f}); the PSNR history and the stop follow the network's output."]


# settings that change how a run is watched or where it runs, not what it computes
_NO_EFFECT = {"name", "ssim_every", "preview_every", "device", "precision", "threads",
              "tile_parallel"}


def preset_changes(r: dict) -> dict[str, tuple] | None:
    """Settings of a DIP record's preset that have changed since it was made: ``{key: (then,
    now)}``, compared with the preset as it is now plus the record's overrides (None: no config
    recorded). Settings added since count at their defaults, which kept the behaviour from
    before them. A changed stop rule alone is no change when the run went the whole budget and
    the rule never fired: its output is what the preset returns now.
    """
    from dataclasses import fields

    from common import parse_overrides
    from napari_dip.core.config import Config

    cfg = r.get("config")
    if not cfg:
        return None
    settings = parse_overrides(r["overrides"].split(";")) if r.get("overrides") else {}
    if r.get("preset") == "paper":
        settings = {**PAPER_SET_OVERRIDES.get(r.get("set", ""), {}), **settings}
    now_cfg = _as_run(Config.preset(r["preset"], r["task"], **settings), r["task"]).to_dict()
    defaults = Config().to_dict()
    skip = _NO_EFFECT | ({"iterations"} if r.get("iteration_cap") else set())
    diff = {}
    for f in fields(Config):
        k = f.name
        if k in skip or k not in now_cfg:
            continue
        then = cfg.get(k, defaults.get(k))
        if json.dumps(then) != json.dumps(now_cfg[k]):
            diff[k] = (then, now_cfg[k])
    if set(diff) == {"stop"} and r.get("iterations_run") == now_cfg["iterations"] \
            and r.get("stopped_at") == r.get("iterations_run"):
        return {}
    return diff


def _as_run(cfg, task: str):
    """The settings a run of ``task`` with ``cfg`` uses: the benchmarks fuse in gradient mode,
    which the engine runs without input jitter (``napari_dip.api.fusion_config``)."""
    from napari_dip.api import fusion_config

    return fusion_config(cfg, "gradient") if task == "fuse" else cfg


def _short(v) -> str:
    if isinstance(v, list) and v and all(x == v[0] for x in v):
        return f"{v[0]}×{len(v)}"  # (16, 16, 16, 16, 16) -> 16×5
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v).replace(" ", "")


def variant(r: dict) -> str:
    if r["method"] != "dip":
        return BASELINE_NAMES.get(r["method"], r["method"])
    v = f"DIP {r['preset']}"
    if r.get("preset") in ("fast", "paper") and r.get("task"):
        diff = preset_changes(r)
        if diff is None:
            v += " (preset not recorded)"
        elif diff:  # an earlier preset: its rows stay apart, named by the settings it had
            v += " (earlier preset: " + ", ".join(f"{k}={_short(a)}" for k, (a, _) in diff.items()) + ")"
    if r.get("iteration_cap"):
        v += f" (cap {r['iteration_cap']})"
    if r.get("overrides"):
        v += f" [{r['overrides']}]"
    return v


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def fmt(x, digits: int = 2, dash: str = "–") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return dash
    return f"{x:.{digits}f}"


def fmt_time(s: float | None) -> str:
    if s is None:
        return "–"
    if s < 1:
        return f"{s:.2f} s"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def paper_recipe_lines(set_name: str, image: str, recs: list[dict]) -> list[str]:
    """What the paper preset costs on ``image``: a full run's result, or, where none finished,
    its measured seconds per iteration and the budget it needs, stated as such (issue 4)."""
    budget = paper_budget(set_name)
    paper = [r for r in recs if r["image"] == image and r["method"] == "dip"
             and r["preset"] == "paper" and not r.get("overrides")]
    done = [r for r in paper if not r.get("iteration_cap") or r["iteration_cap"] >= budget]
    published = PUBLISHED.get(set_name, {}).get("DIP (paper)", {}).get(image)
    fast = fast_runs(recs).get(image)
    if done:
        r = done[0]
        return [f"**{image} with the paper preset**: {fmt(r['psnr'])} dB after {budget} iterations in "
                f"{fmt_time(r['seconds_per_image'])} (the paper: {fmt(published)} dB).", ""]
    if not paper:
        return []
    steps = [r.get("seconds_per_iteration_steady") or r["seconds_per_iteration"] for r in paper]
    runs = ", ".join(f"{st:.2f} s/it ({r['timestamp'][:10]}, {r.get('machine', {}).get('cpu', '?')}, "
                     f"{r['iteration_cap']} steps)" for st, r in zip(steps, paper, strict=True))
    line = (f"**{image} with the paper preset** was not run to its end here: its capped runs measured "
            f"{runs}; at the recipe's {budget} iterations a full run needs "
            f"{_span(min(steps) * budget, max(steps) * budget)} of this CPU. Its quality "
            f"at the end is the paper's published {fmt(published)} dB, not a measurement here")
    if fast is not None:
        line += (f"; the fast preset returned {fmt(fast['psnr'])} dB in "
                 f"{fmt_time(fast['seconds_per_image'])}")
    return [line + ".", ""]


def _span(lo: float, hi: float) -> str:
    """'4.54 h', or '4.2 h–4.5 h' where the two differ as printed."""
    a, b = fmt_time(lo), fmt_time(hi)
    return a if a == b else f"{a}–{b}"


def paper_budget(set_name: str) -> int:
    from napari_dip.core.config import Config

    extra = PAPER_SET_OVERRIDES.get(set_name, {})
    return int(extra.get("iterations", Config.preset("paper", TASK[set_name]).iterations))


def readme_step_estimate(pixels: int) -> float:
    (p0, t0), (p1, t1) = README_STEP
    return t0 + (t1 - t0) * (pixels - p0) / (p1 - p0)


def _seconds_apart(r: dict, when: str | None) -> float:
    try:
        return abs((datetime.fromisoformat(r["timestamp"]) - datetime.fromisoformat(when)).total_seconds())
    except (KeyError, TypeError, ValueError):
        return float("inf")


def paper_time(set_name: str, image: str, recs: list[dict], cpu: str | None = None,
               when: str | None = None) -> tuple[float | None, str]:
    """Seconds per image of the paper recipe: measured, or s/it × full budget, or README estimate.

    A capped run's s/it is its steady-state step time (first step's set-up left out), so the
    estimate does not flatter the fast preset. Records from ``cpu`` (the machine the fast run used)
    come first, so a ratio compares two runs on one machine whenever one was measured there; of
    those, with ``when`` (the fast run's timestamp), the capped run measured nearest in time: this
    shared host's speed drifts by up to 1.7× from day to day, and not alike for both recipes.
    """
    budget = paper_budget(set_name)
    paper = [r for r in recs if r["method"] == "dip" and r["preset"] == "paper" and not r.get("overrides")]
    paper.sort(key=lambda r: r.get("machine", {}).get("cpu") != cpu)  # stable: same machine first
    full = [r for r in paper if r["image"] == image]
    done = [r for r in full if not r.get("iteration_cap") or r["iteration_cap"] >= budget]
    if done:
        return done[0]["seconds_per_image"], ""
    shapes = [r["shape"] for r in recs if r["image"] == image]
    if shapes:  # step cost depends on the size only: a same-size image's from the same machine will do
        same_size = [r for r in paper if r["shape"] == shapes[0]]
        same_cpu = [r for r in full + same_size if r.get("machine", {}).get("cpu") == cpu]
        if when:  # nearest in time, by half days; within one, the image's own
            same_cpu.sort(key=lambda r: (_seconds_apart(r, when) // 43200, r["image"] != image))
        full = same_cpu or full or same_size
    if full:
        r = full[0]
        return (r.get("seconds_per_iteration_steady") or r["seconds_per_iteration"]) * budget, "*"
    if not shapes or set_name == "fusion-multifocus":
        return None, ""
    h, w = shapes[0][:2]
    if set_name == "sr-x4-set5":
        h, w = 4 * h, 4 * w
    return readme_step_estimate(h * w) * budget, "‡"


def paper_time_of(set_name: str, run: dict, recs: list[dict]) -> tuple[float | None, str]:
    """:func:`paper_time` beside one DIP run: its image, on its machine, measured nearest its time."""
    return paper_time(set_name, run["image"], recs, run.get("machine", {}).get("cpu"), run.get("timestamp"))


# ----------------------------------------------------------------------------------------------
# tables


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return [*out, ""]


def order_variants(recs: list[dict]) -> list[str]:
    dips = sorted({variant(r) for r in recs if r["method"] == "dip"},
                  key=lambda v: (0 if v.startswith("DIP fast") else 1, v))
    seen = []
    for r in recs:
        v = variant(r)
        if r["method"] != "dip" and v not in seen:
            seen.append(v)
    return dips + seen


def fast_runs(recs: list[dict], current_only: bool = True) -> dict[str, dict]:
    """The latest plain run of the fast preset per image (no overrides, no iteration cap), of the
    preset as it is now; unless ``current_only`` is False: then, where no run has the preset as it
    is now, the run nearest it (fewest settings apart, overrides counted, a plain run before one
    with overrides, then the latest)."""
    by_img: dict[str, dict] = {}
    for r in sorted(recs, key=lambda r: r.get("timestamp", "")):
        if (r["method"] == "dip" and r["preset"] == "fast" and not r.get("overrides")
                and not r.get("iteration_cap") and preset_changes(r) == {}):
            by_img[r["image"]] = r
    if current_only:
        return by_img

    def distance(r: dict) -> tuple:
        changes = preset_changes(r)
        if changes is None:
            return (99, 99, _neg_time(r.get("timestamp", "")))
        apart = _overrides_apart(r)
        return (len(changes) + apart, apart, _neg_time(r.get("timestamp", "")))

    nearest: dict[str, dict] = {}
    for r in recs:
        if r["method"] == "dip" and r["preset"] == "fast" and not r.get("iteration_cap"):
            img = r["image"]
            if img not in nearest or distance(r) < distance(nearest[img]):
                nearest[img] = r
    return {**nearest, **by_img}


def _overrides_apart(r: dict) -> int:
    """How many of a record's overrides set a value the preset as it is now does not have (an
    override the preset has since adopted is no longer apart from it)."""
    if not r.get("overrides"):
        return 0
    from common import parse_overrides
    from napari_dip.core.config import Config

    now = _as_run(Config.preset(r["preset"], r["task"]), r["task"]).to_dict()
    settings = parse_overrides(r["overrides"].split(";"))
    return sum(json.dumps(r["config"].get(k)) != json.dumps(now.get(k)) for k in settings)


def _neg_time(stamp: str) -> tuple:
    """Sorts later timestamps first."""
    return tuple(-ord(c) for c in stamp)


def summary_section(by_set: dict[str, list[dict]]) -> list[str]:
    """One row per set: the fast preset against the paper's DIP and the best other method, on the
    images the fast run has (averages over different images are not comparable)."""
    rows = []
    for set_name in SETS:
        recs = by_set.get(set_name) or []
        current = {i: r for i, r in fast_runs(recs).items() if i not in NOT_AVERAGED}
        # fall back to earlier presets, flagged
        by_img = current or {i: r for i, r in fast_runs(recs, False).items() if i not in NOT_AVERAGED}
        if not by_img:
            continue
        imgs = [i for i in IMAGES[set_name] if i in by_img]
        n_all = len([i for i in IMAGES[set_name] if i not in NOT_AVERAGED])
        q = _mean([by_img[i]["psnr"] for i in imgs])
        others: dict[str, float] = {}  # baselines run here that cover every image of the fast run
        for v in {variant(r) for r in recs if r["method"] != "dip"}:
            vals = [r["psnr"] for i in imgs for r in recs
                    if r["method"] != "dip" and variant(r) == v and r["image"] == i]
            if len(vals) == len(imgs):
                others[v] = _mean(vals)
        pub = PUBLISHED.get(set_name, {})
        dip_pub = None
        for c, vals in pub.items():
            if all(i in vals for i in imgs):
                if c.startswith("DIP"):
                    dip_pub = _mean([vals[i] for i in imgs])
                else:
                    others[c] = _mean([vals[i] for i in imgs])
        best = max(others.items(), key=lambda kv: kv[1]) if others else None
        pairs = [(by_img[i]["seconds_per_image"], paper_time_of(set_name, by_img[i], recs)) for i in imgs]
        pairs = [(a, b) for a, b in pairs if b[0]]
        ratio = "–"
        if pairs:
            inv = sum(b[0] for _, b in pairs) / max(sum(a for a, _ in pairs), 1e-9)
            ratio = f"1/{inv:.1f}" + "".join(sorted({b[1] for _, b in pairs}))
        label = "fast" if current else "fast (earlier preset)"
        before = [(before_after_refine(by_img[i]) or (None,))[0] for i in imgs]
        if all(b is not None for b in before):
            step = step_name([by_img[i] for i in imgs]).removeprefix("the ")
            label += f" + {step} (network output alone: {fmt(_mean(before))})"
        rows.append([f"`{set_name}`", label, f"{len(imgs)}/{n_all}", fmt(q),
                     fmt(dip_pub), fmt(q - dip_pub if dip_pub is not None else None),
                     f"{best[0]} {fmt(best[1])}" if best else "–",
                     fmt(q - best[1] if best else None),
                     fmt_time(_mean([by_img[i]["seconds_per_image"] for i in imgs])), ratio])
    if not rows:
        return []
    return ["## Summary", "",
            "DIP with the fast preset against the paper's DIP and the best other method (classical "
            "baselines run here, or the paper's published ones), each averaged over the images the fast "
            "run has; PSNR in dB (differences: fast minus the other, negative = fast is below). Time "
            "ratio = fast wall-clock / paper-recipe wall-clock (* and ‡ as in each set's section). "
            "Per-image numbers, SSIM and the stop's behaviour follow in each set's section.", "",
            *table(["set", "DIP preset", "images", "DIP fast", "DIP (paper)", "fast − paper",
                    "best other method", "fast − best other", "time/image", "time vs paper recipe"],
                   rows)]


def saved_step_lines(set_name: str, recs: list[dict], saved: dict[tuple[str, str], dict],
                     n_all: int) -> list[str]:
    """Issue 5's targets for the current preset when its runs differ from it only in the step after
    the fit: that step scored on the runs' own fits (``refine.py saved``), the runs' wall-clock with
    the old step's seconds swapped for the new one's (both measured by ``refine.py saved``)."""
    import refine
    from napari_dip.core.config import Config

    if set_name not in TARGETS:
        return []
    task = next((r["task"] for r in recs), None)
    step = Config.preset("fast", task).refine if task else None
    runs = fast_runs(recs, current_only=False)
    use = []
    for i, r in runs.items():
        sv = saved.get((set_name, i))
        if sv is None or preset_changes(r) != {"refine": (r["config"].get("refine"), step)}:
            continue
        old_key, old_sec = refine.record_keys(r["config"].get("refine", "none")) or (None, None)
        new_key, new_sec = refine.record_keys(step) or (None, None)
        # the same fit: the saved output's score with the run's own step is the run's PSNR
        if old_key is None or new_key is None or abs(sv[old_key] - r["psnr"]) > 0.02:
            continue
        seconds = r["seconds_per_image"] - (sv[old_sec] if old_sec else 0) + (sv[new_sec] if new_sec else 0)
        use.append((r, sv[new_key], seconds))
    if not use:
        return []
    q, frac = TARGETS[set_name]
    avg_q = _mean([x[1] for x in use])
    pairs = [(sec, paper_time_of(set_name, r, recs)) for r, _, sec in use]
    pairs = [p for p in pairs if p[1][0]]
    inv = sum(p[1][0] for p in pairs) / max(sum(p[0] for p in pairs), 1e-9) if pairs else None
    marks = "".join(sorted({p[1][1] for p in pairs}))
    gap = _mean([r["best_psnr"] - raw_psnr(r) for r, _, _ in use if r.get("best_psnr") is not None])
    return [f"- Time-to-quality targets with the current preset's step (`refine` = {step}), scored on "
            f"the same runs' fits (`benchmarks/refine.py saved`, {len(use)}/{n_all} images; the fit is "
            f"unchanged, only the step after it): PSNR {avg_q:.2f} (the runs as made, with "
            f"`refine` = {use[0][0]['config'].get('refine')}: {_mean([r['psnr'] for r, _, _ in use]):.2f}) "
            f"vs >= {q} dB {'met' if avg_q >= q else 'NOT met'}"
            + (f"; time 1/{inv:.1f}{marks} of the paper recipe (the runs' wall-clock with the old "
               f"step's seconds swapped for the new one's) vs <= 1/{round(1 / frac)} "
               f"{'met' if 1 / inv <= frac else 'NOT met'}" if inv else "")
            + f"; stop within {fmt(gap)} dB of the best (the network's output, unchanged)."]


def set_section(set_name: str, recs: list[dict], plots: Path, md_dir: Path,
                saved: dict[tuple[str, str], dict] | None = None) -> list[str]:
    images = [i for i in IMAGES[set_name] if any(r["image"] == i for r in recs)]
    # the two-modality pair has no single right answer in intensity: kept out of the PSNR averages
    avg_images = [i for i in images if i not in NOT_AVERAGED]
    n_all = len([i for i in IMAGES[set_name] if i not in NOT_AVERAGED])
    variants = order_variants(recs)
    cell = {(r["image"], variant(r)): r for r in recs}
    pub = PUBLISHED.get(set_name, {})
    lines = [f"## {TITLES[set_name]} (`{set_name}`)", "", f"Protocol: {PROTOCOLS[set_name]}", ""]

    # PSNR per image
    header = ["image", *variants, *pub]
    rows = []
    for img in images:
        rows.append([img] + [fmt(cell[(img, v)]["psnr"]) if (img, v) in cell else "–" for v in variants]
                    + [fmt(pub[c].get(img)) for c in pub])
    avg = ["**average**"]
    for v in variants:
        vals = [cell[(i, v)]["psnr"] for i in avg_images if (i, v) in cell]
        m = _mean(vals)
        avg.append(f"**{fmt(m)}**" + (f" ({len(vals)}/{n_all})" if vals and len(vals) < n_all else ""))
    for c in pub:
        full = PUBLISHED_AVERAGE.get(set_name, {}).get(c)
        sub = _mean([pub[c].get(i) for i in avg_images])
        shown = full if len(avg_images) == n_all and full is not None else sub
        avg.append(f"**{fmt(shown)}**")
    rows.append(avg)
    lines += ["PSNR (dB) per image:", "", *table(header, rows)]
    lost = [r for r in recs if r.get("lost_zero_pixels")]
    for img in sorted({r["image"] for r in lost}):
        rs = [r for r in lost if r["image"] == img]
        vals = ", ".join(f"{variant(r)} {fmt(r['psnr_excl_lost_zeros'])}" for r in rs)
        big = max(r["psnr_excl_lost_zeros"] - r["psnr"] for r in rs) > 1.0
        lines += [f"`{img}`: {rs[0]['lost_zero_pixels']} clean pixels have the value 0, so the "
                  "protocol's mask (`masked != 0`) calls them missing and no method can know they are "
                  "black" + (" (the paper's DIP score there suggests its runs had the true mask)" if big
                             else "") + f". PSNR without those pixels: {vals}.", ""]
    if set(NOT_AVERAGED) & set(images):
        lines += [f"The averages leave out the two-modality pairs `{MODALITY}` (any intensity scale is a "
                  f"valid fusion there) and `{SAMPLE_PAIR}` (no ground truth).", ""]

    # fusion: reference-free metrics
    if set_name == "fusion-multifocus":
        frows = []
        for img in images:
            for v in variants:
                r = cell.get((img, v))
                if r:
                    frows.append([img, v, fmt(r["psnr"]), fmt(r.get("psnr_fit")), fmt(r["ssim"], 4),
                                  fmt(r.get("qabf"), 3), fmt(r.get("mi"), 3), fmt(r.get("entropy"), 3),
                                  fmt_time(r.get("seconds_per_image"))])
        for v in variants:
            rs = [cell[(i, v)] for i in avg_images if (i, v) in cell]
            if rs:
                frows.append([f"**average** ({len(rs)}/{n_all} multi-focus)", v,
                              *(fmt(_mean([r.get(k) for r in rs]), d) for k, d in
                                (("psnr", 2), ("psnr_fit", 2), ("ssim", 4), ("qabf", 3), ("mi", 3),
                                 ("entropy", 3))),
                              fmt_time(_mean([r.get("seconds_per_image") for r in rs]))])
        lines += ["Fusion scores (Q^AB/F in [0, 1], higher is better; MI = MI(F,A)+MI(F,B) in bits; "
                  "entropy of F in bits; psnr_fit = PSNR after a least-squares gain and offset):", "",
                  *table(["image", "method", "PSNR", "PSNR fit", "SSIM", "Q^AB/F", "MI", "entropy",
                          "time"], frows)]

    # averages per method, with time
    arows = []
    targets: list[str] = []
    fast_now = fast_runs(recs)
    paper_t = {i: paper_time_of(set_name, fast_now[i], recs) if i in fast_now
               else paper_time(set_name, i, recs) for i in images}
    for v in variants:
        rs = [cell[(i, v)] for i in avg_images if (i, v) in cell]
        if not rs:
            continue
        is_dip = rs[0]["method"] == "dip"
        ratio = "–"
        if is_dip and rs[0]["preset"] == "fast":
            pairs = [(r["seconds_per_image"], paper_time_of(set_name, r, recs)) for r in rs]
            pairs = [p for p in pairs if p[1][0]]
            if pairs:
                marks = "".join(sorted({p[1][1] for p in pairs}))
                inv = sum(p[1][0] for p in pairs) / max(sum(p[0] for p in pairs), 1e-9)
                ratio = f"1/{inv:.1f}{marks}"
                current = not rs[0].get("overrides") and not rs[0].get("iteration_cap") \
                    and preset_changes(rs[0]) == {}
                if set_name in TARGETS and current:
                    q, frac = TARGETS[set_name]
                    avg_q = _mean([r["psnr"] for r in rs])
                    gap_v = _mean([r["best_psnr"] - raw_psnr(r) for r in rs
                                   if r.get("best_psnr") is not None])
                    ok = [avg_q >= q, 1 / inv <= frac, gap_v is not None and gap_v <= STOP_GAP_TARGET]
                    lost = [r for r in rs if r.get("lost_zero_pixels")]
                    aside = "" if not lost else (
                        " ({:.2f} leaving out the clean pixels of value 0 that the protocol's mask takes "
                        "for holes, in {})".format(
                            _mean([r["psnr_excl_lost_zeros"] if r.get("lost_zero_pixels") else r["psnr"]
                                   for r in rs]), ", ".join(r["image"] for r in lost)))
                    targets.append(
                        f"- Time-to-quality targets ({v}, {len(rs)}/{n_all} images): PSNR {avg_q:.2f}"
                        f"{aside} vs >= {q} dB {'met' if ok[0] else 'NOT met'}; time 1/{inv:.1f}{marks} "
                        f"of the paper recipe vs <= 1/{round(1 / frac)} {'met' if ok[1] else 'NOT met'}; "
                        f"stop within {fmt(gap_v)} dB of the best vs <= {STOP_GAP_TARGET} "
                        f"{'met' if ok[2] else 'NOT met'}.")
        gap = _mean([(r["best_psnr"] - raw_psnr(r)) if r.get("best_psnr") is not None else None
                     for r in rs]) if is_dip else None
        ssims = [r["ssim"] for r in rs if r.get("ssim") is not None]
        arows.append([v, f"{len(rs)}/{n_all}", fmt(_mean([r["psnr"] for r in rs])),
                      fmt(_mean(ssims), 4) + (f" ({len(ssims)}/{len(rs)})" if ssims and len(ssims) < len(rs)
                                              else ""),
                      fmt(gap) if is_dip else "–",
                      fmt(_mean([r.get("seconds_per_iteration") for r in rs]), 3) if is_dip else "–",
                      fmt_time(_mean([r["seconds_per_image"] for r in rs])), ratio])
    if arows:
        lines += ["Averages per method (over the images each has; best-minus-returned PSNR is what the "
                  "automatic stop gave up among the iterations run: a run ends when its rule fires, so "
                  "better iterates after that are not seen here, and the offline replays in 'How the "
                  "fast preset was tuned' measure those; time ratio = DIP fast wall-clock / "
                  "paper-recipe wall-clock on the same images):", "",
                  *table(["method", "images", "PSNR", "SSIM", "best − returned (dB)", "s/iteration",
                          "time/image", "time vs paper recipe"], arows)]
    if set_name in TARGETS and not targets:
        targets += saved_step_lines(set_name, recs, saved or {}, n_all)
    if set_name in TARGETS and not targets:
        targets.append("- Time-to-quality targets: no run of the whole set with the current fast "
                       "preset yet (the DIP fast rows above were made with earlier presets, or "
                       "with overrides).")
    for v in variants:
        rs_v = [cell[(i, v)] for i in avg_images if (i, v) in cell]
        if rs_v and rs_v[0]["method"] == "dip":
            targets += refine_lines(rs_v, v)
    if targets:
        lines += [*targets, ""]
    lines += budget_lines(set_name, recs, avg_images, paper_t)
    lines += longer_budget_lines(recs)
    fast_done = {r["image"] for r in recs if r["method"] == "dip" and r["preset"] == "fast"
                 and not r.get("overrides") and not r.get("iteration_cap")}
    missing = [i for i in IMAGES[set_name] if i not in fast_done]
    if missing and fast_done:
        lines += [f"Not measured yet with the fast preset: {', '.join(missing)} "
                  f"(resume with `python benchmarks/run.py {set_name} --data DATA`; finished records are "
                  "kept).", ""]
    lines += stale_notes(set_name, recs)
    marks = {m for _, m in paper_t.values() if m}
    if "*" in marks:
        lines += ["\\* paper-recipe time estimated as its measured steady seconds per iteration (a capped "
                  "run of this image or of one of the same size in this set, taken on the DIP run's CPU "
                  "whenever one was measured there, and of those the one measured nearest in time to "
                  "the DIP run: this shared host's speed drifts from day to day, by up to 1.7× for the "
                  "fast preset and less for the paper recipe) × "
                  f"its full budget of {paper_budget(set_name)} iterations.", ""]
    if "‡" in marks:
        lines += ["‡ paper-recipe time not measured here: estimated from the data README's step cost "
                  "(1.2 s at 256², 5.7 s at 512², linear in pixels) × "
                  f"{paper_budget(set_name)} iterations.", ""]

    # DIP run details
    drows = []
    inpaint = TASK[set_name] == "inpaint"
    for img in images:
        for v in variants:
            r = cell.get((img, v))
            if r and r["method"] == "dip":
                t, m = paper_time_of(set_name, r, recs)
                mach = r["machine"]
                drows.append([img, v, fmt(r["psnr"]), fmt(r["ssim"], 4),
                              f"{r['stopped_at']} / {r['iterations_run']}",
                              f"{fmt(r.get('best_psnr'))} @ {r.get('best_psnr_iteration') or '–'}",
                              fmt(r.get("seconds_per_iteration"), 3), fmt_time(r["seconds_per_image"]),
                              (fmt_time(t) + m) if t else "–",
                              f"{mach.get('precision', '?')}, {mach.get('torch_threads')} thr"]
                             + ([fmt(r.get("psnr_raw")), fmt(r.get("ssim_raw"), 4)] if inpaint else []))
    if drows:
        lines += ["DIP runs (returned = the stop rule's pick; best = the best averaged output seen):", "",
                  *table(["image", "run", "PSNR", "SSIM", "stopped at / ran", "best PSNR @ it",
                          "s/it", "time", "paper recipe time", "precision, threads"]
                         + (["PSNR raw", "SSIM raw"] if inpaint else []), drows)]
        if inpaint:
            lines += ["Inpainting: PSNR/SSIM score what `inpaint` returns by default, the known pixels "
                      "as given and the network's output in the holes; *raw* scores the network's output "
                      "everywhere (what the paper's DIP numbers are of), and the best-PSNR column and "
                      "the plot follow that raw output. SSIM – : runs scored before the default output "
                      "kept known pixels, when only its PSNR was recorded.", ""]

    # plain statement against the paper
    pdip = {k: v for k, v in pub.items() if k.startswith("DIP")}
    for v in variants:
        if not v.startswith("DIP fast") and not v.startswith("DIP paper"):
            continue
        rs = [cell[(i, v)] for i in images if (i, v) in cell]
        for col, vals in pdip.items():
            common = [r for r in rs if vals.get(r["image"]) is not None]
            if common:
                d = _mean([r["psnr"] - vals[r["image"]] for r in common])
                word = "below" if d < 0 else "above"
                line = (f"- {v}: {abs(d):.2f} dB {word} {col} on average over {len(common)} "
                        f"image(s) ({sum(r['psnr'] < vals[r['image']] for r in common)} below)")
                if inpaint and all(r.get("psnr_raw") is not None for r in common):
                    dr = _mean([r["psnr_raw"] - vals[r["image"]] for r in common])
                    line += f"; its raw network output {abs(dr):.2f} dB {'below' if dr < 0 else 'above'}"
                lines.append(line + ".")
    if pdip:
        lines.append("")

    if set_name == "denoise-sigma25":
        lines += paper_recipe_lines(set_name, "F16", recs)
        lines += ["For reference, the data README's classical baselines on a 2-core CPU (average of 9):", "",
                  *table(["method", "PSNR", "seconds per image"],
                         [[m, fmt(p), s] for m, p, s in README_CPU_BASELINES])]
    if any(r["method"] == "bm3d" for r in recs):
        lines += ["† BM3D comes from the optional `bm3d` package, free for non-commercial use only "
                  "(Tampere University licence); it is not a dependency of napari-dip.", ""]

    for png in plot_set(set_name, recs, images, variants, plots):
        lines += [f"![{png.stem}]({png.relative_to(md_dir).as_posix()})", ""]
    return lines


def _psnr_at(r: dict, k: int) -> float | None:
    """PSNR the run's history records at the last point at or before step ``k`` (a run that ended
    earlier, by its stop rule, keeps its last point: that is what it returned)."""
    h = r.get("history") or {}
    pts = [(it, p) for it, p in zip(h.get("iteration", []), h.get("psnr", []), strict=True) if p is not None]
    before = [p for it, p in pts if it <= k]
    return before[-1] if before else None


def budget_lines(set_name: str, recs: list[dict], images: list[str],
                 paper_t: dict[str, tuple[float | None, str]]) -> list[str]:
    """Shorter budgets read off the current fast runs' own PSNR histories: what a preset with
    fewer steps would give and cost (wall-clock scaled by the share of steps), beside the targets."""
    if set_name not in TARGETS:
        return []
    runs = {i: r for i, r in fast_runs(recs).items() if i in images}
    if len(runs) < len(images) or not all(paper_t[i][0] for i in runs):
        return []
    budget = max(int(r["config"]["iterations"]) for r in runs.values())
    # from half the budget up, in steps of a round hundred: about 6-12 rows whatever the budget
    steps = sorted({*range(budget // 2 // 100 * 100, budget, max(100, budget // 12 // 100 * 100)), budget})
    q, frac = TARGETS[set_name]
    paper_s = sum(paper_t[i][0] for i in runs)
    rows = []
    for k in steps:
        vals = [_psnr_at(r, k) for r in runs.values()]
        if any(v is None for v in vals):
            continue
        secs = sum(r["seconds_per_image"] * min(1.0, k / max(1, r["iterations_run"])) for r in runs.values())
        inv = paper_s / max(secs, 1e-9)
        rows.append([str(k), fmt(_mean(vals)), f"1/{inv:.1f}",
                     "met" if 1 / inv <= frac else "NOT met"])
    if not rows:
        return []
    offset = _mean([r["psnr"] - (_psnr_at(r, r["iterations_run"]) or r["psnr"]) for r in runs.values()])
    refined = [r for r in runs.values() if before_after_refine(r)]
    why = f"{step_name(refined)} after the fit" if refined else "it keeps the known pixels"
    header = ["budget (steps)", "PSNR", "time vs paper recipe", "time target"]
    note = ""
    if abs(offset) >= 0.01:
        note = (f" The history follows the network's own output; the returned output scores {offset:.2f} dB "
                f"more at the end of the runs ({why}); the column 'returned (estimate)' adds that "
                "end-of-run difference to each budget's history.")
        header.insert(2, "returned (estimate)")
        for row in rows:
            row.insert(2, fmt(float(row[1]) + offset))
    return [f"Shorter budgets, read off these runs' PSNR histories (average over {len(runs)} images; a run "
            "that its stop rule ended earlier keeps its output; time = each run's wall-clock × the share "
            f"of its steps, against the paper recipe; targets: >= {q} dB, <= 1/{round(1 / frac)} of the "
            f"time).{note}", "", *table(header, rows)]


def longer_budget_lines(recs: list[dict]) -> list[str]:
    """Runs of the current fast preset with only a longer budget (``--set iterations=N``): what the
    steps past the preset's budget gave, read off each run's own history, beside the preset's run."""
    base = fast_runs(recs)
    longer = [r for r in recs if r["method"] == "dip" and r["preset"] == "fast" and not r.get("iteration_cap")
              and (r.get("overrides") or "").startswith("iterations=") and ";" not in r["overrides"]]
    rows, gains = [], []
    for r in longer:
        b = base.get(r["image"])
        if b is None or r["iterations_run"] <= b["config"]["iterations"]:
            continue
        k0, k1 = b["config"]["iterations"], r["iterations_run"]
        p0, p1 = _psnr_at(r, k0), _psnr_at(r, k1)
        if p0 is None or p1 is None:
            continue
        gains.append((p1 - p0, r["psnr"] - b["psnr"]))
        rows.append([r["image"], f"{k0} → {k1}", fmt(p0), fmt(p1), fmt(p1 - p0), fmt(b["psnr"]),
                     fmt(r["psnr"]), fmt(r["psnr"] - b["psnr"]),
                     f"{fmt(b.get('seconds_per_iteration'), 3)} / {fmt(r.get('seconds_per_iteration'), 3)}"])
    if not rows:
        return []
    rows.append(["**mean**", "", "", "", fmt(_mean([g for g, _ in gains])), "", "",
                 fmt(_mean([g for _, g in gains])), ""])
    return ["Longer budgets (the current fast preset with only `iterations` raised, on a subset): the "
            "history columns follow one run (the network's own output at the preset's budget and at the "
            "end), the returned columns compare it with the preset's own run of the image (two runs: "
            "they differ by run-to-run variation too); s/it of both runs, which may come from different "
            "days.", "",
            *table(["image", "steps", "history @ budget", "history @ end", "gain", "returned (preset)",
                    "returned (longer)", "difference", "s/it preset / longer"], rows)]


# ----------------------------------------------------------------------------------------------
# plots


def plot_set(set_name: str, recs: list[dict], images: list[str], variants: list[str],
             plots: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots.mkdir(parents=True, exist_ok=True)
    out = []
    dips = [v for v in variants if v.startswith("DIP")]
    with_hist = [v for v in dips if any(variant(r) == v and r.get("history", {}).get("psnr") for r in recs)]
    if with_hist:
        fig, axes = plt.subplots(1, len(with_hist), figsize=(6 * len(with_hist), 4.2), squeeze=False)
        cmap = plt.get_cmap("tab10")
        for ax, v in zip(axes[0], with_hist, strict=True):
            for k, img in enumerate(images):
                r = next((r for r in recs if r["image"] == img and variant(r) == v), None)
                if not r:
                    continue
                h = r["history"]
                psnrs = h.get("psnr") or []
                pts = [(i, p) for i, p in zip(h["iteration"], psnrs, strict=False) if p is not None]
                if not pts:
                    continue
                c = cmap(k % 10)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=c, lw=1.2, label=img)
                ax.plot([r["stopped_at"]], [raw_psnr(r)], "o", color=c, ms=6, mec="k")
                if r.get("best_psnr_iteration"):
                    ax.plot([r["best_psnr_iteration"]], [r["best_psnr"]], "x", color=c, ms=6)
            name = "\n".join(textwrap.wrap(f"{set_name}: {v}", 60))  # long earlier-preset labels
            ax.set_title(f"{name}\n(o = returned by the stop rule, x = best seen)", fontsize=8)
            ax.set_xlabel("iteration")
            ax.set_ylabel("PSNR (dB)")
            ax.grid(alpha=0.3)
            lo = [p for r in recs if variant(r) == v for p in r.get("history", {}).get("psnr", [])
                  if p is not None]
            if lo:
                # hide the first steps' climb, but never a curve's end: an image that ends far below
                # the others (a hard image, a two-modality pair) must stay on the plot
                ends = [raw_psnr(r) for r in recs if variant(r) == v and raw_psnr(r) is not None]
                floor = min([max(lo) - 12, *(e - 1 for e in ends)])
                ax.set_ylim(max(min(lo), floor), max(lo) + 0.5)
            ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        p = plots / f"{set_name}-psnr.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        out.append(p)

    # quality against time
    pts = []
    for v in variants:
        rs = [r for r in recs if variant(r) == v and r["image"] in images and r["image"] not in NOT_AVERAGED]
        t, q = _mean([r["seconds_per_image"] for r in rs]), _mean([r["psnr"] for r in rs])
        if t is not None and q is not None:
            pts.append((v, max(t, 1e-3), q, len(rs)))
    if pts:
        fig, ax = plt.subplots(figsize=(8, 4.5 + 0.22 * len(pts)))
        for k, (v, t, q, n) in enumerate(pts):
            marker = "o" if v.startswith("DIP") else "s"
            ax.plot([t], [q], marker, ms=8, label=textwrap.fill(f"{k + 1}. {v} ({n})", 110))
            ax.annotate(str(k + 1), (t, q), textcoords="offset points", xytext=(5, 4), fontsize=7)
        # the full names in a legend below the axes: earlier presets' labels are long
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=6, frameon=False)
        for col, avg in PUBLISHED_AVERAGE.get(set_name, {}).items():
            if col.startswith("DIP"):
                ax.axhline(avg, ls="--", color="gray", lw=1)
                ax.annotate(f"{col}: {avg:.2f}", (min(p[1] for p in pts), avg), fontsize=7, color="gray",
                            textcoords="offset points", xytext=(0, 3))
        ax.set_xscale("log")
        ts = [p[1] for p in pts]
        ax.set_xlim(min(ts) / 2, max(ts) * 20)
        ax.set_xlabel("seconds per image (log)")
        ax.set_ylabel("average PSNR (dB)")
        ax.set_title(f"{set_name}: quality against time (number of images in brackets)", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        fig.tight_layout()
        p = plots / f"{set_name}-quality-time.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        out.append(p)
    return out


def micro_section(recs: list[dict], plots: Path, md_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = ["## Microbenchmark: seconds per iteration", "",
             "The engine's loop (denoising a synthetic RGB image, skip network of the given width at 5 "
             "scales) timed after warm-up iterations. `auto` precision is what the fast preset uses "
             "(bfloat16 only where the CPU has it natively).", ""]
    rows = []
    for r in sorted(recs, key=lambda r: (r["preset"], r["size"], r["width"], r["precision"],
                                         r["channels_last"])):
        rows.append([r["preset"], f"{r['size']}²", str(r["width"]), r["precision"],
                     r.get("resolved_precision", "?"),
                     "channels-last" if r["channels_last"] else "contiguous",
                     fmt(r["seconds_per_iteration"], 4), str(r["machine"].get("torch_threads"))])
    lines += table(["device", "size", "width", "precision", "ran as", "layout", "s/iteration", "threads"],
                   rows)
    sweep = [r for r in recs if r["precision"] == "auto" and r["channels_last"]]
    if sweep:
        plots.mkdir(parents=True, exist_ok=True)
        fig, ax = plt.subplots(figsize=(6, 4))
        for w in sorted({r["width"] for r in sweep}):
            pts = sorted((r["size"], r["seconds_per_iteration"]) for r in sweep if r["width"] == w)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"width {w}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("image side (pixels)")
        ax.set_ylabel("seconds per iteration")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
        fig.tight_layout()
        p = plots / "microbench.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        lines += [f"![microbench]({p.relative_to(md_dir).as_posix()})", ""]
    return lines


def levers_section(micro: list[dict], by_set: dict[str, list[dict]]) -> list[str]:
    """Issue 5's levers: what each measured lever buys, and whether the fast preset keeps it."""
    def spi(size, width, precision, cl):
        for r in micro:
            if (r["size"], r["width"], r["precision"], r["channels_last"]) == (size, width, precision, cl):
                return r["seconds_per_iteration"]
        return None

    rows = []
    for size in sorted({r["size"] for r in micro}):
        pairs = [
            ("width 128 → 32 (channels-last, auto precision)", spi(size, 128, "auto", True),
             spi(size, 32, "auto", True), "kept: width 32 at every scale"),
            ("float32 → bfloat16 autocast (width 32, channels-last)", spi(size, 32, "float32", True),
             spi(size, 32, "bfloat16", True), "kept where the CPU has native bfloat16 (precision auto)"),
            ("float32 → bfloat16 autocast (width 128, channels-last)", spi(size, 128, "float32", True),
             spi(size, 128, "bfloat16", True), "(the paper preset stays float32)"),
            ("contiguous → channels-last (width 32, bfloat16)", spi(size, 32, "bfloat16", False),
             spi(size, 32, "bfloat16", True), "kept"),
            ("contiguous → channels-last (width 32, float32)", spi(size, 32, "float32", False),
             spi(size, 32, "float32", True), "kept"),
            ("paper recipe (w128 fp32 contiguous) → fast (w32 auto channels-last)",
             spi(size, 128, "float32", False), spi(size, 32, "auto", True), "per-iteration gain"),
        ]
        for name, a, b, verdict in pairs:
            if a and b:
                rows.append([f"{size}²", name, f"{a:.4f} → {b:.4f}", f"{a / b:.2f}×", verdict])
    its = [r for rs in by_set.values() for r in rs
           if r.get("method") == "dip" and r.get("preset") == "fast" and not r.get("overrides")
           and not r.get("iteration_cap")]
    lines = ["## Levers for the fast preset (issue 5)", ""]
    if rows:
        lines += ["Seconds per iteration from the microbenchmark above, one lever at a time:", "",
                  *table(["size", "lever", "s/iteration", "speed-up", "fast preset"], rows)]
    if its:
        frac = _mean([r["stopped_at"] / r["config"]["iterations"] for r in its])
        gap = _mean([r["best_psnr"] - raw_psnr(r) for r in its if r.get("best_psnr") is not None])
        lines += [f"- Automatic stop (kept): over the {len(its)} fast runs above it returned after "
                  f"{100 * frac:.0f}% of the budget on average, {fmt(gap)} dB below the best output seen.",
                  ""]
    lines += [
        "- Tiles of up to 288² for denoising, inpainting and super-resolution (kept, 2026-12-02): "
        "a 32-wide network fits a 256² plane about as well as the paper's 128-wide one (hill: "
        "32.17 dB against the paper's 32.09) but learns a whole 512² plane far more slowly; tiles "
        "give it the capacity back for the same work per pixel. Tiles of 136² overfit within 600 "
        "steps and peak lower (table below). Inpainting a 256² quarter of barbara (50 % missing, "
        "3000 steps): 32.3 dB raw output, 33.5 with the known pixels kept, where the whole 512² "
        "plane reached 27.9 and 30.0.",
        "- Input jitter ramp (kept for denoising): the paper's 1/30, begun at half and raised "
        "linearly over steps 300–900. On hill (256², a prototype loop with the same network, bfloat16): "
        "1/30 throughout 32.01 dB at step 1600 (best 32.17 at 2080), 1/60 throughout best 31.54 at "
        "960 then falling (30.36 at 2000), the ramp 32.15 at 1600 (best 32.17 at 1700), a ramp from "
        "1/90 32.07 at best, 1/45 throughout 31.59 at 1600. Planes of up to 128² get the full "
        "jitter from the start (interpolated up to 256²): a 96² camera crop (σ = 25) peaked at "
        "27.12 dB at step 361 with the ramp and at 29.63 at step 478 without it.",
        "- Dropped, measured on hill in the same prototype: Adam lr 0.02 (30.29 dB at step 1000 "
        "against 30.93, best 32.19 only at step 2400); cosine decay of lr 0.02 over 2000 steps "
        "(best 31.13).",
        "- Dropped: SURE instead of the mean squared error (Jo et al., ICCV 2021; the noisy image as "
        "the network's input, Monte-Carlo divergence): on a 256² astronaut crop it reached 28.9 dB "
        "(raw output) by step 400 where DIP needs 2000 steps for 28.0, but the finite-difference "
        "divergence was exploited within 600 steps in bfloat16 and in float32 (loss below zero, "
        "output falling to 26 dB), the exact divergence (double backward) costs 2.5× per step and "
        "plateaued at 28.1, and BM3D gives 30.4 on that crop.",
        "- Dropped: an informed network input beside the random code. Super-resolution with the "
        "bicubic upsampling as input (astronaut 256² ×4, prototype loop): 25.67 dB luminance at step "
        "500 against 24.44, but stuck near bicubic's 25.15 (25.80 at 2000 against 26.20 with the "
        "code alone). Inpainting with the holes pre-filled by normalised convolution (a 256² "
        "quarter of barbara, 50 % missing): 28.46 dB at step 3000 against 33.54 with the code alone "
        "(known pixels kept in both).",
        "- Dropped: `torch.compile` of the 32-wide network at 272² (ad-hoc timing script, 20 "
        "timed steps): 0.141 s/it compiled against 0.084–0.11 eager, after 55–107 s of compiling.",
        "- Channels-last against contiguous at 272² and 512² (width 32, bfloat16): within the "
        "±15 % that repeated timings of the same setting vary by on this shared CPU; kept.",
        "- Coarse-to-fine fitting and optimising the input code with frozen weights (Deep Random "
        "Projector): measured in a prototype loop (section 'Coarse-to-fine fitting and the Deep "
        "Random Projector' below); neither is in the engine.",
        "- Kept for denoising with the mse loss (2026-12-04): an empirical Wiener step after the fit, "
        "the network's output as its pilot (`Config.refine`); it changes no step of the fit and costs "
        "seconds per image (section 'Denoising: the Wiener step after the fit' below; its gain on the "
        "paper's images is in the denoising section above).",
        "- Kept for denoising (2026-12-04, the preset's step since then): the same Wiener step on "
        "groups of matched 8×8 blocks (`refine` = bm-wiener, BM3D's second stage with its block "
        "matching) on the pilot's edges and texture, the sliding window's estimate in its flat "
        "regions. Grouped on every pixel it was better on textured photographs but 0.6–0.75 dB "
        "worse on the smooth cell and moon crops; blended by the pilot's gradient it gains on "
        "both (section 'Denoising: the Wiener step after the fit' below).",
        "- Kept for super-resolution (2026-12-04): the projection of the output onto the images the "
        "downsampler maps exactly onto the input (`refine` = project, conjugate gradients, about a "
        "second). In a run of 1800 steps per Set5 image (script outside the project) it took the "
        "luminance PSNR from 29.69 to 29.78 dB on average (baby +0.17, bird +0.15, woman +0.00, "
        "butterfly -0.04, head +0.19); with it the preset runs 1700 steps instead of 2400.", ""]
    return lines


def scale_widths_section(d: dict) -> list[str]:
    """Seconds and FLOPs per step for widths that differ between scales (``benchmarks/scale_widths.py``)."""
    recs = d.get("records", [])
    if not recs:
        return []
    base = next((r for r in recs if r["method"] == "preset"), recs[0])
    m = base.get("machine") or {}
    lines = ["### A narrower finest scale (issue 5)", "",
             f"`benchmarks/scale_widths.py`: the engine loop denoising a synthetic {base['image']} RGB "
             f"image in one plane, fast preset with the channels below, {d.get('repeats')} interleaved "
             f"repeats of {d.get('timed')} timed steps after {d.get('warmup')} warm-up steps "
             f"({m.get('cpu')}, {m.get('torch_threads')} threads, {m.get('precision')}); FLOPs of a forward "
             "and backward pass counted by `torch.utils.flop_counter`.", "",
             *table(["profile", "channels per scale (skip channels)", "GFLOP/step", "s/step (min)",
                     "s/step (all repeats)", "speed-up"],
                    [[r["method"], _profile(r["overrides"]),
                      f"{r['gflop_per_step']:.2f}", f"{r['seconds_per_step_min']:.4f}",
                      ", ".join(f"{t:.4f}" for t in r["seconds_per_step"]),
                      f"{base['seconds_per_step_min'] / r['seconds_per_step_min']:.2f}×"]
                     for r in recs])]
    half = [r for r in recs if r is not base and r["gflop_per_step"] < 0.6 * base["gflop_per_step"]]
    for r in half:
        lines += [f"`{r['method']}` does {r['gflop_per_step'] / base['gflop_per_step']:.0%} of the "
                  f"preset's arithmetic per step but runs only "
                  f"{base['seconds_per_step_min'] / r['seconds_per_step_min']:.2f}× as fast: at these "
                  "widths a step on this CPU is bound by memory traffic and per-layer overheads more "
                  "than by FLOPs, so a narrower finest scale buys few extra steps for the capacity it "
                  "gives up. Not run for quality; the preset keeps its widths.", ""]
    return lines


def _profile(overrides: str) -> str:
    """'{"channels": (16, 32), ...}' as 'channels 16, 32; ...' (the preset's own: 'the preset's')."""
    import ast

    d = ast.literal_eval(overrides) if overrides else {}
    if not d:
        return "the preset's"
    return "; ".join(f"{k.replace('_', ' ')} {', '.join(map(str, v))}" for k, v in d.items())


def prototype_levers_section(d: dict) -> list[str]:
    """Coarse-to-fine fitting and the Deep Random Projector in a loop of their own
    (``benchmarks/prototype_levers.py``)."""
    import prototype_levers as pl

    recs = d.get("records", [])
    if not recs:
        return []
    its = max(r["iterations"] for r in recs)
    recs = [r for r in recs if r["iterations"] == its]
    m = recs[0].get("machine") or {}
    lines = ["## Coarse-to-fine fitting and the Deep Random Projector (issue 5)", "",
             "`benchmarks/prototype_levers.py`: the two levers that change what the loop fits, tried "
             "in a small loop of their own before either earns a place in the engine, on `tune.py`'s "
             "denoising crops (scikit-image images, central 256², σ = 25, seeded; not the paper's "
             f"images), {its} steps each ({m.get('cpu')}, {m.get('torch_threads')} threads, "
             f"{m.get('precision')}). `dip` is the fast denoising preset's recipe in the same loop. "
             "Columns: PSNR of the averaged output (0.99) at the marked steps; the best of it; the best "
             "single output, where recorded; seconds per step; and the PSNR (averaged output) each "
             "setting had reached by the wall-clock `dip` needed for 300, 600, 1200 and 1800 steps: "
             "equal time, the comparison that matters for a lever meant to save time.", ""]
    count = {i: sum(r["image"] == i for r in recs) for i in {r["image"] for r in recs}}
    first = max(count, key=lambda i: (count[i], i))  # the image every setting was tried on
    lines += [f"{first}, every setting:", "", *pl.table(d, [first], its), ""]
    if len(count) > 1:
        rows = pl.table(d, sorted(count), its)
        if len(rows) > 3:
            lines += [f"Average over {', '.join(sorted(count))} (the settings run on all):", "",
                      *rows, ""]
    lines += [f"- `{name}`: {text}" for name, text in pl.DESCRIPTIONS.items()
              if any(r["lever"] == name for r in recs)]
    lines += ["", *pl.verdict(d, its), ""]
    return lines


def levers_runs_section(d: dict) -> list[str]:
    """Whole paper images and crops of them, one long run per setting (``benchmarks/levers.py``)."""
    import levers

    return ["## Tiles and the jitter ramp on the paper's F16 (issue 5)", "",
            "`benchmarks/levers.py`: the paper's noisy F16 (σ = 25) or a 256² crop of it, each "
            "setting a change against the fast denoising preset of 2026-11-25, fixed budgets. "
            "Curve: PSNR of the averaged output of the whole plane (for these tiled runs, from every "
            "tile's own error, before blending: the tiles' borders count in full); returned: the "
            "image the run returned (tiles blended). The benchmark sets' tiled runs since "
            "2026-12-02 record the blended plane at every point instead. "
            "s/it is per iteration of the whole plane (one step of every tile).", "",
            *levers.table(d), ""]


def machines(by_set: dict[str, list[dict]], micro: list[dict]) -> list[str]:
    seen = {}
    for r in [r for s in SETS for r in by_set.get(s, [])] + micro:
        m = r.get("machine") or {}
        if not m.get("cpu"):  # side studies kept some records without it
            continue
        k = (m.get("cpu"), m.get("cores_available"), m.get("torch"), m.get("cpu_native_bf16"))
        seen.setdefault(k, m)
    return [f"- CPU {m.get('cpu')}, {m.get('cores_available')} cores available, torch {m.get('torch')}, "
            f"native bfloat16: {m.get('cpu_native_bf16')}" for m in seen.values()]


def tiling_section(d: dict, folder: Path, md_dir: Path) -> list[str]:
    """Peak memory tiled/untiled and the seam check (``benchmarks/tiling.py``)."""
    recs = d.get("records", [])
    lines = ["## Large images: tiles and memory", "",
             "`benchmarks/tiling.py memory`: denoising a grayscale image with the fast preset for a few "
             "iterations per tile (peak memory does not depend on the number of iterations), each "
             "configuration in a fresh process; peak resident memory of that process. Runs from "
             "2026-12-04 on include the preset's step after the fit (`refine` = bm-wiener on the whole "
             "plane: most of the 2048² runs' seconds, and +0.7 GiB of the tiled peak, 2805 MiB in "
             "174 s; from 2026-12-05 its block matching is 3.7× faster and it filters twice when the "
             "first pass changes the pilot by much, as it does on these few-iteration fits: 3203 MiB "
             "in 123 s).", ""]
    cpus = sorted({f"{r['machine'].get('cpu')} ({r['timestamp'][:10]})" for r in recs
                   if r.get("machine") and r.get("timestamp")})
    if cpus:
        lines += [f"Measured on: {'; '.join(cpus)}.", ""]
    mem = sorted((r for r in recs if r.get("kind") == "memory"),
                 key=lambda r: (r["size"], str(r["tile"])))
    if mem:
        rows = [[f"{r['size']}×{r['size']}", "untiled" if r["tile"] == 0 else
                 f"fast preset (tile {r.get('tile_setting')})", str(r.get("tiles", "–")),
                 fmt(r.get("peak_rss_mib"), 0) if "error" not in r else "failed: " + r["error"][:60],
                 fmt(r.get("seconds"), 1), str(r.get("iterations"))] for r in mem]
        lines += [*table(["image", "tiling", "tiles", "peak memory (MiB)", "seconds",
                          "iterations per tile"], rows), ""]
    for r in (r for r in recs if r.get("kind") == "seams"):
        lines += [f"`benchmarks/tiling.py seams`: a {r['size']}×{r['size']} crop of scikit-image's "
                  f"`camera` with Gaussian noise σ = 25 (input {fmt(r['psnr_noisy'])} dB), fast preset "
                  f"with its automatic stop, untiled and in {r['tiles']} tiles of at most {r['tile']} px "
                  f"overlapping by {r['overlap']} px. Seam score: mean absolute gradient on the seam "
                  "lines ÷ on all other lines (≈ 1: no seam).", ""]
        lines += [*table(["run", "PSNR vs clean (dB)", "seam score", "seconds", "stopped at"], [
            ["untiled", fmt(r["psnr_untiled"]), fmt(r["seam_score_untiled"], 3),
             fmt(r["seconds_untiled"], 1), str(r["stopped_at_untiled"])],
            [f"{r['tiles']} tiles", fmt(r["psnr_tiled"]), fmt(r["seam_score_tiled"], 3),
             fmt(r["seconds_tiled"], 1), str(r["stopped_at_tiled"])]]), ""]
        lines += [f"Tiled against untiled output: {fmt(r['psnr_tiled_vs_untiled'])} dB PSNR (two "
                  "independent DIP fits of the same image differ by about this much anyway).", ""]
        pics = folder / "tiling"
        for name in ("tiled", "untiled"):
            png = pics / f"camera{r['size']}-{name}.png"
            if png.exists():
                lines.append(f"![{name}]({os.path.relpath(png, md_dir)})")
        lines.append("")
    return lines


def timelapse_section(d: dict) -> list[str]:
    """Warm start against independent frames (``benchmarks/timelapse.py``)."""
    lines = ["## Time-lapse: warm start", "",
             f"`benchmarks/timelapse.py`: {d['frames']} frames of {d['size']}×{d['size']} (synthetic: "
             f"the `camera` scene with a drifting, turning textured disc; fresh Gaussian noise "
             f"σ = {d['sigma']:g} per frame; input {fmt(d.get('noisy_psnr'))} dB, flicker "
             f"{fmt(d.get('noisy_flicker'))}), fast preset, {d['machine'].get('cpu')}, "
             f"{d['machine'].get('torch_threads')} threads, {str(d.get('date', '?'))[:10]}"
             f"{' (QUICK run: numbers meaningless)' if d.get('quick') else ''}.",
             "Flicker: mean absolute frame-to-frame difference on pixels the disc never touches "
             "(0–255; the clean stack scores 0).", ""]
    rows = [[r["mode"], fmt(r["seconds"], 1), fmt(r.get("speedup"), 2) + "×", fmt(r["psnr_mean"]),
             fmt(r.get("psnr_delta_db"), 2), fmt(r["iterations_mean"], 0),
             fmt(r["iterations_after_first"], 0), fmt(r["flicker"], 2)] for r in d["records"]]
    lines += [*table(["mode", "seconds", "speed-up", "PSNR (dB)", "Δ PSNR", "iterations/frame",
                      "iterations/frame after the first", "flicker"], rows), ""]
    if d.get("target_met") is not None:
        lines += [f"Issue 6's target (warm start ≥ 3× faster than independent frames, PSNR within "
                  f"0.2 dB): **{'met' if d['target_met'] else 'NOT met'}**.", ""]
    return lines


def stop_floor_section(store: dict) -> list[str]:
    """``benchmarks/stop_floor.py``: PSNR where the stop fires for each noise-floor factor k."""
    import stop_floor

    m = next(iter(store.values()))["machine"]
    return ["## The automatic stop and the noise level (denoising)", "",
            "`benchmarks/stop_floor.py`: fast preset on crops of scikit-image images with Gaussian "
            "noise σ = 25, the windowed-variance rule replayed with `stop_noise_floor = k`: no "
            "variance minimum counts, and so no stop, while the loss averaged over 50 steps is above "
            "k × the noise variance estimated from the input, and the patience runs from the first "
            "minimum after that. The last column is the rule before 2026-11-25 at k = 1: minima "
            "counted from the start, only the stop held until the loss reached the floor (a fast "
            "fitter then stopped right after reaching it, still improving). "
            f"{m.get('cpu')}, {m.get('precision')}. Cells: PSNR of the returned output "
            "@ the step where the rule stops (the budget when it never does). The fast preset uses "
            "k = 1.", "", *stop_floor.table(store), ""]


def averaging_section(store: dict) -> list[str]:
    """``benchmarks/averaging.py``: PSNR of averaging schemes over the same raw iterates."""
    import averaging

    recs = store["records"]
    if not recs:
        return []
    m = recs[0]["machine"]
    doc = " ".join(" ".join(averaging.__doc__.split("\n\n")[2:4]).split())
    header, rows = averaging.table(store)
    return ["## Denoising: averaging the output over iterations", "",
            f"`benchmarks/averaging.py`. {doc} Images: {', '.join(r['image'] for r in recs)}; "
            f"{m.get('cpu')}, {m.get('precision')}. Mean PSNR (dB) over the images at each step.", "",
            *table(header, rows)]


def refine_section(store: dict, saved: dict | None = None) -> list[str]:
    """``benchmarks/refine.py``: the Wiener step after the fit, on scikit-image crops and (``saved``)
    on a benchmark set's own fits."""
    import refine

    recs = store["records"]
    if not recs:
        return []
    m = recs[0]["machine"]
    doc = " ".join(" ".join(refine.__doc__.split("\n\n")[2:3]).split())
    def by_noise(after: str, before: str) -> tuple[list[float], str]:
        """Gains ``after - before`` over the records that have both, and their summary by noise."""
        groups: dict[str, list[float]] = {}
        for r in recs:
            if r.get(after) is not None and r.get(before) is not None:
                groups.setdefault(r["noise"], []).append(r[after] - r[before])
        text = "; ".join(f"{refine.NOISES.get(k, k)}: {_mean(g):+.2f} dB over {len(g)} "
                         f"(from {min(g):+.2f} to {max(g):+.2f})" for k, g in groups.items())
        return [g for gs in groups.values() for g in gs], text

    gains, summary = by_noise("psnr", "psnr_before_refine")
    _, grouped = by_noise("psnr_grouped_refined", "psnr")
    _, everywhere = by_noise("psnr_everywhere_refined", "psnr")
    lines = ["## Denoising: the Wiener step after the fit", "",
             f"`benchmarks/refine.py`. {doc} {m.get('cpu')}, {m.get('precision')}; the fast denoising "
             "preset with its automatic stop. 'wiener step', 'bm-wiener step': seconds for each step "
             "alone at this size.", "",
             *table(refine.HEADER, refine.rows(store)), "",
             f"- `wiener` over the network's output: {_mean(gains):+.2f} dB on average over {len(gains)} "
             f"cases. By noise: {summary}.",
             *([f"- `bm-wiener` over `wiener`, the same pilot: {grouped}."] if grouped else []),
             *([f"- Grouped on every pixel (`edge_ramp=None`) over `wiener`: {everywhere}."]
               if everywhere else []), ""]
    if saved:
        recs = saved["records"]
        g = [r["psnr_grouped_refined"] - r["psnr"] for r in recs]

        def mean_of(k: str) -> float:
            return _mean([r[k] for r in recs])

        sets = sorted({r["noise"] for r in recs})
        lines += [f"The same steps on the fits of the benchmark set{'s' if len(sets) > 1 else ''} "
                  f"{', '.join(sets)} (`python benchmarks/run.py SET --set refine=none "
                  "--save-outputs DIR`, then `python benchmarks/refine.py saved --outputs DIR`; the "
                  "networks' outputs are the preset's own, so 'wiener' is what the preset returns):", "",
                  *table(refine.HEADER, refine.rows(saved)), "",
                  f"- Mean over {len(recs)} images: network {mean_of('psnr_before_refine'):.2f} dB, "
                  f"`wiener` {mean_of('psnr'):.2f}, `bm-wiener` {mean_of('psnr_grouped_refined'):.2f} "
                  f"({_mean(g):+.2f}, from {min(g):+.2f} to {max(g):+.2f}), grouped everywhere "
                  f"{mean_of('psnr_everywhere_refined'):.2f}.", ""]
    return lines


def fill_section(store: dict, saved: dict | None = None) -> list[str]:
    """``benchmarks/fill.py``: inpainting's DCT fill after the fit, from the network's fill at
    several budgets and from a biharmonic one."""
    import fill

    recs = store["records"]
    if not recs:
        return []
    doc = " ".join(" ".join(fill.__doc__.split("\n\n")[2:4]).split())
    budgets = sorted({b for r in recs for b in fill._budgets(r)})
    m = next((r["machine"] for r in recs if r.get("machine")), {})
    lines = ["## Inpainting: the DCT fill after the fit", "",
             f"`benchmarks/fill.py`. {doc} {m.get('cpu', '')}, {m.get('precision', '')}. Cells: PSNR "
             "(dB) of the start → after the step; 'step (s)': seconds for the step alone.", "",
             *table(fill.header(budgets), fill.rows(recs, budgets)), "",
             *[f"- {line}" for line in fill.summary(recs, fill.TUNED_ON)], ""]
    if saved and saved["records"]:
        srecs = saved["records"]
        sb = sorted({b for r in srecs for b in fill._budgets(r)})
        lines += ["The same step on the fits of a benchmark set (`python benchmarks/run.py SET --set "
                  "refine=none --save-outputs DIR`, then `python benchmarks/fill.py saved --outputs "
                  "DIR`):", "", *table(fill.header(sb), fill.rows(srecs, sb)), "",
                  *[f"- {line}" for line in fill.summary(srecs)], ""]
    return lines


def refine_variants_section(store: dict) -> list[str]:
    """``benchmarks/refine_variants.py``: changes to ``bm-wiener`` tried on saved fits, and dropped."""
    import refine_variants

    if not store["records"]:
        return []
    doc = " ".join(refine_variants.__doc__.split("\n\n")[2].split())
    return ["Variants of the `bm-wiener` step (`benchmarks/refine_variants.py --outputs DIR --pilots "
            f"DIR`). {doc}", "", *[f"- {line}" for line in refine_variants.summary(store)], ""]


def deblur_headroom_section(store: dict) -> list[str]:
    """``benchmarks/deblur_headroom.py``: PSNR and restored bead peaks against the headroom."""
    import deblur_headroom

    recs = store["records"]
    dips = [r for r in recs if r["method"] == "dip"]
    if not dips:
        return []
    m = dips[0]["machine"]
    rows = []
    for image in dict.fromkeys(r["image"] for r in recs):
        for r in [r for r in recs if r["image"] == image]:
            label = f"DIP fast, headroom {r['headroom']:g}" if r["method"] == "dip" else \
                "Richardson-Lucy (skimage, 30 it., unclipped)"
            rows.append([image, label, fmt(r["psnr"]), fmt(r.get("peak_ratio")),
                         fmt_time(r.get("seconds"))])
    doc = " ".join(deblur_headroom.__doc__.split("\n\n")[2].split())  # the paragraph on why
    return ["## Deblurring: room above the blurred image for restored peaks", "",
            f"`benchmarks/deblur_headroom.py`. {doc} Beads: 192×192 uint16, 40 Gaussian beads "
            "(sigma 0.8 px, peaks 2000–6000 counts over a background of 200), Gaussian PSF sigma 2 "
            "px, noise sigma 20; astronaut: a 192×192 grayscale crop (uint8), the same PSF, noise "
            f"sigma 5. DIP with the fast preset, {dips[0]['iterations']} "
            f"fixed steps, {m.get('cpu')}, {m.get('precision')}. Peak ratio: restored bead height ÷ "
            "true height above the background (median over the 40 beads). The fast preset's "
            "headroom is auto: 2 for data scaled by their own range (the beads), 1 for uint8 (the "
            "astronaut crop, whose 0–255 scale leaves room up to 255).", "",
            *table(["image", "method", "PSNR (dB)", "peak ratio", "time"], rows)]


# settings that do not change the restored image
def stale_notes(set_name: str, recs: list[dict]) -> list[str]:
    """Name the fast-preset records made with settings the fast preset no longer has."""
    notes = []
    for r in recs:
        if (r["method"] != "dip" or r["preset"] != "fast" or r.get("overrides")
                or r.get("iteration_cap") or not r.get("config")):
            continue
        diff = preset_changes(r)
        if diff:
            changes = ", ".join(f"{k} {a!r} (now {b!r})" for k, (a, b) in diff.items())
            notes.append(f"`{r['image']}` was run with an earlier fast preset: {changes}; rerun it "
                         "with `--force`.")
    return [*notes, ""] if notes else []


# settings tune.py sets itself for every run (its records replay the stop rule offline)
_TUNE_SETS = {"stop", "stop_patience", "stop_relative_patience", "iterations", "preview_every"}


def _tuning_preset_moved(task: str, name: str, rec: dict) -> str:
    """For a tuning run of a ``current…`` setting: what the fast preset has changed since, as
    "k then → now" ("" when nothing has)."""
    import tune
    from napari_dip.core.config import Config

    then = rec.get("config") or {}
    now_cfg = _as_run(Config.preset("fast", *tune.engine_task(task), **tune.CONFIGS.get(name, {})),
                      task).to_dict()
    defaults = Config().to_dict()
    moved = [f"{k} {_short(then.get(k, defaults[k]))} → {_short(v)}" for k, v in now_cfg.items()
             if k not in _TUNE_SETS | _NO_EFFECT
             and json.dumps(then.get(k, defaults[k])) != json.dumps(v)]
    return ", ".join(moved)


def tuning_section(d: dict) -> list[str]:
    """How the fast preset was chosen (``benchmarks/tune.py``): a table per crop size, a row per setting."""
    import tune
    from napari_dip import Config

    task = d["task"]
    cfg = Config.preset("fast", *tune.engine_task(task))
    budget = min(cfg.iterations, d["iterations"])
    fixed = cfg.stop == "fixed"
    patience = 10**9 if fixed else cfg.stop_patience  # a fixed budget: a rule that never fires
    returned = (f"'returned' is the output at the current preset's fixed budget of {budget} steps."
                if fixed else
                f"'returned' replays the current preset's rule (patience {cfg.stop_patience}, relative "
                f"patience {cfg.stop_relative_patience:g}, budget ≤ {budget}).")
    # tune.py names crops other than its 256² default "image@size"
    by_size: dict[str, list[dict]] = {}
    for r in d["records"]:
        size = r["image"].partition("@")[2] or "256"
        by_size.setdefault(size, []).append(r)
    lines = []
    for size, recs in sorted(by_size.items(), key=lambda kv: int(kv[0])):
        images = sorted({r["image"].partition("@")[0] for r in recs})
        flag = "" if size == "256" else f" --size {size}"
        lines += [f"### Tuning the fast preset: {task}, {size}×{size}", "",
                  f"`benchmarks/tune.py {task}{flag}`: central {size}×{size} crops (the whole side where "
                  f"the image is smaller) of scikit-image's {', '.join(images)} "
                  f"({tune.PROBLEMS[task]}), never the paper's images. One run of up to "
                  f"{d['iterations']} iterations per setting and image; settings named `current…` are "
                  "changes against the fast preset as it is now, `nov25…` against the denoising "
                  "preset of 2026-11-25 (4 skip channels, jitter floor ½), the others against the "
                  "fast preset as it was before tuning. The automatic stop is replayed offline on "
                  "the recorded variance metric. Means over the images; PSNR of the averaged "
                  f"output against the clean crop. {returned}", ""]
        rows = []
        for name in dict.fromkeys(r["config_name"] for r in recs):
            rs = [r for r in recs if r["config_name"] == name]
            summ = [tune.summarise(r, patience, 0.0 if fixed else cfg.stop_relative_patience, budget)
                    for r in rs]
            at = {n: _mean([r["psnr_curve"][n - 1] for r in rs if len(r["psnr_curve"]) >= n])
                  for n in (500, 1000, 1500)}
            change = ", ".join(f"{k}={tune.show(v, k)}" for k, v in tune.CONFIGS.get(name, {}).items())
            if name.startswith("current"):  # "current" is the preset when it ran: say if it moved on
                moved = _tuning_preset_moved(task, name, rs[0])
                if moved:
                    change = f"{change or '(unchanged)'} on the fast preset of " \
                             f"{rs[0]['timestamp'][:10]} ({moved})"
            default = {"current": "(the fast preset now)", "nov25": "(fast preset of 2026-11-25)",
                       "random-code": "(a random code as the network's input, the engine before)"}.get(
                           name, "(fast preset before tuning)")
            rows.append([name, change or default, str(len(rs)),
                         fmt(_mean([x["best"] for x in summ])), fmt(_mean([x["best_at"] for x in summ]), 0),
                         fmt(at[500]), fmt(at[1000]), fmt(at[1500]),
                         fmt(_mean([x["within_05_at"] for x in summ]), 0),
                         fmt(_mean([x["psnr"] for x in summ])),
                         fmt(_mean([x["stopped_at"] for x in summ]), 0),
                         fmt(_mean([x["s_it"] for x in summ if x["s_it"] == x["s_it"]]), 3)])
        lines += table(["setting", "change", "images", "best PSNR", "best at", "PSNR @500", "@1000",
                        "@1500", "within 0.5 dB of best at", "returned", "stopped at", "s/it"], rows)
        notes = [r.get("note") for r in recs if r.get("note")]
        for n in dict.fromkeys(notes):
            lines += [f"- {n}."]
        lines += [""]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="*", type=Path)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    ap.add_argument("--plots", type=Path, help="folder for PNGs (default: OUT's folder / benchmarks)")
    args = ap.parse_args(argv)
    inputs = args.inputs or [ROOT / "benchmarks" / "results"]
    by_set, micro = load(inputs)
    md_dir = args.out.resolve().parent
    plots = (args.plots or md_dir / "benchmarks").resolve()
    lines = ["# Benchmarks", "",
             f"Generated by `benchmarks/report.py` from the results JSON of `benchmarks/run.py` and "
             f"`benchmarks/microbench.py` ({now()}). How to run them: `benchmarks/README.md`.", "",
             "Machines:", "", *machines(by_set, micro), ""]
    lines += summary_section(by_set)
    saved: dict[tuple[str, str], dict] = {}  # refine.py saved: steps scored on the sets' own fits
    for d in inputs:
        f = (d if d.is_dir() else d.parent) / "refine-saved.json"
        if f.exists():
            saved.update({(r["noise"], r["image"]): r for r in json.loads(f.read_text())["records"]})
    for s in SETS:
        if by_set.get(s):
            lines += set_section(s, by_set[s], plots, md_dir, saved)
    if micro:
        lines += micro_section(micro, plots, md_dir)
        lines += levers_section(micro, by_set)
    for d in inputs:
        folder = d if d.is_dir() else d.parent
        if (folder / "scale-widths.json").exists():
            lines += scale_widths_section(json.loads((folder / "scale-widths.json").read_text()))
        if (folder / "tiling.json").exists():
            lines += tiling_section(json.loads((folder / "tiling.json").read_text()), folder, md_dir)
        if (folder / "timelapse.json").exists():
            lines += timelapse_section(json.loads((folder / "timelapse.json").read_text()))
        if (folder / "stop-floor.json").exists():
            lines += stop_floor_section(json.loads((folder / "stop-floor.json").read_text()))
        if (folder / "deblur-headroom.json").exists():
            lines += deblur_headroom_section(json.loads((folder / "deblur-headroom.json").read_text()))
        if (folder / "refine.json").exists():
            saved = folder / "refine-saved.json"
            lines += refine_section(json.loads((folder / "refine.json").read_text()),
                                    json.loads(saved.read_text()) if saved.exists() else None)
        if (folder / "fill.json").exists():
            saved = folder / "fill-saved.json"
            lines += fill_section(json.loads((folder / "fill.json").read_text()),
                                  json.loads(saved.read_text()) if saved.exists() else None)
        if (folder / "refine-variants.json").exists():
            lines += refine_variants_section(json.loads((folder / "refine-variants.json").read_text()))
        if (folder / "averaging.json").exists():
            lines += averaging_section(json.loads((folder / "averaging.json").read_text()))
        if (folder / "prototype-levers.json").exists():
            lines += prototype_levers_section(
                json.loads((folder / "prototype-levers.json").read_text()))
        if (folder / "levers.json").exists():
            lines += levers_runs_section(json.loads((folder / "levers.json").read_text()))
        tuned = sorted(folder.glob("tune-*.json"))
        if tuned:
            lines += ["## How the fast preset was tuned (issue 5)", ""]
            for f in tuned:
                lines += tuning_section(json.loads(f.read_text()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines).rstrip() + "\n")
    print(f"wrote {args.out} and plots in {plots}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
