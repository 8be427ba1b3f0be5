"""Command line: ``napari-dip denoise|inpaint|sr|deblur|fuse|demo|batch``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from .core.config import PRESETS
from .core.options import (
    DOWNSAMPLE_KERNELS,
    FUSION_MODES,
    LOSSES,
    PRECISIONS,
    SR_FACTORS,
    metric_label,
    refine_choices,
)
from .io import finer_pixel_size, read_image, read_pixel_size, write_image


class ProgressBar:
    """A one-line progress bar on stderr (no dependency); quiet when stderr is not a terminal."""

    def __init__(self, label: str, stream=None, width: int = 30):
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0.0

    def __call__(self, p) -> None:
        now = time.monotonic()
        if not self.tty and now - self._last < 5 and p.iteration != p.iterations:
            return
        self._last = now
        frac = p.iteration / p.iterations
        bar = "#" * int(frac * self.width)
        plane = f" plane {p.plane + 1}/{p.n_planes}" if p.n_planes > 1 else ""
        if getattr(p, "n_tiles", 1) > 1:  # tiles advance together, in waves when there are many
            plane += f" {p.n_tiles} tiles" if p.tile == 0 else f" tiles {p.tile + 1}+/{p.n_tiles}"
        rate = p.elapsed / max(p.iteration, 1)
        msg = (f"{self.label}{plane} [{bar:<{self.width}}] {p.iteration}/{p.iterations} "
               f"loss {p.loss:.3g} {rate:.3f} s/it")
        if p.psnr is not None:
            msg += f" PSNR {p.psnr:.2f}"
        self.stream.write(("\r" if self.tty else "") + msg + ("" if self.tty else "\n"))
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


def _drive(gen, label: str, quiet: bool = False):
    bar = None if quiet else ProgressBar(label)
    try:
        while True:
            p = next(gen)
            if bar:
                bar(p)
    except StopIteration as done:
        if bar:
            bar.close()
        return done.value


def _settings(args) -> dict:
    s = {"preset": args.preset, "iterations": args.iterations, "device": args.device,
         "seed": args.seed, "precision": args.precision}
    if args.channel_axis is not None:
        s["channel_axis"] = args.channel_axis
    if args.axes:
        s["axes"] = args.axes
    if args.tile is not None:
        s["tile"] = args.tile
    for item in args.set or []:
        key, _, value = item.partition("=")
        try:
            s[key] = json.loads(value)
        except json.JSONDecodeError:
            s[key] = value
    return {k: v for k, v in s.items() if v is not None}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, help="output file (.tif keeps float32, .png)")
    p.add_argument("--preset", default="fast", choices=sorted(PRESETS))
    p.add_argument("--iterations", type=int, help="iteration budget (the automatic stop may end sooner)")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--precision", choices=PRECISIONS)
    p.add_argument("--seed", type=int, help="random seed (default 0: repeatable)")
    p.add_argument("--channel-axis", type=int, help="axis of a multichannel image")
    p.add_argument("--axes", help="the image's axes, one letter each, e.g. TYX or ZCYX: Y, X form "
                                  "the plane, C the channels, other letters are restored plane by plane")
    p.add_argument("--tile", type=int, help="restore planes larger than this many pixels a side in "
                                            "overlapping tiles (bounded memory; 0: never tile)")
    p.add_argument("--reference", help="ground-truth image: report PSNR/SSIM")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="any setting, e.g. --set lr=0.005 --set channels=[64,64,64,64,64]")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="napari-dip", description="Deep Image Prior restoration.")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("denoise", help="remove noise")
    p.add_argument("input")
    p.add_argument("--loss", choices=LOSSES)
    p.add_argument("--refine", choices=refine_choices("denoise"),
                   help="Wiener step after the fit, guided by the network's output (mse loss only). "
                        "wiener: sliding 8x8 windows; bm-wiener (the fast preset's default): also "
                        "filters groups of similar blocks together on edges and texture, as BM3D "
                        "does, twice when the network's output was far off (5-10x the time, "
                        "seconds; better on average)")
    _common(p)
    p = sub.add_parser("inpaint", help="fill masked pixels")
    p.add_argument("input")
    p.add_argument("mask", help="mask image: non-zero = known pixel (see --holes)")
    p.add_argument("--holes", action="store_true", help="the mask marks pixels to fill instead")
    p.add_argument("--replace-known", action="store_true",
                   help="return the network's output everywhere (default: known pixels unchanged)")
    p.add_argument("--refine", choices=refine_choices("inpaint"),
                   help="after the fit, refill the holes by iterated hard thresholding in sliding "
                        "8x8 DCT windows, started from the network's fill, known pixels kept "
                        "exact (seconds; the fast preset's default: fill-dct; skipped with "
                        "--replace-known)")
    _common(p)
    p = sub.add_parser("sr", help="super-resolution")
    p.add_argument("input")
    p.add_argument("--factor", type=int, default=4, choices=SR_FACTORS)
    p.add_argument("--kernel", default="lanczos2", choices=DOWNSAMPLE_KERNELS)
    p.add_argument("--refine", choices=refine_choices("sr"),
                   help="after the fit, the least change that makes the output's downsampled image "
                        "equal the input (assumes a noise-free input; the fast preset's default: "
                        "project)")
    _common(p)
    p = sub.add_parser("deblur", help="deconvolve a known PSF")
    p.add_argument("input")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--psf", help="PSF image file")
    g.add_argument("--psf-sigma", type=float, help="Gaussian PSF width in pixels")
    _common(p)
    p = sub.add_parser("fuse", help="fuse two co-registered images")
    p.add_argument("input")
    p.add_argument("second")
    p.add_argument("--mode", default="gradient", choices=FUSION_MODES)
    p.add_argument("--weight", type=float, default=0.5, help="intensity weight of the first image")
    _common(p)
    p = sub.add_parser("demo", help="corrupt bundled images, restore them with every task, report")
    p.add_argument("-o", "--output", default="napari-dip-demo", help="output folder")
    p.add_argument("--size", type=int, default=128, help="side of the demo crops (pixels)")
    p.add_argument("--iterations", type=int, default=1000,
                   help="iteration budget per task (default 1000; the automatic stop may end sooner)")
    p.add_argument("--tasks", default="denoise,inpaint,sr,deblur,fuse")
    p.add_argument("--device")
    p.add_argument("--quiet", action="store_true")
    from .batch import add_parser as add_batch_parser  # issue 6: napari-dip batch

    add_batch_parser(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from .demo import run_demo

            run_demo(Path(args.output), size=args.size, iterations=args.iterations,
                     tasks=args.tasks.split(","), device=args.device, quiet=args.quiet)
            return 0
        if args.command == "batch":  # issue 6
            from .batch import main as batch_main

            return batch_main(args)
        return _restore(args)
    except (ValueError, OSError, RuntimeError, FloatingPointError) as exc:  # a message, not a traceback
        print(f"napari-dip: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nnapari-dip: interrupted", file=sys.stderr)
        return 130


def _restore(args) -> int:
    from .api import restore_iter

    image = read_image(args.input)
    kw = _settings(args)
    if args.reference:
        kw["reference"] = read_image(args.reference)
    task = args.command
    if task == "denoise":
        if args.loss:
            kw["loss"] = args.loss
        if args.refine:
            kw["refine"] = args.refine
    elif task == "inpaint":
        mask = read_image(args.mask)
        if mask.ndim == 3 and mask.shape[-1] in (3, 4) and mask.shape != image.shape:
            mask = mask[..., 0]
        mask = mask == 0 if args.holes else mask != 0
        kw["mask"] = mask
        kw["keep_known"] = not args.replace_known
        if args.refine:
            kw["refine"] = args.refine
    elif task == "sr":
        kw.update(factor=args.factor, kernel=args.kernel)
        if args.refine:
            kw["refine"] = args.refine
    elif task == "deblur":
        kw["psf"] = args.psf_sigma if args.psf_sigma is not None else read_image(args.psf)
    elif task == "fuse":
        kw.update(second=read_image(args.second), fusion=args.mode, fusion_weight=args.weight)
    result = _drive(restore_iter(task, image, **kw), task, args.quiet)
    out_dtype = image.dtype if image.dtype in (np.uint8, np.uint16) else None
    size = read_pixel_size(args.input)
    path = write_image(args.output, result.image, out_dtype,
                       finer_pixel_size(size, args.factor) if task == "sr" else size)
    meta = result.metadata()
    msg = (f"{task}: wrote {path} ({result.image.shape}, stopped at iteration "
           f"{meta['stopped_at']} of {meta['iterations_run']}, {meta['wall_time_s']:.1f} s)")
    if result.metrics:
        msg += "; " + ", ".join(f"{metric_label(k)} {v:.3f}" for k, v in result.metrics.items())
    print(msg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
