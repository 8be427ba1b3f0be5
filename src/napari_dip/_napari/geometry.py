"""Where the restored planes of an Image layer are, and where results go in world coordinates.

Pure functions over layer attributes and arrays; no Qt. The plane is always the layer's last two
axes (for RGB layers the two before the colour axis); every other axis, except a chosen channel
axis, is a stack axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class Refused(ValueError):
    """A combination of inputs the widget will not run; the message is shown to the user."""


@dataclass
class Plan:
    """The part of an Image layer a run restores, and how results map back onto it."""

    name: str
    shape: tuple[int, ...]  # layer data shape
    rgb: bool
    channel_axis: int | None  # data axis of the channels (the colour axis for RGB layers)
    stack_axes: tuple[int, ...]
    index: tuple[int, ...] | None  # current plane: index on each stack axis; None: all planes
    scale: tuple[float, ...]
    translate: tuple[float, ...]
    units: tuple | None = None
    axis_labels: tuple | None = None
    factor: int = 1

    @property
    def spatial_axes(self) -> tuple[int, int]:
        n = len(self.shape) - (1 if self.rgb else 0)
        return n - 2, n - 1

    @property
    def is_stack(self) -> bool:
        return bool(self.stack_axes)

    @property
    def stack_shape(self) -> tuple[int, ...]:
        return tuple(self.shape[a] for a in self.stack_axes)

    @property
    def n_planes(self) -> int:
        return 1 if self.index is not None else int(np.prod(self.stack_shape, dtype=int))

    @property
    def engine_channel_axis(self) -> int | None:
        """Channel axis of the array handed to the engine (after slicing the current plane)."""
        if self.channel_axis is None:
            return None
        if self.index is None:
            return self.channel_axis
        return self.channel_axis - sum(1 for a in self.stack_axes if a < self.channel_axis)

    def take(self, array, axes: tuple[int, ...] | None = None, lazy: bool = False):
        """The part of ``array`` this run restores: for a current plane, ``array`` indexed at the
        plane on ``axes`` (default: the layer's stack axes; give others for arrays laid out
        differently, e.g. a mask without the channel axis). An ndarray, or with ``lazy`` the
        array's own slice (a dask or zarr array stays unread)."""
        as_array = (lambda a: a) if lazy else np.asarray
        if self.index is None:
            return as_array(array)
        axes = self.stack_axes if axes is None else axes
        sl = [slice(None)] * len(array.shape)
        for axis, i in zip(axes, self.index, strict=True):
            sl[axis] = i
        return as_array(array[tuple(sl)])

    def plane_shape(self) -> tuple[int, int]:
        y, x = self.spatial_axes
        return self.shape[y], self.shape[x]

    def output_shape(self) -> tuple[int, ...]:
        """Shape of the engine's result for this run (stack axes dropped for a current plane)."""
        shape = list(self.shape)
        for a in self.spatial_axes:
            shape[a] *= self.factor
        if self.index is not None:
            shape = [s for a, s in enumerate(shape) if a not in self.stack_axes]
        return tuple(shape)

    def full_output_shape(self) -> tuple[int, ...]:
        shape = list(self.shape)
        for a in self.spatial_axes:
            shape[a] *= self.factor
        return tuple(shape)

    # -- back onto the layer's grid ----------------------------------------------------------------
    def expand(self, plane_array: np.ndarray) -> np.ndarray:
        """Re-insert the stack axes (length 1) dropped from a single-plane array."""
        if not self.stack_axes or plane_array.ndim == len(self.shape):
            return plane_array
        return np.expand_dims(plane_array, self.stack_axes)

    def plane_index(self, flat_plane: int) -> tuple[int, ...]:
        """Index on the stack axes of the engine's ``flat_plane``-th plane."""
        if self.index is not None:
            return self.index
        if not self.stack_axes:
            return ()
        return tuple(int(i) for i in np.unravel_index(flat_plane, self.stack_shape))

    def layer_geometry(self, at: tuple[int, ...] | None = None) -> dict:
        """``scale``/``translate``/``units``/``axis_labels`` of a result layer.

        ``at``: place a single-plane array (stack axes of length 1) at this index of the stack.
        Super-resolution divides the plane's scale by the factor and shifts the origin by
        ``-(factor - 1) / 2`` new pixels, so output pixels tile the input pixels exactly.
        """
        scale = [float(s) for s in self.scale]
        translate = [float(t) for t in self.translate]
        f = self.factor
        for a in self.spatial_axes:
            new = scale[a] / f
            translate[a] -= (f - 1) / 2 * new
            scale[a] = new
        if at is not None:
            for axis, i in zip(self.stack_axes, at, strict=True):
                translate[axis] += i * scale[axis]
        out = {"scale": tuple(scale), "translate": tuple(translate)}
        if self.units is not None:
            out["units"] = self.units
        if self.axis_labels is not None:
            out["axis_labels"] = self.axis_labels
        return out


def plan_for_layer(layer, mode: str, channel_axis: int | None, viewer_dims, factor: int = 1) -> Plan:
    """Work out what to restore of Image ``layer``; raise :class:`Refused` when it cannot be run.

    ``mode`` is ``"current plane"``, ``"all planes"`` or ``"all planes, warm start"``;
    ``viewer_dims`` is ``viewer.dims``.
    """
    name = layer.name
    if getattr(layer, "multiscale", False):
        raise Refused(f"'{name}' is a multiscale (pyramid) image; DIP restores in-memory images. "
                      "Open one resolution level as its own layer first.")
    shape = tuple(int(s) for s in layer.data.shape)
    rgb = bool(getattr(layer, "rgb", False))
    ndim = len(shape)
    n_world = ndim - (1 if rgb else 0)
    if n_world < 2:
        raise Refused(f"'{name}' has {n_world} dimension(s); DIP needs a 2D image or a stack of them.")
    if rgb:
        channel_axis = ndim - 1
    elif channel_axis is not None and not 0 <= channel_axis < n_world - 2:
        raise Refused(f"'{name}' has no axis {channel_axis} before its rows and columns to use as "
                      "channels; pick another channel axis or 'none'.")
    stack_axes = tuple(a for a in range(n_world - 2) if a != channel_axis)
    index = None
    if stack_axes and mode == "current plane":
        if viewer_dims.ndisplay != 2:
            raise Refused(f"'{name}' is a stack and the viewer shows it in 3D, so no plane is chosen: "
                          "switch to 2D view and pick the plane with the sliders, or choose "
                          "'all planes'.")
        offset = viewer_dims.ndim - n_world
        shown = tuple(d - offset for d in viewer_dims.displayed)
        if shown != (n_world - 2, n_world - 1):
            raise Refused(f"'{name}' is a stack but the viewer shows its axes {shown}, not the rows and "
                          f"columns ({n_world - 2}, {n_world - 1}) DIP restores: restore the default axis "
                          "order (the 'transpose' and 'roll' buttons) or choose 'all planes'.")
        pos = np.asarray(layer.world_to_data(viewer_dims.point))
        index = tuple(int(np.clip(round(float(pos[a])), 0, shape[a] - 1)) for a in stack_axes)
    elif mode not in ("current plane", "all planes", "all planes, warm start"):
        raise Refused(f"Unknown stack mode {mode!r}.")
    return Plan(name, shape, rgb, channel_axis, stack_axes, index,
                tuple(float(s) for s in layer.scale), tuple(float(t) for t in layer.translate),
                tuple(getattr(layer, "units", ()) or ()) or None,
                tuple(getattr(layer, "axis_labels", ()) or ()) or None, factor)


def spatial_grid(layer) -> tuple[np.ndarray, np.ndarray]:
    """Scale and translate of ``layer``'s last two world axes (its rows and columns)."""
    return np.asarray(layer.scale)[-2:], np.asarray(layer.translate)[-2:]


def check_same_grid(a, b, what: str) -> None:
    """Refuse when layers ``a`` and ``b`` place their rows/columns differently in the world."""
    sa, ta = spatial_grid(a)
    sb, tb = spatial_grid(b)
    if not (np.allclose(sa, sb, rtol=1e-6, atol=1e-9) and np.allclose(ta, tb, rtol=1e-6, atol=1e-9)):
        raise Refused(f"{what} '{b.name}' does not line up with '{a.name}' in the world: scale "
                      f"{tuple(sb)} vs {tuple(sa)}, translate {tuple(tb)} vs {tuple(ta)}. Give both layers "
                      "the same pixel grid (resample or copy scale and translate).")
