"""Restoration quality on 96×96 crops of bundled images with the default ``fast`` preset.

The floors are pinned a little below the values measured when they were set (see comments), so
a regression in the engine shows up here. Runs take tens of seconds each on a 2-core CPU.
"""

import numpy as np
import pytest
from skimage.transform import resize

import napari_dip as nd
from _images import camera_crop
from napari_dip.core import degrade
from napari_dip.core.metrics import psnr

pytestmark = pytest.mark.quality


def test_denoise_gain_and_automatic_stop():
    clean = camera_crop(96)
    noisy = np.clip(np.rint(degrade.gaussian_noise(clean, 25, seed=1)), 0, 255).astype(np.uint8)
    before = psnr(clean, noisy)
    res = nd.denoise(noisy, reference=clean)
    after = res.metrics["psnr"]
    print(f"denoise: {before:.2f} -> {after:.2f} dB, stop at {res.stopped_at}/{res.iterations_run}, "
          f"best {res.best_psnr:.2f} at {res.best_psnr_iteration}")
    assert after - before >= 8.0  # measured: 20.95 -> 29.62 dB, stop at 481 (best 29.63 at 478)
    # the automatic stop ends the run before the budget ...
    assert res.planes[0].stopped_early and res.iterations_run < res.config.iterations
    # ... and returns an output within 1 dB of the best one seen during the run
    assert res.best_psnr - after <= 1.0


def test_inpaint_half_the_pixels():
    clean = camera_crop(96)
    known = degrade.random_mask(clean.shape, 0.5, seed=2)
    masked = np.where(known, clean, 0).astype(np.uint8)
    before = psnr(clean, masked)
    res = nd.inpaint(masked, known, reference=clean, iterations=600)
    after = res.metrics["psnr"]
    print(f"inpaint: {before:.2f} -> {after:.2f} dB, stop at {res.stopped_at}/{res.iterations_run}")
    # measured: 11.42 -> 34.58 dB at 600 iterations with the fast preset's DCT fill after the fit
    # (32.49 without it: known pixels kept; 31.54 for the raw output)
    assert after >= 29.0 and after - before >= 17.0


def test_multifocus_fusion_beats_averaging():
    from scipy import ndimage as ndi

    clean = camera_crop(96).astype(np.float64)
    blurred = ndi.gaussian_filter(clean, 3.0, mode="reflect")
    left = np.zeros(clean.shape, bool)
    left[:, :48] = True
    a = np.where(left, clean, blurred).astype(np.uint8)  # sharp on the left
    b = np.where(left, blurred, clean).astype(np.uint8)  # sharp on the right
    averaged = psnr(clean, (a.astype(np.float64) + b) / 2)
    res = nd.fuse(a, b, reference=clean.astype(np.uint8), iterations=600)
    after = res.metrics["psnr"]
    print(f"fuse: averaging {averaged:.2f} dB, DIP {after:.2f} dB")
    # measured: averaging 27.88, DIP 37.01 dB (34.85 when the sources fed to the network were
    # jittered; 32.75 with a random code as the network's input)
    assert after >= averaged + 8.0


def test_guided_fusion_restores_a_noisy_image_and_stops_near_its_best():
    clean = camera_crop(96)
    noisy = np.clip(np.rint(degrade.gaussian_noise(clean, 25, seed=3)), 0, 255).astype(np.uint8)
    guide = 255 - clean  # another modality of the same scene: same edges, other intensities
    before = psnr(clean, noisy)
    res = nd.fuse(noisy, guide, mode="guided", reference=clean)
    after = res.metrics["psnr"]
    print(f"guided fusion: {before:.2f} -> {after:.2f} dB, stop at {res.stopped_at}/"
          f"{res.iterations_run}, best {res.best_psnr:.2f} at {res.best_psnr_iteration}")
    # measured: 20.92 -> 31.48 dB, stopped at 333. The preset before (2000 fixed steps, jitter
    # 0.03) returned 26.72 (its best, 33.62 at step 540, fitted over). On this small crop the
    # stop still comes early: a fixed run without jitter peaks at 34.68 near step 613
    assert after - before >= 9.0
    assert res.planes[0].stopped_early and res.best_psnr - after <= 1.0


def test_superresolution_beats_bicubic():
    clean = camera_crop(96)
    low = degrade.downsample(clean, 4)
    bicubic = resize(low.astype(np.float64), clean.shape, order=3)
    base = psnr(clean, bicubic, 255)
    res = nd.super_resolve(low, 4, reference=clean, iterations=600)
    after = res.metrics["psnr"]
    print(f"sr x4: bicubic {base:.2f}, DIP {after:.2f} dB, stop at {res.stopped_at}/{res.iterations_run}")
    assert after - base >= 1.0  # measured: bicubic 25.46, DIP 27.32 dB at 600 iterations
