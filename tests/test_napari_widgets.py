"""The napari plugin end to end: widgets from the manifest, runs, results, refusals, sample data.

Runs under Xvfb (pytest-xvfb). Images are tiny and networks narrow so the file stays quick on a
slow CPU.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from napari.utils.notifications import notification_manager

import napari_dip as nd

pytestmark = pytest.mark.gui

PLUGIN = "napari-dip"
RUN_TIMEOUT_MS = 90_000


def tiny(widget, iterations: int = 20, preview_every: int = 5) -> None:
    """Small, quick settings (the preset switches to custom)."""
    widget.advanced["channels"].value = "8, 8, 8"
    widget.advanced["iterations"].value = iterations
    widget.advanced["preview_every"].value = preview_every


def smooth_image(shape=(32, 32), seed=0) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    clean = 100 + 80 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    return (clean + np.random.default_rng(seed).normal(0, 10, shape)).astype(np.float32)


def open_widget(viewer, name: str):
    _dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name)
    widget.reset_choices()
    return widget


def run_to_end(qtbot, widget) -> None:
    assert widget.start(), widget.status.text()
    assert widget.running
    assert widget.run_button.text() == "Stop"
    qtbot.waitUntil(lambda: not widget.running, timeout=RUN_TIMEOUT_MS)
    assert widget.run_button.text() == "Run"
    assert widget.inputs.enabled


class Notes:
    """Notifications dispatched since creation."""

    def __init__(self) -> None:
        self.start = len(notification_manager.records)

    @property
    def new(self) -> list:
        return notification_manager.records[self.start:]

    def errors(self) -> list[str]:
        return [str(n.message) for n in self.new if str(n.severity).lower().endswith("error")]


# ----------------------------------------------------------------------------------------------
# each task end to end


def test_denoise_end_to_end_with_reference(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    noisy = smooth_image()
    layer = viewer.add_image(noisy, name="noisy", scale=(0.5, 2.0), translate=(10.0, -3.0),
                             units=("um", "um"), axis_labels=("y", "x"))
    ref = viewer.add_image(smooth_image(seed=1), name="truth")
    w = open_widget(viewer, "Denoise")
    w.image.value = layer
    w.reference.value = ref
    tiny(w)
    assert w.preset.value == "custom"
    run_to_end(qtbot, w)

    result = viewer.layers["noisy [DIP denoise]"]
    assert result.data.shape == noisy.shape
    assert result.data.dtype == np.float32
    np.testing.assert_allclose(result.scale, layer.scale)
    np.testing.assert_allclose(result.translate, layer.translate)
    assert tuple(result.axis_labels) == ("y", "x")
    assert [str(u) for u in result.units] == [str(u) for u in layer.units]
    meta = result.metadata["napari_dip"]
    assert meta["task"] == "denoise"
    assert meta["settings"]["iterations"] == 20
    assert meta["settings"]["channels"] == [8, 8, 8]
    assert meta["iterations_run"] == 20
    assert meta["source_layer"] == "noisy"
    assert "psnr" in meta["metrics"] and np.isfinite(meta["metrics"]["psnr"])
    # the input is never modified, the preview layer is gone, the live plot got every iteration
    np.testing.assert_array_equal(layer.data, noisy)
    assert "noisy [DIP denoise preview]" not in viewer.layers
    assert w.plot.iterations == list(range(1, 21))
    assert all(np.isfinite(w.plot.series("psnr")))
    assert "Done" in w.status.text()


def test_inpaint_end_to_end_with_labels(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    img = smooth_image((32, 40))
    defects = np.zeros((32, 40), np.uint8)
    defects[10:14, 5:30] = 1
    defects[20:22, 8:12] = 3
    img_damaged = img.copy()
    img_damaged[defects > 0] = 0
    layer = viewer.add_image(img_damaged, name="damaged", scale=(2, 2))
    viewer.add_labels(defects, name="defects", scale=(2, 2))
    w = open_widget(viewer, "Inpaint")
    w.image.value = layer
    assert w.mask.value is viewer.layers["defects"]
    tiny(w)
    run_to_end(qtbot, w)
    result = viewer.layers["damaged [DIP inpaint]"]
    assert result.data.shape == (32, 40)
    np.testing.assert_allclose(result.scale, (2, 2))
    assert result.metadata["napari_dip"]["task"] == "inpaint"
    # the holes were filled with something other than the painted-over zeros ...
    assert float(result.data[defects > 0].mean()) > 20
    # ... and nothing outside the painted defects changed
    np.testing.assert_allclose(result.data[defects == 0], img_damaged[defects == 0], rtol=1e-6)
    # unticked, the whole image is the network's output
    w.keep_known.value = False
    w.image.value = layer
    run_to_end(qtbot, w)
    second = viewer.layers["damaged [DIP inpaint] [1]"]  # a new run never overwrites a result
    assert not np.allclose(second.data[defects == 0], img_damaged[defects == 0])


def test_super_resolution_geometry(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    low = smooth_image((16, 16))
    layer = viewer.add_image(low, name="low", scale=(4.0, 2.0), translate=(1.0, 5.0))
    w = open_widget(viewer, "Super-resolution")
    w.image.value = layer
    w.factor.value = 2
    tiny(w, iterations=10)
    run_to_end(qtbot, w)
    result = viewer.layers["low [DIP super-resolution ×2]"]
    assert result.data.shape == (32, 32)
    np.testing.assert_allclose(result.scale, (2.0, 1.0))
    # output pixels tile the input pixels: origin moved by -(f - 1)/2 new pixels
    np.testing.assert_allclose(result.translate, (1.0 - 0.5 * 2.0, 5.0 - 0.5 * 1.0))
    # world extents of input and output coincide
    lo_in = np.asarray(layer.translate) - np.asarray(layer.scale) / 2
    lo_out = np.asarray(result.translate) - np.asarray(result.scale) / 2
    np.testing.assert_allclose(lo_in, lo_out)
    hi_in = lo_in + np.asarray(layer.scale) * 16
    hi_out = lo_out + np.asarray(result.scale) * 32
    np.testing.assert_allclose(hi_in, hi_out)
    assert result.metadata["napari_dip"]["task"] == "sr"


def test_deblur_gaussian_and_psf_layer(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    layer = viewer.add_image(smooth_image(), name="blurry")
    w = open_widget(viewer, "Deblur")
    w.image.value = layer
    assert w.psf_layer.value is None
    w.sigma.value = 1.2
    tiny(w, iterations=10)
    run_to_end(qtbot, w)
    result = viewer.layers["blurry [DIP deblur]"]
    assert result.data.shape == (32, 32)
    assert result.metadata["napari_dip"]["task"] == "deblur"
    assert result.metadata["napari_dip"]["settings"]["headroom"] == 0  # auto
    w.headroom.value = 0.5
    _refused(w, "headroom 0.5")
    w.headroom.value = 3

    # a PSF given as an Image layer
    psf = np.zeros((5, 5), np.float32)
    psf[1:4, 1:4] = 1
    viewer.add_image(psf, name="psf")
    w.reset_choices()
    w.image.value = layer
    w.psf_layer.value = viewer.layers["psf"]
    run_to_end(qtbot, w)
    assert len([ly for ly in viewer.layers if ly.name.startswith("blurry [DIP deblur]")]) == 2


def test_fuse_end_to_end(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    a = viewer.add_image(smooth_image(seed=3), name="a", scale=(3, 3))
    viewer.add_image(smooth_image(seed=4)[::-1].copy(), name="b", scale=(3, 3))
    w = open_widget(viewer, "Fuse")
    w.image.value = a
    w.reset_choices()
    assert w.second.value is viewer.layers["b"]
    tiny(w, iterations=10)
    run_to_end(qtbot, w)
    result = viewer.layers["a [DIP fuse]"]
    assert result.data.shape == (32, 32)
    np.testing.assert_allclose(result.scale, (3, 3))
    assert result.metadata["napari_dip"]["task"] == "fuse"
    # the tile field shows the preset's tile size (it showed 0, and every widget run went untiled)
    assert w.advanced["tile"].value == nd.Config.preset("fast", "fuse").tile > 0
    assert result.metadata["napari_dip"]["settings"]["tile"] == nd.Config.preset("fast", "fuse").tile
    # gradient fusion ignores the jitter setting, so the widget does not offer it
    jitter, stop = w.advanced["reg_noise_std"], w.advanced["stop"]
    assert not jitter.enabled
    w.mode.value = "guided"
    assert jitter.enabled and not w.weight.enabled  # the weight blends intensities: gradient only
    w.mode.value = "gradient"
    assert not jitter.enabled and w.weight.enabled
    # with a named preset the fields follow the mode's values (guided: automatic stop, no
    # jitter); values the user set (preset "custom") stay
    w.reset_settings()
    assert (w.preset.value, stop.value) == ("fast", "fixed")
    w.mode.value = "guided"
    assert (w.preset.value, stop.value, jitter.value) == ("fast", "auto", 0.0)
    w.mode.value = "gradient"
    assert (w.preset.value, stop.value) == ("fast", "fixed")
    stop.value = "auto"
    w.mode.value = "guided"
    w.mode.value = "gradient"
    assert (w.preset.value, stop.value) == ("custom", "auto")
    # the mode is saved with the settings: a new widget shows guided fusion's values
    w.reset_settings()
    w.mode.value = "guided"
    again = type(w)(viewer)
    assert (again.mode.value, again.advanced["stop"].value) == ("guided", "auto")
    again.deleteLater()


def test_rgb_image_keeps_colour_axis(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    rgb = np.random.default_rng(0).integers(0, 255, (24, 24, 3)).astype(np.uint8)
    layer = viewer.add_image(rgb, name="rgb", rgb=True)
    assert layer.rgb
    w = open_widget(viewer, "Denoise")
    w.image.value = layer
    tiny(w, iterations=8, preview_every=4)
    run_to_end(qtbot, w)
    result = viewer.layers["rgb [DIP denoise]"]
    assert result.rgb and result.data.shape == (24, 24, 3)


# ----------------------------------------------------------------------------------------------
# stacks


def test_stack_current_plane_and_all_planes(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    stack = np.stack([smooth_image(seed=s) for s in range(3)])
    layer = viewer.add_image(stack, name="stack", scale=(5.0, 1.0, 1.0))
    w = open_widget(viewer, "Denoise")
    w.image.value = layer
    tiny(w, iterations=6, preview_every=3)
    assert w.stack_mode.enabled

    viewer.dims.set_current_step(0, 2)
    w.stack_mode.value = "current plane"
    run_to_end(qtbot, w)
    one = viewer.layers["stack [DIP denoise]"]
    assert one.data.shape == (1, 32, 32)
    np.testing.assert_allclose(one.translate, (10.0, 0.0, 0.0))  # sits on plane 2 in the world
    assert one.metadata["napari_dip"]["plane"] == [2]

    w.stack_mode.value = "all planes"
    run_to_end(qtbot, w)
    every = [ly for ly in viewer.layers if ly.name.startswith("stack [DIP denoise]")][-1]
    assert every is not one and every.data.shape == (3, 32, 32)
    np.testing.assert_allclose(every.scale, (5.0, 1.0, 1.0))
    assert every.metadata["napari_dip"]["plane"] == "all"
    assert len(every.metadata["napari_dip"]["stopped_at"]) == 3


def test_all_planes_fill_one_stack_layer_plane_by_plane_with_warm_start(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    stack = np.stack([smooth_image(seed=s) for s in range(3)])
    layer = viewer.add_image(stack, name="movie", scale=(2.0, 0.5, 0.5), units=("s", "um", "um"),
                             axis_labels=("t", "y", "x"))
    w = open_widget(viewer, "Denoise")
    w.image.value = layer
    tiny(w, iterations=12, preview_every=4)
    w.stack_mode.value = "all planes, warm start"
    filled = []  # the preview stack after each finished plane
    original = w._on_yielded

    def spy(update):
        original(update)
        if update.plane_output is not None:
            filled.append((update.plane, np.array(w._run.preview_layer.data, copy=True)))

    w._on_yielded = spy
    assert w.start()
    preview = w._run.preview_layer
    assert preview.data.shape == stack.shape  # one stack layer for the whole run, not a plane
    assert w._run.request.kwargs["warm_start"] is True
    qtbot.waitUntil(lambda: not w.running, timeout=RUN_TIMEOUT_MS)
    assert [p for p, _ in filled] == [0, 1, 2]
    result = viewer.layers["movie [DIP denoise]"]
    # the stack that filled in became the result: no preview layer left, no other layer added
    assert [ly.name for ly in viewer.layers] == ["movie", "movie [DIP denoise]"]
    for plane, data in filled:
        np.testing.assert_allclose(data[plane], result.data[plane], atol=1e-4)  # final once done
        if plane < 2:
            assert not np.allclose(data[plane + 1], result.data[plane + 1])  # later ones not yet
    np.testing.assert_allclose(result.scale, (2.0, 0.5, 0.5))
    assert tuple(result.axis_labels) == ("t", "y", "x")
    meta = result.metadata["napari_dip"]
    assert meta["plane"] == "all" and len(meta["stopped_at"]) == 3


def test_lazy_layer_data_is_read_in_the_worker(make_napari_viewer, qtbot):
    da = pytest.importorskip("dask.array")
    viewer = make_napari_viewer()
    stack = np.stack([smooth_image(seed=s) for s in range(2)])
    layer = viewer.add_image(da.from_array(stack, chunks=(1, 32, 32)), name="lazy")
    w = open_widget(viewer, "Denoise")
    w.image.value = layer
    tiny(w, iterations=4, preview_every=2)
    w.stack_mode.value = "all planes"
    assert not isinstance(w._prepare().request.image, np.ndarray)  # not read on the main thread
    run_to_end(qtbot, w)
    result = viewer.layers["lazy [DIP denoise]"]
    assert result.data.shape == stack.shape and np.isfinite(np.asarray(result.data)).all()
    assert result.metadata["napari_dip"]["plane"] == "all"


def test_axis_labels_pick_the_channel_axis(make_napari_viewer):
    viewer = make_napari_viewer()
    data = np.stack([smooth_image(seed=s) for s in range(4)]).reshape(2, 2, 32, 32)
    layer = viewer.add_image(data, name="tc", axis_labels=("t", "c", "y", "x"))
    plain = viewer.add_image(np.stack([smooth_image(seed=s) for s in range(3)]), name="z")
    w = open_widget(viewer, "Denoise")
    w.image.value = layer
    assert w.channel_axis.value == 1
    names = [w.channel_axis.native.itemText(i) for i in range(w.channel_axis.native.count())]
    assert names == ["none", "axis 0 't' (2)", "axis 1 'c' (2)"]
    w.image.value = plain  # no labels naming channels: a stack, no channel axis
    assert w.channel_axis.value is None


def test_channel_axis_choice_survives_layer_changes(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    layer = viewer.add_image(np.stack([smooth_image(seed=s) for s in range(2)]), name="two-channels")
    w = open_widget(viewer, "Denoise")
    w.image.value = layer
    assert w.channel_axis.value is None  # no axis labels: taken for a stack until the user says
    w.channel_axis.value = 0
    viewer.add_image(smooth_image(), name="other")  # napari refreshes the widget's choices
    w.reset_choices()
    assert w.image.value is layer and w.channel_axis.value == 0
    tiny(w, iterations=4, preview_every=2)
    run_to_end(qtbot, w)  # the run's own preview and result layers refresh the choices too
    assert w.channel_axis.value == 0
    result = viewer.layers["two-channels [DIP denoise]"]
    assert result.data.shape == (2, 32, 32)  # one two-channel plane, not one plane of a stack
    assert result.metadata["napari_dip"]["plane"] is None
    w.image.value = viewer.layers["other"]
    w.image.value = layer  # chosen anew: the choice comes from the layer again
    assert w.channel_axis.value is None


def test_stopping_a_stack_keeps_the_finished_planes(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    stack = np.stack([smooth_image(seed=s) for s in range(3)])
    layer = viewer.add_image(stack, name="zs")
    w = open_widget(viewer, "Denoise")
    w.image.value = layer
    tiny(w, iterations=5000, preview_every=2)
    w.advanced["stop"].value = "fixed"
    w.stack_mode.value = "all planes"
    assert w.start()
    qtbot.waitUntil(lambda: w._run.last is not None and w._run.last.iteration >= 3,
                    timeout=RUN_TIMEOUT_MS)
    w.run_button.click()
    qtbot.waitUntil(lambda: not w.running, timeout=RUN_TIMEOUT_MS)
    result = viewer.layers["zs [DIP denoise]"]
    assert result.data.shape == stack.shape
    assert np.isfinite(result.data[0]).all() and np.isnan(result.data[2]).all()
    assert result.metadata["napari_dip"]["stopped_by_user"] is True
    assert "Stopped in plane 1 of 3" in w.status.text()
    assert layer.data.shape == stack.shape and np.isfinite(layer.data).all()  # input untouched


# ----------------------------------------------------------------------------------------------
# stop, errors, closing, responsiveness


def test_stop_keeps_current_output_and_reenables_controls(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    layer = viewer.add_image(smooth_image(), name="img")
    w = open_widget(viewer, "Denoise")
    w.image.value = layer
    tiny(w, iterations=5000, preview_every=2)
    w.history_every.value = 2
    assert w.start()
    assert not w.inputs.enabled and not w.advanced_box.enabled
    preview = w._run.preview_layer  # made at start, then updated in place
    assert preview is not None and preview in viewer.layers
    qtbot.waitUntil(lambda: w._run.preview_iteration is not None, timeout=RUN_TIMEOUT_MS)
    first = w._run.preview_iteration
    qtbot.waitUntil(lambda: w._run.preview_iteration >= first + 4, timeout=RUN_TIMEOUT_MS)
    assert w._run.preview_layer is preview  # updated in place, not re-created
    limits = tuple(preview.contrast_limits)
    w.run_button.click()  # the Run button is the Stop button while running
    qtbot.waitUntil(lambda: not w.running, timeout=RUN_TIMEOUT_MS)
    assert tuple(preview.contrast_limits) == limits
    result = viewer.layers["img [DIP denoise]"]
    meta = result.metadata["napari_dip"]
    assert meta["stopped_by_user"] is True
    assert meta["iterations_run"] < 5000
    assert w.run_button.text() == "Run" and w.run_button.isEnabled()
    assert w.inputs.enabled and w.advanced_box.enabled
    assert "Stopped" in w.status.text()
    # the preview layer became the result (renamed, data replaced): no other layer was added
    assert [ly.name for ly in viewer.layers] == ["img", "img [DIP denoise]", "img [DIP denoise history]"]
    assert "img [DIP denoise preview]" not in viewer.layers
    # history: a frame every 2 iterations, kept as a layer on request
    hist = viewer.layers["img [DIP denoise history]"]
    n = hist.data.shape[0]
    assert n >= 2 and hist.data.shape[1:] == (32, 32)
    assert hist.metadata["napari_dip"]["iterations"] == list(range(2, 2 * n + 1, 2))
    np.testing.assert_allclose(hist.scale[0], 2)  # the slider's world coordinate is the iteration
    kept = w.keep_frame()
    assert kept is not None and kept.data.shape == (32, 32)
    assert kept.metadata["napari_dip"]["iteration"] in hist.metadata["napari_dip"]["iterations"]


def test_run_ending_before_first_history_frame_leaves_no_history_layer(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    layer = viewer.add_image(smooth_image(), name="img")
    w = open_widget(viewer, "Denoise")
    w.image.value = layer
    tiny(w, iterations=6, preview_every=2)
    w.history_every.value = 50
    run_to_end(qtbot, w)
    assert [ly.name for ly in viewer.layers] == ["img", "img [DIP denoise]"]
    assert not w.keep_button.isEnabled()


def test_input_layer_removed_mid_run_is_said(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    layer = viewer.add_image(smooth_image(), name="img", scale=(2, 2))
    w = open_widget(viewer, "Denoise")
    w.image.value = layer
    tiny(w, iterations=30, preview_every=2)
    assert w.start()
    viewer.layers.remove(layer)
    qtbot.waitUntil(lambda: not w.running, timeout=RUN_TIMEOUT_MS)
    result = viewer.layers["img [DIP denoise]"]
    np.testing.assert_allclose(result.scale, (2, 2))  # geometry was taken at the start
    assert "'img' was removed from the viewer during the run" in w.status.text()


def test_closing_the_dock_mid_run_stops_it(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    layer = viewer.add_image(smooth_image(), name="img")
    dock, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Denoise")
    w.reset_choices()
    w.image.value = layer
    tiny(w, iterations=100_000, preview_every=2)
    w.advanced["stop"].value = "fixed"
    assert w.start()
    request = w._run.request
    qtbot.waitUntil(lambda: w._run is not None and w._run.last is not None, timeout=RUN_TIMEOUT_MS)
    viewer.window.remove_dock_widget(dock)  # what the dock's close button does
    assert request.stop.is_set()
    qtbot.waitUntil(lambda: not w.running, timeout=RUN_TIMEOUT_MS)
    assert request.done.wait(30)


def test_engine_error_becomes_notification(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    bad = smooth_image()
    bad[3, 3] = np.nan
    layer = viewer.add_image(bad, name="has-nan")
    w = open_widget(viewer, "Denoise")
    w.image.value = layer
    tiny(w)
    notes = Notes()
    run_to_end(qtbot, w)
    errors = notes.errors()
    assert any("has-nan" in e and "NaN" in e for e in errors), errors
    assert [ly.name for ly in viewer.layers] == ["has-nan"]
    assert w.run_button.isEnabled()


def test_closing_viewer_mid_run_stops_worker(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    layer = viewer.add_image(smooth_image(), name="img")
    w = open_widget(viewer, "Denoise")
    w.image.value = layer
    tiny(w, iterations=5000, preview_every=2)
    assert w.start()
    request = w._run.request
    qtbot.waitUntil(lambda: w._run is not None and w._run.last is not None, timeout=RUN_TIMEOUT_MS)
    t0 = time.perf_counter()
    viewer.close()
    assert request.done.wait(30)
    assert request.stop.is_set()
    assert time.perf_counter() - t0 < 30
    assert not w.running


def test_viewer_stays_responsive_during_a_run(make_napari_viewer, qtbot):
    from qtpy.QtCore import QTimer

    viewer = make_napari_viewer()
    layer = viewer.add_image(smooth_image((48, 48)), name="img")
    w = open_widget(viewer, "Denoise")
    w.image.value = layer
    # a budget no machine finishes while 20 ticks pass: the ticks are sampled during the run
    tiny(w, iterations=100_000, preview_every=2)
    w.advanced["stop"].value = "fixed"
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(50)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    assert w.start()  # builds the preview layer (a one-off cost), then the run goes
    timer.start()
    qtbot.waitUntil(lambda: len(ticks) > 20, timeout=RUN_TIMEOUT_MS)
    assert w.running
    timer.stop()
    w.stop()
    qtbot.waitUntil(lambda: not w.running, timeout=RUN_TIMEOUT_MS)
    gaps = np.diff(ticks)
    assert gaps.max() - 0.05 < 0.2, f"the main thread was blocked for {gaps.max():.3f} s"


# ----------------------------------------------------------------------------------------------
# refused combinations: a notification naming the layer, no exception, no run


def _refused(widget, *needles: str) -> None:
    notes = Notes()
    assert widget.start() is False
    assert not widget.running
    errors = notes.errors()
    assert len(errors) == 1, errors
    for needle in needles:
        assert needle in errors[0], errors[0]


def test_refuses_mask_problems(make_napari_viewer):
    viewer = make_napari_viewer()
    img = viewer.add_image(smooth_image(), name="photo")
    w = open_widget(viewer, "Inpaint")
    w.image.value = img
    tiny(w)
    _refused(w, "Labels")  # no Labels layer at all
    wrong = viewer.add_labels(np.ones((30, 32), np.uint8), name="wrong-shape")
    w.reset_choices()
    w.mask.value = wrong
    _refused(w, "wrong-shape", "(30, 32)")
    empty = viewer.add_labels(np.zeros((32, 32), np.uint8), name="empty")
    w.reset_choices()
    w.mask.value = empty
    _refused(w, "empty", "no pixel to fill")
    shifted = np.zeros((32, 32), np.uint8)
    shifted[3:5, 3:5] = 1
    moved = viewer.add_labels(shifted, name="moved", translate=(4, 0))
    w.reset_choices()
    w.mask.value = moved
    _refused(w, "moved", "line up")
    full = viewer.add_labels(np.ones((32, 32), np.uint8), name="full")
    w.reset_choices()
    w.mask.value = full
    _refused(w, "full", "every pixel")


def test_refuses_fusion_mismatch(make_napari_viewer):
    viewer = make_napari_viewer()
    a = viewer.add_image(smooth_image(), name="mri")
    w = open_widget(viewer, "Fuse")
    w.image.value = a
    tiny(w)
    w.second.value = a
    _refused(w, "mri", "two different layers")
    small = viewer.add_image(smooth_image((24, 24)), name="pet-small")
    w.reset_choices()
    w.second.value = small
    _refused(w, "pet-small", "do not match")
    scaled = viewer.add_image(smooth_image(), name="pet-scaled", scale=(2, 2))
    w.reset_choices()
    w.second.value = scaled
    _refused(w, "pet-scaled", "line up")
    # guided: the guide is the whole of a, or one plane for the one plane restored
    w.mode.value = "guided"
    guide_stack = viewer.add_image(np.stack([smooth_image(seed=s) for s in range(2)]), name="guide-stack")
    w.reset_choices()
    w.second.value = guide_stack
    _refused(w, "guide-stack", "as a guide")
    stack = viewer.add_image(np.stack([smooth_image(seed=s) for s in range(3)]), name="zstack")
    guide = viewer.add_image(smooth_image(seed=9), name="guide")
    w.reset_choices()
    w.image.value, w.second.value = stack, guide
    w.stack_mode.value = "all planes"
    _refused(w, "guide", "one plane")


def test_refuses_stack_without_plane(make_napari_viewer):
    viewer = make_napari_viewer()
    stack = viewer.add_image(np.stack([smooth_image(seed=s) for s in range(3)]), name="zstack")
    w = open_widget(viewer, "Denoise")
    w.image.value = stack
    w.stack_mode.value = "current plane"
    tiny(w)
    viewer.dims.ndisplay = 3
    _refused(w, "zstack", "3D")
    viewer.dims.ndisplay = 2
    viewer.dims.order = (1, 0, 2)  # shows (z, x): no (y, x) plane chosen
    _refused(w, "zstack", "axes")


def test_refuses_bad_reference_and_settings(make_napari_viewer):
    viewer = make_napari_viewer()
    img = viewer.add_image(smooth_image(), name="img")
    ref = viewer.add_image(smooth_image((16, 16)), name="small-ref")
    w = open_widget(viewer, "Denoise")
    w.image.value = img
    w.reference.value = ref
    tiny(w)
    _refused(w, "small-ref", "(16, 16)")
    w.reference.value = None
    w.advanced["channels"].value = "eight"
    _refused(w, "channels")
    w.advanced["channels"].value = "8, 8"
    sr = open_widget(viewer, "Super-resolution")
    tiny_img = viewer.add_image(np.random.rand(6, 6).astype(np.float32), name="tiny")
    sr.reset_choices()
    sr.image.value = tiny_img
    _refused(sr, "tiny", "8×8")
    assert len(viewer.layers) == 3  # nothing was added


# ----------------------------------------------------------------------------------------------
# settings, sample data, manifest


def test_settings_persist_and_reset(make_napari_viewer):
    viewer = make_napari_viewer()
    w = open_widget(viewer, "Deblur")
    assert w.preset.value == "fast"
    w.advanced["iterations"].value = 1234
    w.sigma.value = 2.5
    w.history_every.value = 50
    assert w.preset.value == "custom"
    w2 = type(w)(viewer)
    assert w2.preset.value == "custom"
    assert w2.advanced["iterations"].value == 1234
    assert w2.sigma.value == 2.5
    assert w2.history_every.value == 50
    w2.preset.value = "paper"
    assert w2.advanced["channels"].value == "128, 128, 128, 128, 128"
    w2.reset_button.click()
    assert w2.preset.value == "fast"
    assert w2.sigma.value == 1.5
    assert w2.history_every.value == 0
    assert w2.advanced["channels"].value == "32, 32, 32, 32, 32"
    w3 = type(w)(viewer)
    assert w3.preset.value == "fast"
    assert w3.advanced["iterations"].value == nd.Config.preset("fast", "deblur").iterations
    w2.deleteLater()
    w3.deleteLater()


def test_refine_field_only_where_a_step_exists_and_follows_the_preset(make_napari_viewer):
    viewer = make_napari_viewer()
    w = open_widget(viewer, "Denoise")
    assert w.advanced["refine"].value == nd.Config.preset("fast", "denoise").refine == "bm-wiener"
    w.preset.value = "paper"
    assert w.advanced["refine"].value == "none"
    w.advanced["refine"].value = "wiener"
    assert w.preset.value == "custom"
    assert w._advanced_values()["refine"] == "wiener"
    assert list(w.advanced["refine"].choices) == ["none", "wiener", "bm-wiener"]
    sr = open_widget(viewer, "Super-resolution")
    assert list(sr.advanced["refine"].choices) == ["none", "project"]
    assert sr.advanced["refine"].value == nd.Config.preset("fast", "sr").refine == "project"
    assert "project" in sr.advanced["refine"].tooltip
    inpaint = open_widget(viewer, "Inpaint")
    assert list(inpaint.advanced["refine"].choices) == ["none", "fill-dct"]
    assert inpaint.advanced["refine"].value == nd.Config.preset("fast", "inpaint").refine == "fill-dct"
    assert "fill-dct" in inpaint.advanced["refine"].tooltip
    deblur = open_widget(viewer, "Deblur")
    assert "refine" not in deblur.advanced  # no step after the fit for the other tasks


def test_device_choices_are_present_devices(make_napari_viewer):
    from napari_dip.core.device import available_devices

    viewer = make_napari_viewer()
    w = open_widget(viewer, "Denoise")
    assert list(w.device.choices) == ["auto", *available_devices()]


@pytest.mark.parametrize(
    ("key", "kinds"),
    [("noisy", ["image", "image"]), ("masked", ["image", "image", "labels"]),
     ("lowres", ["image", "image"]), ("blurred", ["image", "image"]), ("pair", ["image", "image"])],
)
def test_sample_data_opens(make_napari_viewer, key, kinds):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, key)
    assert [type(ly).__name__.lower() for ly in viewer.layers] == kinds
    for ly in viewer.layers:
        assert max(ly.data.shape[:2]) <= 256
    if key == "masked":
        labels = viewer.layers["defects"]
        assert labels.data.any() and not labels.data.all()
    if key == "lowres":
        low = viewer.layers["astronaut (low-res ×4)"]
        np.testing.assert_allclose(low.scale, (4, 4))


def test_sample_then_widget_defaults(make_napari_viewer):
    """Opening a sample then a widget selects sensible layers without user input."""
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "masked")
    w = open_widget(viewer, "Inpaint")
    w.image.value = viewer.layers["chelsea (damaged)"]
    assert w.mask.value is viewer.layers["defects"]
    viewer.open_sample(PLUGIN, "pair")
    f = open_widget(viewer, "Fuse")
    f.image.value = viewer.layers["hematoxylin"]
    f.reset_choices()
    assert f.second.value is not f.image.value


def test_npe2_validate():
    proc = subprocess.run([sys.executable, "-m", "npe2", "validate", PLUGIN], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid" in (proc.stdout + proc.stderr).lower()


def test_widget_module_does_not_import_torch():
    code = ("import sys; import napari_dip._napari.widgets, napari_dip._napari.sample_data; "
            "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
