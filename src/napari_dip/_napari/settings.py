"""Widget settings: preset values, the advanced fields, and persistence between sessions.

Settings are stored as JSON in the user configuration directory (``platformdirs``), one entry per
task; set ``NAPARI_DIP_SETTINGS_DIR`` to store them elsewhere (the tests do).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from ..core.options import REFINE_TASKS

#: Config fields shown in the folded "Advanced" section, in display order.
ADVANCED_FIELDS = ("network", "channels", "iterations", "lr", "reg_noise_std", "ema", "loss", "refine",
                   "stop", "stop_patience", "min_iterations", "preview_every", "seed", "precision", "tile")
#: Advanced fields that only some tasks show.
TASK_ONLY_FIELDS = {"refine": tuple(dict.fromkeys(t for ts in REFINE_TASKS.values() for t in ts))}

PRESET_CHOICES = ("fast", "paper", "custom")
STACK_MODES = ("current plane", "all planes", "all planes, warm start")


def settings_file() -> Path:
    """Where the widget settings live (created on first save)."""
    folder = os.environ.get("NAPARI_DIP_SETTINGS_DIR")
    if not folder:
        from platformdirs import user_config_dir

        folder = user_config_dir("napari-dip", appauthor=False)
    return Path(folder) / "widgets.json"


def load_all() -> dict[str, dict[str, Any]]:
    path = settings_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load(task: str) -> dict[str, Any]:
    """Saved settings of ``task`` (empty when none were saved or the file is unreadable)."""
    entry = load_all().get(task)
    return entry if isinstance(entry, dict) else {}


def save(task: str, values: dict[str, Any]) -> None:
    """Store ``values`` for ``task``; failures (read-only home, ...) are ignored."""
    path = settings_file()
    data = load_all()
    data[task] = values
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass


def preset_fields(preset: str, task: str, mode: str | None = None) -> dict[str, Any]:
    """The advanced-field values of ``preset`` for ``task`` (in ``mode``), as the widgets show them."""
    from ..core.config import Config  # imports torch: only called once a widget exists

    cfg = Config.preset(preset, task, mode)
    return config_to_fields(cfg.to_dict())


def config_to_fields(d: dict[str, Any]) -> dict[str, Any]:
    out = {k: d[k] for k in ADVANCED_FIELDS if k in d}
    out["channels"] = format_channels(d.get("channels", ()))
    out["seed"] = -1 if d.get("seed") is None else int(d["seed"])
    return out


def format_channels(channels) -> str:
    return ", ".join(str(int(c)) for c in channels)


def parse_channels(text: str) -> tuple[int, ...]:
    """``"32, 32, 32"`` → ``(32, 32, 32)``; a single ``"16x4"`` means four scales of 16."""
    text = str(text).strip().lower().replace(";", ",")
    if "x" in text and "," not in text:
        width, depth = text.split("x", 1)
        return (int(width),) * int(depth)
    parts = [p for p in text.replace(" ", ",").split(",") if p]
    if not parts:
        raise ValueError("channels is empty; give one width per scale, e.g. 32, 32, 32, 32, 32.")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"channels must be whole numbers separated by commas; got {text!r}.") from None
    if min(values) < 1:
        raise ValueError(f"channels must be positive; got {text!r}.")
    return values


def fields_to_overrides(fields: dict[str, Any], preset_skip: tuple[int, ...]) -> dict[str, Any]:
    """Advanced-field values → ``Config`` overrides (channels parsed; seed -1 → a seed drawn now,
    so the result's settings say which one it was)."""
    out = dict(fields)
    out["channels"] = parse_channels(fields["channels"])
    if len(preset_skip) not in (1, len(out["channels"])):
        out["skip_channels"] = (preset_skip[0],)
    out["seed"] = secrets.randbelow(2**31) if int(fields["seed"]) < 0 else int(fields["seed"])
    return out
