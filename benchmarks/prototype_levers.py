"""Prototype loops for issue 5's two untried levers, denoising the tuning crops.

    python benchmarks/prototype_levers.py run NAME[,NAME...] [--images astronaut,coffee,chelsea]
        [--iterations 1800] [--force]
    python benchmarks/prototype_levers.py list | report

Levers that change the loop itself (what is optimised, at what size) are tried here in a small
loop of their own before any of them earns a place in the engine; the settings the engine already
has are tuned with ``tune.py``. The problems are ``tune.py``'s denoising crops (scikit-image's
astronaut, coffee and chelsea, central 256², Gaussian noise sigma 25, seeded), never the paper's
images. Every setting uses the fast preset's network (skip, width 32, 16 skip channels), bfloat16
autocast where the CPU has it, channels-last, Adam, and an exponential average (0.99) of the
outputs, whose PSNR against the clean crop is recorded every 10 steps with the elapsed time.

Settings
    ``dip``: the fast denoising preset's recipe in this loop (the weights are fitted; input
        jitter 1/30, begun at half and raised over steps 300-900): the reference the others are
        read against, at equal steps and at equal seconds.
    ``c2f-N``: coarse to fine. The first N steps fit the image averaged over 2×2 pixels (a
        quarter of the pixels, so a quarter of the work per step, and half the noise) from a
        half-size input code; the fit then goes on at full size from the same weights, with the
        code upsampled (nearest) to full size, and the average restarts there.
    ``drp…``: Deep Random Projector (Li et al., CVPR 2023): the weights stay at their random
        initial values and only the input code is optimised, with a total-variation term of
        weight ``tv`` on the output; ``-bn`` also fits the batch-norm scales and shifts,
        ``-d3`` uses 3 scales instead of 5. The code is not jittered (it is what is fitted).
        ``drp-paper`` is the authors' own denoising recipe (see ``LEVERS``), ``-w32`` at width 32.

Records go to ``benchmarks/results/prototype-levers.json``; ``report`` prints the table that
docs/benchmarks.md carries.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

from common import ResultStore, clean_float, machine_info, now

LEVERS: dict[str, dict] = {
    "dip": {"mode": "weights"},
    "c2f-300": {"mode": "weights", "coarse": 300},
    "c2f-600": {"mode": "weights", "coarse": 600},
    "drp-lr01": {"mode": "input", "lr": 0.01, "tv": 0.0},
    "drp-lr05": {"mode": "input", "lr": 0.05, "tv": 0.0},
    "drp-lr05-tv": {"mode": "input", "lr": 0.05, "tv": 0.02},
    "drp-lr05-bn": {"mode": "input", "lr": 0.05, "tv": 0.0, "bn": True},
    "drp-lr05-d3": {"mode": "input", "lr": 0.05, "tv": 0.0, "depth": 3},
    # the authors' denoising recipe (github.com/sun-umn/Deep-Random-Projector, 1_Denoising):
    # one scale, width 64, 4 skip channels, a 3-channel Gaussian seed (std 0.1) through a
    # trainable batch norm, conv weights frozen and every batch norm fitted, Adam lr 0.1, loss
    # sqrt(MSE) + 0.45 TV
    "drp-paper": {"mode": "input", "lr": 0.1, "tv": 0.45, "bn": True, "sqrt": True, "depth": 1,
                  "width": 64, "skip": 4, "code_channels": 3, "seed_bn": True},
    "drp-paper-w32": {"mode": "input", "lr": 0.1, "tv": 0.45, "bn": True, "sqrt": True,
                      "depth": 1, "width": 32, "skip": 4, "code_channels": 3, "seed_bn": True},
}
DESCRIPTIONS: dict[str, str] = {
    "dip": "the reference: the fast denoising preset's recipe (weights fitted, input jitter ramp).",
    "c2f-300": "coarse to fine: 300 steps on the 2×2-averaged image from a half-size code, then "
               "full size from the same weights with the code upsampled (nearest).",
    "c2f-600": "the same with 600 coarse steps.",
    "drp-lr01": "Deep Random Projector, first reading: the preset's network frozen at its random "
                "weights, only the 32-channel code fitted (Adam lr 0.01), no TV.",
    "drp-lr05": "the same at lr 0.05.",
    "drp-lr05-tv": "the same with a TV term of weight 0.02.",
    "drp-lr05-bn": "the same with the batch norms' scales and shifts fitted too.",
    "drp-lr05-d3": "the same with 3 scales.",
    "drp-paper": "the DRP authors' own denoising recipe (their public code): one scale, width 64, "
                 "4 skip channels, a 3-channel Gaussian seed (std 0.1) through a trainable batch "
                 "norm, conv weights frozen and every batch norm fitted, Adam lr 0.1, loss "
                 "sqrt(MSE) + 0.45 TV.",
    "drp-paper-w32": "the same at width 32.",
}
EVERY = 10
MARKS = (300, 600, 900, 1200, 1500, 1800)
EQUAL = (300, 600, 1200, 1800)  # compare at the wall-clock the reference needed for these steps


def _tv(x):
    """Mean anisotropic total variation of a (1, C, H, W) image."""
    return ((x[..., 1:, :] - x[..., :-1, :]).abs().mean()
            + (x[..., :, 1:] - x[..., :, :-1]).abs().mean())


def run_one(noisy: np.ndarray, clean: np.ndarray, lever: dict, iterations: int, seed: int = 0) -> dict:
    import torch
    import torch.nn.functional as F

    from napari_dip.core.device import configure_threads, resolve_device, resolve_precision
    from napari_dip.core.networks import Generator
    from napari_dip.core.options import NetworkSpec

    configure_threads(None)
    device = resolve_device("auto")
    amp = resolve_precision("auto", device)
    mem = torch.channels_last
    torch.manual_seed(seed)
    y = torch.from_numpy(noisy.astype(np.float32) / 255).permute(2, 0, 1)[None].to(device)
    truth = torch.from_numpy(clean.astype(np.float32) / 255).permute(2, 0, 1)[None].to(device)
    depth = lever.get("depth", 5)
    cin = lever.get("code_channels", 32)
    spec = NetworkSpec("skip", (lever.get("width", 32),) * depth, (lever.get("skip", 16),) * depth,
                       "bilinear", cin, 8)
    h, w = y.shape[-2:]
    net = Generator(spec, 3, (h, w)).to(device=device, memory_format=mem)
    coarse = int(lever.get("coarse", 0))
    code_hw = (h // 2, w // 2) if coarse else (h, w)
    if lever.get("seed_bn"):  # a Gaussian seed, as the DRP authors draw it
        z = (torch.randn((1, cin, *code_hw)) * 0.1).to(device).contiguous(memory_format=mem)
    else:
        z = (torch.rand((1, cin, *code_hw)) * 0.1).to(device).contiguous(memory_format=mem)
    seed_bn = torch.nn.BatchNorm2d(cin).to(device) if lever.get("seed_bn") else None
    target = F.avg_pool2d(y, 2) if coarse else y
    if lever["mode"] == "input":
        for p in net.parameters():
            p.requires_grad_(False)
        params = [z.requires_grad_(True)]
        if lever.get("bn"):
            bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
            for m in bns:
                m.weight.requires_grad_(True)
                m.bias.requires_grad_(True)
            params += [p for m in bns for p in (m.weight, m.bias)]
        if seed_bn is not None:
            params += list(seed_bn.parameters())
        opt = torch.optim.Adam(params, lr=lever["lr"])
    else:
        opt = torch.optim.Adam(net.parameters(), lr=lever.get("lr", 0.01))
    gen = torch.Generator(device="cpu").manual_seed(seed + 1)
    avg = None
    curve: list[list[float]] = []
    t0 = time.perf_counter()
    for it in range(1, iterations + 1):
        if it == coarse + 1 and coarse:  # to full size: same weights, the code upsampled
            z = F.interpolate(z, scale_factor=2, mode="nearest").contiguous(memory_format=mem)
            target, avg = y, None
        if lever["mode"] == "weights":
            # the preset's jitter: full on planes of up to 128² (the coarse stage), else begun at
            # half and raised over steps 300-900; drawn in z's channels-last layout
            ramp = 1.0 if it <= coarse else 0.5 + 0.5 * min(max((it - 300) / 600, 0.0), 1.0)
            b, c, hh, ww = z.shape
            noise = torch.randn((b, hh, ww, c), generator=gen).to(device).permute(0, 3, 1, 2)
            z_in = z + (ramp / 30) * noise
        else:
            z_in = z if seed_bn is None else seed_bn(z)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            out = net.net(z_in) if z_in.shape[-2:] != net.padded_hw else net(z_in)
        out = out.float()
        loss = F.mse_loss(out, target)
        if lever.get("sqrt"):
            loss = loss.sqrt()
        if lever.get("tv"):
            loss = loss + lever["tv"] * _tv(out)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            o = out.detach()
            avg = o.clone() if avg is None else avg.mul_(0.99).add_(o, alpha=0.01)
            if it % EVERY == 0:  # [step, PSNR of the average, seconds, PSNR of this output]
                curve.append([it, _psnr(avg, truth), clean_float(time.perf_counter() - t0, 2),
                              _psnr(o, truth)])
    return {"curve": curve, "seconds": clean_float(time.perf_counter() - t0, 1),
            "machine": machine_info(str(device), str(amp).replace("torch.", "") if amp else "float32")}


def _psnr(x, truth) -> float:
    """PSNR (data range 1) of a (1, C, h, w) output against the truth, on the device; a half-size
    output (the coarse stage) is upsampled first."""
    import torch.nn.functional as F

    if x.shape[-2:] != truth.shape[-2:]:
        x = F.interpolate(x, size=truth.shape[-2:], mode="bilinear", align_corners=False)
    mse = float(((x.clamp(0, 1) - truth) ** 2).mean())
    return clean_float(10 * math.log10(1 / max(mse, 1e-12)), 3)


def _at(curve, it):
    for i, p, *_ in curve:
        if i == it:
            return p
    return None


def _psnr_at_time(curve, seconds):
    """PSNR of the last point reached within ``seconds`` (None if the run had no point by then)."""
    best = None
    for _, p, t, *_ in curve:
        if t <= seconds:
            best = p
    return best


def _equal_time(rec: dict, ref: dict, step: int) -> tuple[float | None, float | None]:
    """``rec``'s PSNR at the wall-clock ``ref`` needed for ``step`` steps, and ``ref``'s own then."""
    t_ref = next((t for i, _, t, *_ in ref["curve"] if i == step), None)
    if t_ref is None:
        return None, None
    return _psnr_at_time(rec["curve"], t_ref), _at(ref["curve"], step)


def _mean_or_dash(vals: list[float | None]) -> str:
    return f"{np.mean(vals):.2f}" if vals and all(v is not None for v in vals) else "–"


def table(store: dict, images: list[str], iterations: int) -> list[str]:
    recs = [r for r in store["records"] if r["image"] in images and r["iterations"] == iterations]
    # only settings run on every image asked for, so that each row averages the same images
    names = [n for n in LEVERS if {r["image"] for r in recs if r["lever"] == n} >= set(images)]
    ref = {r["image"]: r for r in recs if r["lever"] == "dip"}
    equal = [m for m in EQUAL if m <= iterations]
    rows = ["| setting | images | " + " | ".join(f"@{m}" for m in MARKS)
            + " | best @ it | best single output @ it | s/it |"
            + "".join(f" at `dip`'s time for {m} |" for m in equal),
            "|---|---|" + "---|" * len(MARKS) + "---|---|---|" + "---|" * len(equal)]
    for name in names:
        rs = [r for r in recs if r["lever"] == name]
        marks = [_mean_or_dash([_at(r["curve"], m) for r in rs]) for m in MARKS]
        n = min(len(r["curve"]) for r in rs)
        mean_curve = [(rs[0]["curve"][k][0], float(np.mean([r["curve"][k][1] for r in rs])))
                      for k in range(n)]
        best = max(mean_curve, key=lambda c: c[1])
        raw = "–"  # the unaveraged output's PSNR, recorded from the drp-paper runs on
        if all(len(r["curve"][0]) > 3 for r in rs):
            raw_curve = [(rs[0]["curve"][k][0], float(np.mean([r["curve"][k][3] for r in rs])))
                         for k in range(n)]
            top = max(raw_curve, key=lambda c: c[1])
            raw = f"{top[1]:.2f} @ {top[0]}"
        spi = np.mean([r["seconds"] / r["curve"][-1][0] for r in rs])
        same = []
        for m in equal:
            pts = [_equal_time(r, ref[r["image"]], m) for r in rs if r["image"] in ref]
            same.append("–" if len(pts) < len(rs) or name == "dip"
                        else _mean_or_dash([p for p, _ in pts]))
        rows.append(f"| {name} | {len(rs)} | " + " | ".join(marks)
                    + f" | {best[1]:.2f} @ {best[0]} | {raw} | {spi:.3f} |"
                    + "".join(f" {v} |" for v in same))
    return rows


def verdict(store: dict, iterations: int) -> list[str]:
    """Each setting against ``dip`` on the images both ran, at equal wall-clock."""
    recs = [r for r in store["records"] if r["iterations"] == iterations]
    ref = {r["image"]: r for r in recs if r["lever"] == "dip"}
    equal = [m for m in EQUAL if m <= iterations]
    lines, winners, early = [], [], []
    for name in LEVERS:
        rs = [r for r in recs if r["lever"] == name and r["image"] in ref and name != "dip"]
        if not rs:
            continue
        gains = []  # per time point: (mean of the setting, mean of dip, ahead on every image)
        for m in equal:
            pts = [_equal_time(r, ref[r["image"]], m) for r in rs]
            if any(p is None or q is None for p, q in pts):
                break
            gains.append((m, np.mean([p for p, _ in pts]), np.mean([q for _, q in pts]),
                          all(p > q for p, q in pts)))
        if not gains:
            continue
        if all(g[3] for g in gains):
            winners.append(name)
        elif gains[0][3]:
            behind = next((m for m, a, b, _ in gains if a < b), None)
            n = min(len(r["curve"]) for r in rs)
            col = 3 if all(len(r["curve"][0]) > 3 for r in rs) else 1
            peak = max(((rs[0]["curve"][k][0], float(np.mean([r["curve"][k][col] for r in rs])))
                        for k in range(n)), key=lambda c: c[1])
            ref_end = np.mean([ref[r["image"]]["curve"][-1][1] for r in rs])
            early.append(f"`{name}` (its best {'single ' * (col == 3)}output, picked with the "
                         f"truth, {peak[1]:.2f} dB at step {peak[0]}; "
                         + (f"`dip` leads on average from its time for {behind} steps"
                            if behind else "`dip` never leads on average")
                         + f" and ends {ref_end - peak[1]:.2f} dB above that peak)")
        lines.append(f"- `{name}` ({len(rs)} image{'s' * (len(rs) > 1)}), at `dip`'s time for "
                     + ", ".join(f"{m} steps {a:.2f} dB against {b:.2f} ({a - b:+.2f})"
                                 for m, a, b, _ in gains) + ".")
    if not lines:
        return ["No setting was compared with `dip` at equal wall-clock (none ran as long)."]
    if winners:
        lines.append("Ahead of `dip` at every time point on every image tried: "
                     + ", ".join(f"`{n}`" for n in winners) + ".")
    else:
        lines.append("No setting was ahead of `dip` at every time point on every image it was tried on.")
    if early:
        lines.append("Ahead early, then fitting the noise while `dip` goes on improving: "
                     + "; ".join(early) + ". Such a setting could give a quick first look, not the "
                     "preset's quality targets.")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["run", "list", "report"])
    ap.add_argument("names", nargs="?", default="")
    ap.add_argument("--images", default="astronaut,coffee,chelsea")
    ap.add_argument("--iterations", type=int, default=1800)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).parent / "results" / "prototype-levers.json")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    images = [i for i in args.images.split(",") if i]
    if args.action == "list":
        for name, lever in LEVERS.items():
            print(f"{name}: {lever}")
        return 0
    store = ResultStore(args.out, "prototype-levers")
    store.data["benchmark"] = "prototype-levers"  # report.py gives it a section of its own
    if args.action == "report":
        print("\n".join(table(store.data, images, args.iterations)))
        print("\n".join(verdict(store.data, args.iterations)))
        return 0
    from tune import tuning_images

    cases = tuning_images("denoise")
    for name in [n for n in args.names.split(",") if n]:
        for image in images:
            key = {"image": image, "method": "dip", "preset": "prototype", "overrides": name,
                   "iteration_cap": args.iterations}
            if store.has(**key) and not args.force:
                continue
            print(f"[run ] {name} {image}", flush=True)
            case = cases[image]
            rec = run_one(case["image"], case["truth"], LEVERS[name], args.iterations)
            store.add({**key, "lever": name, "iterations": args.iterations, **rec,
                       "timestamp": now()})
            best = max(rec["curve"], key=lambda c: c[1])
            print(f"[done] {name} {image}: {rec['curve'][-1][1]} dB at the end, best {best[1]} @ "
                  f"{best[0]}, {rec['seconds']} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
