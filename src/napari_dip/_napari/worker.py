"""What runs in the worker thread: plain data in, plain data out, torch and nothing else.

:func:`restoration_steps` is a plain generator (napari's ``thread_worker`` wraps it in the widget).
It receives a :class:`RunRequest` snapshotted on the main thread, drives
:func:`napari_dip.api.restore_iter`, and yields :class:`Update` objects (numbers and at most one
preview array). It never touches layers or Qt.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: at most this many updates per second reach the main thread (previews always do)
MAX_UPDATE_RATE = 10.0


@dataclass
class RunRequest:
    """Everything a run needs, copied on the main thread before the worker starts."""

    task: str
    image: np.ndarray
    preset: str  # named preset the overrides apply to ("fast" or "paper")
    label: str  # what the preset selector showed ("fast", "paper" or "custom")
    overrides: dict[str, Any]
    kwargs: dict[str, Any] = field(default_factory=dict)  # mask, factor, psf, second, reference...
    mode: str | None = None  # the task's variant the preset is read for (fusion: gradient, guided)
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class Update:
    """Progress since the previous update (main-thread view of the engine's ``Progress``)."""

    iteration: int
    iterations: int
    plane: int
    n_planes: int
    elapsed: float  # seconds in the current plane
    loss: float
    stop_metric: float
    psnr: float | None
    candidate_iteration: int
    points: list[tuple[int, float, float, float | None]]  # (iteration, loss, stop_metric, psnr)
    preview: np.ndarray | None = None
    preview_iteration: int | None = None
    plane_output: np.ndarray | None = None  # a stack's plane just finished (no preview then)


@dataclass
class Stopped:
    """The user stopped the run; ``iteration`` is the last one completed."""

    iteration: int
    plane: int


def build_config(request: RunRequest):
    from ..core.config import Config

    return Config.preset(request.preset, request.task, request.mode,
                         **request.overrides).replace(name=request.label)


def restoration_steps(request: RunRequest):
    """Generator run in the worker thread; returns the engine's ``Result`` or :class:`Stopped`."""
    try:
        from ..api import restore_iter

        config = build_config(request)
        if not isinstance(request.image, np.ndarray):  # lazy layer data (dask, zarr): read it here
            request.image = np.array(request.image, copy=True)
        steps = restore_iter(request.task, request.image, config=config, stop_event=request.stop,
                             **request.kwargs)
        points: list = []
        last_sent = 0.0
        last_preview = None
        progress = None
        try:
            while True:
                # the engine sees the event, ends after this iteration and returns its Result
                # (planes of a stack never started are NaN); before the first step there is none
                if request.stop.is_set() and progress is None:
                    return Stopped(0, 0)
                try:
                    progress = next(steps)
                except StopIteration as done:
                    return done.value
                if progress.plane_output is not None:
                    yield Update(progress.iteration, progress.iterations, progress.plane,
                                 progress.n_planes, progress.elapsed, progress.loss,
                                 progress.stop_metric, None, progress.candidate_iteration, [],
                                 plane_output=np.asarray(progress.plane_output))
                    continue
                psnr = progress.psnr if progress.psnr is not None and math.isfinite(progress.psnr) \
                    else None
                points.append((progress.iteration, progress.loss, progress.stop_metric, psnr))
                if progress.preview is not None:
                    last_preview = progress.iteration
                now = time.perf_counter()
                last_of_plane = progress.iteration >= progress.iterations
                if progress.preview is None and not last_of_plane and now - last_sent < 1 / MAX_UPDATE_RATE:
                    continue
                last_sent = now
                yield Update(progress.iteration, progress.iterations, progress.plane, progress.n_planes,
                             progress.elapsed, progress.loss, progress.stop_metric, psnr,
                             progress.candidate_iteration, points,
                             None if progress.preview is None else np.asarray(progress.preview),
                             last_preview if progress.preview is not None else None)
                points = []
        finally:
            steps.close()  # stops the engine's loop here, in this thread
            _free_gpu_memory()
    finally:
        request.done.set()


def _free_gpu_memory() -> None:
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
