import os

import numpy as np
import pytest
import torch

from _images import TINY
from napari_dip.api import denoise
from napari_dip.core import operators as ops
from napari_dip.core.config import Config
from napari_dip.core.fit import Problem, fit, run
from napari_dip.core.noise import estimate_noise_variance
from napari_dip.core.stopping import WindowedVariance


def _problem(seed=0, size=24):
    y = torch.from_numpy(np.random.default_rng(seed).random((1, 1, size, size)).astype(np.float32))
    return Problem(ops.DataFidelity(ops.Identity(), y), 1, (size, size), reference=y)


def _cfg(**kw):
    return Config.preset("fast", "denoise", **{**TINY, "precision": "float32", **kw})


def test_generator_yields_progress_and_returns_result():
    gen = fit(_problem(), _cfg(iterations=4))
    seen = []
    with pytest.raises(StopIteration) as done:
        while True:
            seen.append(next(gen))
    res = done.value.value
    assert [p.iteration for p in seen] == [1, 2, 3, 4]
    assert seen[0].preview is not None and seen[0].preview.shape == (1, 24, 24)
    assert seen[2].preview is None and seen[1].preview is not None
    assert all(np.isfinite(p.loss) and p.psnr is not None for p in seen)
    assert res.iterations_run == 4 and res.output.shape == (1, 24, 24)
    assert len(res.history["loss"]) == 4 and len(res.history["psnr"]) == 4


def test_closing_stops_within_one_iteration():
    calls = []
    problem = _problem()
    original = problem.objective.forward

    def counting(x):
        calls.append(1)
        return original(x)

    problem.objective.forward = counting
    gen = fit(problem, _cfg(iterations=1000))
    for _ in range(3):
        next(gen)
    gen.close()
    assert len(calls) == 3  # no further iteration ran after close()
    with pytest.raises(StopIteration):
        next(gen)


def test_same_seed_same_output_and_different_seed_differs():
    a = run(_problem(), _cfg(seed=3)).output
    b = run(_problem(), _cfg(seed=3)).output
    c = run(_problem(), _cfg(seed=4)).output
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bfloat16_runs_and_reports_precision():
    res = run(_problem(), _cfg(precision="bfloat16"))
    assert res.precision == "bfloat16" and np.isfinite(res.output).all()


def test_windowed_variance_stops_after_patience_and_keeps_minimum():
    rule = WindowedVariance(window=3, patience=4, min_iterations=0)
    # outputs settle (variance falls), then diverge (variance rises)
    values = [0, 1, 1.5, 1.6, 1.62, 1.63, 2, 3, 4, 5, 6, 7, 8]
    stopped = None
    for i, v in enumerate(values, start=1):
        x = torch.full((1, 1, 2, 2), float(v))
        if rule.update(i, x, x):
            stopped = i
            break
    assert rule.best_iteration == 6  # window {1.6, 1.62, 1.63} is the stillest
    assert stopped == 10
    assert float(rule.best_output.mean()) == pytest.approx(1.63)


def test_relative_patience_waits_longer_after_a_late_minimum():
    values = [0, 1, 1.5, 1.6, 1.62, 1.63, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]

    def stop_at(relative: float) -> int | None:
        rule = WindowedVariance(window=3, patience=4, min_iterations=0, relative_patience=relative)
        for i, v in enumerate(values, start=1):
            x = torch.full((1, 1, 2, 2), float(v))
            if rule.update(i, x, x):
                return i
        return None

    assert stop_at(0.0) == 10  # minimum at 6, fixed patience 4
    assert stop_at(0.5) == 10  # 0.5 × 6 = 3 < 4: the fixed patience still rules
    assert stop_at(2.0) == 18  # waits 2 × 6 = 12 iterations after the minimum


def test_loss_floor_holds_the_stop_while_the_loss_is_above_the_noise_level():
    values = [0, 1, 1.5, 1.6, 1.62, 1.63, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    losses = [2.0 * 0.9 ** i for i in range(1, 21)]

    def stop_at(floor: float) -> int | None:
        rule = WindowedVariance(window=3, patience=4, min_iterations=0, loss_floor=floor)
        for i, (v, loss) in enumerate(zip(values, losses, strict=True), start=1):
            x = torch.full((1, 1, 2, 2), float(v))
            if rule.update(i, x, x, loss):
                return i
        return None

    assert stop_at(0.0) == 10  # no floor: the variance rule alone decides
    # the mean of the last 3 losses first drops below 1.0 at step 8 and below 0.5 at step 15:
    # the minimum at 6 does not count, the first minimum is where the floor is reached and the
    # patience of 4 runs from there
    assert stop_at(1.0) == 12
    assert stop_at(0.5) == 19
    assert stop_at(0.1) is None  # never reached: the budget ends the run


def test_noise_variance_estimate():
    gen = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 128), torch.linspace(0, 1, 128), indexing="ij")
    smooth = torch.stack([torch.sin(3 * yy) * xx, yy ** 2, 0.5 + 0.2 * torch.cos(5 * xx)])[None]
    noisy = smooth + 0.1 * torch.randn(smooth.shape, generator=gen)
    assert estimate_noise_variance(noisy) == pytest.approx(0.01, rel=0.1)
    assert estimate_noise_variance(smooth) < 1e-5
    with pytest.raises(ValueError, match="H, W >= 2"):
        estimate_noise_variance(torch.zeros(1, 1, 1, 5))


def test_auto_stop_can_return_the_output_at_the_minimum():
    res = run(_problem(), _cfg(iterations=300, stop="auto", stop_window=5, stop_patience=10,
                               stop_relative_patience=0, min_iterations=10, stop_output="minimum",
                               ema=0.0))
    assert res.stopped_early and res.iterations_run < 300
    assert res.stopped_at == res.iterations_run - 10
    # a relative patience of 2 waits twice as long as the minimum took to come
    res = run(_problem(), _cfg(iterations=300, stop="auto", stop_window=5, stop_patience=10,
                               stop_relative_patience=2.0, min_iterations=10,
                               stop_output="minimum", ema=0.0))
    assert res.iterations_run - res.stopped_at == max(10, 2 * res.stopped_at)


def test_backtracking_restores_parameters_after_a_spike():
    problem = _problem()
    original = problem.objective.forward
    state = {"n": 0}

    def spiky(x):
        state["n"] += 1
        loss = original(x)
        return loss * 100 if state["n"] == 35 else loss

    problem.objective.forward = spiky
    gen = fit(problem, _cfg(iterations=40))
    flags = []
    try:
        while True:
            flags.append(next(gen).backtracked)
    except StopIteration:
        pass
    assert flags[34] and sum(flags) == 1


def test_config_validation_and_presets():
    with pytest.raises(ValueError, match="Unknown preset"):
        Config.preset("slow")
    with pytest.raises(ValueError, match="Unknown setting"):
        Config.preset("fast", "denoise", colour="blue")
    with pytest.raises(ValueError, match="lr must be positive"):
        Config(lr=0)
    paper = Config.preset("paper", "sr")
    assert paper.channels == (128,) * 5 and paper.iterations == 2000 and paper.name == "paper"
    fast = Config.preset("fast")
    assert fast.name == "fast" and fast.stop == "auto"
    assert Config.from_dict(fast.to_dict()) == fast


def test_jitter_shrinks_with_plane_size_down_to_its_floor():
    cfg = Config.preset("fast", "denoise", reg_noise_pixels=128 * 128)
    base = cfg.reg_noise_std
    assert cfg.jitter_for((96, 96)) == base and cfg.jitter_for((128, 128)) == base
    assert cfg.jitter_for((192, 192)) == pytest.approx(base * 128 / 192)
    assert cfg.jitter_for((256, 256)) == pytest.approx(base / 2)
    assert cfg.jitter_for((2048, 2048)) == pytest.approx(base / 2)  # never below half
    assert cfg.replace(reg_noise_pixels=0).jitter_for((2048, 2048)) == base  # 0: constant
    quarter = cfg.replace(reg_noise_floor=0.25)
    assert quarter.jitter_for((512, 512)) == quarter.jitter_for((2048, 2048)) == pytest.approx(base / 4)
    with pytest.raises(ValueError, match="reg_noise_pixels"):
        cfg.replace(reg_noise_pixels=-1)
    with pytest.raises(ValueError, match="reg_noise_floor"):
        cfg.replace(reg_noise_floor=1.5)


def test_jitter_ramp_starts_low_and_reaches_the_full_jitter():
    cfg = Config.preset("fast", "denoise", reg_noise_ramp=(300, 900, 0.5))
    assert [cfg.jitter_scale(i) for i in (1, 300, 600, 900, 2000)] == [0.5, 0.5, 0.75, 1.0, 1.0]
    step = cfg.replace(reg_noise_ramp=(100, 100, 0.25))
    assert (step.jitter_scale(100), step.jitter_scale(101)) == (0.25, 1.0)
    assert Config.preset("fast", "inpaint").jitter_scale(1) == 1.0  # no ramp
    assert Config.from_dict(cfg.to_dict()) == cfg
    for bad in [(900, 300, 0.5), (0, 10, 1.5), (10, 20)]:
        with pytest.raises(ValueError, match="reg_noise_ramp"):
            cfg.replace(reg_noise_ramp=bad)
    with pytest.raises(ValueError, match="reg_noise_ramp_pixels"):
        cfg.replace(reg_noise_ramp_pixels=-1)


def test_small_planes_get_the_full_jitter_from_the_start():
    cfg = Config.preset("fast", "denoise", reg_noise_ramp=(300, 900, 0.5),
                        reg_noise_ramp_pixels=128 * 128)
    # up to 128²: no ramp; from 256² (4×) up: the ramp's fraction; between: log-size interpolation
    assert cfg.jitter_scale(1, 96 * 96) == cfg.jitter_scale(1, 128 * 128) == 1.0
    assert cfg.jitter_scale(1, 256 * 256) == cfg.jitter_scale(1, 288 * 288) == 0.5
    assert cfg.jitter_scale(1, 181 * 181) == pytest.approx(0.75, abs=0.01)
    assert cfg.jitter_scale(600, 181 * 181) == pytest.approx(0.875, abs=0.01)
    assert cfg.jitter_scale(900, 96 * 96) == cfg.jitter_scale(900, 512 * 512) == 1.0
    assert cfg.replace(reg_noise_ramp_pixels=0).jitter_scale(1, 96 * 96) == 0.5


def test_jitter_follows_the_ramp_in_the_loop(monkeypatch):
    """The loop draws each step's jitter at the ramp's strength (and at full strength when warm)."""
    from napari_dip.core import fit as fit_module

    used = []
    real = fit_module._jitter

    def spy(z, std, gen, bufs):
        used.append(std)
        return real(z, std, gen, bufs)

    monkeypatch.setattr(fit_module, "_jitter", spy)
    img = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    cfg = dict(channels=(8, 8), skip_channels=(2, 2), stop="fixed", iterations=6, reg_noise_std=0.04,
               reg_noise_pixels=0, reg_noise_ramp=(2, 4, 0.5), reg_noise_ramp_pixels=0, tile=0)
    denoise(img, **cfg)
    assert used == pytest.approx([0.02, 0.02, 0.03, 0.04, 0.04, 0.04])


def test_drain_hands_every_report_over_and_returns_the_result():
    from napari_dip.core.fit import drain

    def gen():
        yield 1
        yield 2
        return "done"

    seen = []
    assert drain(gen(), seen.append) == "done" and seen == [1, 2]
    assert drain(gen()) == "done"


def test_precision_refuses_what_the_device_cannot_do_and_auto_falls_back(monkeypatch):
    from napari_dip.core import device as d

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)  # e.g. a T4
    with pytest.raises(ValueError, match="does not support bfloat16"):
        d.resolve_precision("bfloat16", torch.device("cuda"))
    assert d.resolve_precision("auto", torch.device("cuda")) == torch.float16
    monkeypatch.setattr(d, "_autocast_available", lambda t: t != "mps")  # torch before 2.5
    assert d.resolve_precision("auto", torch.device("mps")) is None  # float32
    with pytest.raises(ValueError, match="no mixed precision on mps"):
        d.resolve_precision("float16", torch.device("mps"))
    assert d.resolve_precision("auto", torch.device("cpu")) in (torch.bfloat16, None)


def test_lr_decay_follows_a_cosine_to_its_final_fraction_and_reaches_the_optimiser():
    cfg = Config.preset("fast", "inpaint", iterations=100, lr=0.02, lr_decay=(0.5, 0.1))
    assert cfg.lr_at(1) == cfg.lr_at(50) == pytest.approx(0.02)
    assert cfg.lr_at(75) == pytest.approx(0.02 * (0.1 + 0.9 * 0.5))
    assert cfg.lr_at(100) == pytest.approx(0.002)
    assert Config.preset("fast", "inpaint").lr_at(10**6) == Config.preset("fast", "inpaint").lr
    assert Config.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="lr_decay"):
        Config.preset("fast", "inpaint", lr_decay=(0.5, 0.0))
    # the loop sets the rate: with a final fraction of almost nothing the last steps barely move
    problem = _problem()
    res = run(problem, _cfg(iterations=30, lr=0.05, lr_decay=(0.0, 1e-6), ema=0.0, backtrack=False))
    still = run(problem, _cfg(iterations=30, lr=0.05, ema=0.0, backtrack=False))
    assert res.history["loss"][-1] != still.history["loss"][-1]


def test_threads_keep_the_users_choice_and_never_exceed_the_cores(monkeypatch):
    from napari_dip.core.device import configure_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # the user's choice stands
        assert configure_threads(None) == 1 and torch.get_num_threads() == 1
        torch.set_num_threads(512)  # more than this process has: lowered to its cores
        assert configure_threads(None) <= (os.cpu_count() or 1) < 512
        assert configure_threads(2) == 2 and torch.get_num_threads() == 2  # Config.threads as given
    finally:
        torch.set_num_threads(before)


def test_float16_runs_with_loss_scaling():
    res = run(_problem(), _cfg(precision="float16", iterations=8))
    assert res.precision == "float16" and np.isfinite(res.output).all()
    assert res.history["loss"][-1] < res.history["loss"][0]


@pytest.mark.parametrize("channels_last", [False, True])
def test_jitter_keeps_the_codes_layout_and_draws_unit_noise(channels_last):
    from napari_dip.core.fit import _jitter, _jitter_buffers

    z = torch.rand(1, 8, 40, 48)
    if channels_last:
        z = z.contiguous(memory_format=torch.channels_last)
    bufs = _jitter_buffers(z)
    out = _jitter(z, 0.5, torch.Generator().manual_seed(0), bufs)
    assert out.is_contiguous(memory_format=torch.channels_last) == channels_last
    noise = (out - z) / 0.5
    assert abs(float(noise.mean())) < 0.05 and abs(float(noise.std()) - 1) < 0.05
    again = _jitter(z, 0.5, torch.Generator().manual_seed(0), bufs)
    assert torch.equal(again, out)  # seeded: the same draw
