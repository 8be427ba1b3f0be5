"""Array handling: validation, axis layout and reversible intensity normalisation.

Everything here works on NumPy arrays and never modifies its inputs. The engine works on stacks of
planes shaped ``(N, C, H, W)`` in float32 with intensities in [0, 1]; :class:`Layout` maps a user's
array to that form and back, :class:`Normalizer` maps intensities to [0, 1] and back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SIDE = 4  # smaller planes carry no structure for a CNN prior to work with


def check_finite_array(image, name: str = "image") -> np.ndarray:
    """Return ``image`` as an ndarray (no copy when possible) after checking it can be restored.

    Raises ``ValueError`` for empty arrays, complex or non-numeric data, NaN or infinite values.
    """
    arr = np.asarray(image)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} has dtype {arr.dtype}; a numeric (integer or float) array is needed.")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} is complex; pass the magnitude (np.abs) or the real part.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); pass an image with pixels in it.")
    if arr.ndim < 2:
        raise ValueError(f"{name} has {arr.ndim} dimension(s) (shape {arr.shape}); at least a 2D "
                         "(rows, columns) image is needed.")
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ValueError(f"{name} contains {int(bad.sum())} NaN or infinite value(s); replace them "
                             "(for example with np.nan_to_num) or mark them as missing pixels and use "
                             "inpainting.")
    return arr


@dataclass(frozen=True)
class Layout:
    """Where the plane, channel and stack axes of a user's array are.

    Attributes
    ----------
    shape : tuple of int
        Shape of the user's array.
    channel_axis : int or None
        Axis holding channels (RGB or multichannel), normalised to a non-negative index.
    alpha : bool
        True for RGBA input: the alpha channel is not restored but carried through.
    """

    shape: tuple[int, ...]
    channel_axis: int | None
    alpha: bool = False

    @classmethod
    def infer(cls, arr: np.ndarray, channel_axis: int | None = None, rgb: bool | None = None,
              name: str = "image") -> Layout:
        """Work out the layout of ``arr``.

        ``channel_axis`` names the channel axis explicitly. Otherwise a 3D array whose last axis has
        3 or 4 entries is taken as RGB(A) (pass ``rgb=False`` to read it as a stack of planes).
        Every axis other than the channel axis and the last two (rows, columns) is a stack axis.
        """
        ndim = arr.ndim
        if channel_axis is not None:
            if not -ndim <= channel_axis < ndim:
                raise ValueError(f"channel_axis={channel_axis} is out of range for {name} with shape "
                                 f"{arr.shape}.")
            channel_axis %= ndim
            if ndim < 3:
                raise ValueError(f"{name} has shape {arr.shape}: a channel axis needs a 3D array.")
        elif (rgb or rgb is None) and ndim == 3 and arr.shape[-1] in (3, 4):
            channel_axis = ndim - 1
        elif rgb:
            raise ValueError(f"{name} has shape {arr.shape}; RGB data needs a last axis of 3 or 4.")
        layout = cls(tuple(arr.shape), channel_axis,
                     alpha=bool(channel_axis is not None and channel_axis == ndim - 1
                                and arr.shape[-1] == 4 and (rgb or (rgb is None and ndim == 3))))
        h, w = layout.plane_shape
        if min(h, w) < MIN_SIDE:
            raise ValueError(f"{name} planes are {h}×{w} pixels; at least {MIN_SIDE}×{MIN_SIDE} is "
                             "needed. If the image axes are not the last two, move them there or set "
                             "channel_axis.")
        return layout

    @property
    def spatial_axes(self) -> tuple[int, int]:
        axes = [a for a in range(len(self.shape)) if a != self.channel_axis]
        return axes[-2], axes[-1]

    @property
    def stack_axes(self) -> tuple[int, ...]:
        return tuple(a for a in range(len(self.shape))
                     if a != self.channel_axis and a not in self.spatial_axes)

    @property
    def plane_shape(self) -> tuple[int, int]:
        y, x = self.spatial_axes
        return self.shape[y], self.shape[x]

    @property
    def stack_shape(self) -> tuple[int, ...]:
        return tuple(self.shape[a] for a in self.stack_axes)

    @property
    def n_planes(self) -> int:
        return int(np.prod(self.stack_shape, dtype=int))

    @property
    def channels(self) -> int:
        """Channels restored per plane (alpha excluded)."""
        if self.channel_axis is None:
            return 1
        return self.shape[self.channel_axis] - (1 if self.alpha else 0)

    def _order(self) -> list[int]:
        ch = [] if self.channel_axis is None else [self.channel_axis]
        return [*self.stack_axes, *ch, *self.spatial_axes]

    def to_planes(self, arr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Return ``(planes, alpha)``: planes shaped (N, C, H, W) (a view when possible) and the
        alpha channel shaped (N, 1, H, W) or None."""
        a = np.transpose(arr, self._order())
        h, w = a.shape[-2:]
        if self.channel_axis is None:
            a = a.reshape(-1, 1, h, w)
        else:
            a = a.reshape(-1, self.shape[self.channel_axis], h, w)
        if self.alpha:
            return a[:, :3], a[:, 3:]
        return a, None

    def from_planes(self, planes: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
        """Inverse of :meth:`to_planes`; planes may have a new (H, W) (super-resolution)."""
        if alpha is not None:
            planes = np.concatenate([planes, alpha.astype(planes.dtype, copy=False)], axis=1)
        h, w = planes.shape[-2:]
        order = self._order()
        moved_shape = [self.shape[a] for a in order]
        moved_shape[-2:] = [h, w]
        out = planes.reshape(moved_shape)
        return np.transpose(out, np.argsort(order))

    def output_shape(self, factor: int = 1) -> tuple[int, ...]:
        shape = list(self.shape)
        for a in self.spatial_axes:
            shape[a] *= factor
        return tuple(shape)


@dataclass(frozen=True)
class Normalizer:
    """Reversible affine map of intensities to [0, 1], per channel or global.

    ``uint8`` data use the fixed range [0, 255] (the convention of the natural-image benchmarks);
    other data use their own minimum and maximum, so 12-bit data in a 16-bit container fill [0, 1].
    With ``zero_floor=True`` the lower bound is 0, which keeps Poisson counts proportional.
    """

    lo: np.ndarray  # shape (C,)
    hi: np.ndarray  # shape (C,)
    dtype: np.dtype

    @classmethod
    def fit(cls, planes: np.ndarray, per_channel: bool = False, zero_floor: bool = False,
            where: np.ndarray | None = None) -> Normalizer:
        """Fit to (N, C, H, W) ``planes``; ``where`` (broadcastable bool) limits the pixels used."""
        c = planes.shape[1]
        if planes.dtype == np.uint8:
            lo, hi = np.zeros(c), np.full(c, 255.0)
        else:
            axes = (0, 2, 3) if per_channel else None
            if where is None:
                lo = np.min(planes, axis=axes).astype(np.float64)
                hi = np.max(planes, axis=axes).astype(np.float64)
            else:
                data, sel = planes.astype(np.float64), np.broadcast_to(where, planes.shape)
                lo = np.min(data, axis=axes, initial=np.inf, where=sel)
                hi = np.max(data, axis=axes, initial=-np.inf, where=sel)
            lo, hi = np.broadcast_to(lo, (c,)).copy(), np.broadcast_to(hi, (c,)).copy()
            # a channel with no usable pixel: fall back to the unit range
            lo[~np.isfinite(lo)], hi[~np.isfinite(hi)] = 0.0, 1.0
            if zero_floor:
                lo = np.minimum(lo, 0.0)
        hi = np.where(hi - lo > 0, hi, lo + 1.0)  # constant image: any unit range round-trips
        return cls(lo, hi, planes.dtype)

    def widened(self, factor: float) -> Normalizer:
        """The same map with ``factor`` times the range above ``lo``: the data then fill
        [0, 1 / factor] and [0, 1] reaches ``factor`` times as high (room for values brighter than
        any input pixel, e.g. deconvolved peaks)."""
        return Normalizer(self.lo.copy(), self.lo + factor * (self.hi - self.lo), self.dtype)

    def forward(self, planes: np.ndarray) -> np.ndarray:
        """(N, C, H, W) in the input's units → float32 in [0, 1]."""
        lo = self.lo[None, :, None, None]
        span = (self.hi - self.lo)[None, :, None, None]
        return ((planes.astype(np.float64) - lo) / span).astype(np.float32)

    def inverse(self, planes: np.ndarray, dtype: np.dtype | str | None = None) -> np.ndarray:
        """float32 in [0, 1] → the input's units, float32 (or ``dtype``: rounded and clipped)."""
        lo = self.lo[None, :, None, None]
        span = (self.hi - self.lo)[None, :, None, None]
        out = planes.astype(np.float64) * span + lo
        if dtype is None:
            return out.astype(np.float32)
        dtype = np.dtype(dtype)
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            out = np.clip(np.rint(out), info.min, info.max)
        elif dtype.kind == "b":
            out = out > 0.5
        return out.astype(dtype)


def resolve_output_dtype(output_dtype: str | np.dtype | None, input_dtype: np.dtype) -> np.dtype | None:
    """``None``/``"float32"`` → float32 output; ``"input"`` → the input's dtype; or an explicit dtype."""
    if output_dtype is None or output_dtype == "float32":
        return None
    if output_dtype == "input":
        return None if input_dtype == np.float32 else np.dtype(input_dtype)
    return np.dtype(output_dtype)
