"""Reading and writing images for the command line (TIFF via tifffile, PNG/JPEG via imageio)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TIFF_SUFFIXES = (".tif", ".tiff")


def read_image(path: str | Path) -> np.ndarray:
    """Read a TIFF (any dtype, any number of pages/axes) or a PNG/JPEG/BMP file."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"No such file: {p}")
    if p.suffix.lower() in TIFF_SUFFIXES:
        import tifffile

        return tifffile.imread(p)
    import imageio.v3 as iio

    return np.asarray(iio.imread(p))


def write_image(path: str | Path, image: np.ndarray, like_dtype: np.dtype | None = None) -> Path:
    """Write ``image``; TIFF keeps float32, PNG needs uint8/uint16 (converted, clipped, rounded)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    arr = np.asarray(image)
    if p.suffix.lower() in TIFF_SUFFIXES:
        import tifffile

        tifffile.imwrite(p, arr, photometric="rgb" if arr.ndim == 3 and arr.shape[-1] in (3, 4)
                         else "minisblack")
        return p
    import imageio.v3 as iio

    if arr.dtype not in (np.uint8, np.uint16):
        dtype = like_dtype if like_dtype in (np.uint8, np.uint16) else np.uint8
        top = np.iinfo(dtype).max
        if like_dtype not in (np.uint8, np.uint16):  # float data: stretch [min, max] to the range
            lo, hi = float(arr.min()), float(arr.max())
            arr = (arr - lo) / ((hi - lo) or 1.0) * top
        arr = np.clip(np.rint(arr), 0, top).astype(dtype)
    iio.imwrite(p, arr)
    return p
