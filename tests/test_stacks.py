"""Stacks and time-lapses: warm start, its early stop, the temporal term, axis labels."""

import numpy as np
import pytest

from _images import TINY
from napari_dip.api import _run, restore_iter
from napari_dip.core.config import Config
from napari_dip.core.stacks import flicker, parse_axes, psnr_per_frame, synthetic_timelapse

# a short but real automatic stop: cold frames need min_iterations + patience, warm ones far less
STOP = {"iterations": 60, "stop_window": 5, "stop_patience": 15, "min_iterations": 20,
        "warm_stop_patience": 5, "warm_min_iterations": 0}


def _tiny(**kw):
    s = {**TINY, **STOP}
    s.pop("preview_every")
    s.update(kw)
    return s


def test_synthetic_timelapse_and_flicker():
    clean, noisy, static = synthetic_timelapse(5, 32, sigma=20, seed=1)
    assert clean.shape == noisy.shape == (5, 32, 32) and clean.dtype == np.uint8
    assert static.shape == (32, 32) and 0.5 < static.mean() < 0.95
    assert flicker(clean, static) == 0.0  # the background does not move
    assert flicker(clean) > 0  # the disc does
    assert flicker(noisy, static) > 10
    again = synthetic_timelapse(5, 32, sigma=20, seed=1)[1]
    np.testing.assert_array_equal(noisy, again)  # seeded
    assert len(psnr_per_frame(clean, noisy)) == 5


def test_warm_start_starts_low_and_stops_early():
    _clean, noisy, _ = synthetic_timelapse(3, 32, seed=0)
    cold = _run(restore_iter("denoise", noisy, warm_start=False, **_tiny()))
    warm = _run(restore_iter("denoise", noisy, warm_start=True, **_tiny()))
    # the first frame is the same cold fit either way
    assert cold.planes[0].history["loss"] == warm.planes[0].history["loss"]
    # later frames start from the fitted network: a much lower first loss than from scratch
    for i in (1, 2):
        assert warm.planes[i].history["loss"][0] < 0.5 * cold.planes[i].history["loss"][0]
        # and the warm-start stop rule ends them early
        assert warm.planes[i].stopped_early
        assert warm.planes[i].iterations_run < cold.planes[i].iterations_run
        assert cold.planes[i].iterations_run >= STOP["min_iterations"]
    assert all(p.state is None for p in warm.planes)  # weights dropped after use


def test_warm_start_seeds_average_with_previous_output():
    _, noisy, _ = synthetic_timelapse(2, 32, seed=0)
    import torch

    from napari_dip.core import operators as ops
    from napari_dip.core.fit import Problem, run

    cfg = Config.preset("fast", "denoise", **_tiny(device="cpu", precision="float32"))
    y = torch.from_numpy(noisy[:1, None] / 255.0).float()
    first = run(Problem(ops.DataFidelity(ops.Identity(), y, "mse"), 1, (32, 32)), cfg)
    assert set(first.state) == {"net", "z", "output"}
    y2 = torch.from_numpy(noisy[1:2, None] / 255.0).float()
    second = run(Problem(ops.DataFidelity(ops.Identity(), y2, "mse"), 1, (32, 32)),
                 cfg.replace(iterations=1, stop="fixed"), init_state=first.state)
    # one step of averaging (ema 0.99) from the previous output keeps the result next to it
    assert np.abs(second.output - first.output).mean() < 0.02


def test_temporal_term_reduces_flicker():
    _clean, noisy, static = synthetic_timelapse(3, 32, seed=0)
    kw = _tiny(stop="fixed", iterations=40)
    plain = _run(restore_iter("denoise", noisy, warm_start=True, **kw))
    smooth = _run(restore_iter("denoise", noisy, warm_start=True, temporal_weight=5.0, **kw))
    assert flicker(smooth.image, static) < flicker(plain.image, static)
    with pytest.raises(ValueError, match="temporal_weight"):
        Config.preset(temporal_weight=-1)


def test_parse_axes():
    assert parse_axes("TYX", 3) == ((0, 1, 2), None)
    assert parse_axes("ZCYX", 4) == ((0, 1, 2, 3), 1)
    assert parse_axes("yxc", 3) == ((2, 0, 1), 0)
    assert parse_axes("YXT", 3) == ((2, 0, 1), None)
    with pytest.raises(ValueError, match="dimensions"):
        parse_axes("YX", 3)
    with pytest.raises(ValueError, match="Y and X"):
        parse_axes("TZX", 3)
