"""Atomic writes: complete files with ordinary permissions, and no trace of a failed write."""

import os
import stat

import numpy as np
import pytest

from qmarl_envs import fileio


def test_json_written_whole_with_ordinary_permissions(tmp_path):
    path = fileio.atomic_write_json(tmp_path / "sub" / "a.json", {"x": [1, 2]})
    assert path.read_text() == '{\n  "x": [\n    1,\n    2\n  ]\n}\n'
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.json"
    fileio.atomic_write_json(path, {"v": 1})
    with pytest.raises(TypeError):
        fileio.atomic_write_json(path, {"v": object()})
    with pytest.raises(ValueError):
        fileio.atomic_write_json(path, {"v": float("nan")})
    with pytest.raises(RuntimeError):
        with fileio.atomic_path(path) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("interrupted")
    assert path.read_text() == '{\n  "v": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_default_converts_numpy_values(tmp_path):
    path = fileio.atomic_write_json(tmp_path / "b.json", {"v": np.float32(0.5)}, default=float)
    assert path.read_text().strip().endswith("0.5\n}")


def test_savefig_writes_a_png_closes_the_figure_and_keeps_the_old_file_on_failure(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = fileio.atomic_savefig(fig, tmp_path / "c.png", dpi=20)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)
    old = path.read_bytes()
    fig2, _ = plt.subplots()
    with pytest.raises(TypeError):
        fileio.atomic_savefig(fig2, path, no_such_option=1)
    assert path.read_bytes() == old and not plt.fignum_exists(fig2.number)
    assert [p.name for p in tmp_path.iterdir()] == ["c.png"]
