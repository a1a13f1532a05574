"""pygame window for ``render_mode="human"`` and ``qmarl play``, with panning and zooming.

pygame is imported lazily, when a :class:`HumanWindow` is built; importing this module does not
import it. The window shows a *source* through a camera:

* :meth:`HumanWindow.show` takes a finished frame (what ``env.render()`` passes in human mode);
  zooming scales its pixels.
* :meth:`HumanWindow.show_scene` takes a drawing function ``draw(view, cell) -> frame``; the window
  asks it for only the visible cells, at the zoomed cell size, so zoomed-in views of a 500 x 500 map
  stay sharp and cheap (``qmarl play`` uses this).

Keys handled by the window itself: arrow keys pan (with Shift held, always; without it, unless
:attr:`HumanWindow.arrows_pan` is False because the arrows steer an agent), ``+``/``-`` zoom,
``0`` fits the whole map, ``c`` re-centres on the followed agent. Every other key press is queued
for :meth:`HumanWindow.poll`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import numpy as np

from qmarl_envs.render.hud import CAPTION_BG, CAPTION_FG, HINT_FG, import_pygame

ZOOM_IN_KEYS = frozenset({"+", "=", "[+]"})
ZOOM_OUT_KEYS = frozenset({"-", "_", "[-]"})
ARROWS = ("up", "down", "left", "right")


class HumanWindow:
    """Shows frames in a pygame window with a status bar, arrow-key panning and ``+``/``-`` zoom.

    Args:
        title: window caption.
        fps: frames per second :meth:`show` paces itself to (``tick=True``).
        max_size: largest ``(width, height)`` in pixels of the map area; ``None`` fits the desktop
            (at most 1600 x 1000).

    Attributes:
        closed: True once the user closed the window (the close button, or ``q``/Escape in play).
        arrows_pan: whether plain arrow keys pan (True); False leaves them to :meth:`poll`.
        scale: current zoom, in screen pixels per source unit (frame pixel or map cell).

    Raises:
        ValueError: for a non-positive ``fps`` or ``max_size``.
        RuntimeError: if pygame is not installed.
    """

    STATUS_PX = 26
    MIN_WIDTH = 480
    FRAME_ZOOMS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
    CELL_ZOOMS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)

    def __init__(self, title: str = "qmarl", fps: float = 5, max_size: tuple[int, int] | None = None):
        if not fps or fps <= 0:
            raise ValueError(f"fps: expected a positive number, got {fps!r}")
        if max_size is not None and (len(max_size) != 2 or min(max_size) < 1):
            raise ValueError(f"max_size: expected (width, height) in positive pixels, got {max_size!r}")
        pg = import_pygame()
        self.pg = pg
        pg.display.init()
        pg.font.init()
        if max_size is None:
            info = pg.display.Info()
            dw, dh = info.current_w, info.current_h
            max_size = (1024, 768) if dw <= 0 or dh <= 0 else (min(1600, dw - 80), min(1000, dh - 140))
        self.title = title
        self.fps = float(fps)
        self.max_size = (int(max_size[0]), int(max_size[1]))
        self.screen = None
        self.clock = pg.time.Clock()
        self.font = pg.font.Font(None, 20)
        self.closed = False
        self.arrows_pan = True
        self.scale = 1.0
        self.follow = True
        self._keys: deque[str] = deque(maxlen=256)
        self._source: tuple | None = None  # (kind, width_units, height_units)
        self._view = (0, 0)  # map area in pixels
        self._center = (0.0, 0.0)  # camera centre (x, y) in source units
        self._fit = 1.0

    # ------------------------------------------------------------------ camera
    def _setup(self, kind: str, w: int, h: int, base: float, fit: bool = True) -> None:
        """(Re)create the window for a new source of ``w x h`` units at ``base`` px per unit
        (reduced so that the whole source fits, if ``fit``)."""
        pg = self.pg
        mw, mh = self.max_size
        self._fit = min(mw / w, mh / h)
        self.scale = float(min(base, self._fit)) if fit else float(base)
        vw = max(min(self.MIN_WIDTH, mw), min(mw, int(round(w * self.scale))))
        vh = min(mh, int(round(h * self.scale)))
        self._view = (vw, vh)
        self._center = (w / 2, h / 2)
        self._source = (kind, w, h)
        self.screen = pg.display.set_mode((vw, vh + self.STATUS_PX))
        pg.display.set_caption(self.title)

    def _zooms(self) -> list[float]:
        kind = self._source[0]
        levels = self.FRAME_ZOOMS if kind == "frame" else self.CELL_ZOOMS
        lo = min(self._fit, 1.0)
        return sorted({float(v) for v in levels if v >= lo} | {self._fit})

    def zoom(self, direction: int) -> None:
        """Zoom one level in (``direction > 0``), out (``< 0``) or to fit the whole map (``0``)."""
        if self._source is None:
            return
        if direction == 0:
            self.scale = self._fit
            return
        levels = self._zooms()
        if direction > 0:
            bigger = [v for v in levels if v > self.scale + 1e-9]
            self.scale = bigger[0] if bigger else self.scale
        else:
            smaller = [v for v in levels if v < self.scale - 1e-9]
            self.scale = smaller[-1] if smaller else self.scale

    def pan(self, dx: float, dy: float) -> None:
        """Move the camera by ``(dx, dy)`` eighths of the visible area; stops following."""
        if self._source is None:
            return
        vw, vh = self._view
        step_x = max(1.0, vw / self.scale / 8)
        step_y = max(1.0, vh / self.scale / 8)
        self._center = (self._center[0] + dx * step_x, self._center[1] + dy * step_y)
        self.follow = False

    def center_on(self, x: float, y: float) -> None:
        """Put the camera centre at ``(x, y)`` in source units (columns, rows for a scene)."""
        self._center = (float(x), float(y))

    @property
    def view_size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels of the map area (the window minus its status bar)."""
        return self._view

    def visible(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)``: the source region in view, in source units, clamped to the source."""
        _, w, h = self._source
        vw, vh = self._view
        uw, uh = vw / self.scale, vh / self.scale
        cx, cy = self._center
        cx = w / 2 if uw >= w else min(max(cx, uw / 2), w - uw / 2)
        cy = h / 2 if uh >= h else min(max(cy, uh / 2), h - uh / 2)
        self._center = (cx, cy)
        return max(0.0, cx - uw / 2), max(0.0, cy - uh / 2), min(float(w), cx + uw / 2), min(float(h), cy + uh / 2)

    # ------------------------------------------------------------------ events
    def poll(self) -> list[str]:
        """Handle pending events and return the key presses the window did not use.

        Pan and zoom keys are applied to the camera; the close button sets :attr:`closed` and
        yields ``"quit"``. Other key presses come back as pygame key names (``"p"``, ``"space"``,
        ``"up"`` ...), oldest first, and are then forgotten.

        Returns:
            the unused key names since the last call.
        """
        pg = self.pg
        if not pg.display.get_init():
            return []
        for ev in pg.event.get():
            if ev.type == pg.QUIT:
                self.closed = True
                self._keys.append("quit")
            elif ev.type == pg.KEYDOWN:
                name = getattr(ev, "unicode", "") or ""
                if name not in ZOOM_IN_KEYS | ZOOM_OUT_KEYS:
                    name = pg.key.name(ev.key)
                shift = bool(getattr(ev, "mod", 0) & pg.KMOD_SHIFT)
                if name in ZOOM_IN_KEYS or (name == "=" and shift):
                    self.zoom(+1)
                elif name in ZOOM_OUT_KEYS:
                    self.zoom(-1)
                elif name == "0":
                    self.zoom(0)
                elif name == "c":
                    self.follow = True
                elif name in ARROWS and (self.arrows_pan or shift):
                    self.pan(*{"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}[name])
                else:
                    self._keys.append(name)
        out = list(self._keys)
        self._keys.clear()
        return out

    # ------------------------------------------------------------------ drawing
    def _present(self, region: np.ndarray, offset: tuple[float, float], status: str, hint: str) -> None:
        """Blit ``region`` (``uint8 (h, w, 3)`` already at screen scale or to be scaled) and the bar."""
        pg = self.pg
        vw, vh = self._view
        self.screen.fill((16, 16, 20))
        surf = pg.surfarray.make_surface(np.ascontiguousarray(region.swapaxes(0, 1)))
        self.screen.blit(surf, (math.floor(offset[0] + 0.5), math.floor(offset[1] + 0.5)))
        bar = pg.Rect(0, vh, vw, self.STATUS_PX)
        self.screen.fill(CAPTION_BG, bar)
        text = self.font.render(status, True, CAPTION_FG)
        self.screen.blit(text, (6, vh + (self.STATUS_PX - text.get_height()) // 2))
        if hint:
            ht = self.font.render(hint, True, HINT_FG)
            if text.get_width() + ht.get_width() + 24 <= vw:
                self.screen.blit(ht, (vw - ht.get_width() - 6, vh + (self.STATUS_PX - ht.get_height()) // 2))
        pg.display.flip()

    def _scaled(self, img: np.ndarray, size: tuple[int, int], smooth: bool) -> np.ndarray:
        """``img`` resized to ``size = (w, h)`` pixels (nearest when enlarging, smooth when shrinking)."""
        if img.shape[1] == size[0] and img.shape[0] == size[1]:
            return img
        pg = self.pg
        surf = pg.surfarray.make_surface(np.ascontiguousarray(img.swapaxes(0, 1)))
        out = pg.transform.smoothscale(surf, size) if smooth else pg.transform.scale(surf, size)
        return pg.surfarray.array3d(out).swapaxes(0, 1)

    def _hint(self) -> str:
        _, w, h = self._source
        vw, vh = self._view
        bigger = w * self.scale > vw + 0.5 or h * self.scale > vh + 0.5
        zoom = f"zoom {self.scale:g}x" if self._source[0] == "frame" else f"{self.scale:g} px/cell"
        return f"{zoom} · " + ("arrows pan · +/- zoom" if bigger else "+/- zoom")

    def show(self, frame: np.ndarray, status: str = "", *, tick: bool = True, hint: str | None = None) -> None:
        """Show a whole frame, zoomed and panned by the camera.

        Args:
            frame: ``uint8 (H, W, 3)`` RGB frame.
            status: text of the status bar.
            tick: wait so that calls come at most :attr:`fps` times a second.
            hint: right-aligned key hint; ``None`` shows the zoom and the pan/zoom keys.

        Raises:
            ValueError: if ``frame`` is not ``uint8 (H, W, 3)``.
        """
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame: expected uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        if self.closed:
            return
        h, w = frame.shape[:2]
        if self._source != ("frame", w, h) or not self.pg.display.get_init():
            self._setup("frame", w, h, 1.0)
        self.poll_camera()
        x0, y0, x1, y1 = self.visible()
        ix0, iy0, ix1, iy1 = int(x0), int(y0), int(math.ceil(x1)), int(math.ceil(y1))
        crop = frame[iy0:iy1, ix0:ix1]
        size = (max(1, int(round((ix1 - ix0) * self.scale))), max(1, int(round((iy1 - iy0) * self.scale))))
        region = self._scaled(crop, size, smooth=self.scale < 1)
        self._present(region, self._offset(ix0, iy0), status, self._hint() if hint is None else hint)
        if tick:
            self.clock.tick(self.fps)

    def show_scene(self, draw: Callable[..., np.ndarray], map_shape: tuple[int, int], status: str = "", *,
                   base_cell: int, follow: tuple[int, int] | None = None, tick: bool = False,
                   hint: str | None = None) -> None:
        """Show the visible part of a map, drawn at the zoomed cell size.

        Args:
            draw: ``draw(view=(row0, row1, col0, col1), cell=int) -> uint8 (rows*cell, cols*cell, 3)``,
                e.g. :func:`qmarl_envs.render.raster.render_env` with the env bound.
            map_shape: ``(H, W)`` in cells.
            status: text of the status bar.
            base_cell: starting zoom in pixels per cell (reduced to fit the whole map in the
                window, unless ``follow`` is given).
            follow: ``(row, col)`` to keep in the centre while :attr:`follow` is on.
            tick: wait so that calls come at most :attr:`fps` times a second.
            hint: right-aligned key hint; ``None`` shows the zoom and the pan/zoom keys.
        """
        if self.closed:
            return
        h, w = (int(v) for v in map_shape)
        if self._source != ("scene", w, h) or not self.pg.display.get_init():
            self._setup("scene", w, h, float(base_cell), fit=follow is None)
        self.poll_camera()
        if follow is not None and self.follow:
            self.center_on(follow[1] + 0.5, follow[0] + 0.5)
        x0, y0, x1, y1 = self.visible()
        c0, r0 = int(x0), int(y0)
        c1, r1 = max(c0 + 1, min(w, int(math.ceil(x1)))), max(r0 + 1, min(h, int(math.ceil(y1))))
        cell = max(1, int(math.ceil(self.scale)))
        img = draw(view=(r0, r1, c0, c1), cell=cell)
        size = (max(1, int(round((c1 - c0) * self.scale))), max(1, int(round((r1 - r0) * self.scale))))
        region = self._scaled(img, size, smooth=cell != self.scale)
        self._present(region, self._offset(c0, r0), status, self._hint() if hint is None else hint)
        if tick:
            self.clock.tick(self.fps)

    def _offset(self, ux0: float, uy0: float) -> tuple[float, float]:
        """Screen position of source point ``(ux0, uy0)`` (centring a source smaller than the view)."""
        x0, y0, x1, y1 = self.visible()
        vw, vh = self._view
        ox = (vw - (x1 - x0) * self.scale) / 2 if (x1 - x0) * self.scale < vw else 0.0
        oy = (vh - (y1 - y0) * self.scale) / 2 if (y1 - y0) * self.scale < vh else 0.0
        return ox + (ux0 - x0) * self.scale, oy + (uy0 - y0) * self.scale

    def poll_camera(self) -> None:
        """Apply pending pan/zoom keys now; other key presses stay queued for :meth:`poll`."""
        keys = self.poll()
        self._keys.extend(keys)

    def close(self) -> None:
        """Close the window and shut pygame's display down (safe to call twice)."""
        pg = self.pg
        if pg.display.get_init():
            pg.display.quit()
        self.screen = None
        self._source = None
