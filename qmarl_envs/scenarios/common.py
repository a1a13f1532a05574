"""Shared machinery of the Q-MARL scenarios (Jungle, Battle, Deception): flat padded geometry,
fast observation assembly, density defaults, config validation, and the vectorised nearest-target
search behind every ``scripted_actions``.

Everything is built for 10,000 agents: a map is handled as one flat array padded by
:data:`PAD` cells on every side, so that a move, a 3x3 window or a cell of the radius-4 search
diamond is an integer offset added to a cell's flat index, and an off-map cell is an ordinary
padded cell (blocked for moves, :data:`~qmarl_envs.core.kernels.OFF_MAP` in observations). In an
env step nothing scans the map except :func:`numpy.bincount` occupancy counts (one C loop);
windows are gathered with precomputed offsets; static layers are padded once per episode.

Sources: rules from the Q-MARL paper (seed 002, §3.1.1) and the authors' code (research/qmarl.md
§1, [C]); the observation windows, counts and ``-1`` off-map cells follow [C]'s ``get_view``.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Callable

import numpy as np

from qmarl_envs.core import kernels

PAD: int = 4
"""Border (cells) added on every side of a map: covers the 3x3 view (radius 1) and the radius-4
diamond of :func:`seek_actions`."""

SEARCH_RADIUS: int = 4
"""Manhattan radius (cells) of the exact local search in :func:`seek_actions`."""

BLOCK: int = 3
"""Side (cells) of the coarse blocks used by :func:`seek_actions` beyond :data:`SEARCH_RADIUS`. Any
cell of an agent's own block lies within Chebyshev 2, hence Manhattan 4, so the local search
always covers it."""

ACTION_ROW = np.array([-1, 1, 0, 0, 0], dtype=np.int64)
"""``int64 (5,)``: row change of each action id (cells)."""
ACTION_COL = np.array([0, 0, -1, 1, 0], dtype=np.int64)
"""``int64 (5,)``: column change of each action id (cells)."""
UP, DOWN, LEFT, RIGHT, STAY = 0, 1, 2, 3, 4


# ---------------------------------------------------------------------------- config helpers
def check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> None:
    """Raise a ``ValueError`` naming ``name`` unless ``value`` is an int in ``[minimum, maximum]``.

    Raises:
        ValueError: for a bool, a non-integer, or a value out of range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}: expected an int, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        hi = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name}: expected an int >= {minimum}{hi}, got {value!r}")


def check_float(name: str, value: Any, low: float, high: float, *, low_open: bool = False) -> None:
    """Raise a ``ValueError`` naming ``name`` unless ``value`` is a real number in range.

    Args:
        name: argument name for the message.
        value: the value to check.
        low, high: inclusive bounds (``low`` exclusive when ``low_open``).
        low_open: exclude ``low`` itself.

    Raises:
        ValueError: for a bool, a non-number, NaN, or a value out of range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    v = float(value)
    bad_low = v <= low if low_open else v < low
    if not math.isfinite(v) or bad_low or v > high:
        lo = f"> {low}" if low_open else f">= {low}"
        raise ValueError(f"{name}: expected a number {lo} and <= {high}, got {value!r}")


def side_for_density(count: int, density: float) -> int:
    """Side of the smallest square map that holds ``count`` bodies at ``density`` bodies per cell.

    Args:
        count: number of bodies (agents) to place.
        density: bodies per cell, in ``(0, 1]``.

    Returns:
        ``ceil(sqrt(count / density))``, at least 2 (cells).
    """
    return max(2, math.ceil(math.sqrt(count / density) - 1e-9))



class DensityMapConfig:
    """Mixin for scenario configs with ``num_agents``, ``map_size`` (None: density default) and
    ``agent_density`` fields: gives the map side they imply."""

    @property
    def side(self) -> int:
        """The map side ``S`` in cells (``map_size`` or its density default)."""
        if self.map_size is not None:
            return int(self.map_size)
        return side_for_density(self.num_agents, self.agent_density)


def count_for_density(side: int, density: float, minimum: int) -> int:
    """``round(density * side**2)``, at least ``minimum``: a static-object count for a square map."""
    return max(minimum, int(round(density * side * side)))


# ---------------------------------------------------------------------------- placement
def spaced_cells(rng: np.random.Generator, free: np.ndarray, n: int, spacing: int,
                 rounds: int = 64, restarts: int = 32, *,
                 exclude: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Draw ``n`` cells at random with pairwise Manhattan distance at least ``spacing``.

    Vectorised repair sampling: draw ``n`` distinct free cells; every cell with a lower-numbered
    cell closer than ``spacing`` is redrawn among the free cells outside the kept cells' exclusion
    diamonds; repeat. After ``rounds`` rounds without success the draw restarts; after
    ``restarts`` restarts the spacing is lowered by one (spacing 1 is plain distinct sampling), so
    a crowded map still gets a start, as spread as the attempts found.

    Cost (the draws are those of checking every cell each round and rebuilding the exclusion map:
    same generator calls, same results; ``tests/envs/test_reset.py`` compares with that plain
    algorithm): after the first round only the redrawn cells are checked (they lie outside every
    kept cell's diamond, so a conflict can only be between two redrawn cells, and kept cells stay
    kept); a conflict is looked up from one side only (half of the diamond's offsets, the later
    cell of a pair is redrawn); the exclusion map is grown by the newly kept cells only; a redraw picks
    ranks among the allowed cells and maps them to cells through per-chunk counts of the map
    (:class:`_OpenCells`) instead of listing the allowed cells; the first draw maps ranks to cells
    without scanning the map (:func:`kernels.sample_cells_except`).

    Args:
        rng: the env's generator.
        free: ``bool (H, W)`` cells a body may start on.
        n: number of cells.
        spacing: wanted minimum Manhattan distance (``>= 1``).
        rounds, restarts: effort per spacing level.
        exclude: optional ``int64 (M,)`` sorted row-major flat cells where ``free`` is False, if
            the caller has them (saves a scan of the map; must agree with ``free``).

    Returns:
        ``(cells, spacing_used)``: ``int32 (n, 2)`` cells and the spacing they satisfy.

    Raises:
        ValueError: if ``free`` has fewer than ``n`` cells.
    """
    h, w = free.shape
    if exclude is None:
        exclude = np.flatnonzero(~free.ravel())
    exclude = np.asarray(exclude, dtype=np.int64)
    if h * w - exclude.size < n:
        raise ValueError(f"cannot place {n} bodies on {h * w - exclude.size} free cells")
    for s in range(max(int(spacing), 1), 1, -1):
        g, half, offs0 = _spacing_geometry(h, w, s - 1)
        # row-major cell c -> padded cell c + (c // w) * 2 pad + to_padded
        to_padded = g.pad * (g.wp + 1)
        closed = exclude + (exclude // w) * (2 * g.pad) + to_padded     # padded cells not free
        occupied, owner, buf = _spacing_scratch(g)
        mark = np.zeros(n, dtype=bool)
        blocked = buf[:g.size]
        for _ in range(restarts):
            cells = kernels.sample_flat_except(rng, h * w, n, exclude)
            cells += (cells // w) * (2 * g.pad) + to_padded
            idx = np.arange(n, dtype=np.int32)          # cells that may conflict (all at first)
            np.logical_not(g.inside, out=blocked)
            blocked[closed] = True
            for _ in range(rounds):
                sub = cells[idx]
                # pairs closer than s, each seen once (offset d or -d); the later one is redrawn
                occupied[sub] = True
                hit = np.flatnonzero(occupied.take(half[:, None] + sub[None, :]))
                di, col = np.divmod(hit, sub.size)   # (2-D np.nonzero is ~40x slower here)
                occupied[sub] = False
                if col.size == 0:
                    return g.positions(cells), s
                owner[sub] = idx
                mark[np.maximum(idx[col], owner.take(sub[col] + half[di]))] = True
                bad = mark[idx]
                mark[:] = False
                kept = sub[~bad]
                # (scattering every diamond cell costs more than the map passes from about a
                # third of a map of indices on: measured at 10,000 agents on 500x500)
                if kept.size * offs0.size > g.size // 3:
                    _block_diamonds(g, blocked, kept, s - 1)
                else:
                    blocked[(offs0[:, None] + kept[None, :]).ravel()] = True
                idx = idx[bad]
                # the free cells outside every kept diamond, ranked in flat order (the draw is
                # rng.choice(np.flatnonzero(~blocked), ...), without listing those cells)
                allowed = _OpenCells(buf)
                if allowed.count < idx.size:
                    break
                cells[idx] = allowed.select(rng.choice(allowed.count, size=idx.size, replace=False))
    return kernels.sample_cells_except(rng, (h, w), n, exclude), 1


_ONES = np.uint64(0x0101010101010101)
_EIGHTS = np.uint64(0x0808080808080808)
_HIGH = np.uint64(0x8080808080808080)
_GATHER_BITS = np.uint64(0x0102040810204080)
"""``(w * _GATHER_BITS) >> 56`` packs the 8 bytes (0 or 1 each) of ``w`` into the bits of a byte."""
_U56 = np.uint64(56)


def _select_table() -> np.ndarray:
    """``int64 (256 * 8,)``: entry ``8 * m + r`` is the position of the ``r``-th set bit (0-based)
    of ``m`` (flat: one 1-D ``take`` is several times cheaper than 2-D fancy indexing)."""
    table = np.zeros((256, 8), dtype=np.int64)
    for m in range(256):
        bits = [i for i in range(8) if m >> i & 1]
        table[m, :len(bits)] = bits
    return table.ravel()


_SELECT = _select_table()


class _OpenCells:
    """The cells of a boolean map that are False (open), ranked in flat order, without listing them.

    ``_OpenCells(buf).select(k)`` equals ``np.flatnonzero(~buf)[k]``, for the cost of one pass
    over ``buf`` as 64-bit words (a popcount per 8 cells, a prefix sum per 64 cells) instead of
    writing out every open cell. Bytes of a bool array are 0 or 1, so a word's popcount is its
    count of True cells (8 minus it: its open cells), and byte sums of a word are taken by
    multiplying with ``0x0101...01``.

    Args:
        buf: ``bool (M,)``, ``M`` a multiple of 64, C-contiguous: True for blocked cells.

    Attributes:
        count: number of open cells.
    """

    def __init__(self, buf: np.ndarray):
        self.words = buf.view(np.uint64)                        # (M/8,): 1-bytes on blocked cells
        # (M/64,): byte j = open cells of word j (8 minus a count of at most 8: no borrows)
        self.packed = _EIGHTS - np.bitwise_count(self.words).view(np.uint64)
        self.per_chunk = (self.packed * _ONES) >> _U56            # (M/64,) open cells per 64 cells
        self.cum = np.cumsum(self.per_chunk.view(np.int64))
        self.count = int(self.cum[-1]) if self.cum.size else 0

    def select(self, ranks: np.ndarray) -> np.ndarray:
        """``int64 (K,)`` flat cells of the open cells of rank ``ranks`` (``int (K,)``, each in
        ``[0, count)``)."""
        ranks = np.asarray(ranks, dtype=np.int64)
        if ranks.size * 8 > self.cum.size:
            # many ranks: a chunk per rank (NumPy's searchsorted costs ~50 ns per unsorted key)
            # (chunk numbers as int16 where they fit: the table is as long as the open cells)
            dtype = np.int16 if self.cum.size <= 2**15 else np.int64
            chunk = np.repeat(np.arange(self.cum.size, dtype=dtype),
                              self.per_chunk.view(np.int64))[ranks].astype(np.int64)
        else:
            chunk = np.searchsorted(self.cum, ranks, side="right")
        r = ranks - self.cum[chunk] + self.per_chunk.view(np.int64)[chunk]   # rank in the chunk
        prefix = self.packed[chunk] * _ONES          # byte j: open cells in the chunk's words 0..j
        # word j of the chunk holds it when prefix_j > r >= prefix_(j-1): count the bytes <= r
        over = ((prefix | _HIGH) - (r + 1).view(np.uint64) * _ONES) & _HIGH
        j = 8 - np.bitwise_count(over).astype(np.int64)
        before = ((prefix << np.uint64(8)) >> (8 * j).view(np.uint64)) & np.uint64(0xFF)
        word = chunk * 8 + j
        bits = ((self.words[word] ^ _ONES) * _GATHER_BITS) >> _U56      # open cells of the word
        return word * 8 + _SELECT.take(bits.view(np.int64) * 8 + r - before.view(np.int64))


def _block_diamonds(g: "FlatGrid", blocked: np.ndarray, cells: np.ndarray, r: int) -> None:
    """Set ``blocked`` (``bool (size,)``, padded by ``r``) on every cell within Manhattan ``r`` of
    ``cells``: ``r`` dilations by the 4-neighbourhood (whole-map shifted ORs, cheaper than
    scattering ``(2r^2 + 2r + 1) * len(cells)`` indices for thousands of cells). The padding of
    width ``r`` absorbs the shifts, so nothing wraps from one row into the next map row."""
    wp = g.wp
    grown = np.zeros(g.size, dtype=bool)
    grown[cells] = True
    for _ in range(r):
        prev = grown.copy()
        grown[1:] |= prev[:-1]
        grown[:-1] |= prev[1:]
        grown[wp:] |= prev[:-wp]
        grown[:-wp] |= prev[wp:]
    blocked |= grown


_SPACING_CACHE: dict[tuple[int, int, int], tuple] = {}
_SCRATCH = threading.local()


def _spacing_scratch(g: "FlatGrid") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-thread scratch maps of :func:`spaced_cells` for the padded grid ``g``, kept between
    calls (fresh map-sized arrays cost a page fault per 4 KB page on their first writes, about as
    much as the sampling itself at 10,000 agents):

    * ``occupied``: ``bool (size,)``, all False between uses;
    * ``owner``: ``int32 (size,)``, arbitrary values (only cells written in the same round are
      read);
    * ``buf``: ``bool (M,)``, ``M`` the size rounded up to whole 64-cell chunks: the exclusion map
      ``buf[:size]`` (rewritten on every restart) followed by blocked (True) cells (see
      :class:`_OpenCells`).
    """
    cache = getattr(_SCRATCH, "maps", None)
    if cache is None or cache[0] != g.size:
        occupied = np.zeros(g.size, dtype=bool)
        owner = np.zeros(g.size, dtype=np.int32)
        buf = np.ones(-(-g.size // 64) * 64, dtype=bool)
        cache = _SCRATCH.maps = (g.size, occupied, owner, buf)
    return cache[1], cache[2], cache[3]


def _spacing_geometry(h: int, w: int, r: int) -> tuple["FlatGrid", np.ndarray, np.ndarray]:
    """Cached ``(grid padded by r, int64 offsets of the radius-r diamond with a positive flat
    offset (one of each pair d, -d), int64 offsets of the whole diamond with its centre)`` for
    :func:`spaced_cells`."""
    key = (h, w, r)
    hit = _SPACING_CACHE.get(key)
    if hit is None:
        d = np.arange(-r, r + 1)
        rr, cc = np.meshgrid(d, d, indexing="ij")
        ring = (np.abs(rr) + np.abs(cc) <= r) & ((rr != 0) | (cc != 0))
        g = FlatGrid((h, w), pad=r)
        offs = (rr[ring] * g.wp + cc[ring]).astype(np.int64)
        if len(_SPACING_CACHE) > 16:
            _SPACING_CACHE.clear()
        hit = _SPACING_CACHE[key] = (g, offs[offs > 0], np.append(offs, 0))
    return hit


# ---------------------------------------------------------------------------- geometry
class FlatGrid:
    """Flat-index geometry of an ``(H, W)`` map padded by :data:`PAD` cells on every side.

    A cell ``(row, col)`` has flat index ``(row + PAD) * (W + 2 PAD) + (col + PAD)``; every other
    array of this module indexed by cell is a flat ``(size,)`` array in that layout.

    Attributes:
        shape: ``(H, W)`` in cells.
        pad: border width (cells), :data:`PAD`.
        wp: padded width ``W + 2 pad``.
        size: number of padded cells ``(H + 2 pad) * wp``.
        action_delta: ``int64 (5,)`` flat offset of each action id.
        offs9: ``int64 (9,)`` flat offsets of the 3x3 window, row-major (``[4]`` is the centre).
        offs_plus: ``int64 (5,)`` flat offsets of the cell and its 4 neighbours.
        border: ``int64 (B,)`` flat indices of all padding cells.
        inside: ``bool (size,)``, True on map cells.
    """

    def __init__(self, shape: tuple[int, int], pad: int = PAD):
        h, w = int(shape[0]), int(shape[1])
        self.shape = (h, w)
        self.pad = pad
        self.wp = w + 2 * pad
        self.size = (h + 2 * pad) * self.wp
        self.action_delta = ACTION_ROW * self.wp + ACTION_COL
        self.offs9 = kernels.window_offsets(1, w, pad).ravel()
        self.offs_plus = np.array([0, -self.wp, self.wp, -1, 1], dtype=np.int64)
        inside = np.zeros((h + 2 * pad, self.wp), dtype=bool)
        inside[pad:pad + h, pad:pad + w] = True
        self.inside = inside.ravel()
        self.border = np.flatnonzero(~self.inside)
        out = (~self.inside).view(np.int8)
        self.off_box = np.zeros(self.size, dtype=np.int8)
        """``int8 (size,)``: off-map cells in each cell's 3x3 window (0 .. 5 for map cells)."""
        for d in self.offs9:
            lo, hi = max(0, -d), self.size - max(0, d)
            self.off_box[lo:hi] += out[lo + d:hi + d]
        self._tiles: dict[int, np.ndarray] = {}

    def flat(self, positions: np.ndarray) -> np.ndarray:
        """``int64 (N,)`` padded flat index of ``int (N, 2)`` cells."""
        p = positions
        return (p[:, 0].astype(np.int64) + self.pad) * self.wp + (p[:, 1] + self.pad)

    def positions(self, flat: np.ndarray) -> np.ndarray:
        """``int32 (N, 2)`` ``(row, col)`` cells of ``int64 (N,)`` padded flat indices."""
        out = np.empty((flat.shape[0], 2), dtype=np.int32)
        rows = flat // self.wp
        out[:, 0] = rows - self.pad
        out[:, 1] = flat - rows * self.wp - self.pad
        return out

    def moved_positions(self, positions: np.ndarray, before: np.ndarray,
                        after: np.ndarray) -> np.ndarray:
        """``int32 (N, 2)`` cells after one move per body (a new array).

        Args:
            positions: integer ``(N, 2)`` cells of the padded flat indices ``before``.
            before, after: ``int64 (N,)`` padded flat cells before and after the moves (each at
                most one action apart).

        Returns:
            :meth:`positions` of ``after``, found as ``positions`` plus the row and column
            change of each flat offset (a small lookup, cheaper than dividing by ``wp``).
        """
        moves = self._move_rc
        if moves is None:
            moves = np.zeros((2 * self.wp + 1, 2), dtype=np.int32)
            moves[self.action_delta + self.wp, 0] = ACTION_ROW
            moves[self.action_delta + self.wp, 1] = ACTION_COL
            self._move_rc = moves
        d = after - before
        d += self.wp
        out = moves.take(d, axis=0, mode="wrap")     # d in [0, 2 wp]: never wraps
        out += positions
        return out

    _move_rc: np.ndarray | None = None
    """``int32 (2 wp + 1, 2)``: row and column change of each flat offset ``-wp .. wp`` of a move
    (built on first use)."""

    def pad_layer(self, layer: np.ndarray, fill, dtype=None) -> np.ndarray:
        """Flatten an ``(H, W)`` layer into the padded layout, padding cells set to ``fill``.

        Returns:
            ``(size,)`` array of ``dtype`` (default: the layer's dtype).
        """
        dtype = layer.dtype if dtype is None else dtype
        h, w = self.shape
        p = self.pad
        out = np.full((h + 2 * p, self.wp), fill, dtype=dtype)
        out[p:p + h, p:p + w] = layer
        return out.ravel()

    def unpad(self, flat_layer: np.ndarray) -> np.ndarray:
        """The ``(H, W)`` map part of a flat padded layer (a view)."""
        h, w = self.shape
        p = self.pad
        return flat_layer.reshape(h + 2 * p, self.wp)[p:p + h, p:p + w]

    def window_index(self, flat: np.ndarray) -> np.ndarray:
        """``int64 (N * 9,)``: flat indices of each agent's 3x3 window, agent-major, row-major.

        (``repeat`` + a cached tiled offset vector: about twice as fast as broadcasting
        ``flat[:, None] + offs9`` for 10,000 agents.)
        """
        n = flat.shape[0]
        tile = self._tiles.get(n)
        if tile is None:
            if len(self._tiles) > 8:
                self._tiles.clear()
            tile = self._tiles[n] = np.tile(self.offs9, n)
        idx = flat.repeat(9)
        idx += tile
        return idx

    def counts(self, flat: np.ndarray) -> np.ndarray:
        """``int64 (size,)`` number of entries of ``flat`` in every padded cell (``np.bincount``)."""
        return np.bincount(flat, minlength=self.size)

    def plus_grid(self, grid: np.ndarray) -> np.ndarray:
        """``(size,)`` sum of ``grid`` over every cell and its 4 neighbours (padding rows included;
        ``grid`` must be zero on the outermost padding ring)."""
        wp = self.wp
        out = grid.copy()
        out[wp:] += grid[:-wp]
        out[:-wp] += grid[wp:]
        out[1:] += grid[:-1]
        out[:-1] += grid[1:]
        return out


class CellMemo:
    """The padded flat cells of the positions a scenario's step last wrote, so that the next
    :meth:`flat` of the same positions (``observe``, then the next step) skips the conversion.

    The positions are kept as a copy and compared by value, so a state whose positions were
    changed or replaced since gets freshly converted cells.

    Args:
        grid: the geometry.
    """

    def __init__(self, grid: FlatGrid):
        self.grid = grid
        self._positions: np.ndarray | None = None
        self._flat: np.ndarray | None = None

    def keep(self, positions: np.ndarray, flat: np.ndarray) -> None:
        """Remember ``int32 (N, 2)`` ``positions`` (copied) and their ``int64 (N,)`` padded flat
        cells ``flat`` (kept, not copied, so don't modify them)."""
        self._positions = positions.copy()
        self._flat = flat

    def moved(self, positions: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """:meth:`FlatGrid.moved_positions` of one move (``int32 (N, 2)``, a new array), kept
        with ``after`` (see :meth:`keep`)."""
        new = self.grid.moved_positions(positions, before, after)
        self.keep(new, after)
        return new

    def flat(self, positions: np.ndarray) -> np.ndarray:
        """``int64 (N,)`` padded flat cells of ``int (N, 2)`` ``positions``: the remembered array
        itself when the positions equal the remembered ones (don't modify it), else
        :meth:`FlatGrid.flat`."""
        p = self._positions
        if p is not None and p.shape == positions.shape and (p == positions).all():
            return self._flat
        return self.grid.flat(positions)


class WindowTable:
    """A padded ``(size, C)`` table whose rows are gathered as 3x3 observation windows.

    The first ``static`` channels are layers fixed for an episode (food, landmarks); the remaining
    ``dynamic`` channels are per-step counts. Padding rows hold :data:`kernels.OFF_MAP` in every
    channel. Because channels are interleaved per cell, one :func:`numpy.take` of ``N * 9`` rows
    yields observations already in ``(N, 3, 3, C)`` layout (about 3x faster than gathering and
    interleaving channels separately at 10,000 agents).

    The table holds ``dtype`` values (``float32`` by default). Scenarios whose channels are small
    integers pass the narrowest integer type that holds them (:func:`count_dtype`): Jungle's
    two-channel table of a 500x500 map for 10,000 agents (``int16``) then takes 1 MB instead of
    2 MB, so more of it stays in cache while 90,000 rows are gathered; :meth:`gather` converts
    the windows to ``float32`` once, exactly.

    Dynamic channels are kept sparse: :meth:`set_bodies` zeroes exactly the cells each channel
    held last time, then counts the new bodies in place (``np.add.at`` with a one of the table's
    dtype, NumPy's fast unbuffered path, or a plain scatter of ones for cells known to be distinct;
    no map-sized ``bincount``), so the table stays correct
    whichever state it is fed.

    Static channels are kept sparse too: :meth:`set_static` (used by the constructor and by a
    scenario's reset through ``reuse``) writes only the non-zero cells of the layers, after
    zeroing those of the previous episode, so a reset costs O(non-zero cells), not O(map).

    Args:
        grid: the geometry.
        static_layers: one per static channel: an ``(H, W)`` array (bool or numeric) or a sparse
            ``(cells, values)`` pair (see :meth:`set_static`).
        dynamic: number of count channels after them.
        reuse: optional table of an earlier episode with the same grid, channel counts and
            dtype; its buffer is taken over (and that table must not be used again).
        dtype: the table's dtype: ``float32``, or a signed integer type wide enough for every
            value written (counts up to the number of bodies, :data:`kernels.OFF_MAP`).
    """

    def __init__(self, grid: FlatGrid, static_layers: list[np.ndarray], dynamic: int,
                 reuse: "WindowTable | None" = None, dtype: type = np.float32):
        self.grid = grid
        self.static = len(static_layers)
        self.channels = self.static + dynamic
        self.dtype = np.dtype(dtype)
        if (reuse is not None and reuse.table is not None and reuse.grid is grid
                and reuse.static == self.static
                and reuse.channels == self.channels and reuse.dtype == self.dtype):
            self.table = reuse.table
            self._written = reuse._written
            self._static_cells = reuse._static_cells
            self._mark = reuse._mark
            reuse.table = None  # the old table is spent
        else:
            t = np.zeros((grid.size, self.channels), dtype=self.dtype)
            t[grid.border, :] = kernels.OFF_MAP
            self.table = t
            self._written = [np.zeros(0, dtype=np.int64)] * dynamic
            self._static_cells = [np.zeros(0, dtype=np.int64)] * self.static
        self.set_static(static_layers)

    def set_static(self, layers: list) -> None:
        """Write the static channels (only their non-zero cells).

        Args:
            layers: per static channel, an ``(H, W)`` layer, or a sparse pair ``(cells, values)``
                of ``int64 (K,)`` padded flat cells and their ``(K,)`` values (what a scenario's
                reset already knows; saves scanning the map).
        """
        t = self.table
        w = self.grid.shape[1]
        for c, layer in enumerate(layers):
            col = t[:, c]
            col[self._static_cells[c]] = 0.0
            if isinstance(layer, tuple):
                cells, vals = layer
            else:
                flat_vals = np.asarray(layer, dtype=self.dtype).ravel()
                nz = np.flatnonzero(flat_vals)
                cells = (nz // w + self.grid.pad) * self.grid.wp + (nz % w + self.grid.pad)
                vals = flat_vals[nz]
            col[cells] = vals
            self._static_cells[c] = cells
        self._memo = None

    def set_bodies(self, cells: list[np.ndarray], distinct: bool = False) -> None:
        """Write the dynamic channels as body counts.

        Args:
            cells: one ``int64 (K_j,)`` array per dynamic channel: the padded flat cells of the
                bodies that channel counts (duplicates allowed; kept, not copied, until the next
                call, so don't modify them).
            distinct: the caller knows that no array of ``cells`` holds a cell twice (say the
                spaced starts of a reset): the counts are then written as ones, a plain
                scatter, about 3x cheaper than ``np.add.at``.
        """
        t = self.table
        s = self.static
        one = self.dtype.type(1)
        for j, c in enumerate(cells):   # one 1-D column at a time: ~4x faster than t[rows, s:]
            col = t[:, s + j]
            col[self._written[j]] = 0.0
            if distinct:
                col[c] = one
            else:
                np.add.at(col, c, one)
            self._written[j] = c

    def windows(self, flat: np.ndarray) -> np.ndarray:
        """``(N, 3, 3, C)`` windows of the table's dtype around ``int64 (N,)`` padded flat map
        cells (a new array)."""
        n = flat.shape[0]
        # window cells of map cells lie on the map or its padding, so mode="wrap" never wraps (it
        # skips the bounds checks of mode="raise": about 20% faster at 10,000 agents)
        idx = self.grid.window_index(flat)
        return self.table.take(idx, axis=0, mode="wrap").reshape(n, 3, 3, self.channels)

    def gather(self, flat: np.ndarray) -> np.ndarray:
        """``float32 (N, 3, 3, C)`` windows around ``int64 (N,)`` cells (a new array)."""
        return as_float32(self.windows(flat))

    def box_sums(self) -> np.ndarray:
        """``(size, C)`` sums of every channel over each cell's 3x3 window, in the table's dtype.

        Four whole-table passes of shifted adds (three columns, then three rows; both channels
        of a cell at once, as the table interleaves them), cheaper than gathering and summing
        the windows of thousands of cells. Padding cells count :data:`kernels.OFF_MAP` as in
        :meth:`windows`, so a map cell's sum is its window's sum (the values of the map cells in
        it minus its off-map cells). Exact as long as every partial sum fits the dtype (true for
        body counts: a window never holds more bodies than the table counts).

        Returns:
            a scratch array of the table, overwritten by the next call (don't modify it): the
            sums on every cell off the outermost padding ring (map cells and their neighbours
            included); cells of that ring hold meaningless values.
        """
        c = self.channels
        a = self.table.reshape(-1)
        row = self.grid.wp * c
        buf = self._box
        if buf is None:
            buf = self._box = (np.empty(a.size - 2 * c, dtype=self.dtype), np.zeros_like(a))
        cols, out = buf
        np.add(a[:-2 * c], a[c:-c], out=cols)        # cols[j]: cells j // c .. j // c + 2 of a row
        cols += a[2 * c:]
        box = out[row + c:row + c + cols.size - 2 * row]  # (offset: centre one row, one cell on)
        np.add(cols[:-2 * row], cols[row:-row], out=box)
        box += cols[2 * row:]
        return out.reshape(self.grid.size, c)

    _box: tuple[np.ndarray, np.ndarray] | None = None
    """Scratch of :meth:`box_sums`: the three-cell row sums, and the result (``(size * C,)``)."""

    def remove(self, cells: np.ndarray, channel: int) -> None:
        """Subtract 1 from dynamic ``channel`` (0-based among the dynamic ones) once per entry of
        ``cells`` (bodies removed after :meth:`set_bodies`; duplicates allowed)."""
        if cells.size:
            np.subtract.at(self.table[:, self.static + channel], cells, self.dtype.type(1))

    def refresh(self, obs: np.ndarray, flat: np.ndarray, changed: np.ndarray) -> None:
        """Re-gather, in place, the rows of ``obs`` whose window contains a ``changed`` cell.

        Args:
            obs: ``(N, 3, 3, C)`` windows gathered earlier around ``flat`` (:meth:`windows` or
                :meth:`gather`; the table's values are converted to ``obs``'s dtype, exactly).
            flat: ``int64 (N,)`` the window centres.
            changed: ``int64 (K,)`` cells whose table rows changed since.
        """
        if changed.size == 0:
            return
        g = self.grid
        mark = self._mark
        if mark is None:
            mark = self._mark = np.zeros(g.size, dtype=bool)
        cells = (changed[:, None] + g.offs9[None, :]).ravel()
        mark[cells] = True
        rows = np.flatnonzero(mark.take(flat, mode="wrap"))   # (in range: see windows)
        mark[cells] = False           # the buffer is all False between calls
        if rows.size:
            obs[rows] = self.windows(flat[rows])

    _mark: np.ndarray | None = None
    """``bool (size,)`` scratch map of :meth:`refresh`, all False between calls."""

    # one-step memory: a scenario's step() computes the next observations as a by-product and
    # observe() returns them if the state still has the same cells and live mask
    _memo: tuple | None = None

    def remember(self, flat: np.ndarray, alive: np.ndarray, obs: np.ndarray) -> None:
        """Keep ``obs`` for the next :meth:`recall` with the same ``flat`` and ``alive``."""
        self._memo = (flat, alive.copy(), obs)

    def recall(self, flat: np.ndarray, alive: np.ndarray) -> np.ndarray | None:
        """The remembered observations if ``flat`` and ``alive`` equal the remembered ones (then
        forgotten, so a second call builds a new array), else ``None``."""
        memo, self._memo = self._memo, None
        if memo is None:
            return None
        f, a, obs = memo
        same_cells = f is flat or (f.shape == flat.shape and (f == flat).all())
        if same_cells and a.shape == alive.shape and (a == alive).all():
            return obs
        return None


def count_dtype(n: int) -> np.dtype:
    """The narrowest signed integer dtype (``int8``, ``int16`` or ``int32``) that holds every value
    of a count of up to ``n`` bodies and :data:`kernels.OFF_MAP` (``-1``).

    Raises:
        ValueError: if ``n`` is negative or above ``2**31 - 1``.
    """
    for dt in (np.int8, np.int16, np.int32):
        if 0 <= n <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise ValueError(f"n: expected a count in [0, 2**31 - 1], got {n!r}")


def as_float32(a: np.ndarray) -> np.ndarray:
    """``a`` as ``float32``: ``a`` itself if it is already ``float32``, else a converted copy
    (exact for the integer windows of a :class:`WindowTable`)."""
    return a if a.dtype == np.float32 else a.astype(np.float32)


def move_flat(grid: FlatGrid, flat: np.ndarray, actions: np.ndarray, blocked: np.ndarray,
              movable: np.ndarray | None = None) -> np.ndarray:
    """Apply one move per body on flat indices (the rules of :func:`kernels.move`).

    Args:
        grid: the geometry.
        flat: ``int64 (N,)`` current cells.
        actions: integer ``(N,)`` action ids in ``[0, 5)`` (already validated).
        blocked: ``bool (size,)``; True on padding cells and cells no body may enter (food).
        movable: optional ``bool (N,)``; False keeps the body in place (dead bodies).

    Returns:
        ``int64 (N,)`` new cells (a new array).
    """
    # every index below is in range (valid action ids; cells at most one step from map cells),
    # so take's mode="wrap" never wraps: it only skips the slower bounds checks of mode="raise"
    delta = grid.action_delta.take(actions, mode="wrap")
    go = ~blocked.take(delta + flat, mode="wrap")
    if movable is not None:
        go &= movable
    delta *= go                 # (cheaper than a masked copy of the old cells)
    delta += flat
    return delta


# ---------------------------------------------------------------------------- nearest-target search
def _rings(radius: int) -> list[np.ndarray]:
    """``int64 (K_d, 2)`` offsets at Manhattan distance exactly ``d`` for ``d = 0 .. radius``, each
    ring listed in cyclic order (clockwise from straight up), ``K_0 = 1`` and ``K_d = 4 d``."""
    rings = [np.zeros((1, 2), dtype=np.int64)]
    for d in range(1, radius + 1):
        k = np.arange(d)
        quarter = [np.stack([-d + k, k], 1), np.stack([k, d - k], 1),
                   np.stack([d - k, -k], 1), np.stack([-k, -d + k], 1)]
        rings.append(np.concatenate(quarter).astype(np.int64))
    return rings


RINGS: tuple[np.ndarray, ...] = tuple(_rings(SEARCH_RADIUS))
"""``RINGS[d]``: ``int64 (K_d, 2)`` ``(d_row, d_col)`` offsets at Manhattan distance ``d``, in the
cyclic order :func:`seek_actions` scans them (from a random start per agent)."""
for _r in RINGS:
    _r.flags.writeable = False


def step_towards(dr: np.ndarray, dc: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Action ids that reduce the Manhattan distance to a target ``(dr, dc)`` cells away.

    Moves along the axis with the larger distance; picks an axis at random on a tie; stays when
    both are zero.

    Args:
        dr, dc: integer ``(n,)`` row and column offsets of the target from each agent (cells).
        rng: generator for the tie-breaks.

    Returns:
        ``int64 (n,)`` action ids in ``[0, 5)``.
    """
    adr, adc = np.abs(dr), np.abs(dc)
    coin = rng.random(dr.shape[0]) < 0.5
    vertical = (adr > adc) | ((adr == adc) & coin)
    act = np.where(vertical, np.where(dr < 0, UP, DOWN), np.where(dc < 0, LEFT, RIGHT))
    return np.where((adr == 0) & (adc == 0), STAY, act).astype(np.int64)


def _unblock(grid: FlatGrid, flat: np.ndarray, act: np.ndarray, dr: np.ndarray, dc: np.ndarray,
             blocked: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Replace moves into blocked cells: first the other useful axis, then a random sidestep."""
    # moves from map cells stay within the padding: take's mode="wrap" never wraps
    hit = (act != STAY) & blocked.take(flat + grid.action_delta.take(act, mode="wrap"), mode="wrap")
    if not hit.any():
        return act
    i = np.flatnonzero(hit)
    vertical = act[i] <= DOWN
    other = np.where(vertical, np.where(dc[i] < 0, LEFT, RIGHT), np.where(dr[i] < 0, UP, DOWN))
    useful = np.where(vertical, dc[i] != 0, dr[i] != 0)
    side = np.where(vertical, LEFT, UP) + (rng.random(i.size) < 0.5)
    alt = np.where(useful, other, side)
    alt = np.where(blocked[flat[i] + grid.action_delta[alt]], STAY, alt)
    act = act.copy()
    act[i] = alt
    return act




def seek_actions(
    grid: FlatGrid,
    flat: np.ndarray,
    score: np.ndarray,
    target_cells: Callable[[], np.ndarray],
    rng: np.random.Generator,
    blocked: np.ndarray,
    self_term: np.ndarray | None = None,
) -> np.ndarray:
    """Vectorised "step towards the nearest target cell", for any number of agents.

    Two levels, both free of per-agent Python loops:

    1. **Exact local search**, ring by ring: at Manhattan distance ``d = 0, 1, ..,``
       :data:`SEARCH_RADIUS`, every agent not yet served gathers ``score`` on its ring
       (:data:`RINGS`) and takes the first cell with ``score - self_term[d] <= 0``, scanning the ring
       cyclically from a random start (no preferred direction among equally near targets). Agents
       that found a target drop out, so the cost is a few gathers per agent when targets are near.
    2. **Coarse search** for agents with no target within :data:`SEARCH_RADIUS`: the map is cut
       into :data:`BLOCK` x :data:`BLOCK` blocks, a breadth-first ring search runs on the block grid
       from blocks that hold a target (stopping once every such agent's block is reached), and the
       agent steps towards the neighbouring block nearest a target (random among equals).

    The step itself is :func:`step_towards`; a move into a blocked cell is replaced by a move along
    the other axis or a random sidestep.

    Args:
        grid: the geometry.
        flat: ``int64 (n,)`` padded flat cells of the seeking agents.
        score: integer ``(size,)``; a cell ``d`` steps (Manhattan) from an agent is a target for it
            when ``score[cell] - self_term[d] <= 0``. Padding cells must hold a positive value.
        target_cells: called only if some agent needs the coarse search; returns ``int64 (T,)``
            flat cells with ``score <= 0``.
        rng: generator for the tie-breaks.
        blocked: ``bool (size,)``; True where a move is refused (padding, food).
        self_term: optional integer ``(SEARCH_RADIUS + 1,)``: the seeker's own contribution to
            ``score`` at each distance (Jungle: its own body counts in the crowding of cells within
            distance 1); default zeros.

    Returns:
        ``int64 (n,)`` action ids; ``4`` (stay) for agents with no target anywhere.
    """
    n = flat.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    wp = grid.wp
    st = np.zeros(SEARCH_RADIUS + 1, dtype=np.int64) if self_term is None else np.asarray(self_term)
    dr = np.zeros(n, dtype=np.int64)
    dc = np.zeros(n, dtype=np.int64)
    todo = np.arange(n)
    for d, ring in enumerate(RINGS):
        if todo.size == 0:
            break
        f = flat[todo]
        k = ring.shape[0]
        if k == 1:
            ok = score.take(f) <= st[d]
            pick = np.zeros(todo.size, dtype=np.int64)
        else:
            m = todo.size
            # each agent scans its ring cyclically from a random start and takes the first hit:
            # ring cell c ranks c from the start on, c + K before it, and the smallest rank of a
            # hit wins. (K, m) arrays, agents along the contiguous axis (numpy's inner loops then
            # run over agents, not over K cells)
            start = rng.integers(0, k, m)
            hit = score.take((ring[:, 0] * wp + ring[:, 1])[:, None] + f[None, :]) <= st[d]
            cell = np.arange(k, dtype=np.int8)[:, None]
            rank = (cell < start.astype(np.int8)).view(np.int8) * np.int8(k)
            rank += cell
            first = np.where(hit, rank, np.int8(2 * k)).min(axis=0)
            ok = first < 2 * k
            pick = first.astype(np.int64)      # the ring cell hit (unused on a miss)
            np.subtract(pick, k, out=pick, where=pick >= k)
        got = todo[ok]
        dr[got] = ring[pick[ok], 0]
        dc[got] = ring[pick[ok], 1]
        todo = todo[~ok]
    act = step_towards(dr, dc, rng)
    if todo.size:
        cells = np.asarray(target_cells(), dtype=np.int64)
        if cells.size == 0:
            act[todo] = STAY
        else:
            act[todo], dr[todo], dc[todo] = _coarse_step(grid, flat[todo], cells, rng)
    return _unblock(grid, flat, act, dr, dc, blocked, rng)


def distance_field(grid: FlatGrid, targets: np.ndarray, passable: np.ndarray | None,
                   radius: int) -> np.ndarray:
    """Shortest 4-connected path length from the nearest target, up to ``radius``, on every cell.

    A multi-source breadth-first search done as whole-map dilations of the reached set (per ring,
    shifted ORs over the flat map and one AND with ``passable``; no per-cell loop), capped at
    ``radius`` rings. The distance is counted, not written: the reached mask of every ring is
    kept (:func:`_distance_rings`) and a cell reached at ring ``d`` is held by ``radius + 1 - d``
    of them (a masked write per ring costs several times more).

    Args:
        grid: the geometry (its padding holds no passable cell, so nothing wraps across rows).
        targets: ``int64 (T,)`` padded flat cells at distance 0 (duplicates allowed).
        passable: ``bool (size,)``; cells a path may enter (False on padding and obstacles); or
            ``None`` for a map without obstacles (every map cell passable): then, while
            ``radius <= grid.pad``, the rings are not masked (a flat shift that wraps from one
            row into the next takes more than ``pad`` steps through the padding, and no path
            through the padding is shorter than the Manhattan distance), so every cell, padding
            included, reads its Manhattan distance to the nearest target, capped at
            ``radius + 1``: a padding cell next to a map cell reads more than that cell.
        radius: rings to grow (cells), ``0 .. 126``.

    Returns:
        ``int8 (size,)`` distances; ``radius + 1`` where no target is within ``radius`` steps
        (impassable cells other than targets included).
    """
    rings = _distance_rings(grid, targets, passable, radius)
    return np.subtract(np.int8(radius + 1), rings.view(np.int8).sum(axis=0, dtype=np.int8),
                       dtype=np.int8)


def _dilate4(reached: np.ndarray, width: int, out: np.ndarray, pair: np.ndarray) -> None:
    """One breadth-first ring on a flat padded grid: ``out`` = ``reached`` or'ed with its 4
    neighbours (flat offsets ``-1, +1, -width, +width``; nothing is masked, so the grid's padding
    must keep rows apart).

    Args:
        reached: ``bool (M,)`` the reached cells.
        width: padded row width of the grid.
        out: ``bool (M,)`` written (must not be ``reached``).
        pair: ``bool (M - 1,)`` scratch.
    """
    np.bitwise_or(reached[:-1], reached[1:], out=pair)            # cells i and i + 1
    np.bitwise_or(pair[:-1], pair[1:], out=out[1:-1])             # i - 1, i and i + 1
    out[0], out[-1] = pair[0], pair[-1]
    out[width:] |= reached[:-width]
    out[:-width] |= reached[width:]


def _distance_rings(grid: FlatGrid, targets: np.ndarray, passable: np.ndarray | None,
                    radius: int) -> np.ndarray:
    """The reached sets of :func:`distance_field`'s search (same arguments): ``bool (radius + 1,
    size)``, row ``d`` True on the cells within ``d`` steps of a target (the distance of a cell
    is ``radius + 1`` minus the rows holding it)."""
    wp = grid.wp
    if passable is None and radius > grid.pad:
        passable = grid.inside
    rings = np.empty((radius + 1, grid.size), dtype=bool)
    reached = rings[0]
    reached[:] = False
    reached[targets] = True
    keep = None if passable is None else passable | reached
    pair = np.empty(grid.size - 1, dtype=bool)
    for grown in rings[1:]:
        _dilate4(reached, wp, grown, pair)
        if keep is not None:
            grown &= keep
        reached = grown
    return rings


FIELD_RADIUS: int = 4
"""Rings of the exact distance field in :func:`chase_actions`; beyond it the block search takes
over. At least 4, so that a seeker whose own :data:`BLOCK` holds a target is always inside it."""


def chase_actions(grid: FlatGrid, flat: np.ndarray, targets: np.ndarray,
                  rng: np.random.Generator, passable: np.ndarray | None) -> np.ndarray:
    """Step along a shortest path to the nearest target cell, for any number of seekers.

    The "distance field" chase (Battle ``-v1``'s scripted team; :func:`seek_actions` is the
    ``-v0`` ring search). One field per call serves every seeker:

    1. :func:`distance_field` from all target cells, exact up to :data:`FIELD_RADIUS` steps
       (obstacles respected: a path never crosses an impassable cell).
    2. A seeker at distance ``d`` in ``1 .. FIELD_RADIUS`` moves to one of its 4 neighbours at
       distance ``d - 1`` (one always exists), chosen uniformly at random among them; at ``d = 0``
       (on a target) it stays.
    3. Farther seekers take the block search of :func:`seek_actions` (the neighbouring
       :data:`BLOCK` x :data:`BLOCK` block nearest a block holding a target, random among
       equals); a move into an impassable cell is replaced by the other useful axis or a sidestep.

    Args:
        grid: the geometry.
        flat: ``int64 (n,)`` padded flat cells of the seekers.
        targets: ``int64 (T,)`` padded flat map cells to chase (duplicates allowed).
        rng: generator for the tie-breaks.
        passable: ``bool (size,)``; cells a body may enter (False on padding and obstacles);
            ``None``: every map cell (a map without obstacles; the cheaper field of
            :func:`distance_field`, same actions as ``grid.inside``).

    Returns:
        ``int64 (n,)`` action ids in ``[0, 5)``; ``4`` (stay) for every seeker when there is no
        target.
    """
    n = flat.shape[0]
    act = np.full(n, STAY, dtype=np.int64)
    if n == 0 or targets.size == 0:
        return act
    r = FIELD_RADIUS
    rings = _distance_rings(grid, targets, passable, r)
    # rings holding each seeker's cell: r + 1 - its distance (map cells, and their neighbours
    # below, are in range, so take's mode="wrap" never wraps)
    held = rings.take(flat, axis=1, mode="wrap").view(np.int8).sum(axis=0, dtype=np.int8)
    near = np.flatnonzero((held - np.int8(1)).view(np.uint8) < r)      # distance 1 .. r
    if near.size:
        # a neighbour of a seeker at distance d is at d - 1 or more (the seeker's cell is reached
        # one ring after it), so it is one step nearer exactly when ring d - 1 holds it
        at = (r - held[near]).astype(np.int64) * grid.size + flat[near]
        ring_cells = rings.reshape(-1)
        u = rng.random((near.size, 4), dtype=np.float32)
        # per neighbour (up, down, left, right): its noise if it is one step nearer, else 2; one
        # contiguous take per direction (4x cheaper than one (m, 4) take of broadcast indices)
        keys = [np.where(ring_cells.take(at + d, mode="wrap"), u[:, j], np.float32(2.0))
                for j, d in enumerate(grid.action_delta[:4])]
        act[near] = _argmin4(keys)[0]
    far = np.flatnonzero(held == 0)
    if far.size:
        f = flat[far]
        a, dr, dc = _coarse_step(grid, f, targets, rng)
        blocked = ~(grid.inside if passable is None else passable)
        act[far] = _unblock(grid, f, a, dr, dc, blocked, rng)
    return act


def _argmin4(keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``np.argmin`` over four keys per row, and the minima, for ``keys`` = 4 arrays ``(m,)`` of
    one dtype without NaN: ``(int64 (m,) index of the first minimum, (m,) minimum)``; a pairwise
    tournament over contiguous columns, about twice as fast as ``argmin(axis=1)`` of an
    ``(m, 4)`` array (numpy reduces each row of 4 separately)."""
    k0, k1, k2, k3 = keys
    b01, b23 = k1 < k0, k3 < k2        # strict: ties keep the first index, as argmin does
    m01, m23 = np.minimum(k0, k1), np.minimum(k2, k3)
    b = m23 < m01
    return np.where(b, b23 + 2, b01), np.minimum(m01, m23)


class _Blocks:
    """Block grid of :func:`_coarse_step` for a :class:`FlatGrid` (built once per grid).

    Attributes:
        bh, bw: block grid shape (``ceil(H / BLOCK), ceil(W / BLOCK)``).
        bwp: padded block grid width ``bw + 2`` (one ring of padding blocks).
        of: ``int64 (grid.size,)``: padded flat block of every map cell (0 on padding cells;
            int64, as its values index the block grid: an int32 index array costs a conversion
            on every use).
        inside: ``bool ((bh + 2) * bwp,)``: True on blocks of the map, False on the padding ring.
        border: ``int64 (B,)``: padded flat indices of the padding ring.
        far: ``int32``: distance written on the padding ring (above any distance on the grid).
    """

    def __init__(self, grid: FlatGrid):
        h, w = grid.shape
        self.bh, self.bw = bh, bw = -(-h // BLOCK), -(-w // BLOCK)
        self.bwp = bwp = bw + 2
        rows = np.arange(h, dtype=np.int64) // BLOCK + 1
        cols = np.arange(w, dtype=np.int64) // BLOCK + 1
        self.of = grid.pad_layer(rows[:, None] * bwp + cols[None, :], 0)
        inside = np.zeros((bh + 2, bwp), dtype=bool)
        inside[1:-1, 1:-1] = True
        self.inside = inside.ravel()
        self.border = np.flatnonzero(~self.inside)
        self.far = np.int32(bh + bw + 4)


def _blocks(grid: FlatGrid) -> _Blocks:
    """The :class:`_Blocks` of ``grid`` (cached on it)."""
    blocks = getattr(grid, "_blocks", None)
    if blocks is None:
        blocks = grid._blocks = _Blocks(grid)
    return blocks


def _coarse_step(grid: FlatGrid, flat: np.ndarray, cells: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Actions (and the ``(dr, dc)`` direction used) towards the nearest block holding a target."""
    b = _blocks(grid)
    bwp = b.bwp
    # block distances (no obstacles on the block grid: Manhattan) on a block grid padded by one
    # ring that holds a distance no path reaches. Only the seekers' neighbour blocks are read, and
    # a block at distance d >= 1 always has a neighbour at d - 1, which the argmin below prefers
    # to any farther one (the random tie-break noise is < 1), so distances need only be exact up
    # to the farthest seeker's own block: see _block_distances. A seeker whose 4 neighbours are
    # all padding (a 1 x 1 block grid) stays.
    has = np.zeros(b.inside.size, dtype=bool)
    has[b.of.take(cells, mode="wrap")] = True      # map cells: in range
    centre = b.of.take(flat, mode="wrap")
    dist = _block_distances(has, b, centre)
    # neighbour blocks in action order up, down, left, right, each plus noise in [0, 0.5)
    noise = rng.random((flat.shape[0], 4))
    noise *= 0.5
    keys = [dist.take(centre + d, mode="wrap") + noise[:, j] for j, d in enumerate((-bwp, bwp, -1, 1))]
    act, best = _argmin4(keys)
    act[best >= b.far] = STAY
    return act, ACTION_ROW[act], ACTION_COL[act]


_BLOCK_RINGS: int = 24
"""Breadth-first rings :func:`_block_distances` grows before it takes the full distance transform
(a ring costs about a twentieth of the transform on the 10,000-body map's 118 x 118 blocks)."""


def _block_distances(has: np.ndarray, blocks: _Blocks, centre: np.ndarray) -> np.ndarray:
    """Manhattan block distances to the nearest target block, exact where the chase reads them.

    Args:
        has: ``bool ((bh + 2) * (bw + 2),)`` padded block grid, True on blocks holding a target
            (at least one), False on the padding ring.
        blocks: the block grid (:class:`_Blocks`).
        centre: integer ``(n,)`` padded flat blocks of the seekers.

    Returns:
        ``int32 ((bh + 2) * (bw + 2),)``: ``blocks.far`` on the padding; on the grid, the exact
        distance of every block within ``R`` of a target, ``R + 1`` on the others, where ``R``
        is the largest distance of a seeker's own block or one more (the rings are checked every
        other ring), so every seeker's neighbours at distance ``d - 1`` are exact and the others
        read at least ``d``. Found by breadth-first rings of shifted ORs (a few whole-grid
        passes each) while ``R`` is small; past :data:`_BLOCK_RINGS` rings, by the exact
        transform of :func:`kernels.manhattan_distances` on the whole grid (same actions either
        way).
    """
    bh, bwp = blocks.bh, blocks.bwp
    inside = blocks.inside
    reached = has
    count = has.view(np.int8).copy()
    grown, spare = np.empty_like(has), np.empty_like(has)
    pair = np.empty(has.size - 1, dtype=bool)
    rings = 0
    pending = centre                    # seekers whose own block is not reached yet
    while True:
        if rings % 2 == 0:      # checked every other ring (one ring too many costs less)
            pending = pending[~reached.take(pending, mode="wrap")]      # blocks: in range
            if pending.size == 0:
                break
        if rings == _BLOCK_RINGS:
            dist = np.full((bh + 2, bwp), blocks.far, dtype=np.int32)
            dist[1:-1, 1:-1] = kernels.manhattan_distances(has.reshape(bh + 2, bwp)[1:-1, 1:-1])
            return dist.ravel()
        _dilate4(reached, bwp, grown, pair)
        grown &= inside
        count += grown.view(np.int8)
        reached, grown = grown, (spare if reached is has else reached)
        rings += 1
    dist = np.subtract(np.int32(rings + 1), count, dtype=np.int32)
    dist[blocks.border] = blocks.far
    return dist


def check_state(scenario: Any, state: Any, entities: int) -> None:
    """Raise a ``ValueError`` naming ``state`` unless it is a ``GridState`` of ``scenario``'s map
    with ``entities`` bodies (what the scripted policies and rules expect)."""
    from qmarl_envs.core.state import GridState

    if not isinstance(state, GridState):
        raise ValueError("state: expected a GridState (env.unwrapped.grid_state), got "
                         f"{type(state).__name__}")
    if tuple(state.shape) != tuple(scenario.shape) or state.positions.shape != (entities, 2):
        raise ValueError(f"state: expected a {scenario.shape} map with {entities} bodies, got a "
                         f"{tuple(state.shape)} map with positions of shape {state.positions.shape}")


def entity_rng_check(rng: Any) -> np.random.Generator:
    """Return ``rng`` if it is a ``np.random.Generator``.

    Raises:
        ValueError: otherwise (the scripted policies never fall back to a global RNG).
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    return rng
