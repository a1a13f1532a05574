"""pygame window for ``render_mode="human"``. pygame is imported here only, lazily."""

from __future__ import annotations

import numpy as np


class HumanWindow:
    """Shows frames in a pygame window at ``fps`` with a status line underneath.

    Args:
        title: window caption.
        fps: frames per second the window waits for between frames.

    Raises:
        RuntimeError: if pygame is not installed.
    """

    STATUS_PX = 22

    def __init__(self, title: str = "qmarl", fps: int = 5):
        try:
            import pygame
        except ImportError as e:  # pragma: no cover - pygame is a dependency
            raise RuntimeError("render_mode='human' needs pygame: pip install pygame") from e
        self.pg = pygame
        pygame.display.init()
        pygame.font.init()
        self.title = title
        self.fps = fps
        self.screen = None
        self.clock = pygame.time.Clock()
        self.font = pygame.font.Font(None, 20)

    def show(self, frame: np.ndarray, status: str = "") -> None:
        """Blit ``frame`` (``uint8 (H, W, 3)``) and ``status``; pump events; wait for the frame time."""
        pg = self.pg
        h, w = frame.shape[:2]
        size = (max(w, 320), h + self.STATUS_PX)
        if self.screen is None or self.screen.get_size() != size:
            self.screen = pg.display.set_mode(size)
            pg.display.set_caption(self.title)
        self.screen.fill((20, 20, 24))
        self.screen.blit(pg.surfarray.make_surface(frame.swapaxes(0, 1)), (0, 0))
        self.screen.blit(self.font.render(status, True, (230, 230, 230)), (4, h + 4))
        pg.event.pump()
        pg.display.flip()
        self.clock.tick(self.fps)

    def close(self) -> None:
        """Close the window and shut pygame's display down."""
        self.pg.display.quit()
        self.pg.font.quit()
        self.screen = None
