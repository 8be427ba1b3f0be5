"""Shared pieces of the benchmark scripts: machine description, resumable JSON store, image I/O."""

from __future__ import annotations

import ast
import datetime as _dt
import json
import os
import platform
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA = 1


# ----------------------------------------------------------------------------------------------
# machine


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (platform's answer elsewhere)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cores_available() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def machine_info(device: str | None = None, precision: str | None = None) -> dict[str, Any]:
    """CPU model, cores, torch threads and version, device and precision of a run."""
    import torch

    from napari_dip.core.device import cpu_has_native_bf16

    info = {
        "cpu": cpu_model(),
        "cores_available": cores_available(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_native_bf16": cpu_has_native_bf16(),
        "device": device,
        "precision": precision,
    }
    if device and device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------------------------
# overrides


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["channels=16,16,16,16,16", "lr=0.02", "stop=fixed"]`` → Config overrides."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        if isinstance(value, list):
            value = tuple(value)
        out[key.strip()] = value
    return out


def overrides_key(overrides: dict[str, Any]) -> str:
    return ";".join(f"{k}={overrides[k]!r}" for k in sorted(overrides))


# ----------------------------------------------------------------------------------------------
# resumable results file


def record_key(rec: dict[str, Any]) -> tuple:
    return (rec["image"], rec["method"], rec.get("preset"), rec.get("iteration_cap"),
            rec.get("overrides", ""))


class ResultStore:
    """A JSON file of records, rewritten atomically after every finished record.

    A record is identified by (image, method, preset, iteration cap, overrides); a rerun skips
    identified records that are already present.
    """

    def __init__(self, path: str | Path, set_name: str):
        self.path = Path(path)
        self.data: dict[str, Any] = {"schema": SCHEMA, "set": set_name, "records": []}
        if self.path.exists():
            with open(self.path) as fh:
                loaded = json.load(fh)
            if loaded.get("set") not in (None, set_name):
                raise SystemExit(f"{self.path} holds results of set {loaded.get('set')!r}, "
                                 f"not {set_name!r}; choose another --out.")
            self.data.update(loaded)
        self._keys = {record_key(r) for r in self.data["records"]}

    def has(self, **key: Any) -> bool:
        return record_key(key) in self._keys

    def set_meta(self, **items: Any) -> None:
        self.data.update(items)
        self.save()

    def add(self, rec: dict[str, Any]) -> None:
        k = record_key(rec)
        self.data["records"] = [r for r in self.data["records"] if record_key(r) != k]
        self.data["records"].append(rec)
        self._keys.add(k)
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(dumps(self.data))
            fh.write("\n")
        os.replace(tmp, self.path)


# an array of numbers (or nulls) as json.dump(indent=1) lays it out: one element per line
_NUMBER_ARRAY = re.compile(r"\[\n[\s\d.eE+\-,nul]*\n\s*\]")


def dumps(data: Any) -> str:
    """JSON with one key per line but each array of numbers on one line.

    Per-iteration curves laid out one number per line made tune-denoise.json over 2 MiB.
    """
    text = json.dumps(data, indent=1, default=_json_default)
    return _NUMBER_ARRAY.sub(lambda m: "[" + " ".join(m.group(0)[1:-1].split()) + "]", text)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def clean_float(x: Any, digits: int = 4) -> float | None:
    if x is None:
        return None
    x = float(x)
    return round(x, digits) if np.isfinite(x) else None


def thin_history(history: dict[str, list], every: int) -> dict[str, list]:
    """Every ``every``-th iteration (and the first and last) of an engine history."""
    its = history.get("iteration", [])
    idx = [i for i, it in enumerate(its) if it == 1 or it % every == 0 or i == len(its) - 1]
    out = {"iteration": [its[i] for i in idx]}
    for name in ("psnr", "loss", "stop_metric"):
        vals = history.get(name)
        if vals:
            out[name] = [clean_float(vals[i], 6 if name != "psnr" else 3) for i in idx]
    return out


# ----------------------------------------------------------------------------------------------
# images


def load_image(path: str | Path) -> np.ndarray:
    """A PNG as a uint8 array: (H, W) grayscale or (H, W, 3) RGB (alpha dropped)."""
    from PIL import Image

    with Image.open(path) as im:
        if im.mode not in ("L", "RGB"):
            im = im.convert("RGB" if im.mode in ("RGBA", "P", "CMYK") else "L")
        return np.asarray(im).copy()


def finish(gen):
    """Run a ``restore_iter`` generator to its end and return its result (the StopIteration value)."""
    while True:
        try:
            next(gen)
        except StopIteration as done:
            return done.value


def step_benchmark_cli(argv: list[str] | None, doc: str, name: str, *, cases_default: str,
                       cases_help: str, score_saved, report) -> tuple[Any, ResultStore] | None:
    """The command line that the step-after-the-fit benchmarks (refine.py, fill.py) share.

    ``run`` (the default) scores scikit-image cases (``--cases``, ``--pilots``), ``saved`` scores
    the step on a folder of ``run.py --save-outputs`` files (``--outputs``) with
    ``score_saved(folder, store)``, ``report`` prints a results file with ``report(path)``.
    Results go to ``results/NAME.json`` (saved: ``results/NAME-saved.json``) unless ``--out``.
    Returns ``(args, store)`` for ``run``, None once ``saved`` or ``report`` is done.
    """
    import argparse

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="?", default="run", choices=["run", "report", "saved"],
                    help="run: the scikit-image cases; saved: the step on a benchmark set's saved "
                         "fits (--outputs); report: print a results file")
    ap.add_argument("--cases", default=cases_default, help=cases_help)
    ap.add_argument("--out", type=Path, help=f"results file (default results/{name}.json, with "
                                                 f"saved results/{name}-saved.json)")
    ap.add_argument("--pilots", type=Path, metavar="DIR",
                    help="keep each case's network output here and reuse it on later runs (to "
                         "score a changed step without refitting)")
    ap.add_argument("--outputs", type=Path, metavar="DIR",
                    help="with saved: the folder of run.py --save-outputs")
    args = ap.parse_args(argv)
    saved = f"{name}-saved"
    args.out = args.out or Path(__file__).parent / "results" / \
        f"{saved if args.what == 'saved' else name}.json"
    if args.what == "report":
        report(args.out)
        return None
    if args.what == "saved":
        if args.outputs is None or not args.outputs.is_dir():
            raise SystemExit("saved needs --outputs DIR, the folder of run.py --save-outputs")
        store = ResultStore(args.out, saved)
        store.set_meta(benchmark=f"{name} on saved fits", folder=str(args.outputs))
        score_saved(args.outputs, store)
        report(args.out)
        return None
    return args, ResultStore(args.out, name)
