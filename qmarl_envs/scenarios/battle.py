"""Battle: two teams on a grid; three enemies around you kill you (Q-MARL paper, seed 002, §3.1.1).

``num_agents`` bodies split into two equal teams, red (the learners) and blue, on an ``S x S``
grid. The side with more survivors when time runs out wins.

Rules (per step, all bodies simultaneously):

1. **Move.** Actions ``0 up, 1 down, 2 left, 3 right, 4 stay``; a move off the map leaves the body
   in place. Bodies never block each other (cells may be shared, as in all Q-MARL scenarios).
2. **Kills.** After the moves, a body with at least ``kill_threshold`` = 3 live enemies in its 3x3
   neighbourhood (Chebyshev distance <= 1, its own cell included) is killed: terminated and
   removed. The paper says "surrounded by at least 3 agents from the opposing team" without naming
   the neighbourhood; the 3x3 window is what an agent observes, so a kill is always visible to the
   victim one step ahead. All kills of a step are resolved on the positions before removal
   (simultaneous: two bodies can kill each other).
3. **End.** The episode ends when a team has no body left (all remaining bodies are terminated)
   or after ``max_cycles`` steps (31, as the authors' code; survivors are truncated).

Rewards (the paper: "no per-step reward; the winning team gets +1 and the losing team -1"; what
follows where it is silent is our choice):

* **Outcome**, paid on the final step to every body still alive: ``+1`` to the team with more
  survivors, ``-1`` to the other, ``0`` to both on a tie (the paper does not mention ties).
  A team wiped out early loses at once: the other team's survivors get ``+1`` on that step.
* **Death**: a killed body is terminated on the step it dies with ``death_reward`` = ``-1`` and
  receives nothing afterwards (a finished PettingZoo agent cannot be paid later). It is a loss for
  that body whatever its team's fate, which keeps "do not get killed" in the learning signal.
* Every other reward is ``0``.

Score (``infos[agent]["episode"]``): ``score`` is the team outcome ``+1``, ``0`` or ``-1`` of the
agent's team (for the default opponents: red's outcome, a ``float``; with ``opponent=None`` a
per-agent value, blue's being the negation); its mean over games is the paper's Fig. 6 "mean
reward". ``win`` is ``score > 0``. The summary also holds ``red_survivors`` and ``blue_survivors``.

Opponent (``opponent`` config field; the paper does not say whether blue learns):

* ``"scripted"`` (default): blue chases the nearest red body (:func:`scripted_actions`'s rule).
* ``"random"``: blue moves uniformly at random.
* ``None``: both teams are exposed as agents, ``red_0 .. red_{n-1}, blue_0 .. blue_{n-1}``
  (self-play); otherwise only ``red_i`` are agents.

Chase rule (``chase`` config field; the versions of the ids differ only here):

* ``"rings"`` (``qmarl/Battle*-v0``): :func:`common.seek_actions`: rings of Manhattan distance
  1 .. 4 are scanned from a random start per body and the first enemy found is the target;
  :func:`common.step_towards` moves along the axis with the larger distance to it (random on a
  tie); farther bodies head for the nearest 3x3 block holding an enemy.
* ``"field"`` (``qmarl/Battle*-v1``): :func:`common.chase_actions`: one distance field from all
  live enemies per step (exact shortest paths up to 4 steps), and each body moves to a
  neighbouring cell one step nearer, uniformly at random among those; farther bodies use the
  same block search. Both rules step towards a nearest enemy; they differ in which of several
  equally good moves they take (``-v0`` prefers the longer axis to one chosen target, ``-v1``
  any move that brings some nearest enemy closer), so the same seed gives other games. ``-v1``
  is about 2x cheaper with 5,000 scripted bodies.

Observation (``float32 (3, 3, 2)``, relative to the observer's team; ``[1, 1]`` is its own cell):

=======  ================================================  =========
channel  meaning                                           values
=======  ================================================  =========
0        live bodies of the observer's team (incl. self)   0 .. n
1        live enemy bodies                                 0 .. n
all      cell outside the map                              -1
=======  ================================================  =========

Global state: ``float32 (S, S, 2)``: live red count, live blue count per cell.

Scale (choices; the paper gives only "7 v 7" (Fig. 4) and N = 14 / 28 (Table 1)): ``num_agents``
counts both teams (the paper's N). ``map_size=None`` gives ``ceil(sqrt(num_agents /
agent_density))`` with 0.08 bodies per cell, MAgent2 ``battle_v4``'s density (0.04 per team), so
14 bodies get 14x14 and 10,000 get 354x354 (MAgent2's 9,800-agent map). Starts are uniform over
the map on distinct cells ("placed randomly").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qmarl_envs.core import kernels
from qmarl_envs.core.state import GridState, blank_layers
from qmarl_envs.scenarios import common
from qmarl_envs.scenarios.base import Scenario

OPPONENTS = ("scripted", "random", None)
"""Allowed values of :attr:`BattleConfig.opponent`."""
CHASES = ("rings", "field")
"""Allowed values of :attr:`BattleConfig.chase`."""

RED, BLUE = 0, 1
_PAIR_VIEW = {1: np.uint16, 2: np.uint32, 4: np.uint64}
"""Unsigned type covering both channels of a cell, by the byte size of one channel value."""


@dataclass(frozen=True, kw_only=True)
class BattleConfig(common.DensityMapConfig):
    """Configuration of Battle (the single source of defaults; registered ids override some).

    Raises:
        ValueError: from ``__post_init__``, naming the field, for a value of the wrong type or out
            of range, an odd ``num_agents``, an unknown ``opponent``, or more bodies than cells.
    """

    num_agents: int = 14
    """Bodies on the map, both teams together (even; the paper's N: 14 = 7 v 7)."""
    map_size: int | None = None
    """Side ``S`` of the square map in cells; ``None``: ``ceil(sqrt(num_agents / agent_density))``."""
    max_cycles: int = 31
    """Steps per episode (the authors' code: 31)."""
    kill_threshold: int = 3
    """Live enemies in the 3x3 neighbourhood that kill a body (paper: "at least 3")."""
    opponent: str | None = "scripted"
    """Blue's controller: ``"scripted"`` (chase the nearest enemy), ``"random"``, or ``None`` to
    expose blue as agents too (self-play)."""
    chase: str = "rings"
    """The scripted chase rule (blue's built-in team and :func:`scripted_actions`): ``"rings"``,
    the ``-v0`` ring-by-ring search (:func:`common.seek_actions`), or ``"field"``, the ``-v1``
    shortest-path distance field (:func:`common.chase_actions`); see the module docstring."""
    death_reward: float = -1.0
    """Reward of a body on the step it is killed (our choice; see the module docstring)."""
    agent_density: float = 0.08
    """Bodies per cell used when ``map_size`` is None (MAgent2 battle_v4: 0.04 per team)."""

    def __post_init__(self) -> None:
        common.check_int("num_agents", self.num_agents, 2)
        if self.num_agents % 2:
            raise ValueError(f"num_agents: expected an even number (two equal teams), got {self.num_agents}")
        if self.map_size is not None:
            common.check_int("map_size", self.map_size, 2)
        common.check_int("max_cycles", self.max_cycles, 1)
        common.check_int("kill_threshold", self.kill_threshold, 1, 9 * self.num_agents)
        if self.opponent not in OPPONENTS:
            raise ValueError(f"opponent: expected one of {OPPONENTS}, got {self.opponent!r}")
        if self.chase not in CHASES:
            raise ValueError(f"chase: expected one of {CHASES}, got {self.chase!r}")
        common.check_float("death_reward", self.death_reward, -1e6, 1e6)
        common.check_float("agent_density", self.agent_density, 0.0, 1.0, low_open=True)
        if self.num_agents > self.side ** 2:
            raise ValueError(f"num_agents: {self.num_agents} bodies need distinct start cells but "
                             f"map_size={self.side} has {self.side ** 2}")


class Battle(Scenario):
    """Battle (Q-MARL §3.1.1); rules, rewards, channels and score in the module docstring.

    Entities ``0 .. n-1`` are red (team 0) and ``n .. 2n-1`` blue (team 1), ``n = num_agents / 2``.

    Args:
        config: a validated :class:`BattleConfig`.
    """

    name = "battle"

    def __init__(self, config: BattleConfig) -> None:
        super().__init__(config)
        self.side = config.side
        self.shape = (self.side, self.side)
        self.grid = common.FlatGrid(self.shape)
        m = int(config.num_agents)
        self.team_size = n = m // 2
        self.team = np.repeat(np.array([RED, BLUE], dtype=np.int8), n)
        self.exposed_blue = config.opponent is None
        self.agent_ids = [f"red_{i}" for i in range(n)]
        if self.exposed_blue:
            self.agent_ids += [f"blue_{i}" for i in range(n)]
        self.agent_entities = np.arange(len(self.agent_ids), dtype=np.int64)
        self.obs_shape = (3, 3, 2)
        self.obs_low, self.obs_high = kernels.OFF_MAP, float(m)
        self.state_shape = (self.side, self.side, 2)
        self.state_high = float(config.num_agents)
        self._blocked = ~self.grid.inside
        # observation table: channels (live red, live blue); blue observers get them swapped
        self._table = common.WindowTable(self.grid, [], dynamic=2, dtype=common.count_dtype(m))
        self._cells = common.CellMemo(self.grid)

    # ------------------------------------------------------------------ rules
    def reset(self, rng: np.random.Generator) -> GridState:
        """Draw every body's cell uniformly on distinct cells (paper: "placed randomly")."""
        m = 2 * self.team_size
        pos = kernels.sample_cells_except(rng, self.shape, m)
        return GridState(shape=self.shape, positions=pos, alive=np.ones(m, dtype=bool),
                         team=self.team.copy(), hp=np.ones(m, dtype=np.int16),
                         **blank_layers(self.shape, "walls", "pits", "balls", "food", "landmarks"))

    def step(self, state, actions, rng, live):
        """One Battle step (module docstring, rules 1-3 and rewards); see :meth:`Scenario.step`.

        The kill test reads the table's 3x3 box sums at the new cells; the observation windows
        are gathered here once the killed bodies are removed, and handed to :meth:`observe` for
        the next call.
        """
        g = self.grid
        n = self.team_size
        k = len(self.agent_ids)
        alive = state.alive
        before = self._cells.flat(state.positions)
        if self.exposed_blue:
            acts = actions
        else:
            acts = np.empty(2 * n, dtype=np.int64)
            acts[:n] = actions
            acts[n:] = self._opponent_actions(state, rng, before)
        flat = common.move_flat(g, before, acts, self._blocked, None if alive.all() else alive)
        self._count_bodies(flat, alive)
        # live enemies in each 3x3 window, from the box sums of the (live red, live blue) channels
        # at each body's cell (off-map cells read -1 in every channel, hence + off_box; map cells:
        # in range): channel 1 for red bodies, channel 0 for blue ones
        box = self._table.box_sums().take(flat, axis=0, mode="wrap")
        near = np.empty(2 * n, dtype=box.dtype)
        near[:n] = box[:n, 1]
        near[n:] = box[n:, 0]
        near += g.off_box.take(flat, mode="wrap")
        killed = alive & (near >= self.config.kill_threshold)
        now = alive & ~killed
        red_left = int(np.count_nonzero(now[:n]))
        blue_left = int(np.count_nonzero(now[n:]))
        wiped = red_left == 0 or blue_left == 0
        rewards = np.zeros(2 * n, dtype=np.float32)
        if killed.any():
            rewards[killed] = self.config.death_reward
            self._table.remove(flat[:n][killed[:n]], RED)
            self._table.remove(flat[n:][killed[n:]], BLUE)
        win = self._observations(flat)          # after the removals: the next observations
        if wiped or state.step >= self.max_cycles:
            outcome = float(np.sign(red_left - blue_left))
            rewards[:n][now[:n]] = outcome
            rewards[n:][now[n:]] = -outcome
        terminated = ~now if not wiped else np.ones(2 * n, dtype=bool)
        state.positions = self._cells.moved(state.positions, before, flat)
        state.alive = now
        self._table.remember(flat, now, win)
        return rewards[:k], terminated[:k]

    def _opponent_actions(self, state: GridState, rng: np.random.Generator,
                          flat: np.ndarray) -> np.ndarray:
        """``int64 (n,)`` actions of the built-in blue team (``flat``: ``int64 (2n,)`` padded flat
        cells of ``state.positions``)."""
        n = self.team_size
        if self.config.opponent == "random":
            return rng.integers(0, kernels.NUM_ACTIONS, n)
        return _chase(self, state, n, 2 * n, rng, flat)

    def _count_bodies(self, flat: np.ndarray, alive: np.ndarray) -> None:
        """Write the live bodies (``flat``: ``int64 (2n,)`` padded flat cells of all bodies, ``alive``:
        ``bool (2n,)``) into the table's (live red, live blue) count channels."""
        n = self.team_size
        red, blue = flat[:n], flat[n:]
        if not alive.all():
            red, blue = np.compress(alive[:n], red), np.compress(alive[n:], blue)   # (faster than [mask])
        self._table.set_bodies([red, blue])

    def _observations(self, flat: np.ndarray) -> np.ndarray:
        """``float32 (N, 3, 3, 2)`` windows of the table around the exposed agents' cells
        (``flat[:N]``, ``flat``: ``int64 (2n,)``): (live red, live blue) counts, swapped to (live
        blue, live red) for blue agents (``opponent=None``), so that every row reads (own team,
        enemy)."""
        n = self.team_size
        win = self._table.windows(flat[:len(self.agent_ids)])
        if self.exposed_blue:
            _swap_channels(win[n:])             # the table's narrow dtype: swapped before converting
        return common.as_float32(win)

    def observe(self, state):
        """``float32 (N, 3, 3, 2)``: own-team and enemy counts (module docstring)."""
        flat = self._cells.flat(state.positions)
        obs = self._table.recall(flat, state.alive)
        if obs is not None:
            return obs
        self._count_bodies(flat, state.alive)
        return self._observations(flat)

    def global_state(self, state):
        """``float32 (S, S, 2)``: live red and live blue bodies per cell."""
        h, w = self.shape
        alive = state.alive
        cell = state.positions[:, 0].astype(np.int64) * w + state.positions[:, 1]
        cell = cell + np.where(state.team == RED, 0, h * w)
        both = np.bincount(cell[alive], minlength=2 * h * w)
        out = np.empty((h * w, 2), dtype=np.float32)
        out[:, 0] = both[:h * w]
        out[:, 1] = both[h * w:]
        return out.reshape(h, w, 2)

    def episode_summary(self, state, returns):
        """Team outcome as ``score`` (+1/0/-1), ``win``, and survivor counts (module docstring).

        Returns:
            ``{"score", "win", "red_survivors", "blue_survivors"}``; ``score`` is a ``float`` (red's
            outcome) or, with ``opponent=None``, ``float64 (2n,)`` per agent, and ``win`` likewise
            ``bool`` or ``bool (2n,)``.
        """
        n = self.team_size
        red_left = int(np.count_nonzero(state.alive[:n]))
        blue_left = int(np.count_nonzero(state.alive[n:]))
        outcome = float(np.sign(red_left - blue_left))
        if self.exposed_blue:
            score = np.concatenate([np.full(n, outcome), np.full(n, -outcome)])
            win = score > 0
        else:
            score, win = outcome, outcome > 0
        return {"score": score, "win": win, "red_survivors": red_left, "blue_survivors": blue_left}


def _swap_channels(win: np.ndarray) -> None:
    """Swap, in place, the two channels of C-contiguous ``(..., 2)`` windows (1-, 2- or 4-byte
    values): each cell's pair is one unsigned integer, rotated by half its width."""
    pairs = win.view(_PAIR_VIEW[win.dtype.itemsize])
    half = pairs.dtype.type(8 * win.dtype.itemsize)
    np.bitwise_or(pairs << half, pairs >> half, out=pairs)


def _chase(scenario: Battle, state: GridState, lo: int, hi: int, rng: np.random.Generator,
           flat: np.ndarray | None = None) -> np.ndarray:
    """``int64 (hi - lo,)`` "step towards the nearest live enemy" for entities ``lo .. hi - 1``
    (red ones first, then blue ones; dead ones stay), ``flat``: the ``int64 (2n,)`` padded flat
    cells of ``state.positions`` if the caller has them."""
    g = scenario.grid
    if flat is None:
        flat = scenario._cells.flat(state.positions)
    alive = state.alive
    acts = np.full(hi - lo, common.STAY, dtype=np.int64)
    n = scenario.team_size
    for side in (RED, BLUE):
        first, stop = max(lo, side * n), min(hi, (side + 1) * n)    # the side's entities in range
        if first >= stop:
            continue
        mine = np.flatnonzero(alive[first:stop])
        if mine.size == 0:
            continue
        enemy = slice(n, 2 * n) if side == RED else slice(0, n)
        targets = np.compress(alive[enemy], flat[enemy])
        cells = flat[first:stop].take(mine, mode="wrap")     # (mine: in range)
        mine += first - lo
        if scenario.config.chase == "field":
            acts[mine] = common.chase_actions(g, cells, targets, rng, None)
            continue
        score = np.ones(g.size, dtype=np.int8)
        score[targets] = 0
        acts[mine] = common.seek_actions(g, cells, score, lambda t=targets: t, rng, scenario._blocked)
    return acts


def scripted_actions(scenario: Battle, state: GridState, rng: np.random.Generator) -> np.ndarray:
    """Heuristic Battle actions for the exposed agents: step towards the nearest live enemy.

    The same rule drives the built-in ``opponent="scripted"`` blue team; ``config.chase`` picks
    it (module docstring: ``"rings"``, :func:`common.seek_actions`, for ``-v0``; ``"field"``,
    :func:`common.chase_actions`, for ``-v1``). Nearest is by path length (Manhattan; Battle has
    no obstacles): exact within distance 4, then by a coarse block search, vectorised over
    agents. Ties are broken at random. Not from the paper: a baseline.

    Args:
        scenario: the :class:`Battle` scenario of the env (``env.unwrapped.scenario``).
        state: its current state (``env.unwrapped.grid_state``).
        rng: generator for the tie-breaks.

    Returns:
        ``int64 (N,)`` action ids for the exposed agents (red, then blue with ``opponent=None``);
        dead agents get ``4`` (stay).

    Raises:
        ValueError: if ``scenario`` is not a :class:`Battle`, ``state`` is not a state of its map, or
            ``rng`` is not a Generator.
    """
    if not isinstance(scenario, Battle):
        raise ValueError(f"scenario: expected a Battle scenario, got {type(scenario).__name__}")
    common.entity_rng_check(rng)
    common.check_state(scenario, state, 2 * scenario.team_size)
    return _chase(scenario, state, 0, len(scenario.agent_ids), rng)
