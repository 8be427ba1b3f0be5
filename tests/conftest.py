"""Shared test setup.

torch is imported before any Qt library is loaded: loading it after Qt's OpenGL/system libraries can
pick incompatible shared libraries (and crashes on some systems).
"""

from __future__ import annotations

import pytest
import torch  # noqa: F401  (must come before Qt)


@pytest.fixture(autouse=True)
def _isolated_widget_settings(tmp_path, monkeypatch):
    """Keep the napari widgets' saved settings out of the user's configuration directory."""
    monkeypatch.setenv("NAPARI_DIP_SETTINGS_DIR", str(tmp_path / "napari-dip-settings"))
