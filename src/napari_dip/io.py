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


def read_pixel_size(path: str | Path) -> dict | None:
    """A TIFF's pixel size, to write it back with :func:`write_image`: ``{"resolution": (x, y)
    pixels per unit, "resolutionunit": TIFF unit code, "unit": ImageJ unit name or None}``; None
    for other formats or a TIFF without resolution tags."""
    p = Path(path)
    if p.suffix.lower() not in TIFF_SUFFIXES or not p.is_file():
        return None
    import tifffile

    with tifffile.TiffFile(p) as tf:
        tags = tf.pages.first.tags
        x, y = tags.get("XResolution"), tags.get("YResolution")
        if x is None or y is None or not x.value[1] or not y.value[1]:
            return None
        unit = tags.get("ResolutionUnit")
        return {"resolution": (x.value[0] / x.value[1], y.value[0] / y.value[1]),
                "resolutionunit": int(unit.value) if unit is not None else 2,  # TIFF default: inch
                "unit": (tf.imagej_metadata or {}).get("unit")}


def finer_pixel_size(size: dict | None, factor: int) -> dict | None:
    """The pixel size ``factor`` times finer (a super-resolved output): factor× pixels per unit."""
    if not size:
        return size
    x, y = size["resolution"]
    return {**size, "resolution": (x * factor, y * factor)}


def write_image(path: str | Path, image: np.ndarray, like_dtype: np.dtype | None = None,
                pixel_size: dict | None = None) -> Path:
    """Write ``image``; TIFF keeps float32, PNG needs uint8/uint16 (converted, clipped, rounded).
    ``pixel_size`` (from :func:`read_pixel_size`) goes into a TIFF's resolution tags, and its
    ImageJ unit into ImageJ metadata where ImageJ's format can hold the array."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    arr = np.asarray(image)
    if p.suffix.lower() in TIFF_SUFFIXES:
        import tifffile

        kw: dict = {"photometric": "rgb" if arr.ndim == 3 and arr.shape[-1] in (3, 4) else "minisblack"}
        if pixel_size:
            kw.update(resolution=tuple(pixel_size["resolution"]),
                      resolutionunit=pixel_size["resolutionunit"])
            if pixel_size.get("unit"):
                try:  # Fiji reads the unit from the ImageJ description, not the TIFF tag
                    tifffile.imwrite(p, arr, imagej=True, metadata={"unit": pixel_size["unit"]}, **kw)
                    return p
                except ValueError:  # a dtype or layout ImageJ cannot hold: the tags alone
                    pass
        tifffile.imwrite(p, arr, **kw)
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
