"""Tiled restoration of large planes: the tile plan, the blend, and the API path through it."""

from __future__ import annotations

import numpy as np
import pytest

from napari_dip.core.config import Config
from napari_dip.core.tiling import plan_tiles


@pytest.mark.parametrize("shape, tile, overlap, factor", [
    ((300, 200), 128, 32, 1), ((2048, 2048), 1024, 64, 1), ((75, 50), 128, 32, 4), ((64, 64), 64, 8, 1),
])
def test_tiles_cover_the_plane_and_blend_back_exactly(shape, tile, overlap, factor):
    grid = plan_tiles(shape, tile, overlap, factor)
    h, w = grid.out_shape
    assert (h, w) == (shape[0] * factor, shape[1] * factor)
    if len(grid) > 1:  # no tile exceeds the limit
        assert all(max(t.y1 - t.y0, t.x1 - t.x0) * factor <= tile for t in grid.tiles)
    img = np.random.default_rng(0).random((2, h, w)).astype(np.float32)
    outs = [img[:, t.slices(factor)[0], t.slices(factor)[1]] for t in grid.tiles]
    np.testing.assert_allclose(grid.blend(outs), img, atol=1e-5)


def test_overlap_weights_sum_to_one_and_ramp_smoothly():
    grid = plan_tiles((1, 200), 112, 24)  # one row of tiles overlapping by exactly 24 px
    a, b = grid.tiles
    assert a.x1 - b.x0 == 24
    wa, wb = grid.weight(a)[0], grid.weight(b)[0]
    total = np.zeros(200)
    total[a.x0:a.x1] += wa
    total[b.x0:b.x1] += wb
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    assert np.all(np.abs(np.diff(wa)) < 0.1)  # no step in the weight: no seam


def test_unfinished_tiles_are_nan_and_small_planes_are_not_tiled():
    grid = plan_tiles((300, 200), 128, 32)
    outs = [np.ones((1, t.y1 - t.y0, t.x1 - t.x0), np.float32) for t in grid.tiles]
    outs[-1] = None
    blended = grid.blend(outs)
    assert np.isnan(blended).any() and np.nanmax(blended) == pytest.approx(1.0)
    assert len(plan_tiles((300, 200), 0, 32)) == 1
    assert len(plan_tiles((300, 200), 512, 32)) == 1


@pytest.mark.parametrize("bad, message", [({"tile": 10}, "tile must be 0"),
                                          ({"tile": 128, "tile_overlap": 64}, "tile_overlap"),
                                          ({"tile_overlap": -1}, "tile_overlap")])
def test_bad_tile_settings_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        Config.preset("fast", **bad)


def test_tiled_denoise_and_sr_return_full_finite_images():
    from napari_dip.api import restore_iter, super_resolve

    rng = np.random.default_rng(1)
    img = (rng.random((100, 90)) * 255).astype(np.uint8)
    gen = restore_iter("denoise", img, tile=64, tile_overlap=16, stop="fixed", iterations=3,
                       preview_every=2, channels=(8, 8, 8), skip_channels=(2, 2, 2), reference=img)
    reports = []
    while True:
        try:
            p = next(gen)
        except StopIteration as done:
            res = done.value
            break
        reports.append(p)
    # the 4 tiles advance together: one report per round, whole-plane previews, whole-plane PSNR
    assert [p.iteration for p in reports] == [1, 2, 3]
    assert all(p.n_tiles == 4 and np.isfinite(p.loss) for p in reports)
    previews = [p.preview for p in reports if p.preview is not None]
    assert len(previews) == 2  # iteration 1 and 2
    # the PSNR of the blended plane, on the rounds that blend one
    assert [p.psnr is not None for p in reports] == [True, True, False]
    assert all(pv.shape == img.shape and np.isfinite(pv).all() for pv in previews)
    assert res.image.shape == img.shape and np.isfinite(res.image).all()
    assert len(res.planes) == 4 and [f.iterations_run for f in res.planes] == [3] * 4

    lr = (rng.random((40, 40, 3)) * 255).astype(np.uint8)
    sr = super_resolve(lr, 2, tile=64, tile_overlap=16, stop="fixed", iterations=2,
                       channels=(8, 8, 8), skip_channels=(2, 2, 2))
    assert sr.image.shape == (80, 80, 3) and np.isfinite(sr.image).all()
    assert len(sr.planes) == 4


def _run_and_stop(img, stop_at: int, **settings):
    import threading

    from napari_dip.api import restore_iter

    ev = threading.Event()
    gen = restore_iter("denoise", img, tile=64, tile_overlap=16, stop="fixed", iterations=5,
                       channels=(8, 8, 8), skip_channels=(2, 2, 2), stop_event=ev, **settings)
    seen = []
    while True:
        try:
            p = next(gen)
        except StopIteration as done:
            return done.value, seen
        seen.append((p.tile, p.iteration))
        if len(seen) == stop_at:
            ev.set()


def test_stop_returns_every_tile_of_the_plane():
    img = (np.random.default_rng(2).random((100, 90)) * 255).astype(np.uint8)
    res, seen = _run_and_stop(img, 2)
    assert seen == [(0, 1), (0, 2)]  # one report per round, for the whole plane
    assert res.stopped_by_user and len(res.planes) == 4
    assert [f.iterations_run for f in res.planes] == [2] * 4
    assert np.isfinite(res.image).all()


def test_tiles_beyond_tile_parallel_go_in_waves_and_a_stop_leaves_later_waves_nan():
    img = (np.random.default_rng(2).random((100, 90)) * 255).astype(np.uint8)
    res, seen = _run_and_stop(img, 10**6, tile_parallel=2)  # never stopped: two waves of two
    assert [t for t, _ in seen] == [0] * 5 + [2] * 5 and len(res.planes) == 4
    assert np.isfinite(res.image).all()
    res, _ = _run_and_stop(img, 7, tile_parallel=2)  # stopped in the second wave's 2nd round
    assert res.stopped_by_user and [f.iterations_run for f in res.planes] == [5, 5, 2, 2]
    res, _ = _run_and_stop(img, 2, tile_parallel=2)  # stopped in the first wave
    assert res.stopped_by_user and len(res.planes) == 2
    assert np.isfinite(res.image[:40, :40]).all() and np.isnan(res.image[-10:, -10:]).all()


def test_tile_sides_round_up_to_the_network_multiple_and_widen_the_overlap():
    grid = plan_tiles((512, 768), 288, 32, multiple=32)
    sides = {(t.y1 - t.y0, t.x1 - t.x0) for t in grid.tiles}
    assert sides == {(288, 288)}  # 272 × 278 without the multiple; the network pads to 288 anyway
    rows = sorted({(t.y0, t.y1) for t in grid.tiles})
    assert rows == [(0, 288), (224, 512)]  # overlap 64 instead of 32
    # super-resolution: input tiles of 72 give output tiles of 288 at factor 4
    sr = plan_tiles((128, 128), 288, 32, factor=4, multiple=32)
    assert {(t.y1 - t.y0) * 4 for t in sr.tiles} == {288}
    # never past the tile limit: 300 px at tile 290 stays at ceil((300 + 32) / 2) = 166 when the
    # next multiple (320) would exceed it
    assert {t.y1 - t.y0 for t in plan_tiles((300, 100), 290, 32, multiple=160).tiles} == {166}


def test_tiled_reports_give_the_psnr_of_the_blended_plane_the_user_gets():
    from napari_dip.api import restore_iter

    rng = np.random.default_rng(3)
    clean = np.clip(np.linspace(0, 1, 100)[:, None] * np.linspace(1, 0.2, 90)[None], 0, 1)
    noisy = (clean + rng.normal(0, 0.1, clean.shape)).astype(np.float32)
    gen = restore_iter("denoise", noisy, tile=64, tile_overlap=16, stop="fixed", iterations=4,
                       preview_every=1, channels=(8, 8, 8), skip_channels=(2, 2, 2),
                       reference=clean.astype(np.float32))
    reports = []
    while True:
        try:
            reports.append(next(gen))
        except StopIteration as done:
            res = done.value
            break
    # the last round's PSNR is that of the blended output (before the Wiener step that follows the
    # fit), not of the tiles' borders
    assert reports[-1].psnr == pytest.approx(res.metrics["psnr_before_refine"], abs=0.05)


def test_tiled_deblur_overlaps_by_the_psf_and_leaves_neighbours_blur_out():
    from _images import TINY, astronaut_crop
    from napari_dip import deblur
    from napari_dip.core.degrade import blur

    img = blur(astronaut_crop(160)[..., 0], sigma=1.5)
    psf = np.zeros((41, 41))
    psf[20, 15:26] = 1 / 11  # a wide horizontal motion blur
    res = deblur(img, psf, **{**TINY, "tile": 64, "tile_overlap": 8, "iterations": 2})
    assert res.image.shape == img.shape and np.isfinite(res.image).all()
    # 4×4 tiles: the overlap widened from 8 to 31 (the PSF's 41, capped under half a tile); 3×3 at 8
    assert len(plan_tiles(img.shape, 64, 8, 1, 8)) == 9 and len(res.planes) == 16
