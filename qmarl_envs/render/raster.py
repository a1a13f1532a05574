"""NumPy rasteriser: env state -> ``uint8 (H, W, 3)`` frame. Needs no display and no pygame.

Each map cell becomes a ``cell x cell`` pixel block. Static layers colour the block; an agent is
drawn as an inset square in its team/role colour. Everything is vectorised over cells and agents.
"""

from __future__ import annotations

import numpy as np

FLOOR = np.array([236, 236, 228], np.uint8)
WALL = np.array([70, 70, 78], np.uint8)
PIT = np.array([40, 24, 24], np.uint8)
FOOD = np.array([120, 200, 110], np.uint8)
LANDMARK = np.array([200, 190, 150], np.uint8)
TARGET = np.array([250, 200, 40], np.uint8)
TEAM_COLOURS = np.array([
    [220, 60, 50],    # 0 red / agents
    [50, 110, 220],   # 1 blue
    [150, 70, 190],   # 2 purple (adversary)
    [240, 140, 30],   # 3 orange
    [30, 160, 150],   # 4 teal
    [120, 120, 40],   # 5 olive
], np.uint8)
"""``uint8 (K, 3)`` palette indexed by :meth:`Scenario.entity_styles`."""


def cell_size(shape: tuple[int, int], max_pixels: int = 720) -> int:
    """Pixels per cell so that the longer map side fits in ``max_pixels`` (between 1 and 64)."""
    return int(np.clip(max_pixels // max(shape), 1, 64))


def rasterize(state, styles: np.ndarray, cell: int | None = None) -> np.ndarray:
    """Draw a :class:`~qmarl_envs.core.state.GridState`.

    Args:
        state: the grid state.
        styles: ``int (M,)`` palette index per entity (see :data:`TEAM_COLOURS`).
        cell: pixels per cell; default :func:`cell_size`.

    Returns:
        ``uint8 (H * cell, W * cell, 3)`` RGB frame.
    """
    h, w = state.shape
    c = cell_size(state.shape) if cell is None else int(cell)
    grid = np.broadcast_to(FLOOR, (h, w, 3)).copy()
    grid[state.walls] = WALL
    grid[state.pits] = PIT
    grid[state.food] = FOOD
    grid[state.landmarks >= 0] = LANDMARK
    if state.target >= 0:
        grid[state.landmarks == state.target] = TARGET
    ball = state.balls >= 0
    if ball.any():
        owner = state.balls[ball].astype(np.int64) % len(TEAM_COLOURS)
        grid[ball] = (TEAM_COLOURS[owner].astype(np.int32) + 2 * 255) // 3  # pale owner colour
    agent_rgb = np.zeros((h, w, 3), np.uint8)
    has_agent = np.zeros((h, w), bool)
    alive = state.alive
    if alive.any():
        p = state.positions[alive]
        agent_rgb[p[:, 0], p[:, 1]] = TEAM_COLOURS[np.asarray(styles)[alive] % len(TEAM_COLOURS)]
        has_agent[p[:, 0], p[:, 1]] = True
    img = np.repeat(np.repeat(grid, c, axis=0), c, axis=1)
    if c >= 3:
        m = max(1, c // 6)
        inset = np.zeros((c, c), bool)
        inset[m:c - m, m:c - m] = True
    else:
        inset = np.ones((c, c), bool)
    mask = np.kron(has_agent, inset).astype(bool)
    img[mask] = np.repeat(np.repeat(agent_rgb, c, axis=0), c, axis=1)[mask]
    return img


def render_env(env) -> np.ndarray:
    """Frame of a :class:`~qmarl_envs.api.parallel.GridParallelEnv` (``uint8 (H, W, 3)``)."""
    st = env.grid_state
    return rasterize(st, env.scenario.entity_styles(st))
