"""Peak memory against image size, tiled and untiled; and a seam check of tiled against untiled.

    python benchmarks/tiling.py memory [--sizes 512,1024,2048] [--iterations 3]
    python benchmarks/tiling.py seams [--size 256] [--tile 160] [--overlap 32]
        [--out benchmarks/results/tiling.json]

``memory``: each configuration runs in a fresh process (peak resident memory is per process):
denoising a synthetic grayscale image of that size with the fast preset for a few iterations per
tile, untiled (``tile=0``) and with the preset's tiling. Memory does not depend on the number of
iterations, so a few show the peak.

``seams``: the fast preset with its automatic stop on a noisy crop of scikit-image's bundled
``camera``, untiled and cut into 2×2 tiles; reports PSNR of each against the clean image, the
difference between the two, and a seam score: mean absolute horizontal/vertical gradient of the
tiled output on the seam lines (the centres of the overlaps) divided by the same on every other
line. An untiled output gives about 1; a visible seam would push it well above. Saves the two
outputs beside the JSON as PNG for a look.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np

from common import clean_float, machine_info, now

HERE = Path(__file__).resolve().parent


class Store:
    """Records in a JSON file, identified by their ``key`` fields; rewritten after each one."""

    def __init__(self, path: Path):
        self.path = path
        self.records = json.loads(path.read_text())["records"] if path.exists() else []

    def find(self, key: dict) -> dict | None:
        return next((r for r in self.records if all(r.get(k) == v for k, v in key.items())), None)

    def add(self, rec: dict, key: dict) -> None:
        self.records = [r for r in self.records if not all(r.get(k) == v for k, v in key.items())]
        self.records.append(rec)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"benchmark": "tiling", "records": self.records}, indent=1)
                             + "\n")


def _child(size: int, tile: int | None, iterations: int) -> None:
    """Run in a fresh process: restore, then print peak RSS (MiB) as JSON."""
    import time

    from napari_dip.api import denoise

    rng = np.random.default_rng(0)
    img = (rng.random((size, size)) * 255).astype(np.uint8)
    extra = {} if tile is None else {"tile": tile}
    t0 = time.perf_counter()
    res = denoise(img, preset="fast", stop="fixed", iterations=iterations, preview_every=10**6,
                  **extra)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(json.dumps({"peak_rss_mib": round(peak, 1), "tiles": len(res.planes),
                      "tile_setting": res.config.tile, "seconds": round(time.perf_counter() - t0, 1),
                      "precision": res.planes[0].precision}))


def memory(args) -> None:
    store = Store(Path(args.out))
    for size in [int(s) for s in args.sizes.split(",")]:
        for tile in (0, None):  # untiled, preset's tiling
            key = {"kind": "memory", "size": size, "tile": "preset" if tile is None else tile,
                   "iterations": args.iterations}
            if store.find(key) and not args.force:
                print(f"[skip] {key}")
                continue
            cmd = [sys.executable, __file__, "_child", str(size), str(tile), str(args.iterations)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                print(proc.stderr[-2000:])
                rec = {**key, "error": proc.stderr.strip().splitlines()[-1][:300]}
            else:
                rec = {**key, **json.loads(proc.stdout.strip().splitlines()[-1])}
            rec.update({"machine": machine_info("cpu", None), "timestamp": now()})
            store.add(rec, key)
            print(f"[done] {size}² tile={key['tile']}: {rec.get('peak_rss_mib')} MiB peak, "
                  f"{rec.get('tiles')} tile(s), {rec.get('seconds')} s")


def _seam_score(img: np.ndarray, rows: list[int], cols: list[int]) -> float:
    gy = np.abs(np.diff(img, axis=0))  # gy[r] is between rows r and r+1
    gx = np.abs(np.diff(img, axis=1))
    on = [gy[r - 2:r + 2].mean() for r in rows] + [gx[:, c - 2:c + 2].mean() for c in cols]
    off_y = np.delete(gy, [i for r in rows for i in range(r - 2, r + 2)], axis=0).mean()
    off_x = np.delete(gx, [i for c in cols for i in range(c - 2, c + 2)], axis=1).mean()
    return float(np.mean(on) / np.mean([off_y, off_x]))


def seams(args) -> None:
    from skimage import data
    from skimage.io import imsave

    from napari_dip.api import denoise
    from napari_dip.core.metrics import psnr
    from napari_dip.core.tiling import plan_tiles

    store = Store(Path(args.out))
    key = {"kind": "seams", "size": args.size, "tile": args.tile, "overlap": args.overlap}
    if store.find(key) and not args.force:
        print(f"[skip] {key}")
        return
    s = args.size
    cam = data.camera()
    if not 0 < s <= min(cam.shape):
        raise SystemExit(f"--size must be between 1 and {min(cam.shape)} (camera is {cam.shape})")
    o = (min(cam.shape) - s) // 2  # central crop
    clean = cam[o:o + s, o:o + s].astype(np.float64)
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 25, clean.shape), 0, 255)
    noisy = np.rint(noisy).astype(np.uint8)
    untiled = denoise(noisy, preset="fast", tile=0)
    tiled = denoise(noisy, preset="fast", tile=args.tile, tile_overlap=args.overlap)
    grid = plan_tiles((s, s), args.tile, args.overlap)
    # seam lines: middle of each overlap between neighbouring tiles
    ys = sorted({t.y0 for t in grid.tiles} - {0})
    ye = sorted({t.y1 for t in grid.tiles} - {s})
    rows = [(a + b) // 2 for a, b in zip(ys, ye, strict=True)]
    xs = sorted({t.x0 for t in grid.tiles} - {0})
    xe = sorted({t.x1 for t in grid.tiles} - {s})
    cols = [(a + b) // 2 for a, b in zip(xs, xe, strict=True)]
    rec = {**key, "tiles": len(grid),
           "psnr_noisy": clean_float(psnr(clean, noisy.astype(np.float64), data_range=255)),
           "psnr_untiled": clean_float(psnr(clean, untiled.image, data_range=255)),
           "psnr_tiled": clean_float(psnr(clean, tiled.image, data_range=255)),
           "psnr_tiled_vs_untiled": clean_float(psnr(untiled.image, tiled.image, data_range=255)),
           "seam_score_tiled": clean_float(_seam_score(tiled.image, rows, cols), 3),
           "seam_score_untiled": clean_float(_seam_score(untiled.image, rows, cols), 3),
           "seconds_untiled": clean_float(untiled.wall_time, 1),
           "seconds_tiled": clean_float(tiled.wall_time, 1),
           "stopped_at_untiled": untiled.stopped_at, "stopped_at_tiled": tiled.stopped_at,
           "seam_rows": rows, "seam_cols": cols,
           "machine": machine_info(untiled.planes[0].device, untiled.planes[0].precision),
           "timestamp": now()}
    store.add(rec, key)
    pics = Path(args.out).parent / "tiling"
    pics.mkdir(exist_ok=True)
    for name, im in (("untiled", untiled.image), ("tiled", tiled.image), ("noisy", noisy)):
        imsave(pics / f"camera{s}-{name}.png", np.clip(np.rint(im), 0, 255).astype(np.uint8),
               check_contrast=False)
    print(json.dumps({k: v for k, v in rec.items() if k != "machine"}, indent=1))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_child":
        _child(int(argv[1]), None if argv[2] == "None" else int(argv[2]), int(argv[3]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("memory")
    m.add_argument("--sizes", default="512,1024,2048")
    m.add_argument("--iterations", type=int, default=3)
    s = sub.add_parser("seams")
    s.add_argument("--size", type=int, default=256)
    s.add_argument("--tile", type=int, default=160)
    s.add_argument("--overlap", type=int, default=32)
    for p in (m, s):
        p.add_argument("--out", default=str(HERE / "results" / "tiling.json"))
        p.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    memory(args) if args.cmd == "memory" else seams(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
