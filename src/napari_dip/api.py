"""Public API: one function per task, each a thin layer over the shared fitting loop.

Every function takes NumPy arrays (any numeric dtype; 2D grayscale, RGB(A) with channels last, a
multichannel image with ``channel_axis``, and stacks with extra leading axes, restored plane by
plane) and returns a :class:`Result` whose ``image`` is float32 in the input's intensity units.
:func:`restore_iter` is the generator form the napari plugin drives.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Generator as Gen
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .core.arrays import Layout, Normalizer, check_finite_array, resolve_output_dtype
from .core.config import Config
from .core.options import FUSION_MODES

__all__ = ["Result", "deblur", "denoise", "fuse", "inpaint", "restore_iter", "super_resolve"]


@dataclass
class Result:
    """Outcome of a restoration.

    Attributes
    ----------
    image : ndarray
        The restored image, float32 in the input's intensity units (or the dtype asked for), shaped
        like the input (super-resolution: rows and columns times the factor).
    task : str
    config : Config
        Every setting used; ``Config.from_dict(result.config.to_dict())`` repeats the run.
    planes : list of FitResult
        One fit per restored plane, or per tile of a tiled plane (plane by plane, tiles in row
        order): histories, stop iterations, timings.
    wall_time : float
        Seconds for the whole call.
    metrics : dict
        ``psnr`` and ``ssim`` of ``image`` against ``reference`` when one was given;
        ``psnr_before_refine`` that of the network's output before the step after the fit
        (``Config.refine``: denoising's Wiener step, super-resolution's projection), when it ran.
    """

    image: np.ndarray
    task: str
    config: Config
    planes: list = field(default_factory=list)
    wall_time: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def stopped_at(self) -> int | list[int]:
        """Iteration whose output was returned: one number for an untiled single plane, else a
        list with one entry per fit in :attr:`planes` (stacks, tiles)."""
        v = [p.stopped_at for p in self.planes]
        return v[0] if len(v) == 1 else v

    @property
    def stopped_by_user(self) -> bool:
        """True when the run was ended by ``stop_event`` rather than by its stop rule or budget."""
        return any(p.stopped_by_user for p in self.planes)

    @property
    def iterations_run(self) -> int | list[int]:
        """Iterations run, shaped like :attr:`stopped_at`."""
        v = [p.iterations_run for p in self.planes]
        return v[0] if len(v) == 1 else v

    @property
    def history(self) -> dict[str, list] | list[dict[str, list]]:
        """Per-iteration ``iteration``, ``loss``, ``stop_metric`` (and ``psnr``, ``ssim``)."""
        v = [p.history for p in self.planes]
        return v[0] if len(v) == 1 else v

    @property
    def best_psnr(self) -> float | None:
        """Best PSNR seen during the run (one untiled plane, reference given; else None), in
        normalised units."""
        return self.planes[0].best_psnr if len(self.planes) == 1 else None

    @property
    def best_psnr_iteration(self) -> int | None:
        return self.planes[0].best_psnr_iteration if len(self.planes) == 1 else None

    @property
    def seconds_per_iteration(self) -> float:
        its = sum(p.iterations_run for p in self.planes)
        return sum(p.wall_time for p in self.planes) / max(its, 1)

    def metadata(self) -> dict[str, Any]:
        """JSON-ready summary: task, settings, stop iterations, timing, device and metrics."""
        p0 = self.planes[0] if self.planes else None
        return {
            "task": self.task,
            "settings": self.config.to_dict(),
            "stopped_at": self.stopped_at,
            "stopped_by_user": self.stopped_by_user,
            "iterations_run": self.iterations_run,
            "wall_time_s": round(self.wall_time, 3),
            "seconds_per_iteration": round(self.seconds_per_iteration, 4),
            "device": p0.device if p0 else None,
            "precision": p0.precision if p0 else None,
            "metrics": dict(self.metrics),
        }


# ----------------------------------------------------------------------------------------------
# helpers


def fusion_config(cfg: Config, fusion: str) -> Config:
    """The settings a fusion in mode ``fusion`` runs with: ``cfg``, but gradient fusion never
    jitters the network's input.

    That input is the two sources, which the output must reproduce: jitter would only noise them
    (multi-focus hill: 42.78 dB without it, 37.02 with 0.03; docs/benchmarks.md).
    Guided mode takes its settings as given: the fast preset's own guided values (no jitter, the
    automatic stop) are ``Config.preset("fast", "fuse", mode="guided")``.
    """
    return cfg.replace(reg_noise_std=0.0) if fusion == "gradient" else cfg


def _config(task: str, preset: str | None, config: Config | None, settings: dict,
            mode: str | None = None) -> Config:
    if config is not None:
        if not isinstance(config, Config):
            raise TypeError("config must be a napari_dip.Config (see Config.preset).")
        return config.replace(**{k: v for k, v in settings.items() if v is not None}) if settings \
            else config
    return Config.preset(preset or "fast", task, mode, **settings)


def _per_channel(layout: Layout) -> bool:
    """Scale RGB jointly (keeps colour balance); scale other channels (fluorescence) separately."""
    if layout.channel_axis is None:
        return False
    rgb = layout.channel_axis == len(layout.shape) - 1 and layout.shape[-1] in (3, 4)
    return not rgb


def _plane_layout(layout: Layout) -> Layout:
    """Layout of one plane of ``layout`` (stack axes dropped), to shape previews like the input."""
    keep = [a for a in range(len(layout.shape)) if a not in layout.stack_axes]
    ch = None if layout.channel_axis is None else keep.index(layout.channel_axis)
    return Layout(tuple(layout.shape[a] for a in keep), ch, layout.alpha)


def _check_reference(reference, expected_shape: tuple[int, ...]) -> np.ndarray | None:
    if reference is None:
        return None
    ref = check_finite_array(reference, "reference")
    if ref.shape != tuple(expected_shape):
        raise ValueError(f"reference has shape {ref.shape} but the result will have shape "
                         f"{tuple(expected_shape)}; pass the ground truth of the same size.")
    return ref


def _nan_holes(image, mask):
    """Inpainting takes NaN (or infinite) pixels as holes: returns ``(image with them set to 0 (a
    copy), mask (the finite pixels when none was given), where they were or None)``."""
    arr = np.asarray(image)
    if not np.issubdtype(arr.dtype, np.floating):
        return image, mask, None
    bad = ~np.isfinite(arr)
    if not bad.any():
        return image, mask, None
    return np.where(bad, 0, arr), (~bad if mask is None else mask), bad


def _mask_planes(mask, layout: Layout, name: str = "mask") -> np.ndarray:
    """Known-pixel mask as (N or 1, C or 1, H, W) bool from a (H, W) or full-shape mask."""
    m = np.asarray(mask)
    if m.dtype == object or not (np.issubdtype(m.dtype, np.number) or m.dtype == bool):
        raise ValueError(f"{name} must be a boolean or numeric array; got dtype {m.dtype}.")
    if m.shape == layout.plane_shape:
        planes = (m != 0)[None, None]
    elif m.shape == layout.shape:
        planes, _ = layout.to_planes(m != 0)
    else:
        raise ValueError(f"{name} has shape {m.shape}, but the image has shape {layout.shape} "
                         f"(planes of {layout.plane_shape[0]}×{layout.plane_shape[1]}); give a "
                         "mask of the plane's shape or of the image's shape.")
    known = planes.reshape(planes.shape[0], -1).any(axis=1)
    if not known.all():
        which = "" if planes.shape[0] == 1 else f" in plane {int(np.argmin(known))}"
        raise ValueError(f"{name} marks no pixel as known{which}: nothing to fill the holes from. "
                         "Mask convention: non-zero/True = known pixel, 0/False = pixel to fill.")
    return planes


# ----------------------------------------------------------------------------------------------
# the generator every task goes through


def restore_iter(task: str, image, *, axes: str | None = None, **kwargs: Any) -> Gen[Any, None, Result]:
    """Restore ``image`` for ``task``, yielding progress; returns a :class:`Result`.

    ``axes`` (optional) names the image's axes napari-style, one letter each (``"TYX"``,
    ``"ZCYX"``, ``"TZYXC"``): Y and X form the restored plane, C is the channel axis and every
    other letter a stack axis iterated plane by plane. Full-shape masks, fusion's second image and
    the reference follow the same axes; results and previews keep the input's axis order. Without
    ``axes`` the layout is inferred (see :func:`denoise`). Other parameters: see
    :func:`_restore_iter`.
    """
    if axes is None:
        return (yield from _restore_iter(task, image, **kwargs))
    from .core.stacks import parse_axes

    if kwargs.pop("channel_axis", None) is not None:
        raise ValueError("give either axes= or channel_axis=, not both (axes names the channel "
                         "axis as C).")
    arr = np.asarray(image)
    order, channel_axis = parse_axes(axes, arr.ndim)
    labels = axes.upper()
    n_stack = len(order) - (3 if channel_axis is not None else 2)
    # C last with 3 or 4 entries is RGB(A), as without axes: colours scaled together, alpha
    # carried through, not restored (rgb=False reads them as channels)
    rgb = kwargs.pop("rgb", None) is not False and labels[-1] == "C" and arr.shape[-1] in (3, 4)
    if rgb:
        order = (*order[:n_stack], *order[n_stack + 1:], order[n_stack])
        channel_axis = arr.ndim - 1
    swap_yx = labels.index("X") < labels.index("Y")  # 2D arrays given in the plane's own order

    def forward(x):
        if x is None or np.isscalar(x):
            return x
        x = np.asarray(x)
        if x.ndim == arr.ndim:
            return np.transpose(x, order)
        return x.T if x.ndim == 2 and swap_yx else x

    for key in ("mask", "second", "reference", "psf"):
        if key in kwargs:
            kwargs[key] = forward(kwargs[key])
    plane_back = tuple(int(i) for i in np.argsort(order[n_stack:]))  # engine plane -> input order
    steps = _restore_iter(task, np.transpose(arr, order), channel_axis=channel_axis, rgb=rgb,
                          **kwargs)
    while True:
        try:
            p = next(steps)
        except StopIteration as done:
            result = done.value
            break
        if p.preview is not None:
            p.preview = np.transpose(p.preview, plane_back)
        if p.plane_output is not None:
            p.plane_output = np.transpose(p.plane_output, plane_back)
        yield p
    result.image = np.transpose(result.image, tuple(int(i) for i in np.argsort(order)))
    return result


def _restore_iter(task: str, image, *, mask=None, factor: int | None = None, kernel: str = "lanczos2",
                 psf=None, second=None, fusion: str = "gradient", fusion_weight: float = 0.5,
                 gradient_weight: float = 1.0, keep_known: bool = True,
                 channel_axis: int | None = None,
                 rgb: bool | None = None, reference=None, output_dtype=None,
                 preset: str | None = "fast", config: Config | None = None, warm_start: bool = False,
                 stop_event=None,
                 **settings: Any) -> Gen[Any, None, Result]:
    """The engine behind :func:`restore_iter` (the input's axes already in the inferred layout).

    Parameters are those of the task functions (:func:`denoise`, :func:`inpaint`,
    :func:`super_resolve`, :func:`deblur`, :func:`fuse`; ``second`` is fusion's source b;
    ``keep_known`` applies to inpainting only).
    Yields :class:`napari_dip.core.fit.Progress` after each iteration; its ``preview`` (every
    ``preview_every`` iterations) is one plane in the input's units and axis order. Closing the
    generator stops the run within the current iteration. Setting ``stop_event`` (a
    ``threading.Event``) instead ends the run after the current iteration and still returns a
    :class:`Result` with the output reached so far (``stopped_by_user``; planes of a stack that were
    never started are NaN). For a stack, one more report follows the last iteration of each plane,
    with ``plane_output`` holding the finished plane (input units and axis order) and no preview.
    Planes larger than ``tile`` pixels a side are restored in overlapping tiles (see
    :mod:`napari_dip.core.tiling`); ``Progress.tile``/``n_tiles`` say which, previews show the
    whole plane, and :attr:`Result.planes` holds one fit per tile. All checks run before any
    fitting.
    """
    import torch

    from .core import operators as ops
    from .core.fit import Problem, fit_tiles
    from .core.networks import padding_multiple
    from .core.noise import estimate_noise_variance
    from .core.options import REFINE_TASKS
    from .core.refine import REPEAT_ABOVE, fill_refine, project_to_measurement, wiener_refine
    from .core.tiling import plan_tiles

    t0 = time.perf_counter()
    if task == "fuse" and fusion not in FUSION_MODES:
        raise ValueError(f"fusion must be {' or '.join(map(repr, FUSION_MODES))}; got {fusion!r}.")
    cfg = _config(task, preset, config, settings, fusion if task == "fuse" else None)
    if cfg.seed is None:  # drawn once and kept in the result's settings, so the run can be repeated
        cfg = cfg.replace(seed=secrets.randbelow(2**31))
    # Config.refine, each step for its own task; the Wiener steps assume white noise (the mse loss)
    # and inpainting's fill keeps the known pixels exact, so it needs keep_known
    refine = task in REFINE_TASKS.get(cfg.refine, ()) and (task != "denoise" or cfg.loss == "mse") \
        and (task != "inpaint" or keep_known)
    holes_nan = None
    if task == "inpaint":
        image, mask, holes_nan = _nan_holes(image, mask)
    arr = check_finite_array(image, "image")
    layout = Layout.infer(arr, channel_axis, rgb, "image")
    planes, alpha = layout.to_planes(arr)
    out_factor = 1
    known = None
    guide_planes = None
    b_norm = b_planes = None

    if task == "inpaint":
        if mask is None:
            raise ValueError("inpaint needs a mask (non-zero = known pixel, 0 = pixel to fill), or "
                             "NaN in the image at the pixels to fill.")
        known = _mask_planes(mask, layout)
        if holes_nan is not None:
            bad = layout.to_planes(holes_nan)[0] & known
            if bad.any():
                raise ValueError(f"image has NaN or infinite values at {int(bad.sum())} pixel(s) the "
                                 "mask marks as known; mark them 0 in the mask to fill them too.")
    elif task == "sr":
        if factor is None:
            raise ValueError("super-resolution needs a factor (2, 3, 4 or 8).")
        op_template = ops.Downsample(factor, kernel)
        op_template.image_hw(layout.plane_shape)  # checks the low-resolution size
        out_factor = op_template.factor
    elif task == "deblur":
        if psf is None:
            raise ValueError("deblur needs a PSF: a 2D array, or a Gaussian width in pixels.")
        psf_arr = (ops.gaussian_psf(float(psf)) if np.isscalar(psf)
                   else ops.check_psf(psf, layout.plane_shape))
    elif task == "fuse":
        if second is None:
            raise ValueError("fuse needs two images: fuse(a, b).")
        b = check_finite_array(second, "second image (b)")
        if fusion == "gradient" and b.shape != arr.shape:
            raise ValueError(f"Fusion sources differ in shape: a {arr.shape} vs b {b.shape}; "
                             "register and resample them to the same grid first.")
        cfg = fusion_config(cfg, fusion)
        b_layout = Layout.infer(b, channel_axis, rgb, "second image (b)")
        if b_layout.plane_shape != layout.plane_shape or b_layout.n_planes != layout.n_planes:
            raise ValueError(f"Fusion sources differ in shape: a {arr.shape} vs b {b.shape}.")
        b_planes, _ = b_layout.to_planes(b)
        b_norm = Normalizer.fit(b_planes, _per_channel(b_layout))
    elif task != "denoise":
        raise ValueError(f"Unknown task {task!r}; use denoise, inpaint, sr, deblur or fuse.")

    if cfg.loss == "poisson" and float(planes.min()) < 0:
        raise ValueError(f"The Poisson loss models photon counts, which are never negative, but the "
                         f"image's minimum is {float(planes.min()):.4g} (background-subtracted "
                         "data?); add an offset to make it non-negative, or use loss='mse'.")
    norm = Normalizer.fit(planes, _per_channel(layout), zero_floor=cfg.loss == "poisson",
                          where=known)
    data_range = float(np.max(norm.hi - norm.lo))  # of the input, for PSNR against a reference
    # deblurring: room above the blurred data for the peaks the blur spread out (Config.headroom);
    # uint8 is scaled by its fixed 0-255 range, which leaves that room up to 255 already
    headroom = (cfg.headroom or (1.0 if planes.dtype == np.uint8 else 2.0)) if task == "deblur" else 1.0
    if headroom > 1:
        norm = norm.widened(headroom)
    if task == "fuse" and fusion == "gradient":
        guide_planes = None
    elif task == "fuse":
        guide_planes = b_norm.forward(b_planes)
    out_shape = layout.output_shape(out_factor)
    ref = _check_reference(reference, out_shape)
    ref_planes = None
    if ref is not None:
        ref_layout = Layout(out_shape, layout.channel_axis, layout.alpha)
        ref_planes = norm.forward(ref_layout.to_planes(ref)[0])

    plane_layout = _plane_layout(layout)
    colour = layout.channel_axis is not None and layout.channels == 3 and not _per_channel(layout)
    overlap = cfg.tile_overlap
    if task == "deblur" and cfg.tile:
        # tiles leave out of their data term the pixels within the PSF's reach of a neighbour:
        # overlapping by at least the PSF's size, every pixel is fitted by some tile
        overlap = min(max(overlap, max(psf_arr.shape)), cfg.tile // 2 - 1)
    grid = plan_tiles(layout.plane_shape, cfg.tile, overlap, out_factor,
                      padding_multiple(cfg.network_spec))
    out_planes = []
    fits = []
    states: dict[int, dict] = {}  # per tile: the previous plane's weights, for warm starts
    y_prev = None
    n = layout.n_planes

    def objective_for(i: int, y, ys: slice, xs: slice):
        """The data term of plane ``i`` restricted to one tile (input-grid slices ``ys``, ``xs``)."""
        if task == "denoise":
            return ops.DataFidelity(ops.Identity(), y, cfg.loss), None
        if task == "inpaint":
            m = known[i if known.shape[0] > 1 else 0][..., ys, xs]
            return ops.DataFidelity(ops.Mask(m), y * torch.from_numpy(m.astype(np.float32)),
                                    cfg.loss), None
        if task == "sr":
            return ops.DataFidelity(ops.Downsample(factor, kernel), y, cfg.loss), None
        if task == "deblur":
            h, w = layout.plane_shape
            cut = (ys.start > 0, ys.stop < h, xs.start > 0, xs.stop < w)  # sides facing a tile
            return ops.DataFidelity(ops.Convolution(psf_arr, cut, tuple(y.shape[-2:])), y,
                                    cfg.loss), None
        if fusion == "gradient":
            yb = torch.from_numpy(np.ascontiguousarray(b_norm.forward(b_planes[i:i + 1])[..., ys, xs]))
            # both sources are the network's input (not a random code): their edges reach the
            # output through the skip connections at once, where a random code makes the network
            # build every edge up slowly (multi-focus astronaut crop: 33.2 dB at step 500 against
            # 23.5, 35.1 at 1500 against 28.5; docs/benchmarks.md)
            return ops.FusionObjective(y, yb, fusion_weight, gradient_weight), torch.cat([y, yb], 1)
        guide = torch.from_numpy(np.ascontiguousarray(guide_planes[i:i + 1][..., ys, xs]))
        return ops.DataFidelity(ops.Identity(), y, cfg.loss), guide

    def data_guide(i: int, y, ys: slice, xs: slice):
        """The measurement of plane ``i``'s tile on the output grid, as network input."""
        from .core import guides

        if task == "inpaint":
            m = known[i if known.shape[0] > 1 else 0][..., ys, xs]
            return guides.fill_holes(y, torch.from_numpy(np.ascontiguousarray(m)))
        if task == "sr":
            return guides.upsample(y, out_factor)
        return guides.smoothed(y, cfg.guide_sigma)

    def kept(out: np.ndarray, first: int) -> np.ndarray:
        """Inpainting: measured pixels exactly as given, the network's output only in the holes.

        ``out`` holds planes ``first, first + 1, ...`` as (N, C, H, W) in the input's units.
        """
        if known is None or not keep_known:
            return out
        k = known if known.shape[0] == 1 else known[first:first + out.shape[0]]
        return np.where(k, planes[first:first + out.shape[0]].astype(out.dtype), out)

    def to_preview(plane_out: np.ndarray, i: int) -> np.ndarray:
        prev = kept(norm.inverse(plane_out[None], None), i)
        a = None
        if alpha is not None:
            a = alpha[i:i + 1] if out_factor == 1 else \
                alpha[i:i + 1].repeat(out_factor, -2).repeat(out_factor, -1)
        pl = Layout(_shape_with_hw(plane_layout, prev.shape[-2:]), plane_layout.channel_axis,
                    plane_layout.alpha)
        return pl.from_planes(prev, a)

    stopped = False
    unrefined: list[np.ndarray] = []  # network outputs before Config.refine, to measure its gain
    for i in range(n):
        y_plane = norm.forward(planes[i:i + 1])
        problems = []
        for t, tile in enumerate(grid.tiles):
            ys, xs = tile.slices()
            oys, oxs = tile.slices(out_factor)
            y = torch.from_numpy(np.ascontiguousarray(y_plane[..., ys, xs]))
            objective, guide = objective_for(i, y, ys, xs)
            if cfg.temporal_weight > 0 and out_planes:  # issue 6: optional anti-flicker term
                from .core.stacks import temporal_consistency

                before = np.ascontiguousarray(out_planes[-1][None][..., oys, oxs])
                objective = temporal_consistency(objective, torch.from_numpy(before),
                                                 cfg.temporal_weight, y, y_prev[t])
            ref_t = None if ref_planes is None else \
                torch.from_numpy(np.ascontiguousarray(ref_planes[i:i + 1][..., oys, oxs]))
            hw = ((tile.y1 - tile.y0) * out_factor, (tile.x1 - tile.x0) * out_factor)
            # denoising with the mse loss: the loss should come down to the noise variance
            noise_var = estimate_noise_variance(y) if task == "denoise" and cfg.loss == "mse" \
                and cfg.stop_noise_floor > 0 and not (cfg.temporal_weight > 0 and out_planes) else None
            code_channels = 0
            if guide is None and cfg.input_code == "data":  # Config.input_code
                guide, code_channels = data_guide(i, y, ys, xs), cfg.input_channels
            problems.append(Problem(objective, y.shape[1], hw, guide, ref_t, noise_var,
                                    1.0 / headroom, code_channels))
        # where no tile has an output yet the preview shows the input (nearest-upsampled for sr)
        background = y_plane[0].repeat(out_factor, -2).repeat(out_factor, -1) if out_factor > 1 \
            else y_plane[0]
        gen = fit_tiles(problems, cfg, grid, np.nan_to_num(background.astype(np.float32)), i, n,
                        [states.get(t) for t in range(len(grid))] if warm_start else None,
                        stop_event, None if ref_planes is None else ref_planes[i])
        try:
            while True:
                progress = next(gen)
                if progress.preview is not None:
                    progress.preview = to_preview(progress.preview, i)
                yield progress
        except StopIteration as done:
            tile_results = done.value
        finally:
            gen.close()
        for t, result in enumerate(tile_results):
            if result is not None:
                states[t] = result.state
                fits.append(result)
        tile_outputs = [None if r is None else r.output for r in tile_results]
        stopped = any(r is not None and r.stopped_by_user for r in tile_results)
        if y_prev is None:
            y_prev = {}
        for t, tile in enumerate(grid.tiles):
            ys, xs = tile.slices()
            y_prev[t] = torch.from_numpy(np.ascontiguousarray(y_plane[..., ys, xs]))
        plane_out = tile_outputs[0] if len(grid) == 1 else grid.blend(tile_outputs)
        if refine:
            if ref is not None and not stopped:
                unrefined.append(plane_out)
            if task == "sr":  # exactly consistent with the input, on the whole plane (no tiles)
                step = project_to_measurement(y_plane[0], plane_out,
                                              ops.Downsample(out_factor, kernel).double())
            elif task == "inpaint":  # the holes refilled sparse in a DCT, known pixels as given
                step = fill_refine(y_plane[0], known[i if known.shape[0] > 1 else 0], plane_out)
            else:  # the network's output as the pilot of a Wiener filter of the noisy plane
                grouped = cfg.refine == "bm-wiener"
                step = wiener_refine(y_plane[0], plane_out, colour=colour, grouped=grouped,
                                     repeat_above=REPEAT_ABOVE if grouped else None)
            # clipped to the range the network's output has
            plane_out = np.clip(step, 0.0, 1.0).astype(plane_out.dtype)
        out_planes.append(plane_out)
        if n > 1:  # a stack: report the finished plane so a viewer can fill it in
            yield dataclasses.replace(progress, preview=None,
                                      plane_output=to_preview(out_planes[-1], i))
        if stopped:  # planes never started are NaN in the result
            out_planes += [np.full_like(out_planes[-1], np.nan)] * (n - i - 1)
            break

    n_done = i + 1
    if alpha is not None and out_factor > 1:
        alpha = alpha.repeat(out_factor, -2).repeat(out_factor, -1)

    def as_image(normalised: list[np.ndarray]) -> np.ndarray:
        """Restored planes (normalised units) → the output image in the input's units and axes."""
        out = norm.inverse(np.stack(normalised), resolve_output_dtype(output_dtype, arr.dtype))
        out[:n_done] = kept(out[:n_done], 0)
        return Layout(layout.shape, layout.channel_axis, layout.alpha).from_planes(out, alpha)

    image_out = as_image(out_planes)
    for f in fits:
        f.state = None  # weights are large; keep only what the warm start needed
    metrics = {}
    if ref is not None:
        from .core.metrics import psnr, ssim

        dr = 255.0 if ref.dtype == np.uint8 else data_range
        metrics["psnr"] = psnr(ref, image_out.astype(np.float64), data_range=dr)
        if unrefined and len(unrefined) == n:
            metrics["psnr_before_refine"] = psnr(ref, as_image(unrefined).astype(np.float64),
                                                 data_range=dr)
        if layout.n_planes == 1:
            metrics["ssim"] = ssim(ref, image_out.astype(np.float64), data_range=dr,
                                   channel_axis=layout.channel_axis)
    return Result(image_out, task, cfg, fits, time.perf_counter() - t0, metrics)


def _shape_with_hw(layout: Layout, hw) -> tuple[int, ...]:
    shape = list(layout.shape)
    y, x = layout.spatial_axes
    shape[y], shape[x] = int(hw[0]), int(hw[1])
    return tuple(shape)


def _run(gen: Gen[Any, None, Result]) -> Result:
    from .core.fit import drain  # torch stays out of import time

    return drain(gen)


# ----------------------------------------------------------------------------------------------
# task functions

_SETTINGS_DOC = """
    preset : {'fast', 'paper'}
        Named settings (see :class:`napari_dip.Config`); ``fast`` is the default.
    iterations, device, seed, precision, lr, ... : optional
        Any :class:`napari_dip.Config` field overrides the preset.
    config : Config, optional
        A complete settings object (overrides ``preset``).
    reference : array, optional
        Ground truth shaped like the result: PSNR/SSIM are recorded every iteration and for the
        result (``Result.metrics``). It never influences which output is returned.
    channel_axis : int, optional
        Axis of a multichannel image; 3D arrays with a last axis of 3 or 4 are read as RGB(A).
    axes : str, optional
        The image's axes, one letter each (``"TYX"``, ``"ZCYX"``): Y and X form the plane, C is the
        channel axis, other letters are stack axes restored plane by plane (instead of
        ``channel_axis``).
    tile, tile_overlap : int, optional
        Restore planes larger than ``tile`` pixels a side in overlapping, blended tiles (bounded
        memory for very large images; 0 never tiles).
    output_dtype : {None, 'float32', 'input'} or dtype
        float32 by default; ``'input'`` rounds and clips to the input's dtype.
"""


def denoise(image, *, preset: str = "fast", reference=None, channel_axis: int | None = None,
            **settings: Any) -> Result:
    """Remove noise (Gaussian, Poisson, salt-and-pepper, speckle; blind) with a Deep Image Prior.

    Parameters
    ----------
    image : array, shape (..., H, W) or (..., H, W, C)
        Noisy image, any numeric dtype, no NaN. Leading axes are a stack, restored plane by plane.
    loss : {'mse', 'l1', 'poisson'}, optional
        ``l1`` suits salt-and-pepper noise, ``poisson`` photon counts (zero kept at zero).
    """ + _SETTINGS_DOC + """
    Returns
    -------
    Result
    """
    return _run(restore_iter("denoise", image, preset=preset, reference=reference,
                             channel_axis=channel_axis, **settings))


def inpaint(image, mask=None, *, keep_known: bool = True, preset: str = "fast", reference=None,
            channel_axis: int | None = None, **settings: Any) -> Result:
    """Fill missing pixels.

    Parameters
    ----------
    image : array, shape (..., H, W) or (..., H, W, C)
        Image whose unknown pixels may hold anything, NaN included (they are ignored). Not
        modified.
    mask : array, shape (H, W) or image.shape, optional
        Non-zero/True where the pixel is **known**, 0/False where it must be filled. A (H, W)
        mask applies to every plane and channel. None: the NaN (or infinite) pixels of a float
        ``image`` are the ones to fill. NaN where the mask says known is refused.
    keep_known : bool
        True (default): known pixels are returned exactly as given and only the holes come from
        the network, so a painted defect changes nothing outside it. False: every pixel is the
        network's output, which also smooths the known pixels (useful when they are noisy).
    """ + _SETTINGS_DOC + """
    Returns
    -------
    Result
        ``image`` shaped like ``image``. The PSNR history during the run (``Result.history``) is
        of the network's output over all pixels; ``Result.metrics`` is of the returned image.
    """
    return _run(restore_iter("inpaint", image, mask=mask, keep_known=keep_known, preset=preset,
                             reference=reference, channel_axis=channel_axis, **settings))


def super_resolve(image, factor: int, *, kernel: str = "lanczos2", preset: str = "fast",
                  reference=None, channel_axis: int | None = None, **settings: Any) -> Result:
    """Upsample by an integer ``factor`` (2, 3, 4 or 8) under a known downsampling model.

    Parameters
    ----------
    image : array, shape (..., h, w) or (..., h, w, C)
        The low-resolution image (at least 8×8 pixels).
    factor : int
    kernel : {'lanczos2', 'bicubic', 'box'}
        Anti-aliasing kernel of the downsampler assumed to have made ``image``: ``lanczos2`` (the
        paper's), ``bicubic``, or ``box`` (camera pixel binning).
    """ + _SETTINGS_DOC + """
    Returns
    -------
    Result
        ``image`` shaped (..., h·factor, w·factor[, C]). Pixel (i, j) of the input covers output
        pixels [factor·i, factor·i + factor) along each axis.
    """
    return _run(restore_iter("sr", image, factor=factor, kernel=kernel, preset=preset,
                             reference=reference, channel_axis=channel_axis, **settings))


def deblur(image, psf, *, preset: str = "fast", reference=None, channel_axis: int | None = None,
           **settings: Any) -> Result:
    """Deconvolve a known point-spread function.

    Parameters
    ----------
    image : array, shape (..., H, W) or (..., H, W, C)
        The blurred image, any real dtype. Scaled by its own minimum and maximum (uint8 by
        0–255) for the fit. Not modified.
    psf : 2D array or float
        The PSF, at most the image's size, its centre at pixel ((h − 1) // 2, (w − 1) // 2);
        negative values (noise in a measured PSF) are set to 0 and it is normalised to sum 1. A
        float: the sigma in pixels of a Gaussian PSF.
    headroom : float, optional
        How far above the blurred input the output may reach: it lies in [minimum, minimum +
        headroom × (maximum − minimum)] of the blurred input (uint8: minimum 0, maximum 255).
        0 (the fast preset): 2, or 1 for uint8. See :class:`napari_dip.Config`.
    """ + _SETTINGS_DOC + """
    Returns
    -------
    Result
        ``image``: float32 shaped like ``image``, in its units. Point sources (beads) come out
        lower than they were: at most ``headroom`` × the blurred range, and a fit of a few
        thousand steps does not reach that either (half the true height on the beads of
        ``benchmarks/deblur_headroom.py``).
    """
    return _run(restore_iter("deblur", image, psf=psf, preset=preset, reference=reference,
                             channel_axis=channel_axis, **settings))


def fuse(a, b, *, mode: str = "gradient", weight: float = 0.5, gradient_weight: float = 1.0,
         preset: str = "fast", reference=None, channel_axis: int | None = None,
         **settings: Any) -> Result:
    """Fuse two co-registered images of one scene into one.

    Parameters
    ----------
    a, b : arrays of the same shape
        E.g. two microscopy channels, MRI and PET, infrared and visible. Each is scaled to [0, 1]
        on its own.
    mode : {'gradient', 'guided'}
        ``gradient``: F's intensities follow ``weight·a + (1 − weight)·b`` and its gradients the
        locally stronger source's (``gradient_weight`` balances the two terms); the network takes
        both sources as its input, never jittered (``reg_noise_std`` is set to 0, see
        :func:`fusion_config`). ``guided``: restore
        ``a`` with ``b`` as the network input, so a clean ``b`` guides a noisy ``a`` (``b`` may
        then have other channels than ``a``); the fast preset runs it as it runs denoising, with
        the automatic stop and (as its input is ``b``, not a random code) without jitter.
    """ + _SETTINGS_DOC + """
    Returns
    -------
    Result
        ``image`` shaped like ``a``, in ``a``'s intensity units.
    """
    return _run(restore_iter("fuse", a, second=b, fusion=mode, fusion_weight=weight,
                             gradient_weight=gradient_weight, preset=preset, reference=reference,
                             channel_axis=channel_axis, **settings))
