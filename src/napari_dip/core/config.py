"""Settings of a restoration run: one validated, immutable object with named presets."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from typing import Any

from .options import (
    DEVICES,
    FUSION_MODES,
    LOSSES,
    NETWORKS,
    PRECISIONS,
    REFINES,
    UPSAMPLE_MODES,
    NetworkSpec,
)

TASKS = ("denoise", "inpaint", "sr", "deblur", "fuse")
#: Variants of a task that a preset may tune apart (``PRESETS[name]["task:mode"]``).
TASK_MODES = {"fuse": FUSION_MODES}
STOP_RULES = ("auto", "fixed")
STOP_OUTPUTS = ("average", "minimum")
INPUT_CODES = ("random", "data")


@dataclass(frozen=True)
class Config:
    """Every setting of a DIP run. Build it with :meth:`preset`; unknown names are refused.

    Network
        ``network`` (skip, unet, resnet, deep_decoder); ``channels`` per scale; ``skip_channels`` per
        scale (skip net); ``upsample`` (nearest, bilinear); ``input_channels`` and ``input_scale``
        of the random input code z ~ U(0, 1)·input_scale; ``resnet_blocks``.
        ``input_code`` = ``"random"`` (the paper's: the network starts from the random code
        alone) or ``"data"``: the measurement brought to the output grid goes in as well, as
        extra input channels beside the random code (inpainting: holes filled smoothly from the
        known pixels; super-resolution: the low-resolution image upsampled; denoising and
        deblurring: the image blurred by a Gaussian of ``guide_sigma`` pixels), so the
        structure it holds reaches the output through the skip connections from the first step
        (:mod:`napari_dip.core.guides`). Fusion always feeds its two sources. Measured
        (``benchmarks/tune.py``, docs/benchmarks.md): the early output is better (inpainting a
        camera crop: 26.6 dB at step 250 against 22.8) but the fit then stalls near the guide
        (29.5 dB at step 3000 against 31.5), and a blurred guide gained nothing for denoising,
        so every preset keeps the random code.
    Optimisation
        ``lr`` (Adam), ``iterations`` (the budget), ``lr_decay`` = (start, final): from
        ``start`` (a fraction of the budget, 0-1; 1 = never) the learning rate follows a cosine
        down to ``final`` × ``lr`` at the last iteration (a fixed budget's last steps then
        settle the fit instead of stepping around it), ``reg_noise_std`` (input jitter added to z every
        step; with ``reg_noise_pixels`` > 0 it applies to planes of up to that many pixels and
        larger planes get ``reg_noise_std·sqrt(reg_noise_pixels / pixels)``, at least
        ``reg_noise_floor`` (0-1, default half) of it:
        more pixels overfit later and need less regularising jitter, see :meth:`jitter_for`;
        ``reg_noise_ramp`` = (start, end, fraction) begins with ``fraction`` of that jitter and
        raises it linearly to the full amount from iteration ``start`` to ``end``: less jitter
        lets the network learn the image sooner, the full amount keeps the noise out later;
        with ``reg_noise_ramp_pixels`` > 0, planes of up to that many pixels get the full jitter
        from the start, since small planes are learnt fast and overfit early, and the starting
        fraction applies in full from 4× that size up, interpolated in log-size between),
        ``ema`` (exponential averaging weight of outputs; 0 disables), ``loss`` (mse, l1,
        poisson), ``backtrack`` (restore the last good parameters after a loss spike).
    Stopping
        ``stop`` = ``"auto"`` (windowed moving variance of outputs: stop when it has set no new minimum
        for ``stop_patience`` iterations and return the output at its minimum; never before
        ``min_iterations``) or ``"fixed"`` (run the whole budget, return the last output).
        ``stop_window`` is the number of recent outputs whose variance is tracked.
        ``stop_relative_patience`` > 0 lets the patience grow with the run: the rule waits
        ``max(stop_patience, stop_relative_patience × m)`` iterations after a minimum at
        iteration ``m`` (the averaged output goes on improving after the raw outputs' variance
        minimum, for longer when the network took longer to get there).
        ``stop_noise_floor`` > 0 (denoising with the ``mse`` loss) keeps the run going while the
        loss, averaged over ``stop_window`` steps, is above that multiple of the noise variance
        estimated from the input (:func:`napari_dip.core.noise.estimate_noise_variance`), and
        variance minima count (so the patience runs) only from when it is below it: on
        textured images the variance has an early, shallow minimum while the texture is still
        being learnt and the loss is still far above the noise level.
        ``stop_output`` = ``"average"`` returns the exponentially averaged output when the rule fires
        (it averages the iterates after the variance minimum, measured better by 0.2–0.8 dB) or
        ``"minimum"`` the output at the variance minimum (ES-WMV as published).
    The step after the fit
        ``refine`` names a step that runs once the fit ends, for one task; the other tasks ignore
        it, as they ignore ``"none"``.
        ``"wiener"`` (denoising with the ``mse`` loss: white noise of one level per channel)
        filters the noisy image once more, with the network's output as the pilot of an
        empirical Wiener filter in a sliding 8×8 DCT (colour images in an opponent colour space;
        :func:`napari_dip.core.refine.wiener_refine`); seconds. Measured on the paper's 9
        denoising images (docs/benchmarks.md): the network's output 30.45 dB on average, 30.84
        after the step (+0.12 on hill to +0.84 on baboon). ``"bm-wiener"`` (the fast preset's
        choice) adds BM3D's block matching: on the pilot's edges and texture the same filter works
        on groups of similar 8×8 blocks, in its flat regions the sliding window's estimate is
        kept (grouping trusts the pilot more, which on smooth images such as cells keeps the
        low-frequency blotches the network leaves; :data:`napari_dip.core.refine.EDGE_RAMP`).
        When its first pass changes the pilot by much (a weak pilot: smooth images the stop ended
        early, heavy texture) it filters once more with its own output as the pilot
        (:data:`napari_dip.core.refine.REPEAT_ABOVE`). 5-14 s for a 512² RGB image here.
        Over ``"wiener"``: +0.35 dB on average on 14 scikit-image crops (-0.10 to +0.98;
        Gaussian σ 25 and 50, Poisson) and +0.20 dB on the paper's 9 denoising images (+0.06 to
        +0.39, 30.84 -> 31.03 dB, on the preset's own fits; benchmarks/refine.py saved,
        docs/benchmarks.md).
        ``"project"`` (super-resolution) moves the output by the least change that makes its
        downsampled image equal the input exactly
        (:func:`napari_dip.core.refine.project_to_measurement`); it assumes a noise-free input, as
        the fit's loss does. Set5 ×4 at step 1800: 29.69 dB on average before, 29.78 after.
        ``"fill-dct"`` (inpainting with ``keep_known``) starts from the network's fill an iterated
        hard thresholding in a sliding 8×8 DCT that restores the known pixels after every
        iteration, its threshold falling from 20 grey levels of 255 to 0.5
        (:func:`napari_dip.core.refine.fill_refine`); seconds. It assumes the known pixels are
        exact, as inpainting's loss does.
    Deblurring
        ``headroom`` (>= 1, or 0 for auto): the output can reach ``headroom`` times the blurred
        input's range above its minimum. Deconvolution gathers light that the blur spread out,
        so a point source is brighter than any pixel of its blurred image (up to 1 / the PSF's
        peak, 25× for a Gaussian of sigma 2 px); at 1 the output is bounded by the blurred
        input's maximum. More room also makes the fit slower (the data then fill less of the
        network's output range; docs/benchmarks.md): auto (the fast preset) is 2 for data
        scaled by their own range and 1 for uint8, whose fixed 0-255 scale already leaves the
        room up to 255.
    Stacks and time-lapses (``restore_iter(..., warm_start=True)``)
        A warm-started plane starts from the previous plane's weights, input code and output (the
        averaged output is seeded with it), so it is nearly fitted already: its stop rule uses
        ``warm_min_iterations`` and ``warm_stop_patience`` instead of ``min_iterations`` and
        ``stop_patience``. ``temporal_weight`` > 0 adds a term pulling each plane towards the
        previous plane's result where the data did not change (less flicker; 0 disables).
    Large images
        ``tile`` > 0 cuts planes whose output is larger than ``tile`` pixels a side into the fewest
        overlapping tiles of (nearly) equal size, restores each on its own and blends them with
        raised-cosine ramps over ``tile_overlap`` pixels: peak memory follows the tile, not the
        image. 0 never tiles. Up to ``tile_parallel`` tiles are fitted side by side, one
        iteration of each in turn, so the preview shows the whole plane and Stop returns all of
        it; more tiles go in waves of that many (each tile in flight holds its own network,
        optimiser and stop window: about 80 MB for a 272² RGB tile).
    Hardware
        ``device`` (auto, cpu, cuda, mps or e.g. cuda:1), ``precision`` (float32, bfloat16,
        float16 autocast, or auto: bfloat16 where the hardware has it natively), ``channels_last``
        memory layout, ``threads`` (CPU threads; None = torch's own setting, at most the cores available).
    Reproducibility and feedback
        ``seed`` (None: random), ``preview_every`` (iterations between preview images),
        ``ssim_every`` (iterations between SSIM evaluations when a reference is given).
    """

    network: str = "skip"
    channels: tuple[int, ...] = (128, 128, 128, 128, 128)
    skip_channels: tuple[int, ...] = (4, 4, 4, 4, 4)
    upsample: str = "bilinear"
    input_channels: int = 32
    input_scale: float = 0.1
    resnet_blocks: int = 8
    input_code: str = "random"
    guide_sigma: float = 0.0
    lr: float = 0.01
    lr_decay: tuple[float, float] = (1.0, 1.0)
    iterations: int = 3000
    reg_noise_std: float = 1.0 / 30.0
    reg_noise_pixels: int = 0
    # half is 1/60 from 256² up. A quarter (1/120 from 512² up) lifted astronaut@512 and the
    # paper's textured images (baboon, kodim01: +1.1 dB) but lowered the peak of its smooth
    # ones by 0.1-0.55 dB: -0.06 dB on the denoise-sigma25 average (docs/benchmarks.md)
    reg_noise_floor: float = 0.5
    reg_noise_ramp: tuple[int, int, float] = (0, 0, 1.0)
    reg_noise_ramp_pixels: int = 0
    ema: float = 0.99
    loss: str = "mse"
    backtrack: bool = True
    stop: str = "auto"
    stop_window: int = 50
    stop_patience: int = 200
    stop_relative_patience: float = 0.0
    stop_noise_floor: float = 0.0
    min_iterations: int = 100
    stop_output: str = "average"
    warm_min_iterations: int = 0
    warm_stop_patience: int = 50
    temporal_weight: float = 0.0
    refine: str = "none"
    headroom: float = 1.0
    tile: int = 0
    tile_overlap: int = 64
    tile_parallel: int = 16
    device: str = "auto"
    precision: str = "float32"
    channels_last: bool = False
    threads: int | None = None
    seed: int | None = 0
    preview_every: int = 25
    ssim_every: int = 10
    name: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "skip_channels", tuple(int(c) for c in self.skip_channels))
        ramp = tuple(self.reg_noise_ramp)
        if len(ramp) == 3:
            ramp = (int(ramp[0]), int(ramp[1]), float(ramp[2]))
        object.__setattr__(self, "reg_noise_ramp", ramp)
        decay = tuple(self.lr_decay)
        if len(decay) == 2:
            decay = (float(decay[0]), float(decay[1]))
        object.__setattr__(self, "lr_decay", decay)
        problems = []
        if self.network not in NETWORKS:
            problems.append(f"network must be one of {NETWORKS}, not {self.network!r}")
        if not self.channels or min(self.channels) < 1:
            problems.append("channels needs at least one positive entry")
        if self.network == "skip" and len(self.skip_channels) not in (1, len(self.channels)):
            problems.append("skip_channels needs one entry per scale (or a single entry for all)")
        if self.input_code not in INPUT_CODES:
            problems.append(f"input_code must be one of {INPUT_CODES}, not {self.input_code!r}")
        if not 0 <= self.guide_sigma <= 100:
            problems.append(f"guide_sigma must be in [0, 100] pixels, not {self.guide_sigma!r}")
        if self.upsample not in UPSAMPLE_MODES:
            problems.append(f"upsample must be one of {UPSAMPLE_MODES}, not {self.upsample!r}")
        if self.loss not in LOSSES:
            problems.append(f"loss must be one of {LOSSES}, not {self.loss!r}")
        if self.stop not in STOP_RULES:
            problems.append(f"stop must be one of {STOP_RULES}, not {self.stop!r}")
        if self.refine not in REFINES:
            problems.append(f"refine must be one of {REFINES}, not {self.refine!r}")
        if self.stop_output not in STOP_OUTPUTS:
            problems.append(f"stop_output must be one of {STOP_OUTPUTS}, not {self.stop_output!r}")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {PRECISIONS}, not {self.precision!r}")
        dev = str(self.device).split(":")[0]
        if dev not in DEVICES:
            problems.append(f"device must be one of {DEVICES} (or cuda:N), not {self.device!r}")
        for name, lo in (("iterations", 1), ("stop_window", 2), ("stop_patience", 1),
                         ("preview_every", 1), ("ssim_every", 1), ("input_channels", 1),
                         ("min_iterations", 0), ("resnet_blocks", 1),
                         ("warm_min_iterations", 0), ("warm_stop_patience", 1),
                         ("tile_parallel", 1)):
            if int(getattr(self, name)) < lo:
                problems.append(f"{name} must be at least {lo}, not {getattr(self, name)!r}")
        if not self.lr > 0:
            problems.append(f"lr must be positive, not {self.lr!r}")
        if len(self.lr_decay) != 2 or not (0 <= self.lr_decay[0] <= 1 and 0 < self.lr_decay[1] <= 1):
            problems.append("lr_decay must be (start, final) with start in [0, 1] (a fraction of "
                            f"the budget) and final in (0, 1], not {self.lr_decay!r}")
        if not 0 <= self.stop_noise_floor <= 100:
            problems.append(f"stop_noise_floor must be in [0, 100], not {self.stop_noise_floor!r}")
        if not 0 <= self.stop_relative_patience <= 100:
            problems.append("stop_relative_patience must be in [0, 100], not "
                            f"{self.stop_relative_patience!r}")
        if not 0 <= self.ema < 1:
            problems.append(f"ema must be in [0, 1), not {self.ema!r}")
        if self.reg_noise_std < 0 or self.input_scale <= 0:
            problems.append("reg_noise_std must be >= 0 and input_scale > 0")
        if self.reg_noise_ramp_pixels < 0:
            problems.append(f"reg_noise_ramp_pixels must be >= 0, not {self.reg_noise_ramp_pixels!r}")
        if self.reg_noise_pixels < 0:
            problems.append(f"reg_noise_pixels must be >= 0, not {self.reg_noise_pixels!r}")
        if not 0.0 <= self.reg_noise_floor <= 1.0:
            problems.append(f"reg_noise_floor must be in [0, 1], not {self.reg_noise_floor!r}")
        if len(self.reg_noise_ramp) != 3 or not (
                0 <= self.reg_noise_ramp[0] <= self.reg_noise_ramp[1] and 0 <= self.reg_noise_ramp[2] <= 1):
            problems.append("reg_noise_ramp must be (start, end, fraction) with 0 <= start <= end "
                            f"and fraction in [0, 1], not {self.reg_noise_ramp!r}")
        if self.tile != 0 and self.tile < 64:
            problems.append(f"tile must be 0 (never tile) or at least 64 pixels, not {self.tile!r}")
        if self.tile_overlap < 0 or (self.tile and self.tile_overlap >= self.tile // 2):
            problems.append(f"tile_overlap must be >= 0 and under half of tile ({self.tile}), "
                            f"not {self.tile_overlap!r}")
        if not (self.headroom == 0 or 1.0 <= self.headroom <= 1000.0):
            problems.append(f"headroom must be 0 (auto) or in [1, 1000], not {self.headroom!r}")
        if not self.temporal_weight >= 0:
            problems.append(f"temporal_weight must be >= 0, not {self.temporal_weight!r}")
        if self.threads is not None and self.threads < 1:
            problems.append(f"threads must be positive or None, not {self.threads!r}")
        if problems:
            raise ValueError("Invalid settings: " + "; ".join(problems) + ".")

    # ------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str = "fast", task: str = "denoise", mode: str | None = None,
               **overrides: Any) -> Config:
        """Settings of the named preset for ``task``, with ``overrides`` applied on top.

        Presets: ``fast`` (default; tuned for quality per second on a laptop CPU) and ``paper``
        (the original Deep Image Prior recipe: 128 channels at 5 scales, fp32, 3000 iterations).
        ``mode`` picks a task's variant where a preset tunes one apart: fusion's ``"gradient"``
        (the default) or ``"guided"``.
        """
        if name not in PRESETS:
            raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
        if task not in TASKS:
            raise ValueError(f"Unknown task {task!r}; choose one of {TASKS}.")
        if mode is not None and mode not in TASK_MODES.get(task, ()):
            raise ValueError(f"Unknown mode {mode!r} for {task}; choose one of "
                             f"{TASK_MODES.get(task, ())}.")
        values = dict(PRESETS[name]["common"])
        values.update(PRESETS[name].get(task, {}))
        if mode is not None:
            values.update(PRESETS[name].get(f"{task}:{mode}", {}))
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"Unknown setting(s) {unknown}; valid names: "
                             f"{sorted(f.name for f in fields(cls))}.")
        label = name if not overrides or all(v is None for v in overrides.values()) else "custom"
        values.setdefault("name", label)
        return cls(**values)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["channels"] = list(self.channels)
        d["skip_channels"] = list(self.skip_channels)
        d["reg_noise_ramp"] = list(self.reg_noise_ramp)
        d["lr_decay"] = list(self.lr_decay)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        return cls(**d)

    def lr_at(self, iteration: int) -> float:
        """Learning rate at ``iteration`` (1-based), see ``lr_decay``."""
        start, final = self.lr_decay
        begin = start * self.iterations
        if final >= 1.0 or iteration <= begin or self.iterations <= begin:
            return float(self.lr)
        t = min(1.0, (iteration - begin) / (self.iterations - begin))
        return float(self.lr) * (final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * t)))

    def jitter_for(self, out_hw: tuple[int, int]) -> float:
        """The input jitter used for a plane (or tile) of ``out_hw`` pixels (see ``reg_noise_pixels``)."""
        pixels = int(out_hw[0]) * int(out_hw[1])
        if self.reg_noise_pixels <= 0 or pixels <= self.reg_noise_pixels:
            return float(self.reg_noise_std)
        return float(self.reg_noise_std) * max(self.reg_noise_floor, (self.reg_noise_pixels / pixels) ** 0.5)

    def jitter_scale(self, iteration: int, pixels: int | None = None) -> float:
        """Fraction of the full jitter used at ``iteration`` (1-based) on a plane (or tile) of
        ``pixels`` pixels, see ``reg_noise_ramp`` and ``reg_noise_ramp_pixels``."""
        start, end, fraction = self.reg_noise_ramp
        small = self.reg_noise_ramp_pixels
        if small > 0 and pixels is not None:
            if pixels <= small:
                return 1.0
            if pixels < 4 * small:
                fraction = 1.0 + (fraction - 1.0) * math.log(pixels / small) / math.log(4)
        if iteration <= start:
            return fraction
        if iteration >= end:
            return 1.0
        return fraction + (1.0 - fraction) * (iteration - start) / (end - start)

    @property
    def network_spec(self) -> NetworkSpec:
        return NetworkSpec(self.network, self.channels, self.skip_channels, self.upsample,
                           self.input_channels, self.resnet_blocks)


_PAPER_COMMON = {
    "network": "skip", "channels": (128,) * 5, "skip_channels": (4,) * 5, "upsample": "bilinear",
    "input_channels": 32, "lr": 0.01, "iterations": 3000, "reg_noise_std": 1 / 30, "ema": 0.99,
    "precision": "float32", "channels_last": False, "stop": "fixed",
}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # The original recipe, task by task as the paper's code ran it.
    "paper": {
        "common": _PAPER_COMMON,
        "inpaint": {"reg_noise_std": 0.03},
        "sr": {"iterations": 2000, "reg_noise_std": 0.03},
        "deblur": {"reg_noise_std": 0.03},
        "fuse": {"reg_noise_std": 0.03},
    },
    # Quality per second: a narrow skip net, native low precision where the CPU has it and the
    # automatic stop. Tuned by benchmarks/tune.py on scikit-image images, not the paper's
    # (docs/benchmarks.md, "How the fast preset was tuned").
    "fast": {
        "common": {
            "network": "skip", "channels": (32,) * 5, "skip_channels": (4,) * 5,
            "upsample": "bilinear", "input_channels": 32, "lr": 0.01, "iterations": 3000,
            "reg_noise_std": 1 / 30, "ema": 0.99, "precision": "auto", "channels_last": True,
            "stop": "auto", "stop_window": 50, "stop_patience": 200, "min_iterations": 100,
            # planes over 1024 px a side go in blended tiles: bounded memory (docs/benchmarks.md)
            "tile": 1024, "tile_overlap": 64,
        },
        # Tiles of up to 288² (docs/benchmarks.md, issue 5): a 32-wide network has the capacity for
        # about 256² pixels; on a whole 512² plane it learns far slower (F16 with the jitter
        # below: 30.59 dB at step 2000 untiled against 32.17 over 4 tiles; a 256² crop peaks at
        # 33.57 dB near step 1600). Tiles of 136² overfit by step 600 and peak lower (32.31).
        # The paper's jitter 1/30, begun at half and raised linearly over steps 300-900: the
        # image is learnt sooner and the noise kept out as long (hill: 32.15 dB at step 1600
        # against 32.01 with 1/30 throughout and 31.54 at best with 1/60). Planes of up to 128²
        # get the full jitter from the start: a 96² crop of camera peaked at 27.1 dB at step 360
        # with the ramp and at 29.6 near step 480 without it.
        "denoise": {"tile": 288, "tile_overlap": 32, "reg_noise_pixels": 0,
                    "reg_noise_ramp": (300, 900, 0.5), "reg_noise_ramp_pixels": 128 * 128,
                    "skip_channels": (16,) * 5,
                    # denoise-sigma25: 30.44 dB on average from the network (29.64 before tiles
                    # and ramp), 31.03 after the bm-wiener step below (all 9 images, AMD EPYC,
                    # 2026-12-05), at 1/22.3 of the paper recipe's time on that CPU (1/18.4 to
                    # 1/28.1 per image: the host's speed drifted by 1.4x during the run)
                    "iterations": 1800,
                    # the loss at the best output is 0.84-1.03 × the estimated noise variance on
                    # five scikit-image crops; waiting for 1.0 × lifted grass from 21.2 to 23.2 dB
                    # and changed nothing on camera and gravel (docs/benchmarks.md)
                    "stop_noise_floor": 1.0,
                    # the output as the pilot of an empirical Wiener filter of the noisy image:
                    # denoise-sigma25 30.45 -> 30.84 dB on average (+0.12 to +0.84) with the
                    # sliding window ("wiener"); block matching on edges and texture
                    # ("bm-wiener", 5-14 s per 512² RGB image; a second pass when the first
                    # changed the pilot by much) adds 0.20 dB (30.84 -> 31.03 on the 9, +0.06 to
                    # +0.39) and 0.35 on 14 scikit-image crops. Always two passes: -0.02 on the
                    # 9; BM3D's 32 blocks in a 39² window: -0.01 (docs/benchmarks.md)
                    "refine": "bm-wiener"},
        # 16 skip channels: +0.5 dB at every iteration count for 9 % more time per step (tune.py).
        # A fixed budget, as for sr: with exact known pixels there is no noise to overfit, PSNR
        # still climbs at 3000 steps on the tuning crops, where the variance rule cost 1.1-1.4 dB
        # on average, and it stopped the paper's barbara at step 1305 of a climb.
        # Noisy inputs: stop="auto". Tiles of up to 288² as for denoising: a 256² quarter of the
        # paper's barbara alone reaches 32.3 dB (raw output, 33.5 with the known pixels kept) at
        # step 3000, where the whole 512² plane reached 27.9 (30.0); the whole image in 4 tiles:
        # 31.5 (32.8), in 1015 s against 1209 untiled.
        "inpaint": {"reg_noise_std": 0.03, "skip_channels": (16,) * 5, "stop": "fixed",
                    "tile": 288, "tile_overlap": 32, "iterations": 2000,
                    # The network's fill starts a sparse fill of the holes in a sliding DCT
                    # (benchmarks/fill.py): on six 256² crops with half the pixels missing the
                    # network alone gives 35.91 dB at step 2000 and 36.39 at 3000, with the step
                    # 37.20 and 37.23 (six crops held out: 30.91 and 30.97; the network alone at
                    # 3000: 30.32). The same step from a biharmonic fill: 36.99 (30.53).
                    # With the step 2000 steps keep nearly all of 3000's quality for two thirds
                    # of the time: on 7 of the paper's 11 images, 33.67 dB at 3000 and 33.60 at
                    # 2000 (-0.20 on barbara, 0 to -0.12 on the others; the network alone at
                    # 3000: 32.58, biharmonic and the step: 33.09), one 3000-step run per image
                    # scored at both budgets (run.py --save-previews-at, fill.py saved). This
                    # preset on all 11: 33.78 dB (paper's DIP 33.44; the network alone 32.10 with
                    # the known pixels kept) in 16 min per 512² image, 1/18-1/21 of the paper
                    # recipe's time on the same CPU (run.py inpaint-50pct, docs/benchmarks.md).
                    # Painted strokes lose more (camera, 3 px strokes: 38.85 at 2000, 39.31 at
                    # 3000): raise iterations for large or textured holes.
                    "refine": "fill-dct"},
        # A fixed budget: a clean low-resolution image has no noise to overfit, and the variance
        # rule stopped baby and woman (Set5) while PSNR was still climbing; outputs over 288 px a
        # side in tiles. A cosine decay of the learning rate cost 0.16 dB on the tuning crops
        # (tune.py sr). The fit ends with the projection onto the input (refine="project"): at
        # step 1800 Set5 went from 29.69 to 29.78 dB (+0.19 on head, -0.04 on butterfly). With it
        # 1700 steps: 29.75 dB at 1/11.0 of the paper recipe's time, the paper's capped runs
        # re-measured beside them (2400 steps without it: 29.92 at 1/7.5).
        "sr": {"iterations": 1700, "reg_noise_std": 0.03, "skip_channels": (16,) * 5,
               "stop": "fixed", "tile": 288, "tile_overlap": 32, "refine": "project"},
        # Tiles of up to 288² as for denoising: on a 512² astronaut (PSF sigma 2, noise sigma 5;
        # tune.py deblur --size 512) 26.51 dB at step 2000 in 4 tiles against 25.22 whole (the
        # tiles passed that at step 1000). Headroom auto: beads in uint16 (deblur_headroom.py)
        # 34.24 dB with room for twice the blurred range against 31.43 without, peaks 0.49 of
        # their true height against 0.33; 4× and 8× fitted slower (32.88, 30.10 dB)
        "deblur": {"reg_noise_std": 0.03, "tile": 288, "tile_overlap": 32, "iterations": 2000,
                   "headroom": 0.0},
        # Fusion of clean sources has no noise to overfit either, and the variance rule fired at
        # step 517 (23.6 dB, below plain averaging) on a multi-focus crop whose PSNR rose to the
        # end (tune.py fuse). With the sources as input: 34.6 dB at 1000, 35.3 at 2000, 35.6 at
        # 3000 on that crop; 2000 keeps most of it for two thirds of the time.
        # Tiles of up to 288² as for the other tasks: a multi-focus 512² astronaut reached
        # 36.08 dB at step 1500 in 4 tiles against 35.22 whole (tune.py fuse --size 512).
        # No input jitter in either mode: gradient fusion's input is the sources the output must
        # reproduce (api.fusion_config forces 0), guided fusion's see below.
        "fuse": {"reg_noise_std": 0.0, "iterations": 2000, "stop": "fixed", "tile": 288,
                 "tile_overlap": 32},
        # Guided fusion restores a noisy image: the fixed budget fitted the noise back in (192²
        # crops of camera, coffee and chelsea, noise sigma 25, each guided by its clean inverse;
        # tune.py guided --size 192): 30.56 dB on average at step 2000 where the best output had
        # 34.87 near step 650. Without the jitter the output peaks higher (35.73) and the
        # variance rule stops near the peak (35.22 dB, steps 391-599); with it the rule's metric
        # is lowest in the first steps and the rule stopped at step 300 (31.11 dB). Waiting for
        # the loss to reach the noise level (stop_noise_floor 1, as denoising does) tied (34.28 dB
        # against 34.29 over these and a 96² camera crop), so it is left off.
        "fuse:guided": {"stop": "auto"},
    },
}
