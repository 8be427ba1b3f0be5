import numpy as np
import pytest
import torch

from napari_dip.core import operators as ops


def test_mask_operator_and_weight():
    m = np.zeros((8, 8))
    m[:4] = 1
    op = ops.Mask(m)
    x = torch.ones(1, 3, 8, 8)
    y = op(x)
    assert y[..., :4, :].eq(1).all() and y[..., 4:, :].eq(0).all()
    assert op.known_fraction == 0.5
    # the data term only sees known pixels
    target = torch.zeros(1, 3, 8, 8)
    fid = ops.DataFidelity(op, target)
    assert float(fid(x)) == pytest.approx(1.0)


def test_mask_with_no_known_pixel_rejected():
    with pytest.raises(ValueError, match="no pixel as known"):
        ops.Mask(np.zeros((8, 8)))


@pytest.mark.parametrize("kernel", ops.DOWNSAMPLE_KERNELS)
@pytest.mark.parametrize("factor", ops.SR_FACTORS)
def test_downsample_shapes_and_constant(kernel, factor):
    op = ops.Downsample(factor, kernel)
    x = torch.full((1, 2, 8 * factor, 10 * factor), 0.3)
    y = op(x)
    assert y.shape == (1, 2, 8, 10) and op.measurement_hw((8 * factor, 10 * factor)) == (8, 10)
    assert torch.allclose(y, torch.full_like(y, 0.3), atol=1e-6)  # kernels sum to one
    assert op.image_hw((8, 10)) == (8 * factor, 10 * factor)


def test_lanczos_matches_paper_kernel_size_and_symmetry():
    k = ops._kernel_1d(4, "lanczos2")
    assert len(k) == 16 and np.isclose(k.sum(), 1) and np.allclose(k, k[::-1])
    assert (k[:2] < 0).any()  # Lanczos has negative lobes


def test_downsample_is_centred():
    # a bright column at a low-res pixel's centre stays in that pixel
    x = torch.zeros(1, 1, 32, 32)
    x[..., 13:15] = 1.0  # HR columns 12..15 form LR column 3; centre between 13 and 14
    y = ops.Downsample(4)(x)[0, 0, 4]
    assert int(torch.argmax(y)) == 3
    assert torch.isclose(y[2], y[4], atol=1e-6)


def test_bad_factor_and_too_small():
    with pytest.raises(ValueError, match="factor"):
        ops.Downsample(5)
    with pytest.raises(ValueError, match="low-resolution"):
        ops.Downsample(4).image_hw((4, 40))


def test_convolution_delta_is_identity_and_gaussian_blurs():
    x = torch.rand(1, 1, 16, 16)
    delta = np.zeros((3, 3))
    delta[1, 1] = 1
    assert torch.allclose(ops.Convolution(delta)(x), x, atol=1e-6)
    psf = ops.gaussian_psf(1.5)
    assert psf.shape == (11, 11) and np.isclose(psf.sum(), 1)
    y = ops.Convolution(psf)(x)
    assert y.shape == x.shape and y.std() < x.std()


def test_convolution_is_true_convolution_for_asymmetric_psf():
    psf = np.zeros((3, 3))
    psf[1, 2] = 1  # shift right by one
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 4, 4] = 1
    y = ops.Convolution(psf)(x)
    assert y[0, 0, 4, 5] == 1


@pytest.mark.parametrize("bad", [np.zeros((3, 3)), np.ones(3), np.full((3, 3), np.nan)])
def test_bad_psf(bad):
    with pytest.raises(ValueError, match="PSF"):
        ops.check_psf(bad)


def test_psf_larger_than_image():
    with pytest.raises(ValueError, match="larger than the image"):
        ops.check_psf(np.ones((9, 9)), (8, 8))


def test_fusion_objective_prefers_sharper_source():
    a = torch.zeros(1, 1, 16, 16)
    a[..., :, 8:] = 1.0  # sharp edge
    b = torch.full((1, 1, 16, 16), 0.5)  # flat
    obj = ops.FusionObjective(a, b)
    assert obj.pick_a[..., :, 6:9].all()
    # an image with the edge scores better than the flat mean
    assert obj(a * 0.5 + 0.25) < obj(torch.full_like(a, 0.5))
    with pytest.raises(ValueError, match="differ in shape"):
        ops.FusionObjective(a, torch.zeros(1, 1, 8, 8))


def test_losses():
    p, t = torch.full((1, 1, 4, 4), 0.5), torch.full((1, 1, 4, 4), 0.25)
    assert float(ops.data_loss(p, t, "mse")) == pytest.approx(0.0625)
    assert float(ops.data_loss(p, t, "l1")) == pytest.approx(0.25)
    # Poisson NLL is minimised at pred == target
    lo = ops.data_loss(t, t, "poisson")
    assert lo < ops.data_loss(p, t, "poisson")
    with pytest.raises(ValueError):
        ops.data_loss(p, t, "huber")


def test_convolution_in_a_tile_leaves_out_what_neighbours_blurred_in():
    psf = ops.gaussian_psf(1.0)  # 7×7: reaches 3 pixels
    op = ops.Convolution(psf, cut_sides=(True, False, False, True), hw=(20, 16))
    w = op.loss_weight()[0, 0]
    assert w.shape == (20, 16)
    assert not w[:3].any() and w[3:].any()  # top faces a neighbour
    assert w[:, -3:].sum() == 0 and w[3:, :-3].all()  # right faces one; bottom and left do not
    assert ops.Convolution(psf).loss_weight() is None
    # measured pixels in the excluded band cost nothing, whatever they are
    x = torch.rand(1, 1, 20, 16)
    y = op(x)
    y[..., :3, :] = 5.0
    y[..., :, -3:] = -5.0
    assert float(ops.DataFidelity(op, y)(x)) == pytest.approx(0.0, abs=1e-12)
    y = torch.rand(1, 1, 20, 16)
    assert float(ops.DataFidelity(op, y)(x)) > 0
    with pytest.raises(ValueError, match="too small"):
        ops.Convolution(psf, cut_sides=(True, True, False, False), hw=(5, 16))
