"""Recording rollouts to GIF or MP4 (imageio; MP4 through imageio-ffmpeg), written atomically.

:class:`VideoWriter` streams frames to a temporary file next to the target and renames it into
place on :meth:`~VideoWriter.close`, so a crash never leaves a half-written video under the real
name. :class:`RecordVideo` wraps a PettingZoo parallel env and records every ``reset`` and ``step``::

    import qmarl_envs
    from qmarl_envs.render.record import RecordVideo

    with RecordVideo(qmarl_envs.make("qmarl/Jungle-v0"), "jungle.mp4", fps=5) as env:
        obs, infos = env.reset(seed=0)
        while env.agents:
            obs, *_ = env.step({a: env.action_space(a).sample() for a in env.agents})

Frames are the full map (:func:`~qmarl_envs.render.raster.render_env`), with a caption strip giving
step, live agents and running score. GIF encoders merge a frame identical to the one before it into
a single longer frame; the caption's step counter keeps every step distinct.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from pettingzoo.utils.wrappers import BaseParallelWrapper

from qmarl_envs import fileio
from qmarl_envs.render.hud import CAPTION_BG, CaptionRenderer, status_line
from qmarl_envs.render.raster import render_env

VIDEO_SUFFIXES = (".gif", ".mp4")


def check_video_path(path: str | os.PathLike, what: str = "path") -> Path:
    """Validate a video output path.

    Args:
        path: the file to write; its suffix picks the format (``.gif`` or ``.mp4``).
        what: the argument name used in error messages.

    Returns:
        the path as a :class:`~pathlib.Path`.

    Raises:
        ValueError: for another suffix, or a path that is an existing directory.
    """
    p = Path(path)
    if p.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"{what}: expected a file ending in .gif or .mp4, got {str(path)!r}")
    if p.is_dir():
        raise ValueError(f"{what}: {str(path)!r} is a directory; expected a .gif or .mp4 file name")
    return p


class VideoWriter:
    """Streams ``uint8 (H, W, 3)`` frames into a GIF or MP4 file, atomically.

    The frame size is fixed by the first frame. MP4 frames are padded by one pixel where a side is
    odd (H.264 with ``yuv420p`` needs even sides). Use it as a context manager, or call
    :meth:`close` (keep the file) or :meth:`abort` (discard it).

    Args:
        path: target file; ``.gif`` or ``.mp4``. Missing parent directories are created.
        fps: playback rate in frames per second.

    Attributes:
        path: the target path.
        fps: frames per second.
        frames: number of frames appended so far.

    Raises:
        ValueError: for a bad ``path`` suffix or a non-positive ``fps``.
    """

    def __init__(self, path: str | os.PathLike, fps: float = 5.0):
        self.path = check_video_path(path)
        if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)) or not fps > 0:
            raise ValueError(f"fps: expected a positive number of frames per second, got {fps!r}")
        self.fps = float(fps)
        self.frames = 0
        self._shape: tuple[int, ...] | None = None
        self._writer = None
        self._tmp: Path | None = None
        self._done = False
        self._written = False

    @property
    def format(self) -> str:
        """``"gif"`` or ``"mp4"``."""
        return self.path.suffix.lower()[1:]

    def _open(self) -> None:
        import imageio.v2 as iio

        self.path.parent.mkdir(parents=True, exist_ok=True)
        # a hidden sibling with the same suffix (imageio picks the format from it), created with the
        # default permissions, then renamed over the target by close()
        self._tmp = fileio.temp_path(self.path)
        if self.format == "gif":
            self._writer = iio.get_writer(self._tmp, mode="I", duration=1000.0 / self.fps, loop=0)
        else:
            try:
                import imageio_ffmpeg  # noqa: F401
            except ImportError as e:
                self._tmp.unlink(missing_ok=True)
                raise RuntimeError("writing .mp4 needs imageio-ffmpeg: pip install imageio-ffmpeg") from e
            self._writer = iio.get_writer(self._tmp, format="FFMPEG", mode="I", fps=self.fps, codec="libx264",
                                          pixelformat="yuv420p", macro_block_size=1, quality=8,
                                          ffmpeg_log_level="error")

    def append(self, frame: np.ndarray) -> None:
        """Add one frame.

        Args:
            frame: ``uint8 (H, W, 3)`` RGB; every frame must have the first frame's shape.

        Raises:
            ValueError: for a wrong dtype or shape.
            RuntimeError: after :meth:`close` or :meth:`abort`.
        """
        if self._done:
            raise RuntimeError("append() called after close()/abort(); open a new VideoWriter")
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame: expected uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        if self._shape is None:
            self._shape = frame.shape
            self._open()
        elif frame.shape != self._shape:
            raise ValueError(f"frame: expected shape {self._shape} like the first frame, got {frame.shape}")
        if self.format == "mp4" and (frame.shape[0] % 2 or frame.shape[1] % 2):
            h, w = frame.shape[0] + frame.shape[0] % 2, frame.shape[1] + frame.shape[1] % 2
            padded = np.empty((h, w, 3), np.uint8)
            padded[:] = CAPTION_BG
            padded[:frame.shape[0], :frame.shape[1]] = frame
            frame = padded
        self._writer.append_data(frame)
        self.frames += 1

    def close(self) -> Path:
        """Finish the file and move it to :attr:`path`.

        Returns:
            the written path.

        Raises:
            RuntimeError: if no frame was appended (nothing is written), or after :meth:`abort`.
        """
        if self._done:
            if self._written:
                return self.path
            raise RuntimeError("close() called after abort(); nothing was written")
        if self._writer is None:
            self._done = True
            raise RuntimeError(f"close(): no frame was appended; {str(self.path)!r} was not written")
        try:
            self._writer.close()
            fileio.commit(self._tmp, self.path)
            self._written = True
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        finally:
            self._done = True
        return self.path

    def abort(self) -> None:
        """Stop and delete the temporary file; :attr:`path` is left as it was."""
        if self._done:
            return
        self._done = True
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # noqa: BLE001 - the file is discarded anyway
                pass
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and self.frames:
            self.close()
        else:
            self.abort()


def _base_env(env: Any):
    base = getattr(env, "unwrapped", env)
    if not (hasattr(base, "grid_state") and hasattr(base, "scenario")):
        raise ValueError(f"env: expected a qmarl grid env (qmarl_envs.make(...)), got {type(env).__name__}")
    return base


class RecordVideo(BaseParallelWrapper):
    """Records a PettingZoo parallel qmarl env to one GIF or MP4, like Gymnasium's ``RecordVideo``.

    Every ``reset`` and ``step`` appends the full-map frame (any ``render_mode``, also ``None``),
    across episodes, until :meth:`close`, which writes the file atomically (temporary file plus
    rename) and closes the env. Used as a context manager, an exception discards the recording.

    Args:
        env: a parallel env from :func:`qmarl_envs.make` (possibly wrapped).
        path: ``.gif`` or ``.mp4`` file to write.
        fps: playback rate; ``None`` uses ``env.metadata["render_fps"]``.
        caption: add a strip under each frame with step, live agents and running score.
        cell: pixels per map cell; ``None`` adapts it to the map.

    Attributes:
        writer: the :class:`VideoWriter` (``writer.frames`` counts the frames so far).

    Raises:
        ValueError: for an env that is not a qmarl grid env, a bad ``path`` or ``fps``.
    """

    def __init__(self, env: Any, path: str | os.PathLike, fps: float | None = None, *, caption: bool = True,
                 cell: int | None = None):
        super().__init__(env)
        self._base = _base_env(env)
        self.writer = VideoWriter(path, self._base.metadata.get("render_fps", 5) if fps is None else fps)
        self._caption = CaptionRenderer() if caption else None
        self._cell = cell
        self._closed = False

    @property
    def path(self) -> Path:
        """The file the recording is written to on :meth:`close`."""
        return self.writer.path

    def capture(self) -> None:
        """Append the current frame (``reset`` and ``step`` call this)."""
        frame = render_env(self._base, cell=self._cell)
        if self._caption is not None:
            frame = self._caption.captioned(frame, status_line(self._base))
        self.writer.append(frame)

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Reset the env and record the first frame; returns ``(observations, infos)``."""
        out = self.env.reset(seed=seed, options=options)
        self.capture()
        return out

    def step(self, actions):
        """Step the env and record the frame; returns the env's 5-tuple."""
        out = self.env.step(actions)
        self.capture()
        return out

    def close(self) -> None:
        """Write the video (if any frame was recorded) and close the env."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.writer.frames:
                self.writer.close()
            else:
                self.writer.abort()
        finally:
            self.env.close()

    def discard(self) -> None:
        """Close the env without writing the video."""
        if not self._closed:
            self._closed = True
            self.writer.abort()
            self.env.close()

    def __enter__(self) -> "RecordVideo":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()
