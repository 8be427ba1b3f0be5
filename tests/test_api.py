import json

import numpy as np
import pytest

import napari_dip as nd
from _images import TINY, astronaut_crop, camera_crop
from napari_dip.cli import main
from napari_dip.core import degrade


def test_import_is_light():
    import subprocess
    import sys

    code = "import sys, napari_dip; assert 'torch' not in sys.modules; print('ok')"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout == "ok\n"


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_denoise_shape_units_and_input_untouched(dtype):
    img = (camera_crop(24).astype(np.float64) * (3000 / 255 if dtype == np.uint16 else 1)).astype(dtype)
    if dtype == np.float32:
        img = img / 255.0
    before = img.copy()
    res = nd.denoise(img, **TINY)
    np.testing.assert_array_equal(img, before)
    assert res.image.shape == img.shape and res.image.dtype == np.float32
    # intensity units kept: the output lives in the input's range, not in [0, 1]
    assert res.image.max() <= img.max() + 1e-3 and res.image.max() > 0.25 * img.max()
    assert res.iterations_run == TINY["iterations"] and len(res.history["loss"]) == TINY["iterations"]
    meta = res.metadata()
    json.dumps(meta)
    assert meta["settings"]["channels"] == [8, 8, 8] and meta["task"] == "denoise"


def test_output_dtype_input():
    img = camera_crop(24)
    res = nd.denoise(img, output_dtype="input", **TINY)
    assert res.image.dtype == np.uint8


def test_rgb_rgba_multichannel_and_stack():
    rgb = astronaut_crop(24)
    assert nd.denoise(rgb, **TINY).image.shape == rgb.shape
    rgba = np.concatenate([rgb, np.full((24, 24, 1), 200, np.uint8)], -1)
    out = nd.denoise(rgba, **TINY).image
    assert out.shape == rgba.shape and np.all(out[..., 3] == 200)  # alpha carried through
    chans = np.stack([camera_crop(24), camera_crop(24, 10, 10)]).astype(np.uint16)
    res = nd.denoise(chans, channel_axis=0, **TINY)
    assert res.image.shape == chans.shape
    stack = np.stack([camera_crop(24), camera_crop(24, 10, 10), camera_crop(24, 50, 50)])
    res = nd.denoise(stack, **TINY)
    assert res.image.shape == stack.shape and len(res.planes) == 3
    assert isinstance(res.stopped_at, list) and len(res.history) == 3


def test_superresolution_shape_and_reference():
    hr = camera_crop(64)
    lr = degrade.downsample(hr, 4)
    res = nd.super_resolve(lr, 4, reference=hr, **TINY)
    assert res.image.shape == (64, 64)
    assert {"psnr", "ssim"} <= set(res.metrics) and len(res.history["psnr"]) == TINY["iterations"]
    rgb = astronaut_crop(32)
    assert nd.super_resolve(rgb, 2, **TINY).image.shape == (64, 64, 3)


def test_inpaint_deblur_fuse_shapes():
    img = camera_crop(32)
    mask = degrade.random_mask(img.shape, 0.5, seed=0)
    assert nd.inpaint(np.where(mask, img, 0), mask, **TINY).image.shape == img.shape
    assert nd.deblur(img, 1.5, **TINY).image.shape == img.shape
    assert nd.deblur(img, np.ones((3, 3)), **TINY).image.shape == img.shape
    b = camera_crop(32, 10, 10)
    assert nd.fuse(img, b, **TINY).image.shape == img.shape
    rgb_guide = astronaut_crop(32)
    assert nd.fuse(img, rgb_guide, mode="guided", **TINY).image.shape == img.shape


def test_fusion_modes_run_with_their_own_settings():
    img, b = camera_crop(32), camera_crop(32, 10, 10)
    gradient = nd.fuse(img, b, reg_noise_std=0.05, **TINY)
    assert gradient.config.reg_noise_std == 0.0  # forced, and recorded as run, so it can be repeated
    assert gradient.config.stop == "fixed"  # clean sources: nothing to overfit
    again = nd.fuse(img, b, config=gradient.config, **TINY)
    np.testing.assert_array_equal(again.image, gradient.image)
    # guided fusion restores a noisy image: the fast preset stops automatically, without jitter
    guided = nd.fuse(img, b, mode="guided", **TINY).config
    assert (guided.stop, guided.reg_noise_std) == ("auto", 0.0)
    assert guided == nd.Config.preset("fast", "fuse", mode="guided", **TINY).replace(seed=guided.seed)
    # ... but settings the caller gives win, and the paper preset keeps the paper's recipe
    chosen = nd.fuse(img, b, mode="guided", reg_noise_std=0.02, stop="fixed", **TINY).config
    assert (chosen.stop, chosen.reg_noise_std) == ("fixed", 0.02)
    paper = nd.Config.preset("paper", "fuse", mode="guided")
    assert (paper.stop, paper.reg_noise_std) == ("fixed", 0.03)
    with pytest.raises(ValueError, match="fusion must be 'gradient' or 'guided'"):
        nd.fuse(img, b, mode="focus", **TINY)
    with pytest.raises(ValueError, match="Unknown mode 'focus' for fuse"):
        nd.Config.preset("fast", "fuse", mode="focus")
    with pytest.raises(ValueError, match="Unknown mode 'guided' for denoise"):
        nd.Config.preset("fast", "denoise", mode="guided")


def test_random_seed_is_recorded_and_leaves_the_callers_random_state_alone():
    import torch

    from napari_dip._napari.settings import fields_to_overrides

    cfg = nd.Config.preset("fast", "denoise", **TINY).replace(seed=None)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    res = nd.denoise(camera_crop(24), config=cfg)
    assert torch.equal(torch.rand(3), expected)  # the global generator was not reseeded
    assert isinstance(res.config.seed, int) and res.metadata()["settings"]["seed"] == res.config.seed
    again = nd.denoise(camera_crop(24), config=nd.Config.from_dict(res.config.to_dict()))
    np.testing.assert_array_equal(again.image, res.image)  # the recorded settings repeat the run
    # the widget's seed -1 ("a different run each time") draws a seed per run, recorded likewise
    fields = {"channels": "8, 8, 8", "seed": -1}
    seeds = {fields_to_overrides(fields, (2,))["seed"] for _ in range(5)}
    assert len(seeds) > 1 and all(isinstance(s, int) and s >= 0 for s in seeds)


def test_poisson_loss_refuses_negative_data():
    counts = camera_crop(24).astype(np.float32) / 16.0
    with pytest.raises(ValueError, match="never negative"):
        nd.denoise(counts - counts.mean(), loss="poisson", **TINY)  # background-subtracted
    assert nd.denoise(counts, loss="poisson", **TINY).image.min() >= 0


def test_inpaint_takes_nan_pixels_as_holes():
    img = camera_crop(32).astype(np.float32)
    known = degrade.random_mask(img.shape, 0.7, seed=2)
    holed = np.where(known, img, np.nan)
    before = holed.copy()
    res = nd.inpaint(holed, **TINY)  # no mask: the NaNs are the holes
    np.testing.assert_array_equal(holed, before, strict=True)  # NaNs and all, untouched
    assert np.isfinite(res.image).all()
    np.testing.assert_array_equal(res.image[known], img[known])
    # with a mask, the same holes: the same run
    np.testing.assert_array_equal(nd.inpaint(holed, known, **TINY).image, res.image)
    with pytest.raises(ValueError, match="mask marks as known"):
        nd.inpaint(holed, np.ones_like(known), **TINY)


def test_inpaint_keeps_known_pixels_exactly():
    from napari_dip.api import restore_iter

    img = astronaut_crop(32).astype(np.float64) * 1.7 + 3.0  # float data: no uint8 rounding to hide in
    known = degrade.random_mask(img.shape[:2], 0.6, seed=1)
    damaged = np.where(known[..., None], img, 0.0)
    res = nd.inpaint(damaged, known, **TINY)
    np.testing.assert_array_equal(res.image[known], damaged[known].astype(np.float32))
    assert not np.allclose(res.image[~known], 0.0)  # the holes are filled
    # previews show the same composite as the result
    previews = [p.preview for p in restore_iter("inpaint", damaged, mask=known, **TINY)
                if p.preview is not None]
    assert previews and all(np.array_equal(p[known], damaged[known].astype(np.float32)) for p in previews)
    # keep_known=False: every pixel is the network's output
    raw = nd.inpaint(damaged, known, keep_known=False, **TINY)
    assert not np.allclose(raw.image[known], damaged[known])
    # the same run otherwise, without the DCT fill after the fit (it needs the known pixels exact)
    unrefined = nd.inpaint(damaged, known, refine="none", **TINY)
    np.testing.assert_allclose(raw.image[~known], unrefined.image[~known], atol=1e-5)
    # uint8 output in the input's dtype keeps the known values bit for bit
    u8 = np.where(known, camera_crop(32), 0).astype(np.uint8)
    out = nd.inpaint(u8, known, output_dtype="input", **TINY).image
    assert out.dtype == np.uint8 and np.array_equal(out[known], u8[known])


def test_generator_preview_is_in_input_layout():
    rgb = astronaut_crop(24)
    gen = nd.restore_iter("denoise", rgb, **TINY)
    first = next(gen)
    assert first.preview.shape == (24, 24, 3)
    assert first.preview.max() > 1.5  # in uint8 units, not [0, 1]
    gen.close()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: nd.denoise(np.full((16, 16), np.nan)), "NaN"),
        (lambda: nd.denoise(np.zeros((0, 16))), "empty"),
        (lambda: nd.denoise(np.zeros((1, 1))), "at least"),
        (lambda: nd.inpaint(np.zeros((16, 16)), np.ones((8, 8))), "mask has shape"),
        (lambda: nd.inpaint(np.zeros((16, 16)), np.zeros((16, 16))), "no pixel as known"),
        (lambda: nd.super_resolve(np.zeros((6, 6)), 4), "low-resolution image is 6×6"),
        (lambda: nd.super_resolve(np.zeros((64, 64)), 5), "factor"),
        (lambda: nd.fuse(np.zeros((16, 16)), np.zeros((16, 17))), "differ in shape"),
        (lambda: nd.deblur(np.zeros((16, 16)), np.zeros((3, 3))), "PSF"),
        (lambda: nd.denoise(np.zeros((16, 16)), reference=np.zeros((8, 8))), "reference"),
        (lambda: nd.denoise(np.zeros((16, 16)), preset="slow"), "preset"),
        (lambda: nd.denoise(np.zeros((16, 16)), device="tpu"), "device"),
    ],
)
def test_bad_input_messages(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_cli_denoise_and_error(tmp_path):
    import imageio.v3 as iio

    src = tmp_path / "in.png"
    iio.imwrite(src, camera_crop(24))
    out = tmp_path / "out.tif"
    args = ["--set", "channels=[8,8,8]", "--set", "skip_channels=[2,2,2]", "--iterations", "3", "--quiet"]
    assert main(["denoise", str(src), "-o", str(out), *args]) == 0
    import tifffile

    assert tifffile.imread(out).shape == (24, 24)
    png = tmp_path / "sr.png"
    assert main(["sr", str(src), "--factor", "2", "-o", str(png), *args]) == 0
    assert iio.imread(png).shape == (48, 48) and iio.imread(png).dtype == np.uint8
    assert main(["denoise", str(tmp_path / "missing.png"), "-o", str(out)]) == 2


def test_cli_refine_reaches_the_engine(tmp_path, monkeypatch):
    import imageio.v3 as iio

    import napari_dip.api as api

    seen = []
    real = api.restore_iter
    monkeypatch.setattr(api, "restore_iter", lambda *a, **kw: seen.append(kw) or real(*a, **kw))
    src = tmp_path / "in.png"
    iio.imwrite(src, camera_crop(24))
    args = ["--set", "channels=[8,8,8]", "--set", "skip_channels=[2,2,2]", "--iterations", "3", "--quiet"]
    assert main(["sr", str(src), "--refine", "none", "-o", str(tmp_path / "a.png"), *args]) == 0
    assert main(["denoise", str(src), "--refine", "none", "-o", str(tmp_path / "b.png"), *args]) == 0
    assert main(["sr", str(src), "-o", str(tmp_path / "c.png"), *args]) == 0
    assert [kw.get("refine") for kw in seen] == ["none", "none", None]  # None: the preset's


def test_cli_inpaint_keeps_known_pixels_unless_told(tmp_path):
    import imageio.v3 as iio

    img = camera_crop(24)
    holes = np.zeros((24, 24), np.uint8)
    holes[8:12, 4:20] = 255
    damaged = np.where(holes > 0, 0, img).astype(np.uint8)
    iio.imwrite(tmp_path / "in.png", damaged)
    iio.imwrite(tmp_path / "holes.png", holes)
    args = ["--set", "channels=[8,8,8]", "--set", "skip_channels=[2,2,2]", "--iterations", "3", "--quiet"]
    outs = {}
    for name, extra in (("kept", []), ("replaced", ["--replace-known"])):
        outs[name] = tmp_path / f"{name}.png"
        assert main(["inpaint", str(tmp_path / "in.png"), str(tmp_path / "holes.png"), "--holes",
                     "-o", str(outs[name]), *extra, *args]) == 0
    known = holes == 0
    assert np.array_equal(iio.imread(outs["kept"])[known], damaged[known])
    assert not np.array_equal(iio.imread(outs["replaced"])[known], damaged[known])


def test_cli_demo(tmp_path):
    assert main(["demo", "-o", str(tmp_path), "--size", "32", "--iterations", "3", "--quiet"]) == 0
    rows = json.loads((tmp_path / "results.json").read_text())
    assert [r["task"] for r in rows] == ["denoise", "inpaint", "sr", "deblur", "fuse"]
    assert (tmp_path / "sr_dip.png").exists()


def test_stop_event_ends_after_current_iteration_with_a_result():
    import threading

    stop = threading.Event()
    gen = nd.restore_iter("denoise", camera_crop(24), stop_event=stop, **{**TINY, "iterations": 500})
    for _ in range(3):
        next(gen)
    stop.set()
    with pytest.raises(StopIteration) as done:
        next(gen)
    res = done.value.value
    assert res.stopped_by_user and res.iterations_run == 3 and res.image.shape == (24, 24)
    assert res.metadata()["stopped_by_user"] is True


def test_axes_names_the_plane_and_keeps_the_input_order():
    from napari_dip.api import denoise, inpaint, restore_iter

    rng = np.random.default_rng(5)
    img = (rng.random((20, 24, 3)) * 255).astype(np.uint8)  # Y, X, T: a stack on the last axis
    tiny = {"stop": "fixed", "iterations": 3, "channels": (8, 8), "skip_channels": (2, 2), "seed": 1}
    res = denoise(img, axes="YXT", **tiny)
    assert res.image.shape == img.shape and len(res.planes) == 3
    for k in range(3):  # each plane is the plane restored on its own
        alone = denoise(img[..., k], **tiny)
        np.testing.assert_allclose(res.image[..., k], alone.image, atol=1e-3)
    # previews and finished planes come in the input's plane order (here X before Y)
    gen = restore_iter("denoise", np.transpose(img, (2, 1, 0)), axes="TXY", preview_every=1, **tiny)
    shapes = set()
    while True:
        try:
            p = next(gen)
        except StopIteration as done:
            out = done.value
            break
        for a in (p.preview, p.plane_output):
            if a is not None:
                shapes.add(a.shape)
    assert shapes == {(24, 20)} and out.image.shape == (3, 24, 20)
    # a full-shape mask follows the same axes
    mask = rng.random(img.shape) > 0.3
    filled = inpaint(img, mask, axes="YXT", **tiny)
    assert filled.image.shape == img.shape
    with pytest.raises(ValueError, match="one letter per axis"):
        denoise(img, axes="YX", **tiny)
    with pytest.raises(ValueError, match="not both"):
        denoise(img, axes="YXC", channel_axis=2, **tiny)


def test_axes_with_colour_last_reads_rgba_as_without_axes():
    from napari_dip.api import denoise

    rng = np.random.default_rng(6)
    img = (rng.random((20, 24, 4)) * 255).astype(np.uint8)
    tiny = {"stop": "fixed", "iterations": 3, "channels": (8, 8), "skip_channels": (2, 2), "seed": 1}
    inferred = denoise(img, **tiny)
    named = denoise(img, axes="YXC", **tiny)
    np.testing.assert_array_equal(named.image, inferred.image)
    np.testing.assert_array_equal(named.image[..., 3], img[..., 3])  # alpha carried, not restored
    # rgb=False: four channels restored, alpha among them
    channels = denoise(img, axes="YXC", rgb=False, **tiny)
    assert channels.image.shape == img.shape and not np.array_equal(channels.image[..., 3], img[..., 3])


def test_deblur_headroom_lets_the_output_pass_the_blurred_maximum_and_keeps_psnr_in_input_units():
    from napari_dip.core.degrade import blur

    truth = np.full((48, 48), 100.0)
    truth[20:23, 20:23] = 4000.0  # a point source: its blur is far dimmer than it
    y = blur(truth, sigma=1.5).astype(np.float32)
    bounded = nd.deblur(y, 1.5, **{**TINY, "iterations": 60, "lr": 0.05}, headroom=1, reference=truth)
    roomy = nd.deblur(y, 1.5, **{**TINY, "iterations": 60, "lr": 0.05}, headroom=8, reference=truth)
    assert bounded.image.max() <= y.max() + 1e-3
    assert roomy.image.max() > y.max()
    assert roomy.config.headroom == 8 and bounded.config.headroom == 1
    assert nd.Config.preset("fast", "deblur").headroom == 0  # auto: 2 here (float data), 1 for uint8
    # the run's own PSNR (normalised units with room above the data) matches the result's
    assert roomy.history["psnr"][-1] == pytest.approx(roomy.metrics["psnr"], abs=0.05)
    with pytest.raises(ValueError, match="headroom"):
        nd.deblur(y, 1.5, headroom=0.5)
