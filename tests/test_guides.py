"""Network inputs made from the measurement (Config.input_code = "data")."""

import numpy as np
import pytest
import torch

import napari_dip as nd
from _images import TINY, camera_crop
from napari_dip.core import guides


def test_fill_holes_keeps_known_pixels_and_fills_every_hole_within_range():
    img = camera_crop(48).astype(np.float32) / 255
    known = np.random.default_rng(0).random(img.shape) > 0.7
    known[10:30, 10:30] = False  # a large hole too
    y = torch.from_numpy(np.where(known, img, 0))[None, None]
    out = guides.fill_holes(y, torch.from_numpy(known))[0, 0].numpy()
    assert np.array_equal(out[known], img[known])
    assert np.isfinite(out).all()
    assert img[known].min() - 1e-6 <= out.min() and out.max() <= img[known].max() + 1e-6
    # a mean of neighbours: much closer to the truth in the holes than the zeros were
    assert np.abs(out - img)[~known].mean() < 0.5 * np.abs(img)[~known].mean()


def test_fill_holes_continues_a_ramp_into_a_hole():
    ramp = np.tile(np.linspace(0, 1, 32, dtype=np.float32), (32, 1))
    known = np.ones_like(ramp, bool)
    known[12:20, 12:20] = False
    out = guides.fill_holes(torch.from_numpy(ramp)[None, None], torch.from_numpy(known))[0, 0]
    # a local weighted mean, not a plane fit: off by at most a few pixels' worth of the ramp
    assert np.abs(out.numpy() - ramp)[~known].max() < 4 / 31
    assert np.abs(out.numpy() - ramp)[~known].mean() < 1 / 31


def test_upsample_and_smoothed_shapes():
    y = torch.rand(1, 3, 10, 12)
    assert guides.upsample(y, 4).shape == (1, 3, 40, 48)
    assert guides.upsample(y, 1) is y
    s = guides.smoothed(y, 1.5)
    assert s.shape == y.shape and float(s.std()) < float(y.std())
    assert guides.smoothed(y, 0) is y


@pytest.mark.parametrize("task", ["denoise", "inpaint", "sr", "deblur"])
def test_data_input_code_runs_every_task(task):
    img = camera_crop(32)
    kwargs = {"denoise": {}, "inpaint": {"mask": img > 100}, "sr": {"factor": 2},
              "deblur": {"psf": 1.5}}[task]
    fn = {"denoise": nd.denoise, "inpaint": nd.inpaint, "sr": nd.super_resolve,
          "deblur": nd.deblur}[task]
    args = (img, kwargs.pop("factor")) if task == "sr" else \
        (img, kwargs.pop("psf")) if task == "deblur" else (img,)
    res = fn(*args, **kwargs, **TINY, input_code="data", guide_sigma=1.0)
    expect = (64, 64) if task == "sr" else img.shape
    assert res.image.shape == expect and np.isfinite(res.image).all()
    assert res.config.input_code == "data"


def test_input_code_is_validated():
    with pytest.raises(ValueError, match="input_code"):
        nd.Config.preset("fast", "denoise", input_code="image")
    with pytest.raises(ValueError, match="guide_sigma"):
        nd.Config.preset("fast", "denoise", guide_sigma=-1)
