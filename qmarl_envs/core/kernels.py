"""Pure, vectorised grid kernels shared by every scenario.

Every function here takes and returns NumPy arrays, keeps no state, and contains no per-agent Python
loop, so one call costs the same order of time per agent at 4 agents and at 10,000 agents.

Conventions used throughout:

* A cell is ``(row, col)``; row 0 is the top of the map, col 0 the left edge.
* ``positions`` is ``int32 (N, 2)`` in cells; ``alive`` is ``bool (N,)``.
* Actions follow :data:`ACTION_NAMES`: ``0 up (row-1), 1 down (row+1), 2 left (col-1),
  3 right (col+1), 4 stay``. The Q-MARL paper's list (seed 002, §3.1.1) is "up, down, left, right,
  stay"; the official QBM code (research/qbm.md §3) used ``0 up, 1 right, 2 down, 3 left, 4 stay`` and
  the environments document that difference.

Sources: the blocking and stacking rules follow the Q-MARL authors' ``GridWorld.transition``
(research/qmarl.md §1, [C]) and the QBM gridworld (research/qbm.md §3): a move off the map or into a
blocked cell leaves the agent where it was, and several agents may share a cell.
"""

from __future__ import annotations

import numpy as np

ACTION_NAMES: tuple[str, ...] = ("up", "down", "left", "right", "stay")
"""Names of the five grid actions, indexed by action id."""

ACTION_DELTAS: np.ndarray = np.array([[-1, 0], [1, 0], [0, -1], [0, 1], [0, 0]], dtype=np.int32)
"""``int32 (5, 2)``: ``(d_row, d_col)`` of each action id, in cells."""
ACTION_DELTAS.flags.writeable = False

NUM_ACTIONS: int = 5

OFF_MAP: float = -1.0
"""Value written into every channel of a local-view cell that lies outside the map."""


def move(
    positions: np.ndarray,
    actions: np.ndarray,
    blocked: np.ndarray,
    alive: np.ndarray | None = None,
) -> np.ndarray:
    """Apply one move per agent with the blocking rules.

    A move that would leave the map, or enter a cell where ``blocked`` is True, leaves the agent in
    place. Agents do not block each other (several may share a cell). Dead agents do not move.

    Args:
        positions: ``int32 (N, 2)`` current cells.
        actions: integer ``(N,)`` action ids in ``[0, 5)`` (see :data:`ACTION_NAMES`).
        blocked: ``bool (H, W)``; True marks cells no agent may enter (walls, food, ...).
        alive: optional ``bool (N,)``; agents with False keep their cell.

    Returns:
        ``int32 (N, 2)``: the new cells (a new array; inputs are not modified).

    Raises:
        ValueError: if shapes disagree or an action id is outside ``[0, 5)``.
    """
    positions = np.asarray(positions)
    actions = np.asarray(actions)
    if positions.ndim != 2 or positions.shape[1] != 2:
        raise ValueError(f"positions: expected shape (N, 2), got {positions.shape}")
    if actions.shape != (positions.shape[0],):
        raise ValueError(f"actions: expected shape ({positions.shape[0]},), got {actions.shape}")
    if actions.size and (actions.min() < 0 or actions.max() >= NUM_ACTIONS):
        raise ValueError(f"actions: expected ids in [0, {NUM_ACTIONS}), got range "
                         f"[{actions.min()}, {actions.max()}]")
    h, w = blocked.shape
    target = positions + ACTION_DELTAS[actions]
    inside = (target[:, 0] >= 0) & (target[:, 0] < h) & (target[:, 1] >= 0) & (target[:, 1] < w)
    ok = inside.copy()
    ok[inside] = ~blocked[target[inside, 0], target[inside, 1]]
    if alive is not None:
        ok &= alive
    return np.where(ok[:, None], target, positions).astype(np.int32, copy=False)


def flat_index(positions: np.ndarray, width: int, pad: int = 0) -> np.ndarray:
    """Row-major flat cell index of each position, optionally in a map padded by ``pad`` cells.

    Args:
        positions: integer ``(N, 2)`` cells.
        width: map width ``W`` in cells (unpadded).
        pad: border width added on every side.

    Returns:
        ``int64 (N,)``: ``(row + pad) * (W + 2 pad) + (col + pad)``.
    """
    p = positions.astype(np.int64, copy=False)
    return (p[:, 0] + pad) * (width + 2 * pad) + (p[:, 1] + pad)


def occupancy(
    positions: np.ndarray,
    shape: tuple[int, int],
    alive: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    pad: int = 0,
) -> np.ndarray:
    """Count the (live) agents in every cell.

    Args:
        positions: integer ``(N, 2)`` cells.
        shape: map shape ``(H, W)`` in cells.
        alive: optional ``bool (N,)``; dead agents are not counted.
        weights: optional ``(N,)`` weights to sum instead of counts (e.g. a team indicator).
        pad: border width of zeros added on every side of the result.

    Returns:
        ``int32 (H + 2 pad, W + 2 pad)`` counts, or ``float64`` sums when ``weights`` is given.
    """
    h, w = shape
    idx = flat_index(positions, w, pad)
    wts = None if weights is None else np.asarray(weights, dtype=np.float64)
    if alive is not None:
        idx = idx[alive]
        if wts is not None:
            wts = wts[alive]
    size = (h + 2 * pad) * (w + 2 * pad)
    counts = np.bincount(idx, weights=wts, minlength=size)
    if wts is None:
        counts = counts.astype(np.int32, copy=False)
    return counts.reshape(h + 2 * pad, w + 2 * pad)


def window_offsets(radius: int, width: int, pad: int | None = None) -> np.ndarray:
    """Flat-index offsets of the ``(2r+1) x (2r+1)`` window in a map padded by ``pad`` (default r).

    Returns:
        ``int64 (2r+1, 2r+1)`` offsets to add to :func:`flat_index` of the window centre.
    """
    pad = radius if pad is None else pad
    d = np.arange(-radius, radius + 1, dtype=np.int64)
    return d[:, None] * (width + 2 * pad) + d[None, :]


def pad_layers(layers: np.ndarray, radius: int, fill: float = OFF_MAP) -> np.ndarray:
    """Pad an ``(H, W, C)`` layer stack with ``radius`` cells of ``fill`` on every side.

    Returns:
        ``(H + 2r, W + 2r, C)`` array of the same dtype as ``layers``.
    """
    r = radius
    return np.pad(layers, ((r, r), (r, r), (0, 0)), mode="constant", constant_values=fill)


def local_view(
    padded: np.ndarray,
    positions: np.ndarray,
    radius: int,
) -> np.ndarray:
    """Gather each agent's ``(2r+1) x (2r+1)`` window from a padded layer stack.

    Off-map cells carry whatever :func:`pad_layers` wrote there (:data:`OFF_MAP` by default), so the
    agent can tell the map edge from an empty cell.

    Args:
        padded: ``(H + 2r, W + 2r, C)`` layers padded by exactly ``radius`` (see :func:`pad_layers`).
        positions: integer ``(N, 2)`` window centres in unpadded cells.
        radius: view radius ``r`` in cells (Chebyshev).

    Returns:
        ``(N, 2r+1, 2r+1, C)`` array, same dtype as ``padded``; ``[:, r, r]`` is the agent's own cell.

    Raises:
        ValueError: if ``padded`` is not 3-D.
    """
    if padded.ndim != 3:
        raise ValueError(f"padded: expected (H+2r, W+2r, C), got shape {padded.shape}")
    hp, wp, c = padded.shape
    w = wp - 2 * radius
    centre = flat_index(positions, w, radius)
    idx = centre[:, None, None] + window_offsets(radius, w)[None]
    return padded.reshape(hp * wp, c)[idx]


def gather_window(padded_flat: np.ndarray, positions: np.ndarray, radius: int, width: int,
                  pad: int) -> np.ndarray:
    """Gather a ``(2r+1) x (2r+1)`` window from one flattened padded ``(H+2p)*(W+2p)`` grid.

    The single-channel fast path of :func:`local_view`, used when channels come from different
    sources (a static food layer and a per-step occupancy count, say).

    Args:
        padded_flat: ``((H + 2 pad) * (W + 2 pad),)`` grid, any dtype; ``pad >= radius``.
        positions: integer ``(N, 2)`` unpadded cells.
        radius: window radius in cells.
        width: unpadded map width ``W``.
        pad: padding of ``padded_flat``.

    Returns:
        ``(N, 2r+1, 2r+1)`` array of ``padded_flat``'s dtype.
    """
    centre = flat_index(positions, width, pad)
    return padded_flat[centre[:, None, None] + window_offsets(radius, width, pad)[None]]


def _ragged_arange(counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(c) for c in counts])`` without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    starts = np.repeat(ends - counts, counts)
    return np.arange(total, dtype=np.int64) - starts


def neighbor_edges(
    positions: np.ndarray,
    shape: tuple[int, int],
    radius: int = 1,
    alive: np.ndarray | None = None,
) -> np.ndarray:
    """Directed edges between distinct live agents within Chebyshev distance ``radius``.

    Two agents are neighbours when each lies inside the other's ``(2r+1) x (2r+1)`` window, which is
    the Q-MARL graph rule ("connected if one is present in the local observation of the other",
    seed 002 §3.1.1) for a square window. Both directions ``(i, j)`` and ``(j, i)`` are listed;
    self-loops are not. Cost is O(N (2r+1)^2 + E) with a counting sort by cell, no pairwise matrix.

    Args:
        positions: integer ``(N, 2)`` cells.
        shape: map shape ``(H, W)``.
        radius: Chebyshev radius ``r >= 0`` in cells.
        alive: optional ``bool (N,)``; dead agents have no edges.

    Returns:
        ``int64 (2, E)``: row 0 the source agent index, row 1 the destination, sorted by source.

    Raises:
        ValueError: if ``radius`` is negative.
    """
    if radius < 0:
        raise ValueError(f"radius: expected >= 0, got {radius}")
    n = positions.shape[0]
    live = np.arange(n) if alive is None else np.flatnonzero(alive)
    if live.size == 0:
        return np.zeros((2, 0), dtype=np.int64)
    h, w = shape
    pad = radius
    wp = w + 2 * pad
    cell = flat_index(positions[live], w, pad)
    order = np.argsort(cell, kind="stable")
    counts = np.bincount(cell, minlength=(h + 2 * pad) * wp)
    starts = np.cumsum(counts) - counts
    offs = window_offsets(radius, w, pad).ravel()
    # (L, K) cells in each agent's window, their occupant counts and first slot in `order`
    win = cell[:, None] + offs[None, :]
    cnt = counts[win].ravel()
    first = starts[win].ravel()
    src_local = np.repeat(np.repeat(np.arange(live.size), offs.size), cnt)
    dst_local = order[np.repeat(first, cnt) + _ragged_arange(cnt)]
    keep = src_local != dst_local
    src, dst = live[src_local[keep]], live[dst_local[keep]]
    return np.stack([src, dst]).astype(np.int64, copy=False)


def bfs_distances(passable: np.ndarray, sources: np.ndarray, until: np.ndarray | None = None) -> np.ndarray:
    """Shortest 4-connected path length from the nearest source to every cell.

    Breadth-first search done as repeated whole-map dilation (one NumPy pass per ring), so its cost
    is O(H W D) for map diameter D. Used for layout checks, scripted policies and optimal returns.

    Args:
        passable: ``bool (H, W)``; True where an agent may stand.
        sources: ``bool (H, W)``; cells at distance 0 (need not be passable).
        until: optional ``bool (H, W)``; stop as soon as every True cell has its distance (cells
            farther away may then be left at ``-1``).

    Returns:
        ``int32 (H, W)`` distances in steps; ``-1`` where no source can be reached.
    """
    h, w = passable.shape
    dist = np.full((h, w), -1, dtype=np.int32)
    frontier = sources.astype(bool).copy()
    dist[frontier] = 0
    d = 0
    while frontier.any() and (until is None or (dist[until] < 0).any()):
        d += 1
        grown = np.zeros_like(frontier)
        grown[1:, :] |= frontier[:-1, :]
        grown[:-1, :] |= frontier[1:, :]
        grown[:, 1:] |= frontier[:, :-1]
        grown[:, :-1] |= frontier[:, 1:]
        frontier = grown & passable & (dist < 0)
        dist[frontier] = d
    return dist


def manhattan_distances(sources: np.ndarray) -> np.ndarray:
    """Manhattan distance from every cell to the nearest source cell of an obstacle-free map.

    On a map without walls the shortest 4-connected path is the Manhattan distance, so this equals
    :func:`bfs_distances` with every cell passable, but costs four cumulative minima (the L1
    distance transform is separable: ``min_r' f(r') + |r - r'|`` is ``r + cummin(f - r)`` from
    above and ``-r + cummin(f + r)`` from below, first along rows, then along columns) instead of
    one whole-map pass per ring.

    Args:
        sources: ``bool (H, W)``; cells at distance 0.

    Returns:
        ``int32 (H, W)`` distances in steps; all ``-1`` if there is no source.
    """
    h, w = sources.shape
    if not sources.any():
        return np.full((h, w), -1, dtype=np.int32)
    big = np.int32(h + w + 2)
    f = np.where(sources, np.int32(0), big)
    for axis, k in ((0, h), (1, w)):
        x = np.arange(k, dtype=np.int32)
        x = x[:, None] if axis == 0 else x[None, :]
        down = np.minimum.accumulate(f - x, axis=axis) + x
        flip = (slice(None, None, -1), slice(None)) if axis == 0 else (slice(None), slice(None, None, -1))
        up = np.minimum.accumulate((f + x)[flip], axis=axis)[flip] - x
        f = np.minimum(down, up)
    return f


def sample_free_cells(rng: np.random.Generator, free: np.ndarray, n: int) -> np.ndarray:
    """Draw ``n`` distinct cells uniformly from the True cells of ``free``.

    Same draws as ``rng.choice(np.flatnonzero(free), n, replace=False)`` (the generator is called
    the same way), through :func:`sample_cells_except` with the False cells as exclusions.

    Args:
        rng: the env's generator.
        free: ``bool (H, W)`` candidate cells.
        n: number of cells to draw.

    Returns:
        ``int32 (n, 2)`` cells.

    Raises:
        ValueError: if ``free`` has fewer than ``n`` True cells.
    """
    count = int(np.count_nonzero(free))
    exclude = None if count == free.size else np.flatnonzero(~free.ravel())
    return sample_cells_except(rng, free.shape, n, exclude)


def nth_free(k: np.ndarray, exclude: np.ndarray, count: int | None = None) -> np.ndarray:
    """Flat index of the ``k``-th cell (0-based, row-major) that is not in ``exclude``.

    ``np.flatnonzero(free)[k]`` without scanning the map: with ``E`` the sorted exclusions, the
    answer is ``k + #{i : E[i] - i <= k}``. For many ranks and few exclusions that count is read
    from a table over the ranks (one ``np.repeat`` of the exclusion indices, about 0.2 ns a rank
    against about 20 ns a binary search); otherwise it is one binary search per entry of ``k``.

    Args:
        k: integer ``(K,)`` ranks among the free cells.
        exclude: ``int64 (M,)`` sorted, distinct flat cells that are not free.
        count: the number of free cells (every ``k`` is below it), if known; enables the table.

    Returns:
        ``int64 (K,)`` flat cells.
    """
    k = np.asarray(k, dtype=np.int64)
    if exclude.size == 0:
        return k
    shifted = exclude - np.arange(exclude.size, dtype=np.int64)
    if count is not None and count + 45 * exclude.size < 100 * k.size:
        # table[j] = #{i : shifted[i] <= j} for every rank j < count
        # (the gaps between the shifted exclusions, with 0 and count as ends: np.diff with
        # prepend/append costs about 5x more)
        lengths = np.empty(exclude.size + 1, dtype=np.int64)
        lengths[0] = shifted[0]
        np.subtract(shifted[1:], shifted[:-1], out=lengths[1:-1])
        lengths[-1] = int(count) - shifted[-1]
        dtype = np.int16 if exclude.size < 2**15 else np.int64
        return k + np.repeat(np.arange(exclude.size + 1, dtype=dtype), lengths)[k]
    # binary search with sorted keys (several times faster than with random ones), then unsort
    order = np.argsort(k)
    ks = k[order]
    out = np.empty_like(k)
    out[order] = ks + np.searchsorted(shifted, ks, side="right")
    return out


def sample_flat_except(rng: np.random.Generator, size: int, n: int,
                       exclude: np.ndarray | None = None) -> np.ndarray:
    """:func:`sample_cells_except` as row-major flat indices: ``int64 (n,)`` distinct cells of
    ``range(size)`` outside ``exclude`` (same draws).

    Raises:
        ValueError: if fewer than ``n`` cells are free.
    """
    count = int(size) - (0 if exclude is None else int(exclude.size))
    if count < n:
        raise ValueError(f"cannot place {n} agents on {count} free cells")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    pick = rng.choice(count, size=n, replace=False)
    return pick if exclude is None else nth_free(pick, exclude, count)


def sample_cells_except(rng: np.random.Generator, shape: tuple[int, int], n: int,
                        exclude: np.ndarray | None = None) -> np.ndarray:
    """Draw ``n`` distinct cells uniformly from an ``(H, W)`` map, outside ``exclude``.

    The draws equal ``rng.choice(free_cells, n, replace=False)`` over the row-major list of the
    other cells (NumPy draws the same indices from ``rng.choice(count, ...)`` as from an array of
    that length), but the free cells are never listed: the drawn ranks are mapped to cells by
    :func:`nth_free` (binary searches among the ``M`` exclusions, or, for many ranks and few
    exclusions, one table over the ranks built by ``np.repeat``).

    Args:
        rng: the env's generator.
        shape: ``(H, W)`` map shape in cells.
        n: number of cells to draw.
        exclude: optional ``int64 (M,)`` sorted, distinct row-major flat cells that may not be
            drawn (``None``: every cell is free).

    Returns:
        ``int32 (n, 2)`` ``(row, col)`` cells.

    Raises:
        ValueError: if fewer than ``n`` cells are free.
    """
    h, w = int(shape[0]), int(shape[1])
    pick = sample_flat_except(rng, h * w, n, exclude)
    out = np.empty((n, 2), dtype=np.int32)
    rows = pick // w
    out[:, 0] = rows
    out[:, 1] = pick - rows * w
    return out
