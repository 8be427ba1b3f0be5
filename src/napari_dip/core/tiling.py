"""Overlapping tiles for planes too large to fit in memory at once.

A DIP network's activations grow with the number of pixels (about 1.3 kB per output pixel for the
``fast`` preset; see docs/benchmarks.md), so a very large plane is cut into overlapping tiles, each
tile is restored on its own, and the tiles are blended back with weights that ramp smoothly from
~0 to 1 across every overlap with a neighbour. The blend is a normalised weighted sum, so where
tiles agree the result equals each of them and where they differ the transition is smooth: no
visible seam. NumPy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Tile", "TileGrid", "plan_tiles"]


@dataclass(frozen=True)
class Tile:
    """One tile: rows ``y0:y1`` and columns ``x0:x1`` of the input plane."""

    y0: int
    y1: int
    x0: int
    x1: int

    def slices(self, factor: int = 1) -> tuple[slice, slice]:
        """Row and column slices of this tile on a grid ``factor`` times finer (SR output)."""
        return (slice(self.y0 * factor, self.y1 * factor), slice(self.x0 * factor, self.x1 * factor))


def _axis_starts(length: int, tile: int, overlap: int, multiple: int = 1) -> list[tuple[int, int]]:
    """Fewest tiles of at most ``tile`` pixels covering ``length`` with >= ``overlap`` overlap,
    all of (nearly) equal size so no tile is a thin sliver. The size is rounded up to a
    ``multiple`` where that stays within ``tile``: a network that pads its input to a multiple of
    32 then spends the padding's work on a wider overlap instead (more of the plane is seen by
    two tiles and averaged)."""
    if length <= tile:
        return [(0, length)]
    n = math.ceil((length - overlap) / (tile - overlap))
    size = math.ceil((length + (n - 1) * overlap) / n)
    if multiple > 1 and math.ceil(size / multiple) * multiple <= tile:
        size = math.ceil(size / multiple) * multiple
    starts = [round(i * (length - size) / (n - 1)) for i in range(n)]
    return [(s, s + size) for s in starts]


@dataclass(frozen=True)
class TileGrid:
    """Tiles covering an ``(H, W)`` input plane, and how to blend their outputs.

    ``factor`` is the output's scale relative to the input (super-resolution); tiles are cut on
    the input grid so every output tile covers whole input pixels.
    """

    shape: tuple[int, int]
    tiles: tuple[Tile, ...]
    overlap: int
    factor: int = 1

    def __len__(self) -> int:
        return len(self.tiles)

    @property
    def out_shape(self) -> tuple[int, int]:
        return self.shape[0] * self.factor, self.shape[1] * self.factor

    def weight(self, tile: Tile) -> np.ndarray:
        """Blending weight of ``tile`` on the output grid, (h, w) float32 in (0, 1].

        A raised-cosine ramp over ``overlap`` output pixels on every side that has a neighbour;
        flat (1) on sides at the image border.
        """
        h, w = self.shape
        ov = self.overlap * self.factor
        rows = _ramp((tile.y1 - tile.y0) * self.factor, ov, tile.y0 > 0, tile.y1 < h)
        cols = _ramp((tile.x1 - tile.x0) * self.factor, ov, tile.x0 > 0, tile.x1 < w)
        return np.outer(rows, cols).astype(np.float32)

    def blend(self, outputs: list[np.ndarray | None]) -> np.ndarray:
        """Blend per-tile outputs ``(C, h, w)`` into one ``(C, H·factor, W·factor)`` plane.

        ``None`` entries (tiles never restored) are left out; pixels no tile covers are NaN.
        """
        if len(outputs) != len(self.tiles):
            raise ValueError(f"{len(outputs)} tile outputs for {len(self.tiles)} tiles")
        acc = den = None
        for tile, out in zip(self.tiles, outputs, strict=True):
            if out is None:
                continue
            if acc is None:
                acc = np.zeros((out.shape[0], *self.out_shape), np.float32)
                den = np.zeros(self.out_shape, np.float32)
            ys, xs = tile.slices(self.factor)
            wt = self.weight(tile)
            acc[:, ys, xs] += out * wt
            den[ys, xs] += wt
        if acc is None:
            raise ValueError("no tile output to blend")
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, acc / np.maximum(den, 1e-12), np.nan).astype(np.float32)


def _ramp(n: int, overlap: int, low_neighbour: bool, high_neighbour: bool) -> np.ndarray:
    r = np.ones(n, np.float64)
    k = min(overlap, n // 2)
    if k > 0:
        # never exactly 0, so a pixel covered by one tile alone keeps a defined value
        up = 0.5 - 0.5 * np.cos(np.pi * (np.arange(k) + 0.5) / k)
        if low_neighbour:
            r[:k] = np.minimum(r[:k], up)
        if high_neighbour:
            r[n - k:] = np.minimum(r[n - k:], up[::-1])
    return r


def plan_tiles(shape: tuple[int, int], tile: int, overlap: int, factor: int = 1,
               multiple: int = 1) -> TileGrid:
    """Tiles for an input plane of ``shape``, each at most ``tile`` output pixels a side.

    Parameters
    ----------
    shape : (H, W)
        Input plane size (the low-resolution size for super-resolution).
    tile : int
        Largest tile side in output pixels; 0 means never tile (one tile, the whole plane).
    overlap : int
        Overlap between neighbouring tiles in output pixels (blended).
    factor : int
        Output pixels per input pixel (super-resolution factor; 1 otherwise).
    multiple : int
        Output tile sides are rounded up to a multiple of this where they stay within ``tile``
        (the network's padding multiple, see :attr:`napari_dip.core.networks.Generator`): the
        overlap grows instead of the padding.
    """
    h, w = (int(s) for s in shape)
    if tile <= 0 or max(h, w) * factor <= tile:
        return TileGrid((h, w), (Tile(0, h, 0, w),), 0, factor)
    t_in = max(tile // factor, 1)
    ov_in = max(math.ceil(overlap / factor), 0)
    if ov_in >= t_in // 2:
        raise ValueError(f"tile overlap ({overlap} px) must be under half the tile side ({tile} px).")
    m_in = max(1, multiple // math.gcd(multiple, factor))  # input pixels per output multiple
    rows = _axis_starts(h, t_in, ov_in, m_in)
    cols = _axis_starts(w, t_in, ov_in, m_in)
    tiles = tuple(Tile(y0, y1, x0, x1) for y0, y1 in rows for x0, x1 in cols)
    return TileGrid((h, w), tiles, ov_in, factor)
