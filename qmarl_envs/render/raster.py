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


def _background_tiles(c: int, ball_colours: np.ndarray, shine: bool = True) -> np.ndarray:
    """``uint8 (BG_BALL + B, c, c, 3)`` background tiles; ``ball_colours`` is ``uint8 (B, 3)``; ``shine``
    adds a highlight to balls (left out where a label goes on them)."""
    n = BG_BALL + len(ball_colours)
    floor = FLOOR.astype(np.float32)
    tiles = np.broadcast_to(floor, (n, c, c, 3)).astype(np.float32)
    if c < SHAPE_CELL:  # flat colours
        tiles[BG_WALL] = WALL
        tiles[BG_PIT] = PIT
        tiles[BG_FOOD] = FOOD
        tiles[BG_LANDMARK] = LANDMARK
        tiles[BG_TARGET] = TARGET
        tiles[BG_BALL:] = (ball_colours.astype(np.float32)[:, None, None] * 2 + floor) / 3
        return tiles.round().astype(np.uint8)
    # grid lines on the top and left edge of every non-wall tile
    tiles[:, 0, :] = GRID
    tiles[:, :, 0] = GRID
    # wall: flat with a light top-left and a dark bottom-right bevel
    wall = np.broadcast_to(WALL.astype(np.float32), (c, c, 3)).copy()
    bevel = max(1, c // 16)
    wall[:bevel, :] += 22
    wall[:, :bevel] += 22
    wall[-bevel:, :] -= 18
    wall[:, -bevel:] -= 18
    tiles[BG_WALL] = wall
    # pit: a dark hole with a soft rim
    tiles[BG_PIT] = _mix(tiles[BG_PIT], PIT.astype(np.float32), _box(c, 0.44 * c, 0.16 * c))
    tiles[BG_PIT] = _mix(tiles[BG_PIT], np.float32([18, 12, 12]), _box(c, 0.30 * c, 0.12 * c))
    # food: a green disc with a darker rim (from 12-pixel cells) and a small highlight
    edge = max(1.0, c / 20) if c >= 12 else 0.0
    rf = 0.27 * c
    tiles[BG_FOOD] = _mix(tiles[BG_FOOD], FOOD * 0.62, _disc(c, rf))
    tiles[BG_FOOD] = _mix(tiles[BG_FOOD], FOOD.astype(np.float32), _disc(c, rf - edge))
    tiles[BG_FOOD] = _mix(tiles[BG_FOOD], np.float32([190, 236, 170]),
                          _disc(c, 0.07 * c, -0.11 * c, -0.11 * c) * 0.8)
    # landmark: sand ground with a ring; target: gold ground with a bullseye
    for code, ground, ring in ((BG_LANDMARK, LANDMARK, LANDMARK_RING), (BG_TARGET, TARGET, TARGET_RING)):
        t = tiles[code]
        t[1:, 1:] = ground
        ring_a = np.clip(_disc(c, 0.36 * c) - _disc(c, 0.36 * c - max(1.5, c / 12)), 0, 1)
        t[:] = _mix(t, ring.astype(np.float32), ring_a)
        if code == BG_TARGET:
            t[:] = _mix(t, ring.astype(np.float32), _disc(c, 0.14 * c))
    # balls: a disc in the owner's colour with a darker rim and a shine
    if len(ball_colours):
        col = ball_colours.astype(np.float32)[:, None, None]  # (B, 1, 1, 3)
        rb = 0.30 * c
        b = tiles[BG_BALL:]
        b[:] = _mix(b, col * 0.6, _disc(c, rb))
        b[:] = _mix(b, col, _disc(c, rb - edge))
        if shine:
            b[:] = _mix(b, np.float32([255, 255, 255]), _disc(c, 0.06 * c, -0.14 * c, -0.14 * c) * 0.7)
    return tiles.round().astype(np.uint8)


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
    if c < SHAPE_CELL or c < BAR_CELL:
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
            bh = max(2, int(round(c / 9)))
            x0, x1 = int(round(0.12 * c)), c - int(round(0.12 * c))
            y0 = max(0, int(round(0.06 * c)))
            width = x1 - x0
            filled = np.round(frac * (width - 2)).astype(int)  # inner fill, 1 px dark frame
            xs = np.arange(width)[None, :]
            fill = (xs >= 1) & (xs < 1 + filled[:, None])  # (U, width)
            bar = np.broadcast_to(np.float32([34, 34, 38]), (u, bh, width, 3)).copy()
            inner_rows = slice(1, bh - 1) if bh > 2 else slice(0, bh)
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


def _ball_label_tiles(tiles: np.ndarray, codes: np.ndarray, owners: np.ndarray, c: int) -> tuple:
    """Extend the tile table with labelled ball tiles; returns ``(tiles, codes)`` (see rasterize)."""
    ball = owners >= 0
    keys, inv = np.unique(np.stack([codes[ball], owners[ball]], axis=1), axis=0, return_inverse=True)
    labelled = tiles[keys[:, 0]].copy()
    mask = _label_masks(keys[:, 1], c)
    labelled[mask] = 255
    codes = codes.copy()
    codes[ball] = len(tiles) + inv.reshape(-1)
    return np.concatenate([tiles, labelled]), codes


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
            int, ``view`` is not a non-empty window inside the map, or a ``highlight`` index is out
            of range.
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

    # ---- background codes (vh, vw)
    balls = np.asarray(state.balls)[win]
    land = np.asarray(state.landmarks)[win]
    code = np.zeros((vh, vw), dtype=np.int16)
    code[np.asarray(state.food)[win]] = BG_FOOD
    code[land >= 0] = BG_LANDMARK
    if state.target >= 0:
        code[land == state.target] = BG_TARGET
    code[np.asarray(state.pits)[win]] = BG_PIT
    has_ball = balls >= 0
    owner = np.where(has_ball, balls, -1).astype(np.int64)
    if has_ball.any():
        if owner.max() >= m:
            raise ValueError(f"state.balls: owner {owner.max()} is not an entity (M = {m})")
        code[has_ball] = BG_BALL + styles[owner[has_ball]].astype(np.int64) % k
    code[np.asarray(state.walls)[win]] = BG_WALL
    any_balls = bool((np.asarray(state.balls) >= 0).any())
    if labels is None:
        labels = any_balls and c >= LABEL_CELL
    tiles = _background_tiles(c, TEAM_COLOURS, shine=not labels)
    if labels and has_ball.any():
        tiles, code = _ball_label_tiles(tiles, code.astype(np.int64), owner, c)
    out = tiles[code]  # (vh, vw, c, c, 3)

    # ---- entities
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
        # draw highlighted entities last so they win a shared cell
        idx = idx[np.argsort(halo[idx], kind="stable")]
        level = np.rint(np.clip(np.nan_to_num(hp[idx], nan=1.0), 0, 1) * HP_LEVELS).astype(np.int64)
        style = styles[idx].astype(np.int64) % k
        label = idx if labels else np.full(idx.size, -1, dtype=np.int64)
        key = np.stack([style, level, halo[idx].astype(np.int64), label], axis=1)
        kinds, inv = np.unique(key, axis=0, return_inverse=True)
        rgb, alpha = _agent_sprites(c, TEAM_COLOURS[kinds[:, 0]], kinds[:, 1], kinds[:, 2].astype(bool),
                                    kinds[:, 3])
        flat = (pos[idx, 0] - r0) * vw + (pos[idx, 1] - c0)
        who = np.full(vh * vw, -1, dtype=np.int64)
        who[flat] = inv.reshape(-1)  # one sprite per cell; with repeats, the last entity wins
        cells = np.flatnonzero(who >= 0)
        kind = who[cells]
        tiles_flat = out.reshape(vh * vw, c, c, 3)
        blended = _mix(tiles_flat[cells].astype(np.float32), rgb[kind], alpha[kind])
        tiles_flat[cells] = np.rint(blended).astype(np.uint8)
    return out.transpose(0, 2, 1, 3, 4).reshape(vh * c, vw * c, 3)


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
