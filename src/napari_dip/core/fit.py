"""The one fitting loop shared by every task.

``fit(problem, config)`` is a generator: it yields a :class:`Progress` after every iteration and
returns a :class:`FitResult` (``StopIteration.value``). Closing the generator stops the run at the
current iteration. :func:`run` drives it to the end.
"""

from __future__ import annotations

import copy
import math
import secrets
import threading
import time
from collections.abc import Callable
from collections.abc import Generator as Gen
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from .config import Config
from .device import configure_threads, resolve_device, resolve_precision
from .networks import Generator
from .stopping import make_stopping_rule

R = TypeVar("R")

SPIKE_FACTOR = 2.0  # a loss more than (1 + SPIKE_FACTOR)× the best so far counts as a spike
SNAPSHOT_EVERY = 10


@dataclass
class Problem:
    """One restoration problem in normalised units.

    Attributes
    ----------
    objective : nn.Module
        Maps the image estimate (1, C, H, W) to a scalar loss (see ``operators``).
    out_channels, out_hw : int, (int, int)
        Shape of the image to estimate.
    guide : tensor (1, Cg, H, W), optional
        Network input for guided restoration; a random code is used when None.
    code_channels : int
        With a guide: random-code channels (``config.input_scale``) appended to it (0: the guide
        alone).
    reference : tensor (1, C, H, W), optional
        Ground truth in the same units, for PSNR/SSIM bookkeeping only (never for choosing output).
    data_range : float
        Range of the true image in these units, for PSNR (less than 1 when the units leave room
        above the data, see ``Config.headroom``).
    noise_variance : float, optional
        Estimated noise variance of the data in the same units, when the loss is the mean squared
        error against it (denoising): the automatic stop waits while the loss is above
        ``config.stop_noise_floor`` times this.
    """

    objective: nn.Module
    out_channels: int
    out_hw: tuple[int, int]
    guide: torch.Tensor | None = None
    reference: torch.Tensor | None = None
    noise_variance: float | None = None
    data_range: float = 1.0
    code_channels: int = 0


@dataclass
class Progress:
    """What the loop reports after each iteration."""

    iteration: int
    iterations: int
    loss: float
    stop_metric: float
    elapsed: float
    psnr: float | None = None
    ssim: float | None = None
    preview: np.ndarray | None = None  # (C, H, W) float32 in [0, 1]
    candidate_iteration: int = 0
    backtracked: bool = False
    plane: int = 0
    n_planes: int = 1
    tile: int = 0  # large planes are restored tile by tile (core.tiling)
    n_tiles: int = 1
    plane_output: np.ndarray | None = None  # set (by restore_iter) only on a stack's plane-done report


@dataclass
class FitResult:
    """Outcome of one fit, in normalised units."""

    output: np.ndarray  # (C, H, W) float32 in [0, 1]
    stopped_at: int
    iterations_run: int
    stopped_early: bool
    history: dict[str, list] = field(default_factory=dict)
    wall_time: float = 0.0
    device: str = "cpu"
    precision: str = "float32"
    state: dict | None = field(default=None, repr=False)  # network weights and input code
    stopped_by_user: bool = False

    @property
    def seconds_per_iteration(self) -> float:
        return self.wall_time / max(self.iterations_run, 1)

    @property
    def best_psnr(self) -> float | None:
        p = self.history.get("psnr") or []
        return max(p) if p else None

    @property
    def best_psnr_iteration(self) -> int | None:
        p = self.history.get("psnr") or []
        return self.history["iteration"][int(np.argmax(p))] if p else None

    def metric_at(self, name: str, iteration: int) -> float | None:
        """The recorded ``name`` (psnr, ssim, loss, ...) at ``iteration`` (None if not recorded)."""
        its = self.history.get("iteration", [])
        vals = self.history.get(name) or []
        if iteration in its and vals:
            v = vals[its.index(iteration)]
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else v
        return None


def _torch_generator(device: torch.device, seed: int) -> torch.Generator:
    try:
        return torch.Generator(device=device).manual_seed(seed)
    except (RuntimeError, TypeError):  # backends without device generators
        return torch.Generator().manual_seed(seed)


def _jitter(z: torch.Tensor, std: float, gen: torch.Generator,
            bufs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """``z + std·N(0, 1)``, drawn into reused buffers (no allocation on the hot path; the previous
    step's graph, which held them, is gone after its backward pass).

    ``bufs`` = (draw, noise, out): the noise is drawn into ``draw``, a contiguous tensor whose view
    ``noise`` has ``z``'s memory layout, so the draw runs on contiguous memory (``normal_`` on a
    channels-last tensor was 10× slower) and the sum on matching layouts (a channels-last plus a
    standard-layout tensor took 6× as long; both measured).
    """
    draw, noise, out = bufs
    if gen.device == draw.device:
        draw.normal_(generator=gen)
    else:  # backends without device generators draw on the CPU
        draw.copy_(torch.randn(draw.shape, generator=gen, dtype=draw.dtype))
    return torch.add(z, noise, alpha=std, out=out)


def _jitter_buffers(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Buffers for :func:`_jitter` matching ``z``'s layout (standard or channels-last)."""
    if z.is_contiguous():
        draw = torch.empty(z.shape, device=z.device, dtype=z.dtype)
        return draw, draw, torch.empty_like(z)
    b, c, h, w = z.shape  # channels-last: (B, H, W, C) in memory
    draw = torch.empty((b, h, w, c), device=z.device, dtype=z.dtype)
    return draw, draw.permute(0, 3, 1, 2), torch.empty_like(z)


def _grad_scaler(device: torch.device):
    """Loss scaling for float16 autocast: small DIP gradients would underflow in float16 (None
    where this torch has no scaler for the device)."""
    try:
        return torch.amp.GradScaler(device.type)
    except (AttributeError, RuntimeError, TypeError, ValueError):
        return None


def _ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    from skimage.metrics import structural_similarity

    x = a[0].float().cpu().numpy()
    y = b[0].float().cpu().numpy()
    if x.shape[0] == 1:
        return float(structural_similarity(x[0], y[0], data_range=1.0))
    return float(structural_similarity(x, y, data_range=1.0, channel_axis=0))


def fit(problem: Problem, config: Config, plane: int = 0, n_planes: int = 1,
        init_state: dict | None = None,
        stop_event: threading.Event | None = None) -> Gen[Progress, None, FitResult]:
    """Fit a DIP network to ``problem``; yield :class:`Progress`, return :class:`FitResult`.

    ``init_state`` (a previous :class:`FitResult`'s ``state``: network weights, input code and
    output) warm-starts the fit, e.g. from the neighbouring frame of a time-lapse: the averaged
    output starts from the previous output and the stop rule uses ``config.warm_min_iterations``
    and ``config.warm_stop_patience``, so a nearly fitted plane ends early.
    """
    t0 = time.perf_counter()
    configure_threads(config.threads)
    device = resolve_device(config.device)
    amp_dtype = resolve_precision(config.precision, device)
    # a random seed without reseeding torch's global generator (the caller's own random state)
    seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
    mem = torch.channels_last if config.channels_last else torch.contiguous_format

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        in_ch = problem.guide.shape[1] + problem.code_channels if problem.guide is not None else None
        net = Generator(config.network_spec, problem.out_channels, problem.out_hw, in_ch)
        if problem.guide is not None:
            z = net.pad_guide(problem.guide.float())
            if problem.code_channels:
                code = torch.rand((1, problem.code_channels, *z.shape[-2:])) * config.input_scale
                z = torch.cat([z, code], dim=1)
        else:
            z = torch.rand((1, net.in_channels, *net.input_hw)) * config.input_scale
    if init_state is not None:
        net.load_state_dict(init_state["net"])
        z = init_state["z"].detach().cpu().clone()
    net = net.to(device=device, memory_format=mem)
    z = z.to(device).contiguous(memory_format=mem)
    objective = problem.objective.to(device)
    reference = problem.reference.to(device).float() if problem.reference is not None else None
    gen = _torch_generator(device, seed + 1)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    scaler = _grad_scaler(device) if amp_dtype == torch.float16 else None
    jitter = config.jitter_for(problem.out_hw)
    n_pixels = int(problem.out_hw[0] * problem.out_hw[1])
    jitter_buf = _jitter_buffers(z) if jitter > 0 else None
    warm = init_state is not None
    returns_last = config.stop == "fixed" or (config.stop_output == "average" and config.ema > 0)
    stop = make_stopping_rule(config.stop, config.stop_window,
                              config.warm_stop_patience if warm else config.stop_patience,
                              config.warm_min_iterations if warm else config.min_iterations,
                              keep_output=not returns_last,  # no image copy per new minimum
                              relative_patience=0.0 if warm else config.stop_relative_patience,
                              loss_floor=0.0 if warm or not problem.noise_variance
                              else config.stop_noise_floor * problem.noise_variance)

    history: dict[str, list] = {"iteration": [], "loss": [], "stop_metric": []}
    if reference is not None:
        history["psnr"] = []
        history["ssim"] = []
    avg: torch.Tensor | None = None
    prev = init_state.get("output") if warm else None
    if prev is not None and config.ema > 0 and tuple(prev.shape[-2:]) == tuple(problem.out_hw):
        avg = prev.to(device).float().clone()  # warm start: average on from the previous output
    best_loss = math.inf
    snapshot = None
    stopped_early = stopped_by_user = False
    iteration = 0
    try:
        for iteration in range(1, config.iterations + 1):
            z_in = z if jitter_buf is None else _jitter(
                z, jitter * (1.0 if warm else config.jitter_scale(iteration, n_pixels)),
                gen, jitter_buf)
            if config.lr_decay[1] < 1.0:
                for group in opt.param_groups:
                    group["lr"] = config.lr_at(iteration)
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32,
                                enabled=amp_dtype is not None):
                out = net(z_in)
            out = out.float()
            loss = objective(out)
            opt.zero_grad(set_to_none=True)
            (loss if scaler is None else scaler.scale(loss)).backward()
            loss_value = float(loss.detach())

            spike = (not math.isfinite(loss_value)
                     or (config.backtrack and iteration > 2 * SNAPSHOT_EVERY and snapshot is not None
                         and loss_value - best_loss > SPIKE_FACTOR * max(abs(best_loss), 1e-8)))
            if spike and snapshot is not None:
                net.load_state_dict(snapshot[0])
                opt.load_state_dict(snapshot[1])
            else:
                if spike:  # non-finite before any snapshot: nothing to go back to
                    raise FloatingPointError("The loss became NaN or infinite in the first "
                                             "iterations; lower lr or use precision='float32'.")
                if scaler is None:
                    opt.step()
                else:  # skips the step when float16 gradients overflowed, and rescales
                    scaler.step(opt)
                    scaler.update()
                best_loss = min(best_loss, loss_value)
                if config.backtrack and iteration % SNAPSHOT_EVERY == 0:
                    snapshot = (copy.deepcopy(net.state_dict()), copy.deepcopy(opt.state_dict()))

            with torch.no_grad():
                raw = out.detach()
                if not spike:
                    avg = raw.clone() if avg is None or config.ema == 0 else (
                        avg.mul_(config.ema).add_(raw, alpha=1 - config.ema))
                candidate = avg if avg is not None else raw
                if not spike and stop.update(iteration, raw, candidate, loss_value):
                    stopped_early = True
                psnr = ssim = None
                if reference is not None:
                    mse = float(torch.mean((candidate.clamp(0, 1) - reference) ** 2))
                    psnr = 10 * math.log10(problem.data_range ** 2 / max(mse, 1e-12))
                    if iteration % config.ssim_every == 0 or iteration == 1:
                        ssim = _ssim(candidate.clamp(0, 1), reference)
                    history["psnr"].append(psnr)
                    history["ssim"].append(ssim)
            history["iteration"].append(iteration)
            history["loss"].append(loss_value)
            history["stop_metric"].append(stop.metric)

            preview = None
            if iteration == 1 or iteration % config.preview_every == 0 or stopped_early:
                preview = candidate.clamp(0, 1)[0].float().cpu().numpy()
            yield Progress(iteration, config.iterations, loss_value, stop.metric,
                           time.perf_counter() - t0, psnr, ssim, preview,
                           iteration if returns_last else (stop.best_iteration or iteration),
                           bool(spike), plane, n_planes)
            if stopped_early:
                break
            if stop_event is not None and stop_event.is_set():  # the user's Stop: keep this output
                stopped_by_user = True
                break

        if returns_last or stop.best_output is None:
            final, stopped_at = candidate, iteration
        else:
            final, stopped_at = stop.best_output, stop.best_iteration
        output = final.clamp(0, 1)[0].float().cpu().numpy()
        state = {"net": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
                 "z": z.detach().cpu().clone(), "output": final.detach().float().cpu().clone()}
        return FitResult(output, stopped_at, iteration, stopped_early, history,
                         time.perf_counter() - t0, str(device),
                         str(amp_dtype).replace("torch.", "") if amp_dtype else "float32", state,
                         stopped_by_user)
    finally:
        del net, opt, objective, z
        if device.type == "cuda":
            torch.cuda.empty_cache()


def drain(gen: Gen[Progress, Any, R], on_progress: Callable[[Progress], None] | None = None) -> R:
    """Run a progress generator (:func:`fit`, :func:`fit_tiles`, ``api.restore_iter``) to its
    end, handing each report to ``on_progress``; return the generator's result."""
    while True:
        try:
            p = next(gen)
        except StopIteration as done:
            return done.value
        if on_progress is not None:
            on_progress(p)


def run(problem: Problem, config: Config, **kwargs) -> FitResult:
    """Run :func:`fit` to the end and return its result."""
    return drain(fit(problem, config, **kwargs))


def fit_tiles(problems: list[Problem], config: Config, grid, background: np.ndarray,
              plane: int = 0, n_planes: int = 1, init_states: list[dict | None] | None = None,
              stop_event: threading.Event | None = None, reference: np.ndarray | None = None
              ) -> Gen[Progress, None, list[FitResult | None]]:
    """Fit the tiles of one plane side by side, one iteration of each in turn; yield one combined
    :class:`Progress` per round, return every tile's :class:`FitResult` (None: never started).

    Parameters
    ----------
    problems : list of Problem
        One per tile of ``grid`` (a :class:`napari_dip.core.tiling.TileGrid`), in its order.
    background : ndarray (C, H, W) float32
        The plane on the output grid in normalised units (the input, upsampled for
        super-resolution): the preview shows it where no tile has an output yet.
    reference : ndarray (C, H, W) float32, optional
        Ground truth of the whole plane on the output grid in normalised units: rounds with a
        preview from every tile report the PSNR of the blended plane, the one the user gets,
        other rounds none (the tiles' own errors, the measure without it, count their borders
        in full, where blending fades them out).

    Tiles advance in lockstep so that the preview shows the whole plane improving at once and a
    user's Stop returns a whole image. At most ``config.tile_parallel`` tiles are in flight (each
    holds its network, optimiser and stop-rule window); more tiles go in successive waves, and a
    Stop leaves the tiles of later waves unstarted. A combined report carries the round as its
    iteration, the pixel-weighted mean loss and stop metric of the tiles still running, the
    PSNR of the whole plane (reference given; see ``reference``) and, when the tiles
    yield previews, the blended plane. One tile: :func:`fit` itself.
    """
    n = len(problems)
    states = init_states or [None] * n
    if n == 1:
        result = yield from fit(problems[0], config, plane, n_planes, states[0], stop_event)
        return [result]
    t0 = time.perf_counter()
    results: list[FitResult | None] = [None] * n
    outputs: list[np.ndarray | None] = [None] * n  # latest preview or final output per tile
    weights = [float(np.prod(p.out_hw)) for p in problems]
    mse: list[float | None] = [None] * n
    width = max(1, int(config.tile_parallel))
    for first in range(0, n, width):
        wave = list(range(first, min(first + width, n)))
        gens = {t: fit(problems[t], config, plane, n_planes, states[t], stop_event) for t in wave}
        try:
            while gens:
                reports: dict[int, Progress] = {}
                for t in list(gens):
                    try:
                        reports[t] = next(gens[t])
                    except StopIteration as done:
                        results[t] = done.value
                        outputs[t] = done.value.output
                        del gens[t]
                if not reports:
                    break
                for t, p in reports.items():
                    if p.preview is not None:
                        outputs[t] = p.preview
                    if p.psnr is not None:
                        mse[t] = 10 ** (-p.psnr / 10)
                w = np.array([weights[t] for t in reports])
                first_report = next(iter(reports.values()))
                preview = None
                if any(p.preview is not None for p in reports.values()):
                    blended = grid.blend(outputs)
                    preview = np.where(np.isnan(blended), background, blended).astype(np.float32)
                known = [(weights[t], m) for t, m in enumerate(mse) if m is not None]
                psnr = None
                if reference is not None:  # one measure only: rounds without a preview get None
                    if preview is not None and all(o is not None for o in outputs):
                        err = float(np.mean((np.clip(blended, 0, 1) - reference) ** 2))
                        psnr = 10 * math.log10(problems[0].data_range ** 2 / max(err, 1e-12))
                elif known:
                    total = sum(wt * m for wt, m in known) / sum(wt for wt, _ in known)
                    psnr = 10 * math.log10(1.0 / max(total, 1e-12))
                yield Progress(first_report.iteration, config.iterations,
                               float(np.dot(w, [p.loss for p in reports.values()]) / w.sum()),
                               float(np.dot(w, [p.stop_metric for p in reports.values()]) / w.sum()),
                               time.perf_counter() - t0, psnr, None, preview,
                               first_report.iteration, any(p.backtracked for p in reports.values()),
                               plane, n_planes, first, n)
        finally:
            for g in gens.values():
                g.close()
        if any(r is not None and r.stopped_by_user for r in results):
            break
    return results
