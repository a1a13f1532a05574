"""Atomic file writes shared by every writer in qmarl (checkpoints, submissions, frames, results).

A file is written to a temporary name in its target directory, flushed, given ordinary permissions
(``0o666`` minus the process umask, like ``open()``), and moved into place with ``os.replace``, so a
reader sees either the old file or the complete new one, never a partial write.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def temp_path(path: str | os.PathLike) -> Path:
    """A fresh temporary name beside ``path`` (same directory and suffix, hidden, unique).

    Creates missing parent directories.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{path.suffix}")


def commit(tmp: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Give ``tmp`` ordinary permissions and move it onto ``path`` atomically; returns ``path``."""
    os.chmod(tmp, _file_mode())
    os.replace(tmp, path)
    return Path(path)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Context manager yielding a temporary path to write; on success it replaces ``path``, on an
    exception the temporary file is removed and ``path`` is left as it was."""
    tmp = temp_path(path)
    try:
        yield tmp
        commit(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path written."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int = 2,
                      default: Callable[[Any], Any] | None = None) -> Path:
    """Write ``obj`` as JSON (NaN and infinity rejected) with :func:`atomic_write_bytes`.

    Raises:
        TypeError: if ``obj`` is not JSON-serialisable (nothing is written).
        ValueError: if ``obj`` holds NaN or infinity (nothing is written).
    """
    text = json.dumps(obj, indent=indent, allow_nan=False, default=default)
    return atomic_write_bytes(path, (text + "\n").encode())


def atomic_savefig(fig: Any, path: str | os.PathLike, **savefig_kwargs: Any) -> Path:
    """Render a matplotlib figure to PNG in memory and write it with :func:`atomic_write_bytes`,
    then close the figure (``savefig_kwargs`` go to ``Figure.savefig``, e.g. ``dpi``).

    Returns:
        the path written.
    """
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", **savefig_kwargs)
    finally:
        plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
