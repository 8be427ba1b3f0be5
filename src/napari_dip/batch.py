"""Batch restoration: every file matching a glob, or every frame of a multi-page file.

Work is a list of plain task records (one per file, or one per frame with ``frames=True``) run by
one function, :func:`run_task`, either in this process or on a ``dask.distributed`` cluster: the
worker reads its input, restores it and writes its own output (to a temporary name, then renamed,
so a partial file never counts as done). Finished outputs are skipped on the next run (resume); a
failing task is reported and the others go on. Nothing here imports torch or dask at import time.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import sys
import time
import traceback
import types
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .core.config import PRESETS
from .core.options import DOWNSAMPLE_KERNELS, LOSSES, PRECISIONS, SR_FACTORS

__all__ = ["Task", "batch", "collect_tasks", "run_task"]

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp", ".zarr")
TASKS = ("denoise", "inpaint", "sr", "deblur")
SUMMARY_NAME = "batch-summary.json"


@dataclass
class Task:
    """One unit of work: a whole file, or frame ``frame`` (of ``n_frames``) of a file."""

    source: str
    output: str
    frame: int | None = None
    n_frames: int | None = None


# ----------------------------------------------------------------------------------------------
# finding inputs and frames


def _expand(inputs) -> list[Path]:
    items = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
    found: list[Path] = []
    for item in items:
        s = str(item)
        if any(c in s for c in "*?["):
            matches = [Path(m) for m in sorted(glob.glob(s, recursive=True))]
            found += [m for m in matches if m.suffix.lower() in IMAGE_SUFFIXES]
        elif Path(s).is_dir() and Path(s).suffix.lower() != ".zarr":
            found += sorted(p for p in Path(s).iterdir()
                            if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        else:
            found.append(Path(s))
    seen, unique = set(), []
    for p in found:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    return unique


def _zarr_array(path: Path):
    try:
        import zarr
    except ImportError as exc:
        raise ValueError(f"{path} is a Zarr store; reading it needs the optional 'zarr' package "
                         "(pip install zarr).") from exc
    node = zarr.open(str(path), mode="r")
    if hasattr(node, "shape"):
        return node, {}
    attrs = dict(node.attrs)
    ms = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    key = ms[0]["datasets"][0]["path"] if ms else "0"
    return node[key], attrs


def frame_count(path: str | Path, channel_axis: int | None = None) -> int:
    """Number of frames (planes along the first stack axis) of a file; 1 for a single plane."""
    p = Path(path)
    if p.suffix.lower() == ".zarr":
        shape = tuple(_zarr_array(p)[0].shape)
    elif p.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        with tifffile.TiffFile(p) as tf:
            shape = tuple(tf.series[0].shape)
    else:
        from .io import read_image

        shape = read_image(p).shape
    axis = _frame_axis(shape, channel_axis)
    return 1 if axis is None else int(shape[axis])


def _frame_axis(shape: tuple[int, ...], channel_axis: int | None) -> int | None:
    from .core.arrays import Layout

    layout = Layout.infer(np.broadcast_to(np.zeros((), np.uint8), shape), channel_axis)
    return layout.stack_axes[0] if layout.stack_axes else None


def read_frame(path: str | Path, frame: int | None, channel_axis: int | None = None) -> np.ndarray:
    """The whole image (``frame=None``) or one plane along its first stack axis."""
    from .io import read_image

    p = Path(path)
    if p.suffix.lower() == ".zarr":
        arr = _zarr_array(p)[0]
        if frame is None:
            return np.asarray(arr[...])
        axis = _frame_axis(tuple(arr.shape), channel_axis)
        return np.asarray(arr[(slice(None),) * axis + (frame,)])
    if frame is None:
        return read_image(p)
    if p.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        with tifffile.TiffFile(p) as tf:
            series = tf.series[0]
            shape, n_pages = tuple(series.shape), len(series.pages)
            axis = _frame_axis(shape, channel_axis)
            if axis == 0 and n_pages > 1 and n_pages % shape[0] == 0:
                k = n_pages // shape[0]  # pages per frame: read only this frame's pages
                data = series.asarray(key=range(frame * k, (frame + 1) * k)) if k > 1 else \
                    series.asarray(key=frame)
                return np.asarray(data).reshape(shape[1:])
    arr = read_image(p)
    axis = _frame_axis(arr.shape, channel_axis)
    return np.take(arr, frame, axis=axis)


def _frame_axes(axes: str) -> tuple[str, int | None]:
    """For ``frames=True`` with ``axes``: the axes of one frame and the file's channel axis.

    A frame is a plane along the first stack axis, found the way :func:`frame_count` finds it (Y and
    X last apart from the channel axis), so ``axes`` must have that form.
    """
    labels = axes.upper()
    if "".join(a for a in labels if a != "C")[-2:] != "YX":
        raise ValueError(f"axes={axes!r}: to split files into frames, Y and X must be the last axes "
                         "(a channel axis may stand anywhere), e.g. 'TYX', 'TCYX' or 'TYXC'.")
    stack = [i for i, a in enumerate(labels) if a not in "YXC"]
    per_frame = labels if not stack else labels[:stack[0]] + labels[stack[0] + 1:]
    return per_frame, (labels.index("C") if "C" in labels else None)


def _frames_dir(output: Path) -> Path:
    return output.with_name(output.name + ".frames")


def _frame_output(output: Path, frame: int) -> Path:
    return _frames_dir(output) / f"{frame:05d}.tif"


def _final_name(source: Path) -> str:
    return source.name


def _inside(path: Path, folder: Path) -> bool:
    return folder.resolve() in path.resolve().parents


def collect_tasks(inputs, output_dir: str | Path, frames: bool = False,
                  channel_axis: int | None = None) -> tuple[list[Task], list[dict]]:
    """Expand ``inputs`` into tasks; returns ``(tasks, problems)`` (unreadable inputs)."""
    out_dir = Path(output_dir)
    sources = _expand(inputs)
    if not sources:
        raise FileNotFoundError(f"No input images match {inputs!r}.")
    # a pattern like data/**/*.tif also matches an earlier run's outputs in data/restored: those
    # are this batch's results, not new inputs (unless nothing else matched: refused below)
    outside = [s for s in sources if not _inside(s, out_dir)]
    sources = outside or sources
    for src in sources:
        if (out_dir / _final_name(src)).resolve() == src.resolve():
            raise ValueError(f"{src} would be replaced by its own output: outputs keep the input "
                             "names, so write them to another folder (-o).")
    names = [_final_name(s) for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"Several inputs share the output name(s) {dupes}; outputs keep the "
                         "input names, so run them into separate output folders.")
    tasks: list[Task] = []
    problems: list[dict] = []
    for src in sources:
        out = out_dir / _final_name(src)
        if not frames:
            tasks.append(Task(str(src), str(out)))
            continue
        try:
            n = frame_count(src, channel_axis)
        except Exception as exc:  # an unreadable file: report it, keep the others
            problems.append(_summary(Task(str(src), str(out)), "failed", _message(exc), 0.0))
            continue
        if n == 1:
            tasks.append(Task(str(src), str(out)))
        else:
            tasks += [Task(str(src), str(out), i, n) for i in range(n)]
    return tasks, problems


# ----------------------------------------------------------------------------------------------
# one task


def _message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _summary(task: Task, status: str, error: str | None, seconds: float, result=None) -> dict:
    d: dict[str, Any] = {"path": task.source, "frame": task.frame, "output": task.output,
                         "status": status, "error": error, "seconds": round(seconds, 3),
                         "stopped_at": None, "iterations": None}
    if result is not None:
        d["stopped_at"] = result.stopped_at
        d["iterations"] = result.iterations_run
    return d


def _atomic_write(path: Path, image: np.ndarray, like_dtype, pixel_size: dict | None = None) -> None:
    from .io import write_image

    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    write_image(tmp, image, like_dtype, pixel_size)
    os.replace(tmp, path)


def _output_pixel_size(source: str, task: str, kwargs: dict) -> dict | None:
    """The source TIFF's pixel size, made finer by the factor for super-resolution."""
    from .io import finer_pixel_size, read_pixel_size

    try:
        size = read_pixel_size(source)
    except Exception:  # unreadable tags: the image itself is what matters
        return None
    return finer_pixel_size(size, int(kwargs.get("factor") or 1)) if task == "sr" else size


def _done(task: Task) -> bool:
    out = Path(task.output)
    if out.exists():
        return True
    return task.frame is not None and _frame_output(out, task.frame).exists()


def run_task(task: Task | dict, options: dict) -> dict:
    """Restore one task and write its output; never raises (errors go into the summary).

    ``options``: ``task`` (denoise, inpaint, sr, deblur), ``kwargs`` for
    :func:`napari_dip.api.restore_iter` (mask, factor, kernel, psf, settings, ``warm_start``),
    ``overwrite``, ``file_channel_axis`` (the input files' channel axis, to cut frames).
    """
    if isinstance(task, dict):
        task = Task(**task)
    t0 = time.perf_counter()
    if not options.get("overwrite") and _done(task):
        return _summary(task, "skipped", None, 0.0)
    try:
        from .api import restore_iter

        kwargs = dict(options.get("kwargs", {}))
        # with axes=, the file's channel axis comes from the full axes (kwargs hold a frame's)
        image = read_frame(task.source, task.frame,
                           options.get("file_channel_axis", kwargs.get("channel_axis")))
        if task.frame is not None and kwargs.get("channel_axis") is not None:
            axis = _frame_axis(_full_shape(task), kwargs["channel_axis"])
            if axis is not None and kwargs["channel_axis"] % (image.ndim + 1) > axis:
                kwargs["channel_axis"] = kwargs["channel_axis"] % (image.ndim + 1) - 1
        gen = restore_iter(options["task"], image, **kwargs)
        while True:
            try:
                next(gen)
            except StopIteration as done:
                result = done.value
                break
        like = image.dtype if image.dtype in (np.uint8, np.uint16) else None
        out = Path(task.output) if task.frame is None else _frame_output(Path(task.output), task.frame)
        out.parent.mkdir(parents=True, exist_ok=True)
        if task.frame is not None:  # frames are kept exactly (float32 TIFF) until assembled
            _atomic_write(out, result.image, None)
        elif out.suffix.lower() == ".zarr":
            _write_zarr(task.source, out, result.image)
        else:
            _atomic_write(out, result.image, like,
                          _output_pixel_size(task.source, options["task"], kwargs))
        return _summary(task, "ok", None, time.perf_counter() - t0, result)
    except Exception as exc:
        s = _summary(task, "failed", _message(exc), time.perf_counter() - t0)
        s["traceback"] = traceback.format_exc(limit=6)
        return s


def _full_shape(task: Task) -> tuple[int, ...]:
    p = Path(task.source)
    if p.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        with tifffile.TiffFile(p) as tf:
            return tuple(tf.series[0].shape)
    if p.suffix.lower() == ".zarr":
        return tuple(_zarr_array(p)[0].shape)
    from .io import read_image

    return read_image(p).shape


def _assemble(source: str, output: str, n_frames: int, channel_axis: int | None,
              overwrite: bool = False, pixel_size: dict | None = None) -> dict | None:
    """Stack the finished frames of ``source`` into ``output`` (same name); None if incomplete
    (or already assembled, unless ``overwrite``: the frames were redone to replace it)."""
    out = Path(output)
    if out.exists() and not overwrite:
        return None
    parts = [_frame_output(out, i) for i in range(n_frames)]
    if not all(p.exists() for p in parts):
        return None
    from .io import read_image

    frames = [read_image(p) for p in parts]
    shape = _full_shape(Task(source, output))
    axis = _frame_axis(shape, channel_axis) or 0
    stack = np.stack(frames, axis=axis)
    src_dtype = _source_dtype(source)
    if out.suffix.lower() == ".zarr":
        _write_zarr(source, out, stack)
    else:
        _atomic_write(out, stack, src_dtype if src_dtype in (np.uint8, np.uint16) else None, pixel_size)
    for p in parts:
        p.unlink()
    with contextlib.suppress(OSError):
        _frames_dir(out).rmdir()
    return {"path": source, "frame": None, "output": str(out), "status": "assembled", "error": None,
            "seconds": 0.0, "stopped_at": None, "iterations": None}


def _source_dtype(source: str):
    p = Path(source)
    if p.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        with tifffile.TiffFile(p) as tf:
            return np.dtype(tf.series[0].dtype)
    if p.suffix.lower() == ".zarr":
        return np.dtype(_zarr_array(p)[0].dtype)
    return None


def _write_zarr(source: str, out: Path, stack: np.ndarray) -> None:
    """Write ``stack`` as a Zarr store shaped like the source, with its OME metadata (level 0)."""
    import shutil

    import zarr

    _, attrs = _zarr_array(Path(source))
    tmp = out.with_name(f".{out.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    if attrs:
        group = zarr.open_group(str(tmp), mode="w")
        ms = attrs.get("multiscales")
        if ms:
            ms = json.loads(json.dumps(ms))
            ms[0]["datasets"] = ms[0]["datasets"][:1]
            attrs = {**attrs, "multiscales": ms}
            key = ms[0]["datasets"][0]["path"]
        else:
            key = "0"
        group.attrs.update(attrs)
        group.create_array(key, data=stack.astype(np.float32)) if hasattr(group, "create_array") \
            else group.array(key, stack.astype(np.float32))
    else:
        zarr.save_array(str(tmp), stack.astype(np.float32))
    os.replace(tmp, out)


# ----------------------------------------------------------------------------------------------
# running many tasks


class _Bar:
    """A one-line progress bar over tasks on stderr (refreshes at most every 5 s off a terminal)."""

    def __init__(self, total: int, quiet: bool = False, stream=None):
        self.total, self.quiet = total, quiet
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.done = self.failed = self.skipped = 0
        self.t0 = time.monotonic()
        self._last = 0.0

    def update(self, s: dict) -> None:
        self.done += 1
        self.failed += s["status"] == "failed"
        self.skipped += s["status"] == "skipped"
        if self.quiet:
            return
        if s["status"] == "failed":
            where = s["path"] + ("" if s["frame"] is None else f" frame {s['frame']}")
            self.stream.write(("\n" if self.tty else "") + f"batch: FAILED {where}: {s['error']}\n")
        now = time.monotonic()
        if not self.tty and now - self._last < 5 and self.done != self.total:
            return
        self._last = now
        frac = self.done / max(self.total, 1)
        elapsed = now - self.t0
        ran = self.done - self.skipped
        eta = elapsed / ran * (self.total - self.done) if ran else 0.0
        msg = (f"batch [{'#' * int(frac * 30):<30}] {self.done}/{self.total} "
               f"({self.skipped} skipped, {self.failed} failed) {elapsed:.0f} s, ETA {eta:.0f} s")
        self.stream.write(("\r" if self.tty else "") + msg + ("" if self.tty else "\n"))
        self.stream.flush()

    def close(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\n")


def default_workers() -> int:
    """One worker per pair of cores."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, cores // 2)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise RuntimeError("Running a batch on dask needs dask.distributed: "
                           "pip install 'dask[distributed]' (or napari-dip[all]); "
                           "or run in this process with --no-dask / workers=None.") from exc
    return distributed


def _run_dask(tasks: list[Task], options: dict, bar: _Bar, scheduler, workers: int | None,
              processes: bool) -> list[dict]:
    distributed = _import_distributed()
    cluster = None
    if scheduler is None:
        n = int(workers or default_workers())
        cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=processes,
                                           dashboard_address=None, silence_logs=40)
        client = distributed.Client(cluster)
    elif isinstance(scheduler, str):
        client = distributed.Client(scheduler)
    else:
        client = scheduler  # an existing Client
    results: list[dict] = []
    try:
        futures = {client.submit(run_task, asdict(t), options, key=f"napari-dip-{i}-{t.source}",
                                 pure=False): t for i, t in enumerate(tasks)}
        for fut in distributed.as_completed(futures):
            try:
                s = fut.result()
            except Exception as exc:  # the worker died (e.g. out of memory): report, go on
                s = _summary(futures[fut], "failed", _message(exc), 0.0)
            results.append(s)
            bar.update(s)
    finally:
        if cluster is not None:
            client.close()
            cluster.close()
    return results


def batch(inputs, output_dir: str | Path, task: str = "denoise", *, mask=None, keep_known: bool = True,
          factor: int | None = None,
          kernel: str = "lanczos2", psf=None, frames: bool = False, warm_start: bool = False,
          channel_axis: int | None = None, axes: str | None = None, preset: str = "fast", scheduler=None,
          workers: int | str | None = None, processes: bool = True, overwrite: bool = False,
          quiet: bool = True, **settings: Any) -> list[dict]:
    """Restore every image in ``inputs`` and write each result under ``output_dir`` (same name).

    Parameters
    ----------
    inputs : str, path or list of them
        Files, folders (their images) or glob patterns (``"data/**/*.tif"``). TIFF (any pages/axes),
        PNG/JPEG/BMP, and OME-Zarr stores when the optional ``zarr`` package is installed.
    output_dir : path
        Outputs keep their input's name (TIFF outputs are float32 in the input's units; PNG/JPEG
        keep 8/16-bit). ``batch-summary.json`` lists every task.
    task : {'denoise', 'inpaint', 'sr', 'deblur'}
        With ``mask`` (inpaint; array or image path, non-zero = known) and ``keep_known``
        (inpaint: known pixels unchanged, the default), ``factor`` and ``kernel`` (sr), ``psf``
        (deblur; array, image path or Gaussian sigma).
    frames : bool
        Make each frame (plane along the first stack axis, e.g. each page of a multi-page TIFF) its
        own task, so frames run in parallel; the frames are stacked into the output when all are
        done. Without it a stack is one task, restored plane by plane.
    axes : str, optional
        The files' axes, one letter each (``"TYX"``, ``"TCYX"``), as for :func:`napari_dip.denoise`;
        with ``frames`` Y and X must come last (the channel axis may stand anywhere). Give either
        ``axes`` or ``channel_axis``.
    warm_start : bool
        Within one task, start each plane from the previous plane's network (time-lapses and
        Z-stacks: several times faster; see docs/batch.md).
    scheduler : str or distributed.Client, optional
        Address of a running ``dask.distributed`` scheduler (``"tcp://host:8786"``) or a Client:
        each task runs on a worker, which writes its own output.
    workers : int or 'auto', optional
        Without ``scheduler``: run on a local dask cluster of this many worker processes (``'auto'``:
        one per pair of cores), each worker's torch using its share of the cores. ``None``: run
        the tasks one after the other in this process.
    overwrite : bool
        Redo tasks whose output exists (by default they are skipped: an interrupted batch resumes).
    preset, iterations, device, seed, ... :
        Any :class:`napari_dip.Config` setting.

    Returns
    -------
    list of dict
        Per task: ``path``, ``frame`` (None for whole files), ``output``, ``status`` (ok, skipped,
        failed), ``error``, ``seconds``, ``stopped_at``, ``iterations``.
    """
    if task not in TASKS:
        raise ValueError(f"batch task must be one of {TASKS}; got {task!r}.")
    from .core.config import Config

    Config.preset(preset, task, **{k: v for k, v in settings.items() if v is not None})  # validate early
    kwargs: dict[str, Any] = {"preset": preset, "warm_start": warm_start, **settings}
    if channel_axis is not None:
        kwargs["channel_axis"] = channel_axis
    if axes:
        if channel_axis is not None:
            raise ValueError("give either axes= or channel_axis=, not both (axes names the channel "
                             "axis as C).")
        # frames are cut along the first stack axis: each frame keeps the other letters
        kwargs["axes"], channel_axis = _frame_axes(axes) if frames else (axes, None)
    if task == "inpaint":
        if mask is None:
            raise ValueError("inpaint needs a mask (non-zero = known pixel).")
        if isinstance(mask, str | os.PathLike):
            from .io import read_image

            mask = read_image(mask)
        m = np.asarray(mask)
        if m.ndim == 3 and m.shape[-1] in (3, 4):
            m = m[..., 0]
        kwargs["mask"] = m != 0
        kwargs["keep_known"] = keep_known
    elif task == "sr":
        if factor is None:
            raise ValueError("super-resolution needs a factor (2, 3, 4 or 8).")
        kwargs.update(factor=factor, kernel=kernel)
    elif task == "deblur":
        if psf is None:
            raise ValueError("deblur needs a PSF: an array, an image path or a Gaussian sigma.")
        if isinstance(psf, str | os.PathLike):
            from .io import read_image

            psf = read_image(psf)
        kwargs["psf"] = psf
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tasks, problems = collect_tasks(inputs, out_dir, frames, channel_axis)
    options = {"task": task, "kwargs": kwargs, "overwrite": overwrite, "file_channel_axis": channel_axis}

    t0 = time.perf_counter()
    bar = _Bar(len(tasks) + len(problems), quiet)
    for s in problems:
        bar.update(s)
    pending = [t for t in tasks if overwrite or not _done(t)]
    results = [_summary(t, "skipped", None, 0.0) for t in tasks if t not in pending]
    for s in results:
        bar.update(s)
    use_dask = scheduler is not None or (workers not in (None, 0) and len(pending) > 1)
    if use_dask:
        w = None if workers in (None, "auto") else int(workers)
        if scheduler is None and kwargs.get("threads") is None:
            # local workers: each worker's torch gets its share of the cores (dask itself would
            # leave every worker at one thread)
            kwargs["threads"] = max(1, _cores() // (w or default_workers()))
        results += _run_dask(pending, options, bar, scheduler, w, processes)
    else:
        for t in pending:
            s = run_task(t, options)
            results.append(s)
            bar.update(s)
    bar.close()

    order = {(t.source, t.frame): i for i, t in enumerate(tasks)}
    results.sort(key=lambda s: order.get((s["path"], s["frame"]), -1))
    results = problems + results
    assembled = []
    if frames:
        for src in dict.fromkeys(t.source for t in tasks if t.frame is not None):
            t = next(t for t in tasks if t.source == src)
            try:
                a = _assemble(src, t.output, t.n_frames, channel_axis, overwrite,
                              _output_pixel_size(src, task, kwargs))
            except Exception as exc:
                a = {"path": src, "frame": None, "output": t.output, "status": "failed",
                     "error": f"assembling frames: {_message(exc)}", "seconds": 0.0,
                     "stopped_at": None, "iterations": None}
                results.append(a)  # counted and reported with the failed frames: the stack is missing
            if a:
                assembled.append(a)
    counts = {k: sum(s["status"] == k for s in results) for k in ("ok", "skipped", "failed")}
    summary = {"task": task, "inputs": [str(i) for i in ([inputs] if isinstance(inputs, str | os.PathLike)
                                                          else inputs)],
               "output_dir": str(out_dir), "settings": {k: v for k, v in kwargs.items()
                                                         if k not in ("mask", "psf")},
               "frames": frames, "scheduler": None if scheduler is None else str(scheduler),
               "workers": workers, "wall_time_s": round(time.perf_counter() - t0, 3), **counts,
               "assembled": assembled, "tasks": results}
    tmp = out_dir / f".{SUMMARY_NAME}.partial"
    tmp.write_text(json.dumps(summary, indent=1, default=_json_default))
    os.replace(tmp, out_dir / SUMMARY_NAME)
    return results


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple | set):
        return list(o)
    return str(o)


# ----------------------------------------------------------------------------------------------
# command line (``napari-dip batch``)


def add_parser(sub) -> None:
    """Add the ``batch`` subcommand to the CLI's subparsers."""
    p = sub.add_parser("batch", help="restore many files, or every frame of a stack, optionally on dask",
                       description="Restore every image matching INPUT (files, folders, globs), "
                                   "writing outputs with the same names in OUTDIR; resumes by "
                                   "skipping finished outputs.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="file, folder or glob (quote it)")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder")
    p.add_argument("--task", default="denoise", choices=TASKS)
    p.add_argument("--mask", help="inpaint: mask image, non-zero = known pixel (see --holes)")
    p.add_argument("--holes", action="store_true", help="inpaint: the mask marks pixels to fill")
    p.add_argument("--replace-known", action="store_true",
                   help="inpaint: the network's output everywhere (default: known pixels unchanged)")
    p.add_argument("--factor", type=int, choices=SR_FACTORS, help="sr: upsampling factor")
    p.add_argument("--kernel", default="lanczos2", choices=DOWNSAMPLE_KERNELS)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--psf", help="deblur: PSF image file")
    g.add_argument("--psf-sigma", type=float, help="deblur: Gaussian PSF width in pixels")
    p.add_argument("--loss", choices=LOSSES)
    p.add_argument("--preset", default="fast", choices=sorted(PRESETS))
    p.add_argument("--iterations", type=int, help="iteration budget per plane")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--precision", choices=PRECISIONS)
    p.add_argument("--seed", type=int)
    a = p.add_mutually_exclusive_group()
    a.add_argument("--channel-axis", type=int, help="axis of a multichannel image")
    a.add_argument("--axes", help="the images' axes, one letter each, e.g. TYX or ZCYX: Y, X form the "
                                  "plane, C the channels, other letters are restored plane by plane")
    p.add_argument("--tile", type=int, help="restore planes larger than this many pixels a side in "
                                            "overlapping tiles (bounded memory; 0: never tile)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any setting")
    p.add_argument("--frames", action="store_true",
                   help="one task per frame (page / first-axis plane) of each stack")
    p.add_argument("--warm-start", action="store_true",
                   help="start each plane of a stack from the previous plane's network")
    d = p.add_mutually_exclusive_group()
    d.add_argument("--scheduler", metavar="ADDRESS", help="dask.distributed scheduler address")
    d.add_argument("--workers", type=int, help="local dask workers (default: one per core pair)")
    d.add_argument("--no-dask", action="store_true", help="run in this process, one task at a time")
    p.add_argument("--overwrite", action="store_true", help="redo tasks whose output exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args) -> int:
    """Run the ``batch`` subcommand; exit status 1 when any task failed."""
    from .cli import _settings

    kw = _settings(args)
    kw.pop("channel_axis", None)
    if args.loss:
        kw["loss"] = args.loss
    mask = None
    if args.task == "inpaint":
        if not args.mask:
            raise ValueError("--task inpaint needs --mask FILE.")
        from .io import read_image

        m = read_image(args.mask)
        if m.ndim == 3 and m.shape[-1] in (3, 4):
            m = m[..., 0]
        mask = m == 0 if args.holes else m != 0
    psf = args.psf_sigma if args.psf_sigma is not None else args.psf
    if args.no_dask:
        workers = None
    elif args.scheduler:
        workers = None
        _import_distributed()
    else:
        workers = args.workers or "auto"
        try:
            _import_distributed()
        except RuntimeError:
            print("napari-dip batch: dask.distributed is not installed; running in this process.",
                  file=sys.stderr)
            workers = None
    results = batch(args.inputs, args.output, args.task, mask=mask,
                    keep_known=not args.replace_known, factor=args.factor,
                    kernel=args.kernel, psf=psf, frames=args.frames, warm_start=args.warm_start,
                    channel_axis=args.channel_axis, scheduler=args.scheduler, workers=workers,
                    overwrite=args.overwrite, quiet=args.quiet, **kw)
    counts = {k: sum(r["status"] == k for r in results) for k in ("ok", "skipped", "failed")}
    print(f"batch: {counts['ok']} restored, {counts['skipped']} skipped (done before), "
          f"{counts['failed']} failed; summary in {Path(args.output) / SUMMARY_NAME}")
    for r in results:
        if r["status"] == "failed":
            where = r["path"] + ("" if r["frame"] is None else f" frame {r['frame']}")
            print(f"  failed: {where}: {r['error']}")
    return 1 if counts["failed"] else 0


class _CallableModule(types.ModuleType):
    """``napari_dip.batch`` is both this module and the function: importing the submodule sets the
    package attribute to the module, so the module forwards calls to :func:`batch`."""

    def __call__(self, *args, **kwargs):
        return batch(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
