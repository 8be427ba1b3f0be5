"""Dock widgets: one per task, all built on :class:`DipWidget`.

The widget snapshots its settings and the layer data on the main thread (lazy data, e.g. dask, is
read in the worker instead), hands them to a napari ``thread_worker`` running
:func:`napari_dip._napari.worker.restoration_steps`, and touches layers, widgets and the plot only
in the worker's ``yielded`` / ``returned`` / ``errored`` handlers (which napari runs on the main
thread). The engine (and torch) is imported when a widget is created, not when this module is
imported.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, LineEdit, SpinBox
from napari.layers import Image, Labels
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtWidgets import QApplication, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget
from superqt import QCollapsible

from ..core.options import DOWNSAMPLE_KERNELS, FUSION_MODES, SR_FACTORS, metric_label
from . import settings as store
from .geometry import Plan, Refused, check_same_grid, plan_for_layer
from .plot import LivePlot
from .worker import RunRequest, Stopped, Update, restoration_steps

MAX_HISTORY_FRAMES = 200
DEFAULT_UI = {"history_every": 0, "live_preview": True, "stack_mode": "current plane"}


def _image_layers(widget=None) -> list:
    viewer = _current_viewer(widget)
    return [] if viewer is None else [(ly.name, ly) for ly in viewer.layers if isinstance(ly, Image)]


def _labels_layers(widget=None) -> list:
    viewer = _current_viewer(widget)
    return [] if viewer is None else [(ly.name, ly) for ly in viewer.layers if isinstance(ly, Labels)]


def _current_viewer(widget):
    owner = getattr(widget, "_dip_owner", None) if widget is not None else None
    return getattr(owner, "viewer", None)


def _fmt_time(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = round(max(seconds, 0))
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


CHANNEL_LABELS = ("c", "ch", "channel", "channels")


def _axis_labels(layer) -> list[str]:
    return [str(v) for v in (getattr(layer, "axis_labels", None) or ())]


def _stop_all(requests: list, *_: Any) -> None:
    for request in requests:
        request.stop.set()


#: What the refine field does, per task that has it.
REFINE_TIPS = {
    "denoise": "After the fit, filter the noisy image once more with the network's output as the "
               "guide of a Wiener filter (seconds). Used with the mse loss only: it assumes noise "
               "of one level over the image. wiener: in small sliding windows (+0.4 dB on average "
               "on the paper's Gaussian-noise images). bm-wiener (default): also groups similar "
               "blocks on edges and texture, as BM3D does, and filters twice when the network's "
               "output was far off; 5-10x the time of wiener, +0.2 dB on average there and "
               "+0.35 on other test images.",
    "inpaint": "fill-dct (default): after the fit, refill the holes by iterated hard thresholding "
               "in small sliding DCT windows, started from the network's fill, with the known "
               "pixels kept exact (seconds; +1.1 dB on average on 12 test images with half the "
               "pixels missing). "
               "It assumes the known pixels are exact: choose none for noisy ones.",
    "sr": "project: after the fit, correct the output by the least change that makes its "
          "downsampled image equal the input exactly (a second; +0.1 dB on average on Set5 x4). "
          "It assumes a noise-free input: choose none for a noisy one.",
}


@dataclass
class _Run:
    """Main-thread state of one run."""

    request: RunRequest
    plan: Plan
    source: Any  # the input Image layer
    display: dict  # colormap / contrast limits etc. for preview and result layers
    tag: str  # e.g. "denoise" in "<input> [DIP denoise]"
    history_every: int
    live_preview: bool
    started: float = field(default_factory=time.perf_counter)
    preview_layer: Any = None
    preview: np.ndarray | None = None
    preview_iteration: int | None = None
    preview_plane: int = 0
    history_layer: Any = None
    history_frames: list = field(default_factory=list)
    next_frame: int = 0
    progress_bar: Any = None
    done_steps: int = 0
    last: Update | None = None
    stack: np.ndarray | None = None  # all planes: the result stack, filled in as planes finish
    planes_done: int = 0


class _CloseWatcher(QObject):
    """Stops the run when the main window closes."""

    def __init__(self, owner: DipWidget) -> None:
        super().__init__(owner)
        self._owner = owner

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Close:
            self._owner.shutdown()
        return False


class DipWidget(QWidget):
    """Base of the task widgets: inputs, settings, run/stop, live preview, history, plot.

    Subclasses set :attr:`task` and :attr:`title` and override :meth:`_task_widgets` and
    :meth:`_task_kwargs`.
    """

    task = "denoise"
    title = "Denoise"
    help = ""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self._run: _Run | None = None
        self._worker = None
        self._axis_layer: weakref.ref | None = None  # the image the channel axis was chosen for
        self._pending: list = []
        self._dispatching = False
        self._loading = True
        self._base_preset = "fast"

        from ..core.device import available_devices  # engine import happens here, not at module import

        # ---- inputs ------------------------------------------------------------------------------
        self.image = ComboBox(label="image", choices=_image_layers,
                              tooltip="Image layer to restore (grayscale, RGB or a stack).")
        self.image._dip_owner = self
        self.task_fields: dict[str, Any] = {}
        task_widgets = self._task_widgets()
        self.reference = ComboBox(label="reference", choices=_image_layers, nullable=True, value=None,
                                  tooltip="Optional ground truth shaped like the result: live PSNR/SSIM.")
        self.reference._dip_owner = self
        self.channel_axis = ComboBox(label="channel axis", choices=self._channel_choices,
                                     tooltip="For a multichannel (non-RGB) layer: the axis holding the "
                                             "channels. 'none' treats every leading axis as a stack.")
        self.stack_mode = ComboBox(label="stack", choices=store.STACK_MODES,
                                   tooltip="For stacks (Z, time, ...): restore the plane shown in the "
                                           "viewer, or every plane one after the other into one stack "
                                           "layer that fills in as planes finish. 'warm start' begins "
                                           "each plane from the previous plane's network, so similar "
                                           "neighbours (time-lapse frames, close Z slices) stop sooner.")
        self.inputs = Container(widgets=[self.image, *task_widgets, self.reference, self.channel_axis,
                                         self.stack_mode], labels=True)

        # ---- settings ----------------------------------------------------------------------------
        self.preset = ComboBox(label="preset", choices=store.PRESET_CHOICES,
                               tooltip="fast: narrow network, automatic stop. paper: the original Deep "
                                       "Image Prior recipe (slow on CPU). Editing an advanced setting "
                                       "switches to custom.")
        self.device = ComboBox(label="device", choices=["auto", *available_devices()],
                               tooltip="Only devices present on this machine are listed.")
        self.history_every = SpinBox(label="history every", min=0, max=100000, step=25, value=0,
                                     tooltip="Keep a frame every K iterations in a stack layer (0: off); "
                                             "scrub its slider and keep a frame as a layer.")
        self.live_preview = CheckBox(label="live preview", value=True,
                                     tooltip="Show the current output in a preview layer while it runs.")
        self.main_settings = Container(widgets=[self.preset, self.device, self.history_every,
                                                self.live_preview], labels=True)
        self.advanced = self._advanced_widgets()
        self.advanced_box = Container(widgets=list(self.advanced.values()), labels=True)
        collapsible = QCollapsible("Advanced settings", self)
        collapsible.addWidget(self.advanced_box.native)
        self.advanced_section = collapsible

        # ---- run / status / plot ------------------------------------------------------------------
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip(f"Start {self.title.lower()}; while it runs this button stops it "
                                   "(and keeps the current output as the result).")
        self.keep_button = QPushButton("Keep frame")
        self.keep_button.setToolTip("Copy the history frame shown by the slider into a new layer.")
        self.keep_button.setEnabled(False)
        self.reset_button = QPushButton("Reset settings")
        self.reset_button.setToolTip("Restore the default settings of this task.")
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button, 2)
        buttons.addWidget(self.keep_button, 1)
        buttons.addWidget(self.reset_button, 1)
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plot = LivePlot(self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.inputs.native)
        layout.addWidget(self.main_settings.native)
        layout.addWidget(collapsible)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.plot)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        # ---- wiring -------------------------------------------------------------------------------
        self.run_button.clicked.connect(self._on_run_clicked)
        self.keep_button.clicked.connect(self.keep_frame)
        self.reset_button.clicked.connect(self.reset_settings)
        self.preset.changed.connect(self._on_preset_changed)
        for w in self.advanced.values():
            w.changed.connect(self._on_advanced_changed)
        for w in (self.device, self.history_every, self.live_preview, self.stack_mode,
                  *self.task_fields.values()):
            w.changed.connect(self._save)
        self.image.changed.connect(self._on_image_changed)
        self._watcher = _CloseWatcher(self)
        self._watched = None
        self._live_requests: list[RunRequest] = []
        # if the widget is deleted mid-run (dock closed), stop the worker; the slot must not hold self
        self.destroyed.connect(functools.partial(_stop_all, self._live_requests))
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

        self._restore_settings()
        self._loading = False
        self.reset_choices()

    # ------------------------------------------------------------------------------------------
    # subclass hooks
    def _task_widgets(self) -> list:
        """Widgets of the task's own inputs; register persisted ones in ``self.task_fields``."""
        return []

    def _task_kwargs(self, plan: Plan) -> dict:
        """Engine keyword arguments of the task (mask, factor, psf, second...); raise Refused."""
        return {}

    def _factor(self) -> int:
        return 1

    def _mode(self) -> str | None:
        """The task's variant whose preset values the advanced fields show (fusion's mode)."""
        return None

    def _tag(self) -> str:
        return self.task

    def _layer_choice(self, label: str, kind: str, tooltip: str, nullable: bool = False) -> ComboBox:
        w = ComboBox(label=label, choices=_labels_layers if kind == "labels" else _image_layers,
                     nullable=nullable, tooltip=tooltip)
        w._dip_owner = self
        return w

    # ------------------------------------------------------------------------------------------
    # settings
    def _advanced_widgets(self) -> dict:
        from ..core.config import STOP_RULES
        from ..core.options import LOSSES, NETWORKS, PRECISIONS, refine_choices

        fields = {
            "network": ComboBox(label="network", choices=list(NETWORKS)),
            "channels": LineEdit(label="channels", tooltip="Feature channels per scale, e.g. "
                                 "'32, 32, 32, 32, 32' or '16x4' (four scales of 16)."),
            "iterations": SpinBox(label="iterations", min=1, max=100000, step=100,
                                  tooltip="Budget; the automatic stop usually ends earlier."),
            "lr": FloatSpinBox(label="learning rate", min=1e-5, max=1.0, step=0.001),
            "reg_noise_std": FloatSpinBox(label="jitter", min=0.0, max=1.0, step=0.005,
                                          tooltip="Noise added to the network input every step. The fast "
                                                  "denoising preset gives planes larger than 128×128 "
                                                  "less, down to half (reg_noise_pixels). Gradient "
                                                  "fusion never jitters its input (the two sources)."),
            "ema": FloatSpinBox(label="averaging", min=0.0, max=0.999, step=0.01,
                                tooltip="Exponential averaging weight of outputs (0: off)."),
            "loss": ComboBox(label="loss", choices=list(LOSSES),
                             tooltip="mse for Gaussian noise, l1 for salt-and-pepper, poisson for photon "
                                     "counts."),
            "refine": ComboBox(label="refine", choices=refine_choices(self.task),
                               tooltip=REFINE_TIPS.get(self.task, "")),
            "stop": ComboBox(label="stop rule", choices=list(STOP_RULES),
                             tooltip="auto: stop when the outputs stop settling and return the best one; "
                                     "fixed: run the whole budget."),
            "stop_patience": SpinBox(label="patience", min=1, max=100000, step=50),
            "min_iterations": SpinBox(label="min iterations", min=0, max=100000, step=50),
            "preview_every": SpinBox(label="preview every", min=1, max=100000, step=5),
            "seed": SpinBox(label="seed", min=-1, max=2**31 - 1, tooltip="-1: a different run each time."),
            "precision": ComboBox(label="precision", choices=list(PRECISIONS)),
            "tile": SpinBox(label="tile", min=0, max=65536, step=64,
                            tooltip="Restore planes larger than this many pixels a side in overlapping, "
                                    "blended tiles, fitted side by side: memory follows the tile, not "
                                    "the image, and the fast preset's small network restores ~288² "
                                    "tiles better than a whole large plane. 0: never tile."),
        }
        for name in ("lr", "reg_noise_std", "ema"):
            fields[name].native.setDecimals(5)  # show preset values such as 1/30 faithfully
        for name, tasks in store.TASK_ONLY_FIELDS.items():
            if self.task not in tasks:
                del fields[name]
        return fields

    def _set_advanced(self, values: dict) -> None:
        was = self._loading
        self._loading = True
        try:
            for k, w in self.advanced.items():
                if k in values:
                    with contextlib.suppress(ValueError, TypeError):
                        w.value = values[k]
        finally:
            self._loading = was

    def _advanced_values(self) -> dict:
        values = {k: w.value for k, w in self.advanced.items()}
        # spin boxes round (1/30 shows as 0.03333): keep the preset's exact value when unchanged
        exact = getattr(self, "_preset_cache", {})
        for k in ("lr", "reg_noise_std", "ema"):
            if k in exact and abs(float(values[k]) - float(exact[k])) < 1e-5:
                values[k] = exact[k]
        return values

    def _on_preset_changed(self, value: str) -> None:
        if self._loading:
            return
        if value != "custom":
            self._base_preset = value
            self._preset_cache = store.preset_fields(value, self.task, self._mode())
            self._set_advanced(self._preset_cache)
        self._save()

    def _on_advanced_changed(self, *_: Any) -> None:
        if self._loading:
            return
        if self.preset.value != "custom":
            self._loading = True
            self.preset.value = "custom"
            self._loading = False
        self._save()

    def settings_dict(self) -> dict:
        return {
            "preset": self.preset.value, "base": self._base_preset, "device": self.device.value,
            "advanced": self._advanced_values(), "history_every": self.history_every.value,
            "live_preview": self.live_preview.value, "stack_mode": self.stack_mode.value,
            "task": {k: w.value for k, w in self.task_fields.items()},
        }

    def _save(self, *_: Any) -> None:
        if not self._loading:
            store.save(self.task, self.settings_dict())

    def _restore_settings(self) -> None:
        saved = store.load(self.task)
        self._apply_settings(saved)

    def _apply_settings(self, saved: dict) -> None:
        was = self._loading
        self._loading = True
        try:
            # task fields first: the preset's values may depend on them (fusion's mode)
            for k, w in self.task_fields.items():
                if k in saved.get("task", {}):
                    with contextlib.suppress(ValueError, TypeError):
                        w.value = saved["task"][k]
                elif k in self._task_defaults:
                    w.value = self._task_defaults[k]
            base = saved.get("base") if saved.get("base") in ("fast", "paper") else "fast"
            self._base_preset = base
            self._preset_cache = store.preset_fields(base, self.task, self._mode())
            self._set_advanced(self._preset_cache)
            if saved.get("preset") == "custom":
                self._set_advanced(saved.get("advanced", {}))
            self.preset.value = saved.get("preset") if saved.get("preset") in store.PRESET_CHOICES \
                else base
            self.device.value = saved.get("device") if saved.get("device") in self.device.choices \
                else "auto"
            ui = {**DEFAULT_UI, **{k: saved[k] for k in DEFAULT_UI if k in saved}}
            self.history_every.value = int(ui["history_every"])
            self.live_preview.value = bool(ui["live_preview"])
            if ui["stack_mode"] in store.STACK_MODES:
                self.stack_mode.value = ui["stack_mode"]
        finally:
            self._loading = was

    @property
    def _task_defaults(self) -> dict:
        return getattr(self, "_defaults", {})

    def reset_settings(self) -> None:
        """Back to the defaults of this task (the fast preset) and save them."""
        self._apply_settings({})
        self._loading = False
        self._save()
        self.status.setText("Settings reset to defaults.")

    # ------------------------------------------------------------------------------------------
    # layer choices
    def reset_choices(self, *_: Any) -> None:
        """Refresh the layer lists (napari calls this when layers are added, removed or renamed)."""
        self.inputs.reset_choices()
        self._after_reset_choices()
        self._on_image_changed()

    def _after_reset_choices(self) -> None:
        pass

    def _channel_choices(self, widget=None) -> list:
        layer = self.image.value if hasattr(self, "image") else None
        choices: list = [("none", None)]
        if isinstance(layer, Image) and not layer.rgb:
            labels = _axis_labels(layer)
            for a in range(max(layer.data.ndim - 2, 0)):
                name = f" '{labels[a]}'" if labels and not labels[a].startswith("axis") else ""
                choices.append((f"axis {a}{name} ({layer.data.shape[a]})", a))
        return choices

    def _on_image_changed(self, *_: Any) -> None:
        layer = self.image.value
        chosen = self.channel_axis.value
        # napari refreshes the choices whenever any layer is added, removed or renamed (the preview
        # layer a run adds, too): the user's channel axis stands until another image is chosen
        same = self._axis_layer is not None and self._axis_layer() is layer
        self._axis_layer = None
        self.channel_axis.reset_choices()
        if isinstance(layer, Image) and not layer.rgb and not self._loading:
            self._axis_layer = weakref.ref(layer)
            valid = [v for _, v in self._channel_choices()]
            if same and chosen in valid:
                self.channel_axis.value = chosen
            else:
                # the layer's axis labels say which axis holds channels (napari-style 'c', 'channel')
                labels = _axis_labels(layer)[: max(layer.data.ndim - 2, 0)]
                found = [a for a, lab in enumerate(labels) if lab.lower() in CHANNEL_LABELS]
                self.channel_axis.value = found[0] if len(found) == 1 else None
        is_stack = isinstance(layer, Image) and (layer.data.ndim - (1 if layer.rgb else 0)) > 2
        self.stack_mode.enabled = is_stack
        self.channel_axis.visible = isinstance(layer, Image) and not layer.rgb and layer.data.ndim > 2

    # ------------------------------------------------------------------------------------------
    # running
    @property
    def running(self) -> bool:
        return self._worker is not None

    def _on_run_clicked(self) -> None:
        if self.running:
            self.stop()
        else:
            self.start()

    def start(self) -> bool:
        """Validate, snapshot and start a run; False (with a notification) when refused."""
        if self.running:
            return False
        try:
            run = self._prepare()
        except Refused as exc:
            show_error(f"{self.title}: {exc}")
            self.status.setText(f"Not started: {exc}")
            return False
        from napari.qt.threading import create_worker

        self._run = run
        self._live_requests[:] = [run.request]
        worker = create_worker(restoration_steps, run.request, _start_thread=False, _ignore_errors=True)
        # napari handlers may call processEvents (progress bars, new layer controls), which would
        # re-enter our handlers: queue every signal and handle them strictly in order
        worker.yielded.connect(self._yielded_signal)
        worker.returned.connect(self._returned_signal)
        worker.errored.connect(self._errored_signal)
        worker.finished.connect(self._finished_signal)
        self._worker = worker
        self._watch_window()
        self._set_running(True)
        self.plot.clear()
        iterations = int(run.request.overrides.get("iterations") or 1)
        self.plot.set_budget(iterations)
        self._dispatching = True  # creating layers below may process events
        try:
            try:
                from napari.utils import progress

                run.progress_bar = progress(total=run.plan.n_planes * iterations,
                                            desc=f"DIP {run.tag}: {run.source.name}")
            except Exception:
                run.progress_bar = None
            # create the live layers now (a one-off cost on the main thread), so the run only
            # updates them in place
            if run.live_preview:
                self._show_preview(run, self._placeholder(run), 0)
            if run.history_every and run.plan.n_planes == 1:
                self._create_history_layer(run, self._placeholder(run), 0)
        finally:
            self._dispatching = False
        self.status.setText(f"Starting {run.tag} of '{run.source.name}'…")
        worker.start()
        return True

    # bound methods (not lambdas): Qt drops these connections when the widget is deleted
    def _yielded_signal(self, update: Update) -> None:
        self._dispatch(self._on_yielded, update)

    def _returned_signal(self, value: Any) -> None:
        self._dispatch(self._on_returned, value)

    def _errored_signal(self, exc: BaseException) -> None:
        self._dispatch(self._on_errored, exc)

    def _finished_signal(self) -> None:
        self._dispatch(self._on_finished, None)

    def _dispatch(self, handler, payload) -> None:
        self._pending.append((handler, payload))
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._pending:
                fn, value = self._pending.pop(0)
                try:
                    self.objectName()  # raises RuntimeError once the widget was deleted
                except RuntimeError:
                    self._pending.clear()
                    return
                fn(value)
        finally:
            self._dispatching = False

    def _watch_window(self) -> None:
        """Stop the run when the window holding this widget closes."""
        top = self.window()
        if top is not self._watched and top is not self:
            if self._watched is not None:
                with contextlib.suppress(RuntimeError):
                    self._watched.removeEventFilter(self._watcher)
            top.installEventFilter(self._watcher)
            self._watched = top

    def _placeholder(self, run: _Run) -> np.ndarray:
        """A blank plane of the output's shape, at the bottom of the contrast range."""
        shape = [s for a, s in enumerate(run.plan.full_output_shape()) if a not in run.plan.stack_axes]
        low = run.display.get("contrast_limits", (0.0, 1.0))[0]
        return np.full(shape, low, dtype=np.float32)

    def stop(self) -> None:
        """Ask the worker to stop after the current iteration."""
        if self._run is not None:
            self._run.request.stop.set()
            self.run_button.setText("Stopping…")
            self.run_button.setEnabled(False)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop a run and wait for the worker to finish (viewer closing)."""
        run, worker = self._run, self._worker
        if run is None or worker is None:
            return
        self._pending.clear()
        self._dispatching = True  # ignore whatever the worker still sends
        # a worker that outlives the wait must not reach a later run's handlers
        for signal, slot in ((worker.yielded, self._yielded_signal),
                             (worker.returned, self._returned_signal),
                             (worker.errored, self._errored_signal),
                             (worker.finished, self._finished_signal)):
            with contextlib.suppress(TypeError, RuntimeError):
                signal.disconnect(slot)
        run.request.stop.set()  # the worker's generator sees it within one iteration and cleans up
        run.request.done.wait(timeout)
        self._close_progress(run)
        self._worker = None
        self._run = None
        self._dispatching = False
        # the window may stay open after all (its close was cancelled): leave the widget usable
        with contextlib.suppress(RuntimeError):
            self._set_running(False)
            self.status.setText(f"Stopped {run.tag} of '{run.source.name}': the window was closing.")

    def _set_running(self, running: bool) -> None:
        self.run_button.setText("Stop" if running else "Run")
        self.run_button.setEnabled(True)
        for w in (self.inputs, self.main_settings, self.advanced_box):
            w.enabled = not running
        self.reset_button.setEnabled(not running)

    def _prepare(self) -> _Run:
        """Check the inputs together and snapshot everything the worker needs."""
        layer = self.image.value
        if not isinstance(layer, Image):
            raise Refused("choose an Image layer to restore (open one, or File > Open Sample > "
                          "napari-dip).")
        if layer not in self.viewer.layers:
            raise Refused(f"'{layer.name}' is no longer in the viewer.")
        plan = plan_for_layer(layer, self.stack_mode.value, self.channel_axis.value, self.viewer.dims,
                              self._factor())
        kwargs = self._task_kwargs(plan)
        kwargs["warm_start"] = plan.n_planes > 1 and self.stack_mode.value.endswith("warm start")
        kwargs["channel_axis"] = plan.engine_channel_axis
        kwargs["rgb"] = plan.rgb
        ref = self.reference.value
        if ref is not None:
            kwargs["reference"] = self._reference_data(ref, plan)
        try:
            overrides = store.fields_to_overrides(self._advanced_values(), self._preset_skip())
        except ValueError as exc:
            raise Refused(str(exc)) from None
        overrides["device"] = self.device.value
        try:
            from .worker import build_config

            request = RunRequest(self.task, np.empty(0), self._base_preset, self.preset.value, overrides,
                                 mode=self._mode())
            build_config(request)  # refuse invalid settings here, with the engine's message
        except ValueError as exc:
            raise Refused(f"settings: {exc}") from None
        if isinstance(layer.data, np.ndarray):
            try:  # a snapshot: edits to the layer during the run do not reach it
                image = np.array(plan.take(layer.data), copy=True)
            except MemoryError:
                raise Refused(f"'{layer.name}' does not fit in memory.") from None
        else:  # dask, zarr, ...: read in the worker, so a large stack does not freeze the viewer
            image = plan.take(layer.data, lazy=True)
        request.image = image
        request.kwargs = kwargs
        k = int(self.history_every.value)
        pe = int(overrides["preview_every"])
        k = 0 if k <= 0 else max(pe, math.ceil(k / pe) * pe)  # frames come with previews
        display = self._display_kwargs(layer)
        return _Run(request, plan, layer, display, self._tag(), k, bool(self.live_preview.value),
                    next_frame=k)

    def _preset_skip(self) -> tuple[int, ...]:
        from ..core.config import Config

        return Config.preset(self._base_preset, self.task, self._mode()).skip_channels

    def _reference_data(self, ref, plan: Plan) -> np.ndarray:
        data = np.asarray(ref.data)
        if data.shape == plan.full_output_shape():
            data = plan.take(data)
        if data.shape != plan.output_shape():
            raise Refused(f"reference '{ref.name}' has shape {data.shape}, but the result of "
                          f"'{plan.name}' will have shape {plan.output_shape()}; choose the ground "
                          "truth of the same size or no reference.")
        return np.array(data, copy=True)

    @staticmethod
    def _plane_meta(plan: Plan):
        if not plan.is_stack:
            return None
        return "all" if plan.index is None else list(plan.index)

    @staticmethod
    def _display_kwargs(layer) -> dict:
        out: dict[str, Any] = {"rgb": bool(layer.rgb), "blending": layer.blending}
        if not layer.rgb:
            out["colormap"] = layer.colormap
        lo, hi = (float(v) for v in layer.contrast_limits)
        if hi > lo:
            out["contrast_limits"] = (lo, hi)
        return out

    # ------------------------------------------------------------------------------------------
    # worker handlers (main thread)
    def _on_yielded(self, update: Update) -> None:
        run = self._run
        if run is None:
            return
        run.last = update
        for it, loss, metric, psnr in update.points:
            self.plot.add(it, loss=loss, stop_metric=metric, psnr=psnr)
        self.plot.set_marker(update.candidate_iteration)
        done = update.plane * update.iterations + update.iteration
        if run.progress_bar is not None and done > run.done_steps:
            run.progress_bar.update(done - run.done_steps)
        run.done_steps = max(done, run.done_steps)
        self.status.setText(self._status_text(run, update))
        if update.plane_output is not None:  # a plane of the stack is finished: keep it in place
            run.planes_done = update.plane + 1
            if run.live_preview:
                self._show_preview(run, np.asarray(update.plane_output, np.float32), update.plane)
            else:
                self._into_stack(run, np.asarray(update.plane_output, np.float32), update.plane)
            return
        if update.preview is not None:
            run.preview = update.preview
            run.preview_iteration = update.preview_iteration
            run.preview_plane = update.plane
            if run.live_preview:
                self._show_preview(run, update.preview, update.plane)
            if (run.history_every and update.n_planes == 1 and update.iteration >= run.next_frame
                    and update.iteration % run.history_every == 0):
                self._add_history_frame(run, update)

    def _status_text(self, run: _Run, u: Update) -> str:
        spi = u.elapsed / max(u.iteration, 1)
        left = (u.iterations - u.iteration) * spi + (u.n_planes - u.plane - 1) * u.iterations * spi
        plane = f" · plane {u.plane + 1}/{u.n_planes}" if u.n_planes > 1 else ""
        psnr = f" · PSNR {u.psnr:.2f} dB" if u.psnr is not None else ""
        auto = run.request.overrides.get("stop") == "auto"
        eta = f"≤ {_fmt_time(left)} left (the automatic stop usually ends sooner)" if auto \
            else f"{_fmt_time(left)} left"
        return (f"Iteration {u.iteration}/{u.iterations}{plane} · loss {u.loss:.3g}{psnr} · "
                f"best output at {u.candidate_iteration} · {spi:.2f} s/it · {eta}")

    def _preview_name(self, run: _Run) -> str:
        return f"{run.source.name} [DIP {run.tag} preview]"

    def _into_stack(self, run: _Run, plane: np.ndarray, plane_index: int) -> np.ndarray:
        """Write one plane into the run's full-stack buffer (made on first use); return it."""
        if run.stack is None:
            low = run.display.get("contrast_limits", (0.0, 1.0))[0]
            run.stack = np.full(run.plan.full_output_shape(), low, dtype=np.float32)
        sl: list = [slice(None)] * run.stack.ndim
        for axis, i in zip(run.plan.stack_axes, run.plan.plane_index(plane_index), strict=True):
            sl[axis] = i
        run.stack[tuple(sl)] = plane
        return run.stack

    def _show_preview(self, run: _Run, plane: np.ndarray, plane_index: int) -> None:
        if run.plan.n_planes > 1:  # all planes: one stack layer, the current plane live in it
            data = self._into_stack(run, plane, plane_index)
            geometry = run.plan.layer_geometry()
        else:
            data = run.plan.expand(plane)
            geometry = run.plan.layer_geometry(at=run.plan.plane_index(plane_index))
        layer = run.preview_layer
        if layer is None or layer not in self.viewer.layers:
            run.preview_layer = self.viewer.add_image(data, name=self._preview_name(run),
                                                      **run.display, **geometry)
            return
        limits = tuple(layer.contrast_limits)
        if layer.data is data:  # the stack buffer, changed in place
            layer.refresh()
        else:
            layer.data = data
        if tuple(layer.contrast_limits) != limits:  # fixed limits: no flicker
            layer.contrast_limits = limits
        if tuple(layer.translate) != tuple(geometry["translate"]):
            layer.translate = geometry["translate"]

    def _history_stack(self, run: _Run, frames: list) -> np.ndarray:
        stack = np.stack(frames)
        if run.plan.stack_axes and frames[0].ndim < len(run.plan.shape):
            stack = np.expand_dims(stack, tuple(a + 1 for a in run.plan.stack_axes))
        return stack

    def _create_history_layer(self, run: _Run, first_frame: np.ndarray, plane_index: int) -> None:
        """A stack layer whose leading axis is the iteration (world coordinate = iteration)."""
        g = run.plan.layer_geometry(at=run.plan.plane_index(plane_index))
        geometry = {"scale": (float(run.history_every), *g["scale"]),
                    "translate": (float(run.history_every), *g["translate"])}
        if "axis_labels" in g:
            geometry["axis_labels"] = ("iteration", *g["axis_labels"])
        if "units" in g:
            geometry["units"] = ("pixel", *g["units"])
        meta = {"napari_dip": {"history_of": run.source.name, "task": run.tag,
                               "every": run.history_every, "iterations": []}}
        run.history_layer = self.viewer.add_image(
            self._history_stack(run, [first_frame]), name=f"{run.source.name} [DIP {run.tag} history]",
            metadata=meta, **run.display, **geometry)
        self.keep_button.setEnabled(True)

    def _add_history_frame(self, run: _Run, u: Update) -> None:
        run.next_frame = u.iteration + run.history_every
        if len(run.history_frames) >= MAX_HISTORY_FRAMES:
            return
        run.history_frames.append(np.asarray(u.preview, dtype=np.float32))
        layer = run.history_layer
        if layer is None or layer not in self.viewer.layers:
            self._create_history_layer(run, run.history_frames[0], u.plane)
            layer = run.history_layer
        limits = tuple(layer.contrast_limits)
        layer.data = self._history_stack(run, run.history_frames)
        layer.contrast_limits = limits
        layer.metadata["napari_dip"]["iterations"] = [
            run.history_every * (i + 1) for i in range(len(run.history_frames))]

    def keep_frame(self) -> Any:
        """Copy the history frame the slider shows into a new layer; returns the layer."""
        run = self._run or getattr(self, "_last_run", None)
        layer = None if run is None else run.history_layer
        if layer is None or layer not in self.viewer.layers:
            show_warning(f"{self.title}: no history layer; set 'history every' above 0 and run.")
            return None
        pos = layer.world_to_data(self.viewer.dims.point)
        i = int(np.clip(round(float(pos[0])), 0, layer.data.shape[0] - 1))
        iterations = layer.metadata.get("napari_dip", {}).get("iterations", [])
        it = iterations[i] if i < len(iterations) else None
        frame = np.array(layer.data[i], copy=True)
        meta = {"napari_dip": {**layer.metadata.get("napari_dip", {}), "kept_frame": i, "iteration": it}}
        meta["napari_dip"].pop("iterations", None)
        meta["napari_dip"]["settings"] = run.request.overrides | {"preset": run.request.label}
        g = run.plan.layer_geometry(at=run.plan.plane_index(0))
        return self.viewer.add_image(frame, name=f"{run.source.name} [DIP {run.tag}, iteration {it}]",
                                     metadata=meta, **run.display, **g)

    def _on_returned(self, value: Any) -> None:
        run = self._run
        if run is None:
            return
        if isinstance(value, Stopped):
            self._finish_stopped(run, value)
            return
        result = value
        meta = dict(result.metadata())
        meta.update({"source_layer": run.source.name, "plane": self._plane_meta(run.plan)})
        layer = self._result_layer(run, np.asarray(result.image), meta)
        stopped = result.stopped_at
        took = time.perf_counter() - run.started
        metrics = "".join(f" · {metric_label(k)} {v:.3f}" for k, v in result.metrics.items())
        verb = "Stopped" if result.stopped_by_user else "Done"
        self._remove_empty_history(run)  # the run ended before its first history frame
        if result.stopped_by_user and run.plan.n_planes > 1:
            k = run.last.plane + 1 if run.last is not None else 1
            text = (f"Stopped in plane {k} of {run.plan.n_planes} after {_fmt_time(took)}: "
                    f"planes 1–{k} are in '{layer.name}' (plane {k} as far as it got); "
                    "the others are empty (NaN).")
        else:
            text = (f"{verb} in {_fmt_time(took)}: '{layer.name}' (output of iteration {stopped}"
                    f"{', per plane' if isinstance(stopped, list) else ''}){metrics}.")
        if run.source not in self.viewer.layers:
            gone = (f"'{run.source.name}' was removed from the viewer during the run; its result is "
                    f"'{layer.name}'.")
            show_info(f"{self.title}: {gone}")
            text += " " + gone
        self.status.setText(text)

    def _finish_stopped(self, run: _Run, stopped: Stopped) -> None:
        if run.preview is not None and run.plan.n_planes == 1:
            from .worker import build_config

            meta = {"task": self.task, "settings": build_config(run.request).to_dict(),
                    "stopped_by_user": True, "stopped_at": run.preview_iteration,
                    "iterations_run": stopped.iteration, "source_layer": run.source.name,
                    "wall_time_s": round(time.perf_counter() - run.started, 3),
                    "plane": self._plane_meta(run.plan)}
            layer = self._result_layer(run, np.asarray(run.preview), meta)
            self.status.setText(f"Stopped at iteration {stopped.iteration}; kept the output of iteration "
                                f"{run.preview_iteration} as '{layer.name}'.")
        else:
            why = ("before its first preview" if run.plan.n_planes == 1
                   else "(not every plane was restored)")
            self.status.setText(f"Stopped at iteration {stopped.iteration} of plane {stopped.plane + 1}; "
                                f"no result layer {why}.")
            show_info(f"{self.title}: stopped; no result layer was made for '{run.source.name}'.")
            self._remove_preview(run)
        self._remove_empty_history(run)

    def _result_layer(self, run: _Run, image: np.ndarray, meta: dict) -> Any:
        """The result as a layer: the preview layer becomes it when shapes agree (no new layer to
        build on the main thread, no flicker); otherwise a new layer replaces the preview."""
        data = run.plan.expand(image)
        geometry = run.plan.layer_geometry(at=run.plan.index)
        name = f"{run.source.name} [DIP {run.tag}]"
        layer = run.preview_layer
        if layer is not None and layer in self.viewer.layers and layer.data.shape == data.shape:
            limits = tuple(layer.contrast_limits)
            layer.data = data
            layer.contrast_limits = limits
            layer.translate = geometry["translate"]
            layer.metadata = {"napari_dip": meta}
            layer.name = name
            run.preview_layer = None
        else:
            self._remove_preview(run)
            layer = self.viewer.add_image(data, name=name, metadata={"napari_dip": meta}, **run.display,
                                          **geometry)
        self.result_layer = layer
        return layer

    def _remove_preview(self, run: _Run) -> None:
        if run.preview_layer is not None and run.preview_layer in self.viewer.layers:
            self.viewer.layers.remove(run.preview_layer)
        run.preview_layer = None

    def _on_errored(self, exc: BaseException) -> None:
        run = self._run
        name = run.source.name if run is not None else "?"
        if isinstance(exc, ValueError | FloatingPointError):
            msg = f"{self.title} of '{name}' failed: {exc}"
        elif isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
            msg = (f"{self.title} of '{name}' ran out of memory: use the fast preset, fewer channels, "
                   "the CPU device, or a smaller image (see the troubleshooting guide).")
        else:
            msg = f"{self.title} of '{name}' failed with {type(exc).__name__}: {exc}"
        show_error(msg)
        self.status.setText(msg)
        if run is not None:
            self._remove_preview(run)
            self._remove_empty_history(run)

    def _remove_empty_history(self, run: _Run) -> None:
        layer = run.history_layer
        if layer is not None and not run.history_frames and layer in self.viewer.layers:
            self.viewer.layers.remove(run.history_layer)
            run.history_layer = None
            self.keep_button.setEnabled(False)

    def _on_finished(self, _: Any = None) -> None:
        run = self._run
        if run is not None:
            self._close_progress(run)
            self._last_run = run
        self._worker = None
        self._run = None
        self._set_running(False)

    @staticmethod
    def _close_progress(run: _Run) -> None:
        if run.progress_bar is not None:
            run.progress_bar.close()
            run.progress_bar = None

    def showEvent(self, event) -> None:
        self._watch_window()
        super().showEvent(event)

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    def event(self, event) -> bool:
        # napari's dock close button takes the widget out of its dock (setParent(None)) without
        # closing it: a run going on would go on with no Stop button in sight. Stop it the way the
        # Stop button does (no wait on the main thread; the output so far still becomes a layer)
        if (event.type() == QEvent.Type.ParentChange and self.parent() is None
                and getattr(self, "_worker", None) is not None):
            self.stop()
        return super().event(event)


# ----------------------------------------------------------------------------------------------
# the five tasks


class DenoiseWidget(DipWidget):
    """Remove noise from an Image layer."""

    task = "denoise"
    title = "Denoise"


class InpaintWidget(DipWidget):
    """Fill the pixels painted in a Labels layer (any non-zero label marks a defect)."""

    task = "inpaint"
    title = "Inpaint"

    def _task_widgets(self) -> list:
        self.mask = self._layer_choice("defects", "labels", "Labels layer: every non-zero label marks a "
                                       "pixel to fill. Paint defects with the labels brush.")
        self.keep_known = CheckBox(label="keep unpainted pixels", value=True,
                                   tooltip="On: only the painted pixels change; every other pixel keeps "
                                   "its value. Off: the whole image is the network's output, which "
                                   "also smooths noise outside the defects.")
        self.task_fields = {"keep_known": self.keep_known}
        return [self.mask, self.keep_known]

    def _task_kwargs(self, plan: Plan) -> dict:
        labels = self.mask.value
        if not isinstance(labels, Labels):
            raise Refused("choose a Labels layer marking the pixels to fill (add one with the 'new labels "
                          "layer' button and paint the defects).")
        image = self.image.value
        data = np.asarray(labels.data)
        plane_hw = plan.plane_shape()
        no_channel = tuple(s for a, s in enumerate(plan.shape) if a != plan.channel_axis)
        if data.shape == plane_hw:  # one mask for every plane
            check_same_grid(image, labels, "mask")
            defects = data != 0
        elif data.shape == no_channel:  # a mask per plane
            check_same_grid(image, labels, "mask")
            axes = tuple(a - (1 if plan.channel_axis is not None and a > plan.channel_axis else 0)
                         for a in plan.stack_axes)
            defects = plan.take(data, axes) != 0
            if plan.index is None and plan.channel_axis is not None and defects.shape != plane_hw:
                defects = np.broadcast_to(np.expand_dims(defects, plan.channel_axis), plan.shape)
        else:
            raise Refused(f"mask '{labels.name}' has shape {data.shape} but image '{image.name}' has "
                          f"planes of {plane_hw[0]}×{plane_hw[1]} (shape {plan.shape}); draw the mask on "
                          "the image's pixel grid (a Labels layer of the plane's or the image's shape).")
        if not defects.any():
            raise Refused(f"mask '{labels.name}' marks no pixel to fill: paint the defects (any non-zero "
                          f"label) over '{image.name}' with the labels brush.")
        if defects.all():
            raise Refused(f"mask '{labels.name}' covers every pixel of '{image.name}': nothing is left to "
                          "fill the holes from.")
        return {"mask": ~defects, "keep_known": bool(self.keep_known.value)}


class SuperResolutionWidget(DipWidget):
    """Upsample an Image layer by 2, 3, 4 or 8 under a known downsampling model."""

    task = "sr"
    title = "Super-resolution"
    _defaults: ClassVar[dict] = {"factor": 2, "kernel": "lanczos2"}

    def _task_widgets(self) -> list:
        self.factor = ComboBox(label="factor", choices=list(SR_FACTORS), value=2,
                               tooltip="Output pixels per input pixel along each axis.")
        self.kernel = ComboBox(label="kernel", choices=list(DOWNSAMPLE_KERNELS),
                               tooltip="The anti-aliasing filter assumed to have made the image: lanczos2 "
                                       "(the paper's), bicubic, or box (camera pixel binning).")
        self.task_fields = {"factor": self.factor, "kernel": self.kernel}
        return [self.factor, self.kernel]

    def _factor(self) -> int:
        return int(self.factor.value)

    def _tag(self) -> str:
        return f"super-resolution ×{self._factor()}"

    def _task_kwargs(self, plan: Plan) -> dict:
        h, w = plan.plane_shape()
        if min(h, w) < 8:
            raise Refused(f"'{plan.name}' planes are {h}×{w} pixels; super-resolution needs at least 8×8.")
        return {"factor": self._factor(), "kernel": self.kernel.value}


class DeblurWidget(DipWidget):
    """Deconvolve a Gaussian or a measured point-spread function."""

    task = "deblur"
    title = "Deblur"
    _defaults: ClassVar[dict] = {"sigma": 1.5, "headroom": 0.0}

    def _task_widgets(self) -> list:
        self.psf_layer = self._layer_choice("PSF image", "image", "Optional 2D Image layer holding the "
                                            "point-spread function; none: a Gaussian of width sigma.",
                                            nullable=True)
        self.psf_layer.value = None
        self.sigma = FloatSpinBox(label="Gaussian sigma", min=0.2, max=30.0, step=0.1, value=1.5,
                                  tooltip="Width (standard deviation, in pixels) of the Gaussian PSF.")
        self.headroom = FloatSpinBox(
            label="headroom", min=0.0, max=100.0, step=0.5, value=0.0,
            tooltip="How far above the blurred image the result may reach (× its range): deblurred "
                    "point sources are brighter than any blurred pixel. 0 = auto (2; 1 for 8-bit "
                    "images, whose 0-255 scale leaves room already). More room fits more slowly.")
        self.headroom.native.setSpecialValueText("auto")  # shown at 0, the preset's auto
        self.task_fields = {"sigma": self.sigma, "headroom": self.headroom}
        return [self.psf_layer, self.sigma, self.headroom]

    def _after_reset_choices(self) -> None:
        if self.psf_layer.value is self.image.value and self.psf_layer.value is not None:
            self.psf_layer.value = None

    def _task_kwargs(self, plan: Plan) -> dict:
        room = float(self.headroom.value)
        if 0 < room < 1:
            raise Refused(f"headroom {room:g} would cut the result below the blurred image's own "
                          "maximum; use 0 (auto) or at least 1.")
        extra = {"headroom": room}
        psf = self.psf_layer.value
        if psf is None:
            return {"psf": float(self.sigma.value), **extra}
        if psf is self.image.value:
            raise Refused(f"the PSF layer is the image '{psf.name}' itself; choose the layer holding the "
                          "PSF, or none for a Gaussian.")
        arr = np.asarray(psf.data)
        if psf.rgb or arr.ndim != 2:
            raise Refused(f"PSF '{psf.name}' has shape {arr.shape}; a 2D grayscale PSF image is needed.")
        h, w = plan.plane_shape()
        if arr.shape[0] > h or arr.shape[1] > w:
            raise Refused(f"PSF '{psf.name}' ({arr.shape[0]}×{arr.shape[1]}) is larger than the planes of "
                          f"'{plan.name}' ({h}×{w}); crop it around its peak.")
        if not np.isfinite(arr).all() or float(np.clip(arr, 0, None).sum()) <= 0:
            raise Refused(f"PSF '{psf.name}' has no positive finite values.")
        return {"psf": np.array(arr, dtype=np.float32, copy=True), **extra}


class FuseWidget(DipWidget):
    """Fuse two co-registered Image layers of one scene."""

    task = "fuse"
    title = "Fuse"
    _defaults: ClassVar[dict] = {"mode": "gradient", "weight": 0.5}

    def _task_widgets(self) -> list:
        self.second = self._layer_choice("second image", "image", "The other modality, on the same "
                                         "pixel grid as the first.")
        self.mode = ComboBox(label="fusion", choices=list(FUSION_MODES),
                             tooltip="gradient: intensities blend the two, edges follow the stronger "
                                     "source. guided: restore the first image with the second as the "
                                     "network input.")
        self.weight = FloatSpinBox(label="weight of first", min=0.0, max=1.0, step=0.05, value=0.5,
                                   tooltip="Intensity weight of the first image (gradient fusion).")
        self.task_fields = {"mode": self.mode, "weight": self.weight}
        return [self.second, self.mode, self.weight]

    def _advanced_widgets(self) -> dict:
        fields = super()._advanced_widgets()
        jitter = fields["reg_noise_std"]

        def follow_mode(mode: str) -> None:
            jitter.enabled = mode != "gradient"  # gradient fusion runs unjittered (api.fusion_config)
            self.weight.enabled = mode == "gradient"  # the intensity blend is gradient fusion's
            # the presets tune the modes apart (guided: automatic stop, no jitter): show the
            # chosen mode's values unless the user has set their own
            if not getattr(self, "_loading", True) and self.preset.value != "custom":
                self._preset_cache = store.preset_fields(self._base_preset, self.task, mode)
                self._set_advanced(self._preset_cache)

        self.mode.changed.connect(follow_mode)
        follow_mode(self.mode.value)
        return fields

    def _mode(self) -> str | None:
        return self.mode.value

    def _after_reset_choices(self) -> None:
        if self.second.value is self.image.value:
            others = [v for _, v in _image_layers(self.second) if v is not self.image.value]
            if others:
                self.second.value = others[0]

    @staticmethod
    def _display_kwargs(layer) -> dict:
        # the fused image is neither source: neutral grey rather than the first layer's colours
        out = DipWidget._display_kwargs(layer)
        if not layer.rgb:
            out["colormap"] = "gray"
        out["blending"] = "translucent"
        return out

    def _task_kwargs(self, plan: Plan) -> dict:
        a, b = self.image.value, self.second.value
        if not isinstance(b, Image):
            raise Refused("choose the second image to fuse with.")
        if b is a:
            raise Refused(f"both fusion inputs are '{a.name}'; choose two different layers.")
        if a.rgb != b.rgb:
            raise Refused(f"fusion layers do not match: '{a.name}' is {'RGB' if a.rgb else 'grayscale'} "
                          f"but '{b.name}' is {'RGB' if b.rgb else 'grayscale'}.")
        bshape = tuple(b.data.shape)
        if self.mode.value == "gradient" and bshape != plan.shape:
            raise Refused(f"fusion layers do not match: '{a.name}' has shape {plan.shape} but '{b.name}' "
                          f"has shape {bshape}; register and resample them to the same grid first.")
        if self.mode.value == "guided" and bshape != plan.shape:
            # else the guide must be one plane, used for the one plane restored
            b_plane = bshape[-2:] if not b.rgb else bshape[-3:-1]
            one_plane = len(bshape) == (3 if b.rgb else 2)
            if not one_plane or b_plane != plan.plane_shape():
                raise Refused(f"fusion layers do not match: '{b.name}' has shape {bshape}; as a guide it "
                              f"needs the shape of '{a.name}' {plan.shape} or one plane of "
                              f"{plan.plane_shape()}.")
            if plan.n_planes > 1 or (plan.channel_axis is not None and not plan.rgb):
                raise Refused(f"'{b.name}' is one plane, so it can guide one plane of '{a.name}' without "
                              "a channel axis: choose 'current plane' and no channel axis, or a guide "
                              f"of the shape of '{a.name}' {plan.shape}.")
        check_same_grid(a, b, "second image")
        second = np.array(plan.take(b.data) if bshape == plan.shape else b.data, copy=True)
        return {"second": second, "fusion": self.mode.value, "fusion_weight": float(self.weight.value)}
