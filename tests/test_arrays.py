import numpy as np
import pytest

from napari_dip.core.arrays import Layout, Normalizer, check_finite_array, resolve_output_dtype


@pytest.mark.parametrize(
    ("shape", "channel_axis", "planes", "channels"),
    [((16, 20), None, 1, 1), ((16, 20, 3), None, 1, 3), ((16, 20, 4), None, 1, 3),
     ((5, 16, 20), None, 5, 1), ((2, 16, 20), 0, 1, 2), ((4, 3, 16, 20), 1, 4, 3),
     ((2, 5, 16, 20), None, 10, 1)],
)
def test_layout_round_trip(shape, channel_axis, planes, channels):
    arr = np.random.default_rng(0).random(shape).astype(np.float32)
    layout = Layout.infer(arr, channel_axis)
    p, alpha = layout.to_planes(arr)
    assert p.shape == (planes, channels, 16, 20)
    back = layout.from_planes(np.ascontiguousarray(p), alpha)
    np.testing.assert_array_equal(back, arr)


def test_layout_superresolution_shape():
    arr = np.zeros((3, 16, 20), np.float32)
    layout = Layout.infer(arr, channel_axis=0)
    p, _ = layout.to_planes(arr)
    up = np.repeat(np.repeat(p, 2, -2), 2, -1)
    assert layout.from_planes(up).shape == (3, 32, 40) == layout.output_shape(2)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32, np.float64])
def test_normalizer_round_trip(dtype):
    rng = np.random.default_rng(1)
    planes = (rng.random((2, 1, 8, 8)) * 200 + 10).astype(dtype)
    n = Normalizer.fit(planes)
    x = n.forward(planes)
    assert x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1
    np.testing.assert_allclose(n.inverse(x), planes.astype(np.float32), rtol=1e-5, atol=1e-3)
    back = n.inverse(x, dtype)
    assert back.dtype == dtype
    if np.issubdtype(dtype, np.integer):  # rounding makes integer round trips exact
        np.testing.assert_array_equal(back, planes)
    else:
        np.testing.assert_allclose(back, planes, rtol=1e-5)


def test_normalizer_constant_image_and_mask():
    n = Normalizer.fit(np.full((1, 1, 4, 4), 7.0))
    assert np.allclose(n.inverse(n.forward(np.full((1, 1, 4, 4), 7.0))), 7.0)
    planes = np.array([[[[0.0, 5.0], [10.0, 1000.0]]]])
    where = np.array([[[[True, True], [True, False]]]])
    n = Normalizer.fit(planes, where=where)
    assert n.lo[0] == 0 and n.hi[0] == 10  # the unknown pixel does not set the range


@pytest.mark.parametrize(
    ("value", "match"),
    [(np.array([[np.nan, 1], [1, 1]] * 3), "NaN"), (np.zeros((0, 5)), "empty"),
     (np.zeros(5), "dimension"), (np.array([["a"]]), "numeric"), (np.ones((2, 2), complex), "complex")],
)
def test_check_rejects_bad_arrays(value, match):
    with pytest.raises(ValueError, match=match):
        check_finite_array(value)


def test_tiny_planes_rejected():
    with pytest.raises(ValueError, match="at least"):
        Layout.infer(np.zeros((1, 1)), None)
    with pytest.raises(ValueError, match="at least"):
        Layout.infer(np.zeros((64, 2)), None)


def test_output_dtype():
    assert resolve_output_dtype(None, np.dtype(np.uint8)) is None
    assert resolve_output_dtype("input", np.dtype(np.uint16)) == np.uint16
