"""Deception: hold the target landmark without showing the adversary which one it is (Q-MARL paper,
seed 002, §3.1.1; a grid version of MPE "physical deception", PettingZoo ``simple_adversary``).

``N`` home agents, one adversary and ``K`` stationary landmarks on an ``S x S`` grid. One landmark,
drawn at random each episode, is the target. The home team knows which; the adversary does not
and must infer it, for example from where the home agents go.

Rules:

1. **Move.** Actions ``0 up, 1 down, 2 left, 3 right, 4 stay``; a move off the map leaves the body
   in place. Nothing else blocks: bodies share cells and stand on landmarks. There is no attacking.
2. **End.** The episode always runs ``max_cycles`` steps (31, as the authors' code) and is then
   truncated; nobody is terminated earlier.
3. **Outcome**, paid on the last step only (every other reward is 0): the home team gets ``+1``
   when at least one home agent is on the target and the adversary is not, else ``-1``
   (paper: the adversary "has not found the target" and a home agent occupies it). "Found" is read
   as *standing on* the target at the end (the paper leaves it open; seeing it is not enough).
   Every home agent receives the team's outcome; the adversary receives its negation (the paper
   does not give the adversary's reward; zero-sum is MPE's choice).

Adversary (``adversary`` config field; the paper co-trains it):

* ``"heuristic"`` (default): a built-in policy that watches the home team. Each step it ranks the
  landmarks by the number of live home agents within Chebyshev distance 2 of them and walks to the
  best one (ties: the one it stands on, then the nearest, then at random). With nobody near any
  landmark it heads for the nearest landmark. It uses the home agents' positions and the landmark
  map (like MPE's adversary, which observes all agents), never the target.
* ``None``: the adversary is an exposed agent ``adversary_0`` (after ``agent_0 .. agent_{N-1}``),
  for co-training.

Agent ids follow PettingZoo's ``simple_adversary``: home agents are ``agent_i``, the adversary
``adversary_0``.

Observation (``float32 (3, 3, 4)``, one space for every agent; ``[1, 1]`` is the own cell):

=======  ===============================================================  =========
channel  meaning                                                          values
=======  ===============================================================  =========
0        a landmark in the cell                                           0 or 1
1        the target landmark in the cell (**always 0 for the adversary**)  0 or 1
2        live home agents in the cell (a home observer counts itself)     0 .. N
3        the adversary in the cell (it counts itself)                     0 or 1
all      cell outside the map                                             -1
=======  ===============================================================  =========

Global state: ``float32 (S, S, 4)``: the four channels over the whole map (target included).

Score (``infos[agent]["episode"]``): ``score`` is the home team's outcome ``+1`` / ``-1`` (with
``adversary=None``, per agent: the adversary's is the negation); its mean over games is the
paper's Fig. 6 "mean reward". ``win`` is ``score > 0``. The summary also holds
``home_on_target`` and ``adversary_on_target``.

Scale (choices; the paper gives 1 and 2 home agents in Table 1 and shows 2 agents / 2 landmarks
in Fig. 4 and 5 agents / 4 landmarks in Fig. 5c): ``map_size=None`` gives
``ceil(sqrt(num_agents / agent_density))`` with 0.04 home agents per cell (Jungle's density), and
``num_landmarks=None`` gives ``round(landmark_density * S**2)`` with 0.01 per cell (Jungle's food
density), at least 2. ``qmarl/Deception-v0`` pins 1 home agent, 2 landmarks on 5x5 (Table 1's
generalisation test is ``num_agents=2`` on the same map). Starts are uniform on distinct cells
that are not landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qmarl_envs.core import kernels
from qmarl_envs.core.state import GridState, blank_layers
from qmarl_envs.scenarios import common
from qmarl_envs.scenarios.base import Scenario

ADVERSARIES = ("heuristic", None)
"""Allowed values of :attr:`DeceptionConfig.adversary`."""

HOME, ADVERSARY = 0, 1
_ONES25 = np.ones(25, dtype=np.float32)
_WATCH_OFFSETS = np.stack(np.meshgrid(np.arange(-2, 3), np.arange(-2, 3), indexing="ij"), -1).reshape(-1, 2)


@dataclass(frozen=True, kw_only=True)
class DeceptionConfig(common.DensityMapConfig):
    """Configuration of Deception (the single source of defaults; registered ids override some).

    Raises:
        ValueError: from ``__post_init__``, naming the field, for a value of the wrong type or out
            of range, an unknown ``adversary``, or more bodies and landmarks than cells.
    """

    num_agents: int = 1
    """Home agents ``N`` (the paper's N: 1 in training, 2 in the generalisation test)."""
    map_size: int | None = None
    """Side ``S`` of the square map in cells; ``None``: ``ceil(sqrt(N / agent_density))``."""
    num_landmarks: int | None = None
    """Landmarks ``K`` (one is the target); ``None``: ``round(landmark_density * S**2)``, at least 2."""
    max_cycles: int = 31
    """Steps per episode (the authors' code: 31)."""
    adversary: str | None = "heuristic"
    """The adversary's controller: ``"heuristic"`` (built in) or ``None`` (exposed as an agent)."""
    agent_density: float = 0.04
    """Home agents per cell used when ``map_size`` is None."""
    landmark_density: float = 0.01
    """Landmarks per cell used when ``num_landmarks`` is None."""

    def __post_init__(self) -> None:
        common.check_int("num_agents", self.num_agents, 1)
        if self.map_size is not None:
            common.check_int("map_size", self.map_size, 2)
        if self.num_landmarks is not None:
            common.check_int("num_landmarks", self.num_landmarks, 1, 32_000)
        common.check_int("max_cycles", self.max_cycles, 1)
        if self.adversary not in ADVERSARIES:
            raise ValueError(f"adversary: expected one of {ADVERSARIES}, got {self.adversary!r}")
        common.check_float("agent_density", self.agent_density, 0.0, 1.0, low_open=True)
        common.check_float("landmark_density", self.landmark_density, 0.0, 1.0)
        cells = self.side ** 2
        if self.num_agents + 1 + self.landmarks > cells:
            raise ValueError(
                f"num_agents: {self.num_agents} home agents, the adversary and {self.landmarks} "
                f"landmarks need distinct cells but map_size={self.side} has {cells}; pass a larger "
                f"map_size (or map_size=None for the density default)")
        if self.landmarks > 32_000:
            raise ValueError(f"num_landmarks: at most 32000 landmarks, got {self.landmarks}")


    @property
    def landmarks(self) -> int:
        """The number of landmarks ``K`` (``num_landmarks`` or its density default)."""
        if self.num_landmarks is not None:
            return int(self.num_landmarks)
        return common.count_for_density(self.side, self.landmark_density, 2)


class _Static:
    """Per-episode layers derived from the landmark map (rebuilt when ``state.landmarks`` or
    ``state.target`` changes)."""

    def __init__(self, grid: common.FlatGrid, landmarks: np.ndarray, target: int, num_home: int,
                 reuse: "_Static | None" = None, lm_cells: np.ndarray | None = None):
        self.landmarks_ref = landmarks
        self.target = target
        if lm_cells is None:  # (K, 2) landmark cells in row-major order (reset passes them)
            lm_cells = np.argwhere(landmarks >= 0)
        self.lm_flat = grid.flat(lm_cells)
        self.lm_pos = lm_cells.astype(np.int64)
        is_target = landmarks[lm_cells[:, 0], lm_cells[:, 1]] == target
        self.table = common.WindowTable(
            grid, [(self.lm_flat, 1), (self.lm_flat[is_target], 1)],
            dynamic=2, reuse=None if reuse is None else reuse.table,
            dtype=common.count_dtype(num_home))
        tgt = lm_cells[is_target]
        self.target_pos = tgt[0].astype(np.int64) if len(tgt) else np.array([-1, -1])
        watch = (_WATCH_OFFSETS[:, 0] * grid.wp + _WATCH_OFFSETS[:, 1]).astype(np.int64)
        self.watch_cells = self.lm_flat[:, None] + watch[None, :]     # (K, 25) 5x5 around each landmark
        # off-map cells of each landmark's 5x5 (they read -1 in the observation table's channels)
        self.watch_off = (~grid.inside).take(self.watch_cells).sum(axis=1).astype(np.float32)
        # the same cells as indices into the flattened (size, 4) table's home channel (column 2)
        self.watch_table = self.watch_cells * 4 + 2
        self.lm_row, self.lm_col = self.lm_pos[:, 0].copy(), self.lm_pos[:, 1].copy()


class Deception(Scenario):
    """Deception (Q-MARL §3.1.1); rules, channels, outcome and adversary in the module docstring.

    Entities ``0 .. N-1`` are the home agents (team 0), entity ``N`` the adversary (team 1).

    Args:
        config: a validated :class:`DeceptionConfig`.
    """

    name = "deception"

    def __init__(self, config: DeceptionConfig) -> None:
        super().__init__(config)
        self.side = config.side
        self.num_landmarks = config.landmarks
        self.shape = (self.side, self.side)
        self.grid = common.FlatGrid(self.shape)
        n = self.num_home = int(config.num_agents)
        self.exposed_adversary = config.adversary is None
        self.agent_ids = [f"agent_{i}" for i in range(n)]
        if self.exposed_adversary:
            self.agent_ids.append("adversary_0")
        self.agent_entities = np.arange(len(self.agent_ids), dtype=np.int64)
        self.team = np.append(np.zeros(n, dtype=np.int8), np.int8(ADVERSARY))
        self.obs_shape = (3, 3, 4)
        self.obs_low, self.obs_high = kernels.OFF_MAP, float(max(n, 1))
        self.state_shape = (self.side, self.side, 4)
        self.state_high = float(max(n + 1, 1))
        self._blocked = ~self.grid.inside
        self._static: _Static | None = None
        self._cells = common.CellMemo(self.grid)
        self._home_counts: tuple[np.ndarray, np.ndarray] | None = None

    def static(self, state: GridState) -> _Static:
        """Derived static layers of ``state`` (observation table, landmark cells, target cell).

        They are cached per ``state.landmarks`` array object and ``state.target``: replace the array
        (don't edit it in place) to move landmarks.
        """
        s = self._static
        if s is None or s.landmarks_ref is not state.landmarks or s.target != state.target:
            self._static = s = _Static(self.grid, state.landmarks, int(state.target), self.num_home)
        return s

    # ------------------------------------------------------------------ rules
    def reset(self, rng: np.random.Generator) -> GridState:
        """Draw landmarks, then home agents and the adversary on other distinct cells, uniformly;
        draw the target uniformly among the landmarks."""
        n, k = self.num_home, self.num_landmarks
        cells = kernels.sample_cells_except(rng, self.shape, k + n + 1)
        landmarks = np.full(self.shape, -1, dtype=np.int16)
        landmarks[cells[:k, 0], cells[:k, 1]] = np.arange(k, dtype=np.int16)
        state = GridState(shape=self.shape, positions=cells[k:].copy(),
                          alive=np.ones(n + 1, dtype=bool), team=self.team.copy(),
                          hp=np.ones(n + 1, dtype=np.int16), landmarks=landmarks,
                          **blank_layers(self.shape, "walls", "pits", "balls", "food"),
                          target=int(rng.integers(k)))
        lm = cells[:k]
        lm = lm[np.argsort(lm[:, 0].astype(np.int64) * self.shape[1] + lm[:, 1])]  # row-major
        self._static = _Static(self.grid, landmarks, state.target, n, reuse=self._static, lm_cells=lm)
        return state

    def step(self, state, actions, rng, live):
        """One Deception step (module docstring, rules 1-3); see :meth:`Scenario.step`.

        The observations of the new positions are built here and handed to :meth:`observe`.
        """
        g = self.grid
        n = self.num_home
        if self.exposed_adversary:
            acts = actions
        else:
            acts = np.empty(n + 1, dtype=np.int64)
            acts[:n] = actions
            acts[n] = _adversary_action(self, state, rng)
        before = self._cells.flat(state.positions)
        flat = common.move_flat(g, before, acts, self._blocked)
        state.positions = self._cells.moved(state.positions, before, flat)
        st = self.static(state)
        st.table.remember(flat, state.alive, self._observe_flat(st, flat, state.positions))
        k = len(self.agent_ids)
        rewards = np.zeros(k, dtype=np.float32)
        if state.step >= self.max_cycles:
            h = self.outcome(state)
            rewards[:n] = h
            if self.exposed_adversary:
                rewards[n] = -h
        return rewards, np.zeros(k, dtype=bool)

    def outcome(self, state: GridState) -> float:
        """The home team's outcome of ``state``: ``+1.0`` if a home agent is on the target and the
        adversary is not, else ``-1.0`` (module docstring, rule 3)."""
        home_on, adv_on = self._on_target(state)
        return 1.0 if home_on and not adv_on else -1.0

    def _on_target(self, state: GridState) -> tuple[bool, bool]:
        n = self.num_home
        lm = state.landmarks[state.positions[:, 0], state.positions[:, 1]]
        on = lm == state.target
        return bool(on[:n].any()), bool(on[n])

    def _observe_flat(self, st: _Static, flat: np.ndarray, positions: np.ndarray) -> np.ndarray:
        n = self.num_home
        st.table.set_bodies([flat[:n], flat[n:]])
        # the home channel of the table is the home count of every cell (see home_counts)
        self._home_counts = (positions[:n].copy(), st.table.table[:, 2])
        obs = st.table.gather(flat[:len(self.agent_ids)])
        if self.exposed_adversary:
            adv = obs[n, :, :, 1]
            adv[adv > 0] = 0.0          # the adversary does not see the target
        return obs

    def home_counts(self, state: GridState) -> np.ndarray:
        """Home agents per padded cell of ``state``: ``(size,)`` integers (the observation table's
        home channel, of the table's integer dtype, whose padding cells read ``-1``, when the home
        agents have not moved since the last observation; else a fresh ``int64`` count)."""
        g = self.grid
        n = self.num_home
        memo = self._home_counts
        home = state.positions[:n]
        if memo is not None and memo[0].shape == home.shape and np.array_equal(memo[0], home):
            return memo[1]
        return np.bincount(g.flat(home), minlength=g.size)

    def observe(self, state):
        """``float32 (N, 3, 3, 4)``: landmark, target, home and adversary windows (module docstring)."""
        st = self.static(state)
        flat = self._cells.flat(state.positions)
        obs = st.table.recall(flat, state.alive)
        if obs is not None:
            return obs
        return self._observe_flat(st, flat, state.positions)

    def global_state(self, state):
        """``float32 (S, S, 4)``: landmark, target, home count, adversary count per cell."""
        n = self.num_home
        h, w = self.shape
        cell = state.positions[:, 0].astype(np.int64) * w + state.positions[:, 1]
        lm = state.landmarks.ravel()
        out = np.empty((h * w, 4), dtype=np.float32)
        out[:, 0] = lm >= 0
        out[:, 1] = lm == state.target
        out[:, 2] = np.bincount(cell[:n], minlength=h * w)
        out[:, 3] = np.bincount(cell[n:], minlength=h * w)
        return out.reshape(h, w, 4)

    def episode_summary(self, state, returns):
        """Home outcome as ``score`` (+1/-1), ``win`` and who stands on the target.

        Returns:
            ``{"score", "win", "home_on_target", "adversary_on_target"}``; ``score`` is a ``float``
            or, with ``adversary=None``, ``float64 (N+1,)`` per agent (adversary last, negated);
            ``win`` likewise ``bool`` or ``bool (N+1,)``.
        """
        h = self.outcome(state)
        home_on, adv_on = self._on_target(state)
        if self.exposed_adversary:
            score = np.append(np.full(self.num_home, h), -h)
            win = score > 0
        else:
            score, win = h, h > 0
        return {"score": score, "win": win, "home_on_target": home_on, "adversary_on_target": adv_on}

    def entity_styles(self, state):
        """``int8 (N+1,)``: palette 0 (red) for home agents, 2 (purple) for the adversary."""
        return np.where(state.team == ADVERSARY, 2, 0).astype(np.int8)


def _adversary_action(scenario: Deception, state: GridState, rng: np.random.Generator) -> int:
    """The built-in adversary's action (module docstring): walk to the most watched landmark."""
    st = scenario.static(state)
    g = scenario.grid
    n = scenario.num_home
    if st.lm_flat.size == 0:
        return common.STAY
    home = scenario.home_counts(state)
    if home.base is not None:     # a column of an observation table (a bincount has no base)
        # (K, 25) home counts from the observation table's home channel (column 2 of its
        # contiguous (size, 4) base, so take() copies nothing; the cells are in range, so
        # mode="wrap" never wraps and skips the bounds checks)
        seen = home.base.reshape(-1).take(st.watch_table, mode="wrap").astype(np.float32)
        # the table's padding cells read -1 (off the map), hence + watch_off; a BLAS row sum of
        # small integers in float32 is exact (and faster than an integer row sum)
        watched = (seen @ _ONES25 + st.watch_off).astype(np.int64)
    else:
        watched = home.take(st.watch_cells).sum(axis=1)
    me = state.positions[n].astype(np.int64)
    dist = np.abs(st.lm_row - me[0]) + np.abs(st.lm_col - me[1])
    # most watched, then the one it stands on / the nearest, then random
    key = watched * 4 * (g.shape[0] + g.shape[1] + 2) - dist * 2 + rng.random(dist.size)
    best = int(np.argmax(key))
    d = st.lm_pos[best] - me
    return int(common.step_towards(d[:1], d[1:], rng)[0])


def scripted_actions(scenario: Deception, state: GridState, rng: np.random.Generator) -> np.ndarray:
    """Heuristic Deception actions for the exposed agents.

    Home agents walk straight to the target (the axis with the larger distance first, random on a
    tie) and stay on it: "go to and guard the target", with no attempt to deceive. An exposed
    adversary plays the built-in heuristic (module docstring), the same code as
    ``adversary="heuristic"``. Vectorised over agents. Not from the paper: a baseline.

    Args:
        scenario: the :class:`Deception` scenario of the env (``env.unwrapped.scenario``).
        state: its current state (``env.unwrapped.grid_state``).
        rng: generator for the tie-breaks.

    Returns:
        ``int64 (N,)`` action ids (home agents, then the adversary if exposed).

    Raises:
        ValueError: if ``scenario`` is not a :class:`Deception`, ``state`` is not a state of its map, or
            ``rng`` is not a Generator.
    """
    if not isinstance(scenario, Deception):
        raise ValueError(f"scenario: expected a Deception scenario, got {type(scenario).__name__}")
    common.entity_rng_check(rng)
    common.check_state(scenario, state, scenario.num_home + 1)
    st = scenario.static(state)
    n = scenario.num_home
    d = st.target_pos[None, :] - state.positions[:n].astype(np.int64)
    acts = common.step_towards(d[:, 0], d[:, 1], rng)
    if scenario.exposed_adversary:
        acts = np.append(acts, np.int64(_adversary_action(scenario, state, rng)))
    return acts
