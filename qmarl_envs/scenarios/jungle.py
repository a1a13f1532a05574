"""Jungle: a social dilemma over stationary food (Q-MARL paper, seed 002, §3.1.1; authors' code [C]).

``N`` agents and ``F`` food cells on an ``S x S`` grid. Food never moves or runs out. Every agent
wants to sit next to food, but crowding hurts: agents that stay close lose hit points and die.

Rules (per step, all agents simultaneously; research/qmarl.md §1 "Exact mechanics in [C]"):

1. **Move.** Actions ``0 up, 1 down, 2 left, 3 right, 4 stay``. A move off the map or into a food
   cell leaves the agent where it was. Agents never block each other (cells may be shared).
2. **Crowding.** An agent with another live agent in its 4-neighbourhood or on its own cell (after
   the moves) loses 1 HP. Agents start with ``hp`` = 3, so the third crowded step kills
   (crowded steps need not be consecutive).
3. **Reward.** ``+1`` if a food cell is 4-adjacent (N/S/E/W) to the agent's cell, else ``0``.
4. **Death.** At 0 HP the agent's reward for the step is ``-1`` (it replaces the food reward), it
   is terminated and removed from the map. Crowding is resolved on the positions before removal,
   so agents that die together still crowd each other on that step.
5. The episode runs ``max_cycles`` steps (the authors' code: 31), then the survivors are
   truncated. It ends earlier only if every agent is dead.

Observation (``float32 (3, 3, 2)``, the authors' 18-float view as two channels; ``[1, 1]`` is the
agent's own cell, rows top to bottom):

=======  ==================================================  =========
channel  meaning                                             values
=======  ==================================================  =========
0        food in the cell                                    0 or 1
1        live agents in the cell, the observer included      0 .. N
all      cell outside the map                                -1
=======  ==================================================  =========

Global state (``env.state()``): ``float32 (S, S, 3)``: food, live-agent count, summed HP of the
live agents in each cell.

Score (``infos[agent]["episode"]["score"]``, ``float`` in ``[-1, 1]``): the mean reward per agent
and per step, where an agent that has died keeps scoring ``-1`` on every remaining step. The paper
does not define it; this is the authors' code's bookkeeping (a dead agent's reward stays ``-1``,
research/qmarl.md §1) averaged the way Fig. 6 plots "mean reward", so the paper's Jungle numbers
(0.91 for Q-MARL) are on the same scale. On ``qmarl/Jungle-v0`` uniformly random actions score
about -0.26 and :func:`scripted_actions` about 0.67 (200 seeds); four agents fed from the first
step without crowding would score 1 (only possible with the food away from the edges). ``win`` is
``score > 0`` (the team ate more than it lost). The summary also holds ``survivors`` (int) and
``fed_fraction`` (share of agent-steps spent next to food).

Scale (choices; the paper gives only 5x5 / 4 agents / 1 food in [C] and 10,000 agents / 2,500
food on about 500x500 in Fig. 8):

* ``map_size=None`` gives ``ceil(sqrt(num_agents / agent_density))`` with ``agent_density`` =
  0.04 agents per cell, so 10,000 agents get 500x500.
* ``num_food=None`` gives ``round(food_density * S**2)`` (at least 1) with ``food_density`` = 0.01
  food per cell, so 500x500 gets 2,500 food.
* ``qmarl/Jungle-v0`` pins the authors' small scale: 5x5, 4 agents, 1 food, 31 steps (Table 1's
  generalisation test is ``num_agents=8`` on the same map).

Starts: food is drawn uniformly on distinct cells ([C]); agents are drawn uniformly on the other
cells with pairwise Manhattan distance at least ``start_spacing`` = 4 (the paper says only "placed
at random"; [C] draws distinct cells, which ``start_spacing=1`` restores). With 4 cells between
them, no agent can be crowded on the first step, so no agent dies before step 4 whatever the
actions: the first moves are the agents' own choice, and short episodes (PettingZoo's
``max_cycles_test`` runs 4 steps of random actions) keep their agents. Where the map is too full
for the spacing (say 8 agents on 5x5), it is lowered step by step until a placement is found.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qmarl_envs.core import kernels
from qmarl_envs.core.state import GridState, blank_layers
from qmarl_envs.scenarios import common
from qmarl_envs.scenarios.base import Scenario


@dataclass(frozen=True, kw_only=True)
class JungleConfig(common.DensityMapConfig):
    """Configuration of Jungle (the single source of defaults; registered ids override some).

    Raises:
        ValueError: from ``__post_init__``, naming the field, for a value of the wrong type or out
            of range, or when agents and food do not fit on the map.
    """

    num_agents: int = 4
    """Number of agents ``N`` (all learning, ids ``agent_0 .. agent_{N-1}``)."""
    map_size: int | None = None
    """Side ``S`` of the square map in cells; ``None``: ``ceil(sqrt(N / agent_density))``."""
    num_food: int | None = None
    """Number of food cells; ``None``: ``round(food_density * S**2)``, at least 1."""
    max_cycles: int = 31
    """Steps per episode (the authors' code: 30 frames + 1 = 31)."""
    hp: int = 3
    """Starting hit points; one is lost per crowded step ([C]: 3)."""
    agent_density: float = 0.04
    """Agents per cell used when ``map_size`` is None (Fig. 8: 10,000 agents on about 500x500)."""
    food_density: float = 0.01
    """Food per cell used when ``num_food`` is None (Fig. 8: 2,500 food on about 500x500)."""
    start_spacing: int = 4
    """Minimum Manhattan distance between agents' starting cells, lowered automatically where the
    map is too crowded for it (see the module docstring); 1 gives [C]'s distinct random starts."""

    def __post_init__(self) -> None:
        common.check_int("num_agents", self.num_agents, 1)
        if self.map_size is not None:
            common.check_int("map_size", self.map_size, 2)
        if self.num_food is not None:
            common.check_int("num_food", self.num_food, 0)
        common.check_int("max_cycles", self.max_cycles, 1)
        common.check_int("hp", self.hp, 1, 10_000)
        common.check_float("agent_density", self.agent_density, 0.0, 1.0, low_open=True)
        common.check_float("food_density", self.food_density, 0.0, 1.0)
        common.check_int("start_spacing", self.start_spacing, 1, 64)
        cells = self.side ** 2
        if self.num_agents + self.food > cells:
            raise ValueError(
                f"num_agents: {self.num_agents} agents and {self.food} food need distinct cells but "
                f"map_size={self.side} has {cells}; pass a larger map_size (or map_size=None for the "
                f"density default)")


    @property
    def food(self) -> int:
        """The number of food cells (``num_food`` or its density default)."""
        if self.num_food is not None:
            return int(self.num_food)
        return common.count_for_density(self.side, self.food_density, 1)


@dataclass
class JungleState(GridState):
    """:class:`GridState` plus the step at which each agent died.

    Attributes:
        died_at: ``int32 (N,)`` environment step of each agent's death, ``-1`` while alive.
    """

    died_at: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.died_at is None:
            self.died_at = np.full(self.num_entities, -1, dtype=np.int32)

    def copy(self) -> "JungleState":
        """A deep copy (every array copied)."""
        base = super().copy()
        return JungleState(**{**base.__dict__, "died_at": self.died_at.copy()})

    def nbytes(self) -> int:
        """Total bytes held by the state's arrays."""
        return super().nbytes() + self.died_at.nbytes


def _crowded(win: np.ndarray) -> np.ndarray:
    """``bool (N,)``: whether another body stands on the centre cell of each window or on one of
    its 4 neighbours (rule 2), for ``(N, 3, 3, 2)`` windows of the observation channels (any
    numeric dtype) whose centre holds a live observer: it counts at least 1 there, and off-map
    cells read -1, never a body, so no off-map correction is needed (rows of dead observers are
    meaningless; the caller masks them)."""
    w = win.reshape(win.shape[0], 18)          # column 2 * cell + 1: the body count of a cell
    m = np.maximum(w[:, 3], w[:, 7])           # up, left
    np.maximum(m, w[:, 11], out=m)             # right
    np.maximum(m, w[:, 15], out=m)             # down
    return (m > 0) | (w[:, 9] > 1)


class _Static:
    """Per-episode layers derived from the food map (rebuilt when ``state.food`` is a new array)."""

    def __init__(self, grid: common.FlatGrid, food: np.ndarray, num_agents: int,
                 reuse: "_Static | None" = None, food_flat: np.ndarray | None = None):
        self.food_ref = food
        g = grid
        if food_flat is None:  # padded flat cells of the food (reset passes the ones it drew)
            food_flat = g.flat(np.argwhere(food))
        self.blocked = ~g.inside
        self.blocked[food_flat] = True
        # cells where an agent may stand and a food cell is 4-adjacent
        feeding = np.zeros(g.size, dtype=bool)
        feeding[(food_flat[:, None] + g.offs_plus[None, 1:]).ravel()] = True
        feeding[food_flat] = False
        feeding &= g.inside
        self.feeding = feeding
        self._feeding_cells: np.ndarray | None = None
        self.table = common.WindowTable(grid, [(food_flat, 1)], dynamic=1,
                                        reuse=None if reuse is None else reuse.table,
                                        dtype=common.count_dtype(num_agents))


    @property
    def feeding_cells(self) -> np.ndarray:
        """``int64 (K,)`` sorted padded flat cells of :attr:`feeding` (built on first use: only the
        scripted policy needs them)."""
        if self._feeding_cells is None:
            self._feeding_cells = np.flatnonzero(self.feeding)
        return self._feeding_cells


class Jungle(Scenario):
    """Jungle (Q-MARL §3.1.1); rules, observation channels and score in the module docstring.

    Args:
        config: a validated :class:`JungleConfig`.
    """

    name = "jungle"

    def __init__(self, config: JungleConfig) -> None:
        super().__init__(config)
        self.side = config.side
        self.num_food = config.food
        n = int(config.num_agents)
        self.shape = (self.side, self.side)
        self.grid = common.FlatGrid(self.shape)
        self.agent_ids = [f"agent_{i}" for i in range(n)]
        self.agent_entities = np.arange(n, dtype=np.int64)
        self.obs_shape = (3, 3, 2)
        self.obs_low, self.obs_high = kernels.OFF_MAP, float(max(n, 1))
        self.state_shape = (self.side, self.side, 3)
        self.state_high = float(max(n, 1) * config.hp)
        self._static: _Static | None = None
        self._cells = common.CellMemo(self.grid)
        # crowding: the seeker's own body counts in a cell's plus-sum when the cell is within
        # Manhattan 1 of it (see common.seek_actions)
        self._self_term = (np.arange(common.SEARCH_RADIUS + 1) <= 1).astype(np.int64)

    def static(self, state: GridState) -> _Static:
        """Derived static layers of ``state`` (padded blocked/feeding maps, food channel).

        They are cached per ``state.food`` array object: food is stationary, so replace the array
        (don't edit it in place) to change the food of a state.
        """
        if self._static is None or self._static.food_ref is not state.food:
            self._static = _Static(self.grid, state.food, len(self.agent_ids))
        return self._static

    # ------------------------------------------------------------------ rules
    def reset(self, rng: np.random.Generator) -> JungleState:
        """Draw food cells uniformly, then agent cells spread ``start_spacing`` apart off the food.

        Returns:
            a fresh :class:`JungleState` (HP ``config.hp``, all alive).
        """
        n, f = len(self.agent_ids), self.num_food
        cells = kernels.sample_cells_except(rng, self.shape, f)
        food = np.zeros(self.shape, dtype=bool)
        food[cells[:, 0], cells[:, 1]] = True
        food_rank = np.sort(cells[:, 0].astype(np.int64) * self.shape[1] + cells[:, 1])
        pos, _ = common.spaced_cells(rng, ~food, n, self.config.start_spacing, exclude=food_rank)
        state = JungleState(
            shape=self.shape, positions=pos, alive=np.ones(n, dtype=bool),
            team=np.zeros(n, dtype=np.int8), hp=np.full(n, self.config.hp, dtype=np.int16),
            food=food, **blank_layers(self.shape, "walls", "pits", "balls", "landmarks"),
        )
        self._static = _Static(self.grid, food, n, reuse=self._static, food_flat=self.grid.flat(cells))
        # the first observation, while the starts are known to be distinct cells (a plain scatter
        # counts them); observe() recalls it as long as the positions are left as drawn
        flat = self.grid.flat(pos)
        self._cells.keep(pos, flat)
        self._static.table.set_bodies([flat], distinct=True)
        self._static.table.remember(flat, state.alive, self._static.table.gather(flat))
        return state

    def step(self, state, actions, rng, live):
        """One Jungle step (module docstring, rules 1-4); see :meth:`Scenario.step`.

        The observation windows of the new positions are gathered here (the crowding test reads
        the count channel of the same windows) and handed to :meth:`observe` for the next call.
        """
        st = self.static(state)
        g = self.grid
        alive = state.alive
        everyone = bool(alive.all())
        before = self._cells.flat(state.positions)
        flat = common.move_flat(g, before, actions, st.blocked, None if everyone else alive)
        st.table.set_bodies([flat if everyone else flat[alive]])
        win = st.table.windows(flat)
        crowded = alive & _crowded(win)
        hp = state.hp - crowded.view(np.int8)
        dead_now = alive & (hp <= 0)
        fed = st.feeding.take(flat, mode="wrap")   # map cells: never wraps (see move_flat)
        if not everyone:
            fed &= alive
        rewards = fed.astype(np.float32)
        rewards[dead_now] = -1.0
        died_at = getattr(state, "died_at", None)
        if died_at is None:
            died_at = np.full(state.num_entities, -1, dtype=np.int32)
        now = alive & ~dead_now
        if dead_now.any():
            died_at = died_at.copy()
            died_at[dead_now] = state.step
            gone = flat[dead_now]
            st.table.remove(gone, 0)
            st.table.refresh(win, flat, gone)
        state.died_at = died_at
        state.hp = np.maximum(hp, 0, out=hp).astype(np.int16, copy=False)
        state.alive = now
        state.positions = self._cells.moved(state.positions, before, flat)
        st.table.remember(flat, now, common.as_float32(win))
        return rewards, ~now

    def observe(self, state):
        """``float32 (N, 3, 3, 2)``: food and live-agent count windows (module docstring)."""
        st = self.static(state)
        flat = self._cells.flat(state.positions)
        obs = st.table.recall(flat, state.alive)
        if obs is not None:
            return obs
        st.table.set_bodies([flat[state.alive]])
        return st.table.gather(flat)

    def global_state(self, state):
        """``float32 (S, S, 3)``: food, live-agent count, summed live HP per cell."""
        h, w = self.shape
        p = state.positions[state.alive]
        cell = p[:, 0].astype(np.int64) * w + p[:, 1]
        out = np.empty((h * w, 3), dtype=np.float32)
        out[:, 0] = state.food.ravel()
        out[:, 1] = np.bincount(cell, minlength=h * w)
        out[:, 2] = np.bincount(cell, weights=state.hp[state.alive], minlength=h * w)
        return out.reshape(h, w, 3)

    def episode_summary(self, state, returns):
        """Score, win and extras of a finished episode (module docstring).

        Returns:
            ``{"score": float in [-1, 1], "win": bool, "survivors": int, "fed_fraction": float}``.
        """
        n = returns.shape[0]
        steps = max(int(state.step), 1)
        died_at = getattr(state, "died_at", np.full(n, -1))
        dead = died_at >= 0
        after_death = float(np.sum(steps - died_at[dead]))
        score = (float(np.sum(returns)) - after_death) / (n * steps) if n else 0.0
        fed = float(np.sum(returns) + np.count_nonzero(dead)) / (n * steps) if n else 0.0
        return {"score": float(np.clip(score, -1.0, 1.0)), "win": bool(score > 0),
                "survivors": int(np.count_nonzero(state.alive)), "fed_fraction": fed}

    def hp_fraction(self, state):
        """``float32 (N,)``: HP over the starting HP."""
        return (state.hp / float(self.config.hp)).astype(np.float32)


def scripted_actions(scenario: Jungle, state: GridState, rng: np.random.Generator) -> np.ndarray:
    """Heuristic Jungle actions: every agent heads for the nearest uncrowded feeding cell.

    A *feeding cell* is a free cell 4-adjacent to food; it is *uncrowded* for an agent when no other
    live agent is on it or 4-adjacent to it, so an agent that reaches it scores +1 per step without
    losing HP. An agent already on such a cell stays. The search is
    :func:`common.seek_actions` (exact within Manhattan distance 4, then a coarse block search).
    Then contact is avoided: when the chosen move ends next to (or on) another agent, as the others
    stand now, the least crowded of the 5 moves is taken instead (the chosen one on a tie). Agents
    with no uncrowded feeding cell anywhere stay, unless staying is crowded. Not from the paper: a
    baseline, vectorised over agents (no per-agent Python loop).

    Args:
        scenario: the :class:`Jungle` scenario of the env (``env.unwrapped.scenario``).
        state: its current state (``env.unwrapped.grid_state``).
        rng: generator for the tie-breaks.

    Returns:
        ``int64 (N,)`` action ids in ``[0, 5)``; dead agents get ``4`` (stay).

    Raises:
        ValueError: if ``scenario`` is not a :class:`Jungle`, ``state`` is not a state of its map, or
            ``rng`` is not a Generator.
    """
    if not isinstance(scenario, Jungle):
        raise ValueError(f"scenario: expected a Jungle scenario, got {type(scenario).__name__}")
    common.entity_rng_check(rng)
    common.check_state(scenario, state, len(scenario.agent_ids))
    g = scenario.grid
    st = scenario.static(state)
    flat = g.flat(state.positions)
    alive = state.alive
    acts = np.full(flat.shape[0], common.STAY, dtype=np.int64)
    idx = np.flatnonzero(alive)
    if idx.size == 0:
        return acts
    here = flat[idx]
    # crowding of every cell: live bodies on it and 4-adjacent (one pass of 5 shifted adds)
    counts = g.counts(here).astype(np.int32)
    plus = g.plus_grid(counts)
    # a feeding cell scores its crowding; other cells never qualify
    score = np.where(st.feeding, plus, np.int32(1 << 30))
    fc = st.feeding_cells
    want = common.seek_actions(g, here, score, lambda: fc[plus[fc] == 0], rng, st.blocked,
                               scenario._self_term)
    # avoid contact: the other live bodies around each candidate cell (the agent's own body is in
    # every candidate's plus-neighbourhood, hence the -1); keep the wanted move unless it is
    # crowded and a less crowded move exists
    cand = here[:, None] + g.action_delta[None, :]
    cand = np.where(st.blocked[cand], here[:, None], cand)
    others = plus.take(cand) - 1
    rows = np.arange(idx.size)
    cost = others * 4.0 + rng.random(others.shape) * 0.5
    cost[rows, want] -= 1.0
    acts[idx] = np.where(others[rows, want] == 0, want, cost.argmin(axis=1))
    return acts
