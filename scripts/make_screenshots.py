"""Screenshots of the real plugin widgets on the sample data, for docs/guide.

Run under a virtual display:

    xvfb-run -a python scripts/make_screenshots.py [--iterations 150] [--only denoise,super-resolution]

Each task opens its sample (File > Open Sample > napari-dip), docks its widget from the manifest,
runs a short restoration with the fast preset (fewer iterations than a real run, so the script
finishes in a few minutes on a CPU) and saves ``docs/images/<task>.png`` of the whole window.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch  # noqa: F401  (import before Qt)

OUT = Path(__file__).resolve().parents[1] / "docs" / "images"
MAX_BYTES = 300_000

# task key: (widget name, sample key, image layer, extra setup)
TASKS = {
    "denoise": ("Denoise", "noisy", "cameraman (noisy σ=25)", {"reference": "cameraman (clean)"}),
    "inpaint": ("Inpaint", "masked", "chelsea (damaged)", {"mask": "defects"}),
    "super-resolution": ("Super-resolution", "lowres", "astronaut (low-res ×4)", {"factor": 4}),
    "deblur": ("Deblur", "blurred", "coins (blurred, σ=2)", {"sigma": 2.0}),
    "fuse": ("Fuse", "pair", "hematoxylin", {"second": "DAB"}),
}


def process(app, seconds: float = 0.0) -> None:
    end = time.perf_counter() + seconds
    while True:
        app.processEvents()
        if time.perf_counter() >= end:
            break
        time.sleep(0.02)


def save_png(array, path: Path) -> None:
    from PIL import Image

    img = Image.fromarray(array[..., :3])
    img.save(path, optimize=True)
    while path.stat().st_size > MAX_BYTES:  # keep the repository light
        img = img.resize((int(img.width * 0.85), int(img.height * 0.85)), Image.LANCZOS)
        img.save(path, optimize=True)


def shoot(task: str, iterations: int) -> Path:
    import napari
    from qtpy.QtWidgets import QApplication

    widget_name, sample, image_name, extra = TASKS[task]
    viewer = napari.Viewer(title=f"napari-dip: {widget_name}")
    app = QApplication.instance()
    viewer.window.resize(1500, 940)
    viewer.open_sample("napari-dip", sample)
    _dock, w = viewer.window.add_plugin_dock_widget("napari-dip", widget_name)
    w.reset_settings()
    w.reset_choices()
    w.image.value = viewer.layers[image_name]
    if "reference" in extra:
        w.reference.value = viewer.layers[extra["reference"]]
    if "mask" in extra:
        w.mask.value = viewer.layers[extra["mask"]]
    if "factor" in extra:
        w.factor.value = extra["factor"]
    if "sigma" in extra:
        w.sigma.value = extra["sigma"]
    if "second" in extra:
        w.reset_choices()
        w.second.value = viewer.layers[extra["second"]]
    w.advanced["iterations"].value = iterations
    w.advanced["preview_every"].value = 10
    if task in ("denoise", "super-resolution"):  # tasks with a step after the fit: show its field
        w.advanced_section.expand(animate=False)
    process(app, 0.5)
    if not w.start():
        raise SystemExit(f"{task}: the widget refused to run: {w.status.text()}")
    while w.running:
        process(app, 0.2)
    for layer in viewer.layers:  # show input and result side by side
        if layer.name.endswith("(clean)") or layer.name.endswith("(sharp)"):
            layer.visible = False
    viewer.grid.enabled = True
    process(app, 0.3)
    viewer.reset_view()
    process(app, 0.5)
    path = OUT / f"{task}.png"
    save_png(viewer.screenshot(canvas_only=False, flash=False), path)
    print(f"{path} ({path.stat().st_size // 1024} KB): {w.status.text()}")
    viewer.close()
    process(app, 0.2)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--only", default="", help="comma-separated task names")
    args = parser.parse_args()
    # fresh default settings, leaving the user's saved ones alone
    os.environ.setdefault("NAPARI_DIP_SETTINGS_DIR", tempfile.mkdtemp(prefix="napari-dip-shots-"))
    OUT.mkdir(parents=True, exist_ok=True)
    tasks = [t for t in TASKS if not args.only or t in args.only.split(",")]
    for task in tasks:
        shoot(task, args.iterations)


if __name__ == "__main__":
    main()
