"""Small test images from scikit-image's bundled data (nothing downloaded)."""

import numpy as np
from skimage import data


def camera_crop(size: int = 96, y: int = 100, x: int = 100) -> np.ndarray:
    return np.ascontiguousarray(data.camera()[y:y + size, x:x + size])


def astronaut_crop(size: int = 64) -> np.ndarray:
    return np.ascontiguousarray(data.astronaut()[30:30 + size, 150:150 + size])


# a tiny network and budget for behaviour tests (quality tests use the real presets)
TINY = {"channels": (8, 8, 8), "skip_channels": (2, 2, 2), "input_channels": 4, "iterations": 5,
        "preview_every": 2}
