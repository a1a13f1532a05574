"""Array state of one grid world: agents stacked over a leading axis, static layers as ``(H, W)`` maps."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _empty_layer(shape: tuple[int, int], dtype, fill=0) -> np.ndarray:
    return np.full(shape, fill, dtype=dtype)


_LAYER_DEFAULTS = {"walls": (bool, False), "pits": (bool, False), "balls": (np.int16, -1),
                   "food": (bool, False), "landmarks": (np.int16, -1)}
_BLANK_CACHE: dict[tuple, np.ndarray] = {}


def blank_layers(shape: tuple[int, int], *names: str) -> dict[str, np.ndarray]:
    """Shared, read-only default layers for the :class:`GridState` fields ``names``.

    A scenario that never uses a layer (Battle has no walls, food or landmarks) passes these to
    its states instead of letting every reset allocate and fill fresh ``(H, W)`` arrays (about
    0.1 ms a reset on a 500 x 500 map). They are read-only, so an accidental in-place write raises
    instead of leaking into the next episode; :meth:`GridState.copy` returns writable copies.

    Args:
        shape: map ``(H, W)`` in cells.
        names: field names among ``walls``, ``pits``, ``balls``, ``food``, ``landmarks``.

    Returns:
        ``{name: array}`` with each field's default value (``False``, or ``-1`` for ``balls`` and
        ``landmarks``).

    Raises:
        ValueError: for an unknown name.
    """
    out = {}
    for name in names:
        if name not in _LAYER_DEFAULTS:
            raise ValueError(f"names: expected layer names among {sorted(_LAYER_DEFAULTS)}, got {name!r}")
        key = (tuple(shape), name)
        arr = _BLANK_CACHE.get(key)
        if arr is None:
            if len(_BLANK_CACHE) > 64:
                _BLANK_CACHE.clear()
            dtype, fill = _LAYER_DEFAULTS[name]
            arr = _BLANK_CACHE[key] = _empty_layer(tuple(shape), dtype, fill)
            arr.flags.writeable = False
        out[name] = arr
    return out


@dataclass
class GridState:
    """Everything that changes during an episode, as arrays (JaxMARL/VMAS-style arrays over agents).

    Entity arrays have one row per entity ``M``, which counts every body on the map, including
    built-in opponents that are not exposed as PettingZoo agents.

    Attributes:
        shape: map ``(H, W)`` in cells.
        positions: ``int32 (M, 2)`` ``(row, col)`` cells.
        alive: ``bool (M,)``; False once an entity is terminated and removed from the map.
        team: ``int8 (M,)`` team / role index (scenario-defined; 0 is the learning side).
        hp: ``int16 (M,)`` hit points (scenario-defined; constant where unused).
        walls: ``bool (H, W)``; cells nobody may enter.
        pits: ``bool (H, W)``; penalty cells (ball collection).
        balls: ``int16 (H, W)``; owner entity of an uncollected ball, ``-1`` where none.
        food: ``bool (H, W)``; stationary food (Jungle).
        landmarks: ``int16 (H, W)``; landmark index, ``-1`` where none (Deception).
        target: index of the target landmark, ``-1`` where undefined.
        step: environment steps taken in this episode.
    """

    shape: tuple[int, int]
    positions: np.ndarray
    alive: np.ndarray
    team: np.ndarray
    hp: np.ndarray
    walls: np.ndarray = field(default=None)  # type: ignore[assignment]
    pits: np.ndarray = field(default=None)  # type: ignore[assignment]
    balls: np.ndarray = field(default=None)  # type: ignore[assignment]
    food: np.ndarray = field(default=None)  # type: ignore[assignment]
    landmarks: np.ndarray = field(default=None)  # type: ignore[assignment]
    target: int = -1
    step: int = 0

    def __post_init__(self) -> None:
        s = self.shape
        if self.walls is None:
            self.walls = _empty_layer(s, bool)
        if self.pits is None:
            self.pits = _empty_layer(s, bool)
        if self.balls is None:
            self.balls = _empty_layer(s, np.int16, -1)
        if self.food is None:
            self.food = _empty_layer(s, bool)
        if self.landmarks is None:
            self.landmarks = _empty_layer(s, np.int16, -1)

    @property
    def num_entities(self) -> int:
        """Number of entity rows ``M``."""
        return int(self.positions.shape[0])

    def copy(self) -> "GridState":
        """A deep copy (every array copied), used to make rejected steps leave no trace."""
        return GridState(
            shape=self.shape, positions=self.positions.copy(), alive=self.alive.copy(),
            team=self.team.copy(), hp=self.hp.copy(), walls=self.walls.copy(),
            pits=self.pits.copy(), balls=self.balls.copy(), food=self.food.copy(),
            landmarks=self.landmarks.copy(), target=self.target, step=self.step,
        )

    def nbytes(self) -> int:
        """Total bytes held by the state's arrays."""
        return sum(a.nbytes for a in (self.positions, self.alive, self.team, self.hp, self.walls,
                                      self.pits, self.balls, self.food, self.landmarks))
