"""Batch restoration: outputs, resume, failures, multi-page frames, dask, CLI."""

import json
import time

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

import napari_dip as nd
from _images import camera_crop
from napari_dip.batch import collect_tasks, read_frame
from napari_dip.cli import main

SETTINGS = {"channels": (8, 8, 8), "skip_channels": (2, 2, 2), "input_channels": 4, "iterations": 3,
            "device": "cpu"}


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    iio.imwrite(src / "a.png", camera_crop(24))
    tifffile.imwrite(src / "b.tif", camera_crop(28, 10, 10).astype(np.uint16) * 10)
    tifffile.imwrite(src / "stack.tif", np.stack([camera_crop(24, 40 * i, 60) for i in range(3)]),
                     photometric="minisblack")
    return src


def _by_name(results):
    return {r["path"].split("/")[-1] + ("" if r["frame"] is None else f"#{r['frame']}"): r
            for r in results}


def test_batch_writes_same_names_and_resumes(folder, tmp_path):
    (folder / "broken.tif").write_bytes(b"this is not a TIFF")
    out = tmp_path / "out"
    res = nd.batch(str(folder / "*"), out, **SETTINGS)
    r = _by_name(res)
    assert {k: v["status"] for k, v in r.items()} == {
        "a.png": "ok", "b.tif": "ok", "stack.tif": "ok", "broken.tif": "failed"}
    assert "TIFF" in r["broken.tif"]["error"]
    assert r["a.png"]["iterations"] == 3 and r["stack.tif"]["stopped_at"] == [3, 3, 3]
    assert r["b.tif"]["seconds"] > 0
    assert iio.imread(out / "a.png").shape == (24, 24)
    assert tifffile.imread(out / "b.tif").shape == (28, 28)
    assert tifffile.imread(out / "stack.tif").shape == (3, 24, 24)
    assert not (out / "broken.tif").exists() and not list(out.glob(".*partial*"))
    summary = json.loads((out / "batch-summary.json").read_text())
    assert (summary["ok"], summary["failed"]) == (3, 1) and len(summary["tasks"]) == 4

    # resume: finished outputs are skipped, the failed file is tried again
    before = (out / "a.png").stat().st_mtime_ns
    res = _by_name(nd.batch(str(folder / "*"), out, **SETTINGS))
    assert [res[k]["status"] for k in ("a.png", "b.tif", "stack.tif", "broken.tif")] == [
        "skipped", "skipped", "skipped", "failed"]
    assert (out / "a.png").stat().st_mtime_ns == before
    # a leftover partial file never counts as done
    (out / "b.tif").unlink()
    (out / ".b.partial.tif").write_bytes(b"half")
    assert _by_name(nd.batch(folder / "b.tif", out, **SETTINGS))["b.tif"]["status"] == "ok"


def test_multipage_tiff_frames(folder, tmp_path):
    with tifffile.TiffFile(folder / "stack.tif") as tf:
        assert len(tf.pages) == 3  # a real multi-page file, one page per frame
    tasks, problems = collect_tasks(folder / "stack.tif", tmp_path, frames=True)
    assert [t.frame for t in tasks] == [0, 1, 2] and not problems
    np.testing.assert_array_equal(read_frame(folder / "stack.tif", 1), camera_crop(24, 40, 60))
    out = tmp_path / "out"
    res = nd.batch([folder / "stack.tif", folder / "a.png"], out, frames=True, warm_start=True,
                   **SETTINGS)
    r = _by_name(res)
    assert [r[f"stack.tif#{i}"]["status"] for i in range(3)] == ["ok"] * 3
    assert r["a.png"]["status"] == "ok"
    stack = tifffile.imread(out / "stack.tif")  # frames stacked back under the input's name
    assert stack.shape == (3, 24, 24) and not (out / "stack.tif.frames").exists()
    summary = json.loads((out / "batch-summary.json").read_text())
    assert summary["assembled"][0]["output"].endswith("stack.tif")
    again = nd.batch(folder / "stack.tif", out, frames=True, **SETTINGS)
    assert {s["status"] for s in again} == {"skipped"}


def test_batch_on_local_dask_cluster(folder, tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "out"
    t0 = time.perf_counter()
    res = nd.batch(str(folder / "*.tif"), out, frames=True, workers=2, processes=True, **SETTINGS)
    assert time.perf_counter() - t0 < 60
    assert sorted(_by_name(res)) == ["b.tif", "stack.tif#0", "stack.tif#1", "stack.tif#2"]
    assert all(s["status"] == "ok" for s in res), res
    assert tifffile.imread(out / "stack.tif").shape == (3, 24, 24)
    assert (out / "b.tif").exists()
    summary = json.loads((out / "batch-summary.json").read_text())
    assert summary["workers"] == 2 and summary["settings"]["threads"] >= 1


def test_cli_batch(folder, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["batch", str(folder / "*.png"), "-o", str(out), "--no-dask", "--iterations", "3",
            "--set", "channels=[8,8,8]", "--set", "skip_channels=[2,2,2]", "--set", "input_channels=4",
            "--quiet"]
    assert main(args) == 0
    assert (out / "a.png").exists() and "1 restored" in capsys.readouterr().out
    assert main(args) == 0 and "1 skipped" in capsys.readouterr().out
    (folder / "c.png").write_bytes(b"broken")
    assert main(args) == 1  # a failure is reported in the exit status, the rest still done
    text = capsys.readouterr().out
    assert "failed: " in text and "c.png" in text


def test_batch_errors(folder, tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError):
        nd.batch(str(tmp_path / "nothing*.tif"), tmp_path / "out")
    with pytest.raises(ValueError, match="mask"):
        nd.batch(folder, tmp_path / "out", task="inpaint")
    with pytest.raises(ValueError, match="batch task"):
        nd.batch(folder, tmp_path / "out", task="fuse")
    import napari_dip.batch as b

    def no_dask():
        raise RuntimeError("Running a batch on dask needs dask.distributed")

    monkeypatch.setattr(b, "_import_distributed", no_dask)
    code = main(["batch", str(folder / "a.png"), "-o", str(tmp_path / "o"), "--scheduler",
                 "tcp://127.0.0.1:1"])
    assert code == 2


def test_cli_batch_axes_and_frames(tmp_path):
    """--axes names the files' axes; with --frames each T frame keeps its C, Y, X."""
    src = tmp_path / "in"
    src.mkdir()
    tcyx = np.stack([np.stack([camera_crop(20, 30 * t, 50), camera_crop(20, 30 * t, 90)])
                     for t in range(2)])  # (T=2, C=2, 20, 20): C=2 could pass for a tiny plane axis
    tifffile.imwrite(src / "tc.tif", tcyx, photometric="minisblack")
    base = ["-o", str(tmp_path / "out"), "--no-dask", "--iterations", "2", "--set", "channels=[8,8]",
            "--set", "skip_channels=[2,2]", "--set", "input_channels=4", "--quiet"]
    assert main(["batch", str(src / "tc.tif"), "--axes", "TCYX", "--frames", *base]) == 0
    out = tifffile.imread(tmp_path / "out" / "tc.tif")
    assert out.shape == tcyx.shape
    summary = json.loads((tmp_path / "out" / "batch-summary.json").read_text())
    assert [t["frame"] for t in summary["tasks"]] == [0, 1]
    assert summary["settings"]["axes"] == "CYX"
    # without --frames the whole stack is one task, restored plane by plane
    assert main(["batch", str(src / "tc.tif"), "--axes", "TCYX", "--tile", "0", *base[:1],
                 str(tmp_path / "whole"), *base[2:]]) == 0
    assert tifffile.imread(tmp_path / "whole" / "tc.tif").shape == tcyx.shape
    # axes that cannot be cut into frames are refused with the reason
    with pytest.raises(ValueError, match="Y and X must be the last"):
        nd.batch(src / "tc.tif", tmp_path / "bad", frames=True, axes="YXTC", **SETTINGS)


def test_batch_never_writes_over_its_inputs(folder, tmp_path):
    before = (folder / "b.tif").read_bytes()
    with pytest.raises(ValueError, match="replaced by its own output"):
        nd.batch(str(folder / "*.tif"), folder, overwrite=True, **SETTINGS)
    assert (folder / "b.tif").read_bytes() == before
    # a recursive pattern that also matches an earlier run's outputs (inside the input folder)
    out = folder / "restored"
    pattern = str(folder / "**" / "b.tif")
    assert _by_name(nd.batch(pattern, out, **SETTINGS))["b.tif"]["status"] == "ok"
    again = nd.batch(pattern, out, **SETTINGS)  # resumes: restored/b.tif is not a new input
    assert [(s["path"], s["status"]) for s in again] == [(str(folder / "b.tif"), "skipped")]


def _pixel_size(path):
    with tifffile.TiffFile(path) as tf:
        tags = tf.pages.first.tags
        x, y = tags["XResolution"].value, tags["YResolution"].value
        return x[0] / x[1], y[0] / y[1], (tf.imagej_metadata or {}).get("unit")


def test_pixel_size_is_kept_and_made_finer_by_super_resolution(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    # ImageJ-style: 0.25 µm pixels = 4 pixels per µm, the unit in the ImageJ description
    tifffile.imwrite(src / "ij.tif", camera_crop(24).astype(np.uint16), imagej=True,
                     resolution=(4.0, 4.0), metadata={"unit": "um"})
    # plain TIFF tags: 2000 pixels per cm
    tifffile.imwrite(src / "cm.tif", camera_crop(24, 30, 30), resolution=(2000.0, 2000.0),
                     resolutionunit="CENTIMETER")
    nd.batch(str(src / "*.tif"), tmp_path / "den", **SETTINGS)
    assert _pixel_size(tmp_path / "den" / "ij.tif") == (4.0, 4.0, "um")
    assert _pixel_size(tmp_path / "den" / "cm.tif")[:2] == (2000.0, 2000.0)
    with tifffile.TiffFile(tmp_path / "den" / "cm.tif") as tf:
        assert tf.pages.first.tags["ResolutionUnit"].value == 3  # centimetre
    nd.batch(str(src / "ij.tif"), tmp_path / "sr", task="sr", factor=2, **SETTINGS)
    assert tifffile.imread(tmp_path / "sr" / "ij.tif").shape == (48, 48)
    assert _pixel_size(tmp_path / "sr" / "ij.tif") == (8.0, 8.0, "um")  # 0.125 µm pixels
    # the single-image command keeps it too
    out = tmp_path / "one.tif"
    assert main(["denoise", str(src / "ij.tif"), "-o", str(out), "--iterations", "2", "--set",
                 "channels=[8,8,8]", "--set", "skip_channels=[2,2,2]", "--set", "input_channels=4",
                 "--quiet"]) == 0
    assert _pixel_size(out) == (4.0, 4.0, "um")
