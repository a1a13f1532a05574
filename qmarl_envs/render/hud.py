"""Status text of a running env, and a caption strip drawn under recorded frames.

pygame (for its bundled font) is imported lazily, inside :class:`CaptionRenderer`, and only its font
module is used: captions need no display.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

CAPTION_BG = (30, 31, 36)
"""Background of the caption strip and of the window's status bar (RGB)."""
CAPTION_FG = (236, 236, 236)
"""Status text colour (RGB)."""
HINT_FG = (150, 152, 160)
"""Key-hint text colour (RGB)."""


def import_pygame():
    """Import pygame without its start-up banner.

    Returns:
        the ``pygame`` module.

    Raises:
        RuntimeError: if pygame is not installed.
    """
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame
    except ImportError as e:  # pragma: no cover - pygame is a dependency
        raise RuntimeError("rendering text or windows needs pygame: pip install pygame") from e
    return pygame


def running_score(env: Any) -> float | None:
    """The scenario's episode score as if the episode ended now (mean over agents if per agent).

    Args:
        env: a :class:`~qmarl_envs.api.parallel.GridParallelEnv` (or a wrapper of one).

    Returns:
        the score, or ``None`` before the first reset.
    """
    base = getattr(env, "unwrapped", env)
    if base.grid_state is None:
        return None
    summary = base.episode_summary()
    if summary is None:
        summary = base.scenario.episode_summary(base.grid_state, base.returns())
    score = summary.get("score", 0.0)
    return float(np.mean(score)) if np.ndim(score) else float(score)


def status_line(env: Any) -> str:
    """One line for the window and captions: step, live agents and running score.

    Args:
        env: a :class:`~qmarl_envs.api.parallel.GridParallelEnv` (or a wrapper of one).

    Returns:
        e.g. ``"step 12/100 · live 3/4 · score -40.00"``; ``"not started"`` before the first reset.
    """
    base = getattr(env, "unwrapped", env)
    st = base.grid_state
    if st is None:
        return "not started"
    live = base.alive_mask()
    score = running_score(base)
    shown = f"{score:.1f}" if abs(score) >= 100 else f"{score:.2f}"
    return f"step {st.step}/{base.scenario.max_cycles} · live {int(live.sum())}/{live.size} · score {shown}"


class CaptionRenderer:
    """Draws a line of text into a strip of pixels (pygame's font; no display needed).

    Args:
        size: font size in pixels (the strip is about ``1.4 * size`` tall).

    Raises:
        ValueError: if ``size`` is not a positive int.
        RuntimeError: if pygame is not installed.
    """

    def __init__(self, size: int = 22):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size: expected a positive int (pixels), got {size!r}")
        pg = import_pygame()
        if not pg.font.get_init():
            pg.font.init()
        self._pg = pg
        self._size = size
        self._fonts: dict[int, Any] = {}

    @property
    def height(self) -> int:
        """Height in pixels of the strips this renderer draws."""
        return int(round(self._size * 1.4)) + 2

    def _font(self, size: int):
        if size not in self._fonts:
            self._fonts[size] = self._pg.font.Font(None, size)
        return self._fonts[size]

    def text_surface(self, text: str, width: int, colour=CAPTION_FG, size: int | None = None):
        """A pygame surface of ``text``, with the font shrunk (down to 10 px) to fit ``width``."""
        size = self._size if size is None else size
        while True:
            surf = self._font(size).render(text, True, colour)
            if surf.get_width() <= width or size <= 10:
                return surf
            size -= 2

    def strip(self, width: int, text: str) -> np.ndarray:
        """Text on a dark strip.

        Args:
            width: strip width in pixels.
            text: one line; shrunk to fit, then clipped at the right.

        Returns:
            ``uint8 (height, width, 3)`` RGB pixels.

        Raises:
            ValueError: if ``width`` is not positive.
        """
        if width < 1:
            raise ValueError(f"width: expected a positive number of pixels, got {width}")
        pg = self._pg
        surf = pg.Surface((width, self.height))
        surf.fill(CAPTION_BG)
        t = self.text_surface(text, width - 12)
        surf.blit(t, (6, (self.height - t.get_height()) // 2))
        return pg.surfarray.array3d(surf).swapaxes(0, 1).copy()

    def captioned(self, frame: np.ndarray, text: str) -> np.ndarray:
        """``frame`` (``uint8 (H, W, 3)``) with a caption strip appended below: ``(H + height, W, 3)``."""
        return np.concatenate([frame, self.strip(frame.shape[1], text)], axis=0)
