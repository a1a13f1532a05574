"""NumPy rasteriser: grid state -> ``uint8 (H, W, 3)`` RGB frame. Needs no display and no pygame.

Every map cell becomes a ``cell x cell`` pixel *tile*. The frame is assembled in two vectorised
passes, with no Python loop over cells or agents:

1. **Background.** Each cell gets a background code (floor, wall, pit, food, landmark, target, or a
   ball of some colour). A small table of background tiles, one per code in use, is drawn once per
   frame; fancy indexing then gathers one tile per cell.
2. **Entities.** Each live entity gets a sprite key (palette colour, hit-point level, highlight,
   label). One sprite per key in use is drawn, and the sprites are alpha-blended onto the tiles of
   the occupied cells in one indexed operation.

How much detail a tile gets depends on the cell size (see :func:`cell_size`, which adapts it to the
map): below :data:`SHAPE_CELL` pixels, tiles are flat colours (a 500 x 500 map with 10,000 agents);
from :data:`SHAPE_CELL`, agents are anti-aliased rounded squares, food and balls are discs and the
grid is drawn; from :data:`BAR_CELL`, a damaged agent shows a hit-point bar (below, damage darkens
it); from :data:`LABEL_CELL`, balls and agents on maps with balls carry the owner's entity number.

Colours: agents take ``TEAM_COLOURS[style]``, where ``style`` is the scenario's
:meth:`~qmarl_envs.scenarios.base.Scenario.entity_styles`; a ball takes the colour of its owner
entity. An agent's centre pixel shows its exact team colour at full hit points, and the centre
pixel of a food cell shows :data:`FOOD`, which is what the pixel tests check.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _rgb(*values: int) -> np.ndarray:
    a = np.array(values, dtype=np.uint8)
    a.flags.writeable = False
    return a


FLOOR = _rgb(238, 236, 228)
"""Floor colour."""
GRID = _rgb(223, 220, 209)
"""Grid lines between floor cells (drawn from :data:`SHAPE_CELL` pixels per cell)."""
WALL = _rgb(64, 68, 80)
"""Wall colour."""
PIT = _rgb(46, 34, 34)
"""Pit (penalty cell) colour."""
FOOD = _rgb(72, 166, 76)
"""Food colour (the centre pixel of a food cell)."""
LANDMARK = _rgb(226, 210, 166)
"""Landmark ground colour."""
LANDMARK_RING = _rgb(150, 118, 66)
"""Ring drawn on landmark cells."""
TARGET = _rgb(250, 196, 48)
"""Ground colour of the target landmark's cells."""
TARGET_RING = _rgb(176, 92, 24)
"""Bullseye drawn on target cells."""
HIGHLIGHT = _rgb(24, 24, 28)
"""Halo around highlighted agents (e.g. the one a human steers)."""

TEAM_COLOURS = np.array([
    [214, 62, 52],    # 0 red: learning side / home agents
    [46, 104, 214],   # 1 blue: second team
    [142, 68, 173],   # 2 purple: adversary
    [238, 138, 28],   # 3 orange
    [22, 150, 160],   # 4 teal
    [212, 80, 148],   # 5 pink
    [128, 92, 58],    # 6 brown
    [92, 104, 126],   # 7 slate
], dtype=np.uint8)
"""``uint8 (K, 3)`` palette indexed by :meth:`Scenario.entity_styles` (modulo ``K``)."""
TEAM_COLOURS.flags.writeable = False

SHAPE_CELL = 6
"""Smallest cell size (pixels) drawn with shapes and grid lines; smaller cells are flat colours."""
BAR_CELL = 10
"""Smallest cell size (pixels) at which hit points show as a bar; below it, as a darker shade."""
LABEL_CELL = 24
"""Smallest cell size (pixels) at which owner numbers are written on balls and their agents."""
HP_LEVELS = 10
"""Hit-point fractions are quantised to ``0 .. HP_LEVELS`` for drawing."""

# background codes; balls follow as BG_BALL + palette index
BG_FLOOR, BG_WALL, BG_PIT, BG_FOOD, BG_LANDMARK, BG_TARGET, BG_BALL = range(7)

# 3 x 5 bitmap digits, rows top to bottom, bits left to right
_DIGITS = np.array([
    [7, 5, 5, 5, 7], [2, 6, 2, 2, 7], [7, 1, 7, 4, 7], [7, 1, 7, 1, 7], [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7], [7, 4, 7, 5, 7], [7, 1, 1, 1, 1], [7, 5, 7, 5, 7], [7, 5, 7, 1, 7],
], dtype=np.uint8)
_GLYPHS = ((_DIGITS[:, :, None] >> np.array([2, 1, 0], np.uint8)) & 1).astype(bool)  # (10, 5, 3)
_GLYPHS.flags.writeable = False


def cell_size(shape: tuple[int, int], max_pixels: int = 800, min_cell: int = 2, max_cell: int = 128) -> int:
    """Pixels per cell that make the longer map side about ``max_pixels`` long.

    A 3 x 3 ball grid gets 128-pixel cells (a 384-pixel frame); a 100 x 100 map 8-pixel cells; a
    500 x 500 map 2-pixel cells (a 1000-pixel frame: every agent stays visible).

    Args:
        shape: map ``(H, W)`` in cells.
        max_pixels: target length in pixels of the longer side.
        min_cell: smallest cell size returned.
        max_cell: largest cell size returned.

    Returns:
        the cell size in pixels, an int in ``[min_cell, max_cell]``.

    Raises:
        ValueError: for a non-positive map side or bound, or ``min_cell > max_cell``.
    """
    h, w = (int(v) for v in shape)
    if h < 1 or w < 1:
        raise ValueError(f"shape: expected a positive (H, W), got {tuple(shape)}")
    if max_pixels < 1 or min_cell < 1 or max_cell < min_cell:
        raise ValueError(f"max_pixels/min_cell/max_cell: expected positive with min_cell <= max_cell, "
                         f"got {max_pixels}/{min_cell}/{max_cell}")
    return int(np.clip(max_pixels // max(h, w), min_cell, max_cell))


# ---------------------------------------------------------------- tile geometry (vectorised)
def _coords(c: int) -> tuple[np.ndarray, np.ndarray]:
    """``float32 (c, 1)`` and ``(1, c)``: pixel-centre offsets from the tile centre, in pixels."""
    o = np.arange(c, dtype=np.float32) + 0.5 - c / 2
    return o[:, None], o[None, :]


def _disc(c: int, radius: float, cy: float = 0.0, cx: float = 0.0) -> np.ndarray:
    """``float32 (c, c)`` anti-aliased coverage in ``[0, 1]`` of a disc (radius in pixels)."""
    y, x = _coords(c)
    d = np.sqrt((y - cy) ** 2 + (x - cx) ** 2)
    return np.clip(radius - d + 0.5, 0.0, 1.0)


def _box(c: int, half: float, corner: float) -> np.ndarray:
    """``float32 (c, c)`` anti-aliased coverage of a centred rounded square (sizes in pixels)."""
    y, x = _coords(c)
    corner = min(corner, half)
    qy, qx = np.abs(y) - (half - corner), np.abs(x) - (half - corner)
    outside = np.sqrt(np.maximum(qy, 0) ** 2 + np.maximum(qx, 0) ** 2)
    inside = np.minimum(np.maximum(qy, qx), 0)
    return np.clip(0.5 - (outside + inside - corner), 0.0, 1.0)


def _mix(under: np.ndarray, over: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Blend ``over`` onto ``under`` (float arrays broadcasting to ``(..., 3)``) with ``alpha (...,)``."""
    a = alpha[..., None]
    return under * (1.0 - a) + over * a


def _label_masks(labels: np.ndarray, c: int) -> np.ndarray:
    """``bool (U, c, c)``: digits of ``labels`` (``int (U,)``, ``-1`` for none) centred in a tile."""
    u = labels.shape[0]
    out = np.zeros((u, c, c), dtype=bool)
    if u == 0:
        return out
    lab = np.where(labels < 0, 0, labels)
    two = lab >= 10
    digits = np.stack([lab // 10 % 10, lab % 10], axis=1)  # (U, 2)
    glyph = _GLYPHS[digits]  # (U, 2, 5, 3)
    text = np.zeros((u, 5, 7), dtype=bool)  # two digits with a blank column between
    text[:, :, 0:3] = glyph[:, 0]
    text[:, :, 4:7] = glyph[:, 1]
    one = np.zeros_like(text)
    one[:, :, 2:5] = glyph[:, 1]  # a single digit, centred in the same 7 columns
    text = np.where(two[:, None, None], text, one)
    text &= (labels >= 0)[:, None, None]
    s = max(1, int(c * 0.36) // 5)  # glyph pixel size: text ~36% of the cell tall
    big = np.repeat(np.repeat(text, s, axis=1), s, axis=2)  # (U, 5s, 7s)
    th, tw = big.shape[1:]
    r0, c0 = (c - th) // 2, (c - tw) // 2
    out[:, r0:r0 + th, c0:c0 + tw] = big
    return out


def _background_tile(c: int, code: int, shine: bool = True) -> np.ndarray:
    """``float32 (c, c, 3)`` background tile of one code (``BG_*``; ``BG_BALL + k`` is a ball of
    palette colour ``k``); ``shine`` adds a highlight to balls (left out where a label goes)."""
    floor = FLOOR.astype(np.float32)
    tile = np.broadcast_to(floor, (c, c, 3)).copy()
    ball = TEAM_COLOURS[code - BG_BALL].astype(np.float32) if code >= BG_BALL else None
    if c < SHAPE_CELL:  # flat colours
        flat = {BG_FLOOR: floor, BG_WALL: WALL, BG_PIT: PIT, BG_FOOD: FOOD, BG_LANDMARK: LANDMARK,
                BG_TARGET: TARGET}
        tile[:] = (ball * 2 + floor) / 3 if ball is not None else flat[code]
        return tile
    if code == BG_WALL:  # flat with a light top-left and a dark bottom-right bevel
        tile[:] = WALL
        bevel = max(1, c // 16)
        tile[:bevel, :] += 22
        tile[:, :bevel] += 22
        tile[-bevel:, :] -= 18
        tile[:, -bevel:] -= 18
        return tile
    tile[0, :] = GRID  # grid lines on the top and left edge of every other tile
    tile[:, 0] = GRID
    edge = max(1.0, c / 20) if c >= 12 else 0.0  # rim width of discs
    if code == BG_PIT:  # a dark hole with a soft rim
        tile = _mix(tile, PIT.astype(np.float32), _box(c, 0.44 * c, 0.16 * c))
        tile = _mix(tile, np.float32([18, 12, 12]), _box(c, 0.30 * c, 0.12 * c))
    elif code == BG_FOOD:  # a green disc with a darker rim and a small highlight
        rf = 0.27 * c
        tile = _mix(tile, FOOD * 0.62, _disc(c, rf))
        tile = _mix(tile, FOOD.astype(np.float32), _disc(c, rf - edge))
        tile = _mix(tile, np.float32([190, 236, 170]), _disc(c, 0.07 * c, -0.11 * c, -0.11 * c) * 0.8)
    elif code in (BG_LANDMARK, BG_TARGET):  # sand ground with a ring; the target: gold with a bullseye
        ground, ring = (LANDMARK, LANDMARK_RING) if code == BG_LANDMARK else (TARGET, TARGET_RING)
        tile[1:, 1:] = ground
        ring_a = np.clip(_disc(c, 0.36 * c) - _disc(c, 0.36 * c - max(1.5, c / 12)), 0, 1)
        tile = _mix(tile, ring.astype(np.float32), ring_a)
        if code == BG_TARGET:
            tile = _mix(tile, ring.astype(np.float32), _disc(c, 0.14 * c))
    elif ball is not None:  # a disc in the owner's colour with a darker rim and a shine
        rb = 0.30 * c
        tile = _mix(tile, ball * 0.6, _disc(c, rb))
        tile = _mix(tile, ball, _disc(c, rb - edge))
        if shine:
            tile = _mix(tile, np.float32([255, 255, 255]), _disc(c, 0.06 * c, -0.14 * c, -0.14 * c) * 0.7)
    return tile


def _pack(rgb: np.ndarray) -> np.ndarray:
    """``uint32 (...)``: RGB triples (``(..., 3)``, rounded to uint8) packed one pixel per word."""
    rgb = np.rint(rgb).astype(np.uint8) if rgb.dtype != np.uint8 else rgb
    out = np.zeros(rgb.shape[:-1] + (4,), dtype=np.uint8)
    out[..., :3] = rgb
    return out.view(np.uint32)[..., 0]


def _unpack(words: np.ndarray) -> np.ndarray:
    """``uint8 (..., 3)``: the inverse of :func:`_pack`, as a new C-contiguous array."""
    b = np.ascontiguousarray(words).view(np.uint8).reshape(words.shape + (4,))
    out = np.empty(words.shape + (3,), dtype=np.uint8)
    for ch in range(3):  # channel by channel: much faster than one strided 3-of-4 byte copy
        out[..., ch] = b[..., ch]
    return out


def _hp_colour(frac: np.ndarray) -> np.ndarray:
    """``float32 (U, 3)``: bar colour from red (empty) through yellow to green (full)."""
    f = np.clip(frac, 0, 1)[:, None].astype(np.float32)
    red, yellow, green = np.float32([222, 56, 40]), np.float32([240, 198, 40]), np.float32([64, 186, 72])
    low = red + (yellow - red) * np.clip(f * 2, 0, 1)
    return np.where(f < 0.5, low, yellow + (green - yellow) * np.clip(f * 2 - 1, 0, 1))


def _agent_sprites(c: int, colours: np.ndarray, levels: np.ndarray, halo: np.ndarray,
                   labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sprites for ``U`` kinds of agent.

    Args:
        c: cell size in pixels.
        colours: ``uint8 (U, 3)`` team colours.
        levels: ``int (U,)`` hit points in ``0 .. HP_LEVELS``.
        halo: ``bool (U,)`` draw a highlight halo.
        labels: ``int (U,)`` number written on the agent, ``-1`` for none.

    Returns:
        ``(rgb, alpha)``: ``float32 (U, c, c, 3)`` and ``float32 (U, c, c)`` coverage in ``[0, 1]``.
    """
    u = colours.shape[0]
    col = colours.astype(np.float32)
    frac = levels.astype(np.float32) / HP_LEVELS
    if c < BAR_CELL:
        # damage darkens the body: full colour at full hit points, 45% at none
        col = col * (0.45 + 0.55 * frac)[:, None]
    if c < SHAPE_CELL:
        rgb = np.broadcast_to(col[:, None, None], (u, c, c, 3)).copy()
        rgb[halo] = HIGHLIGHT
        return rgb, np.ones((u, c, c), dtype=np.float32)
    half = 0.38 * c
    corner = 0.14 * c
    edge = max(1.0, c / 24) if c >= 8 else 0.0
    body = _box(c, half, corner)
    inner = _box(c, half - edge, max(corner - edge, 0.0))
    rgb = np.broadcast_to(col[:, None, None] * 0.58, (u, c, c, 3)).copy()  # outline colour
    rgb = _mix(rgb, col[:, None, None], np.broadcast_to(inner, (u, c, c)))
    alpha = np.broadcast_to(body, (u, c, c)).copy()
    if halo.any():
        ring = _box(c, half + max(1.5, c * 0.08), corner + c * 0.06)
        rgb[halo] = _mix(np.broadcast_to(HIGHLIGHT.astype(np.float32), (c, c, 3)), rgb[halo], body)
        alpha[halo] = np.maximum(ring, body)
    if c >= BAR_CELL:
        hurt = levels < HP_LEVELS
        if hurt.any():
            bh = max(3, int(round(c / 8)))
            x0, x1 = int(round(0.12 * c)), c - int(round(0.12 * c))
            y0 = max(0, int(round(0.06 * c)))
            width = x1 - x0
            filled = np.round(frac * (width - 2)).astype(int)  # inner fill, 1 px dark frame
            xs = np.arange(width)[None, :]
            fill = (xs >= 1) & (xs < 1 + filled[:, None])  # (U, width)
            bar = np.broadcast_to(np.float32([34, 34, 38]), (u, bh, width, 3)).copy()
            inner_rows = slice(1, bh - 1) if bh >= 6 else slice(0, bh)  # framed when tall enough
            hp_col = _hp_colour(frac)
            seg = bar[:, inner_rows]
            seg[:] = np.where(fill[:, None, :, None], hp_col[:, None, None, :], seg)
            rgb[hurt, y0:y0 + bh, x0:x1] = bar[hurt]
            alpha[hurt, y0:y0 + bh, x0:x1] = 1.0
    lab = labels >= 0
    if lab.any():
        text = _label_masks(labels, c)
        rgb[text] = 255.0
    return rgb, alpha


def rasterize(state: Any, styles: np.ndarray, hp: np.ndarray | None = None, *, cell: int | None = None,
              highlight: np.ndarray | list[int] | None = None,
              view: tuple[int, int, int, int] | None = None, labels: bool | None = None) -> np.ndarray:
    """Draw a :class:`~qmarl_envs.core.state.GridState`.

    Args:
        state: the grid state: ``positions int32 (M, 2)`` ``(row, col)``, ``alive bool (M,)``, and the
            ``(H, W)`` layers ``walls``, ``pits``, ``balls`` (owner entity or -1), ``food``,
            ``landmarks`` (index or -1) and the ``target`` landmark index.
        styles: ``int (M,)`` palette index of each entity (:data:`TEAM_COLOURS`, modulo its length).
        hp: ``float (M,)`` hit points as a fraction in ``[0, 1]``; ``None`` means full.
        cell: pixels per cell; ``None`` picks :func:`cell_size` of the map.
        highlight: entity indices drawn with a dark halo (e.g. the agent a human steers).
        view: ``(row0, row1, col0, col1)`` half-open window of cells to draw; ``None`` draws the map.
        labels: write owner numbers on balls and on their owners; ``None`` does so when the map has
            balls and the cell is at least :data:`LABEL_CELL` pixels.

    Returns:
        ``uint8 (rows * cell, cols * cell, 3)`` RGB frame, ``rows x cols`` the drawn window in cells.

    Raises:
        ValueError: if ``styles`` or ``hp`` do not have shape ``(M,)``, ``cell`` is not a positive
            int, ``view`` is not a non-empty window inside the map, a ``highlight`` index is out of
            range, or a ball's owner is not an entity.
    """
    h, w = (int(v) for v in state.shape)
    m = int(state.positions.shape[0])
    styles = np.asarray(styles)
    if styles.shape != (m,):
        raise ValueError(f"styles: expected shape ({m},) (one per entity), got {styles.shape}")
    if hp is None:
        hp = np.ones(m, dtype=np.float32)
    hp = np.asarray(hp, dtype=np.float32)
    if hp.shape != (m,):
        raise ValueError(f"hp: expected shape ({m},) (one per entity), got {hp.shape}")
    c = cell_size((h, w)) if cell is None else cell
    if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1:
        raise ValueError(f"cell: expected a positive int (pixels per cell), got {cell!r}")
    c = int(c)
    if view is None:
        r0, r1, c0, c1 = 0, h, 0, w
    else:
        r0, r1, c0, c1 = (int(v) for v in view)
        if not (0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w):
            raise ValueError(f"view: expected (row0, row1, col0, col1) with 0 <= row0 < row1 <= {h} "
                             f"and 0 <= col0 < col1 <= {w}, got {tuple(view)}")
    vh, vw = r1 - r0, c1 - c0
    win = (slice(r0, r1), slice(c0, c1))
    k = len(TEAM_COLOURS)
    style_all = styles.astype(np.int64) % k

    # ---- background: one code per cell, one tile per code in use (packed RGB words)
    all_balls = np.asarray(state.balls)
    balls = all_balls[win]
    land = np.asarray(state.landmarks)[win]
    code = np.zeros((vh, vw), dtype=np.int64)
    code[np.asarray(state.food)[win]] = BG_FOOD
    code[land >= 0] = BG_LANDMARK
    if state.target >= 0:
        code[land == state.target] = BG_TARGET
    code[np.asarray(state.pits)[win]] = BG_PIT
    has_ball = balls >= 0
    if has_ball.any():
        owner = balls[has_ball].astype(np.int64)
        if owner.max() >= m:
            raise ValueError(f"state.balls: owner {owner.max()} is not an entity (M = {m})")
        code[has_ball] = BG_BALL + style_all[owner]
    code[np.asarray(state.walls)[win]] = BG_WALL
    if labels is None:
        labels = c >= LABEL_CELL and bool((all_balls >= 0).any())
    if labels and has_ball.any():  # labelled balls get one code per owner
        code[has_ball] = BG_BALL + k + balls[has_ball]
    used = np.flatnonzero(np.bincount(code.ravel()))
    table = np.empty((len(used), c, c, 3), dtype=np.float32)
    for i, u in enumerate(used):  # one tile per kind of cell in view (a handful), not per cell
        if u < BG_BALL + k:
            table[i] = _background_tile(c, int(u), shine=not labels)
        else:
            owner_id = int(u) - BG_BALL - k
            tile = _background_tile(c, BG_BALL + int(style_all[owner_id]), shine=False)
            tile[_label_masks(np.array([owner_id]), c)[0]] = 255.0
            table[i] = tile
    lut = np.zeros(int(used[-1]) + 1, dtype=np.int64)
    lut[used] = np.arange(len(used))
    flat_tiles = c < SHAPE_CELL  # every tile and sprite is one colour: work on one word per cell
    packed = _pack(table)
    out = packed[:, 0, 0][lut[code]] if flat_tiles else packed[lut[code]]  # (vh, vw[, c, c]) uint32

    # ---- entities: one sprite per kind (colour, hit points, halo, label), blended onto their cells
    pos = np.asarray(state.positions)
    alive = np.asarray(state.alive, dtype=bool)
    inside = alive & (pos[:, 0] >= r0) & (pos[:, 0] < r1) & (pos[:, 1] >= c0) & (pos[:, 1] < c1)
    idx = np.flatnonzero(inside)
    if idx.size:
        halo = np.zeros(m, dtype=bool)
        if highlight is not None:
            hl = np.atleast_1d(np.asarray(highlight, dtype=np.int64))
            if hl.size and (hl.min() < 0 or hl.max() >= m):
                raise ValueError(f"highlight: expected entity indices in [0, {m}), got {hl.tolist()}")
            halo[hl] = True
            idx = np.concatenate([idx[~halo[idx]], idx[halo[idx]]])  # highlighted last: they win a cell
        level = np.rint(np.clip(np.nan_to_num(hp[idx], nan=1.0), 0, 1) * HP_LEVELS).astype(np.int64)
        key = (style_all[idx] * (HP_LEVELS + 1) + level) * 2 + halo[idx]
        if labels:
            key = key * m + idx
        present = np.flatnonzero(np.bincount(key)) if not labels else np.unique(key)
        lut = np.zeros(int(present[-1]) + 1, dtype=np.int64)
        lut[present] = np.arange(len(present))
        kind = lut[key]
        label = present % m if labels else np.full(len(present), -1, dtype=np.int64)
        base = present // m if labels else present
        rgb, alpha = _agent_sprites(c, TEAM_COLOURS[base // 2 // (HP_LEVELS + 1)], base // 2 % (HP_LEVELS + 1),
                                    (base % 2).astype(bool), label)
        flat = (pos[idx, 0] - r0) * vw + (pos[idx, 1] - c0)
        who = np.full(vh * vw, -1, dtype=np.int32)
        who[flat] = kind  # one sprite per cell; with repeats, the last entity wins
        cells = np.flatnonzero(who >= 0)
        kind = who[cells]
        if flat_tiles:  # opaque one-colour sprites
            out.reshape(vh * vw)[cells] = _pack(rgb[:, 0, 0])[kind]
        else:
            tiles = out.reshape(vh * vw, c, c)
            under = _unpack(tiles[cells]).astype(np.float32)
            tiles[cells] = _pack(_mix(under, rgb[kind], alpha[kind]))
    if flat_tiles:
        img = np.repeat(np.repeat(out, c, axis=0), c, axis=1) if c > 1 else out
    else:
        img = out.transpose(0, 2, 1, 3).reshape(vh * c, vw * c)
    return _unpack(img)


def agent_entity(env: Any, agent: str) -> int:
    """Entity row of a PettingZoo agent id in the env's state arrays.

    Args:
        env: a :class:`~qmarl_envs.api.parallel.GridParallelEnv` (or a wrapper of one).
        agent: one of ``env.possible_agents``.

    Returns:
        the entity index (row of ``env.grid_state.positions``).

    Raises:
        ValueError: if ``agent`` is not one of ``env.possible_agents``.
    """
    base = getattr(env, "unwrapped", env)
    agents = list(base.possible_agents)
    if agent not in agents:
        shown = ", ".join(agents[:6]) + (f", ... ({len(agents)} agents)" if len(agents) > 6 else "")
        raise ValueError(f"agent: unknown agent {agent!r}; expected one of {shown}")
    return int(base.scenario.agent_entities[agents.index(agent)])


def render_env(env: Any, *, cell: int | None = None, highlight: list[int] | None = None,
               view: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Frame of a :class:`~qmarl_envs.api.parallel.GridParallelEnv` (any render mode).

    Args:
        env: the env (or a wrapper of one), after ``reset``.
        cell: pixels per cell; ``None`` adapts it to the map (:func:`cell_size`).
        highlight: entity indices to draw with a halo (see :func:`agent_entity`).
        view: ``(row0, row1, col0, col1)`` window of cells; ``None`` draws the whole map.

    Returns:
        ``uint8 (rows * cell, cols * cell, 3)`` RGB frame.

    Raises:
        RuntimeError: before the env's first ``reset``.
        ValueError: as :func:`rasterize`.
    """
    base = getattr(env, "unwrapped", env)
    st = base.grid_state
    if st is None:
        raise RuntimeError("render_env() called before reset(); call env.reset(seed=...) first")
    sc = base.scenario
    return rasterize(st, sc.entity_styles(st), sc.hp_fraction(st), cell=cell, highlight=highlight, view=view)
