"""Ball-collection gridworlds of the QBM multi-agent paper (seed 001, Müller et al., §4.1).

An ``n x m`` grid with ``i`` agents. Every agent owns one or more balls at fixed cells and must
collect them while avoiding penalty states: pits, and the uncollected balls of other agents.

Rules (all rewards configurable, per agent per step):

* ``ball_reward`` (+220) for stepping onto one of the agent's own uncollected balls; the ball is
  removed.
* ``penalty_reward`` (-220) for ending a step on a penalty state: a pit, or another agent's
  uncollected ball (that ball stays). The penalty is paid on every step spent there, as in the
  official code, where it replaced the step cost (research/qbm.md §3).
* ``step_reward`` (-10) for every other step.
* An agent is terminated (and removed) once all its balls are collected. The episode ends when all
  agents are terminated, or truncates after ``max_cycles`` steps.
* Starts are drawn uniformly among free cells (no wall, pit or ball), distinct for each agent.
  Balls are fixed. Agents may share a cell later on and never block each other; walls and the map
  edge block (the agent stays).

Differences from the official code ``tm95/QBM_MARL`` (research/qbm.md §3), chosen to follow the
paper's text: the penalty is -220 (code: -210 in place of -10); action ids are ``0 up, 1 down,
2 left, 3 right, 4 stay`` (code: ``0 up, 1 right, 2 down, 3 left, 4 stay``); starts are distinct
(code: independent); the default observation is the paper's one-hot ``n x m x 2``;
``obs_encoding="signed"`` gives the code's flat ``{-1, +1, +2}`` vector.

Layout legend (``layout=`` string, one text row per grid row, surrounding blank lines ignored)::

    .   free floor            #   wall
    X   penalty pit           0-9 a ball of agent k (agents are 0..k, one or more balls each)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from qmarl_envs.core import kernels
from qmarl_envs.core.state import GridState
from qmarl_envs.scenarios.base import Scenario

LAYOUTS: dict[str, str] = {
    "3x3": "0..\n...\n...",
    "5x3": "0....\n..X..\n.....",
    "3x3-2agents": "0..\n...\n..1",
    "5x3-2agents": "0....\n..X..\n..1..",
}
"""Named layouts of the registered ids. ``5x3`` is 3 rows x 5 columns, as in the official code; its
pit is the paper's Fig. 2b penalty state (the paper does not give its cell; we use the centre)."""


@dataclass(frozen=True, kw_only=True)
class BallCollectionConfig:
    """Configuration of a ball-collection gridworld (the single source of defaults)."""

    layout: str = LAYOUTS["3x3"]
    """ASCII map; see the module docstring for the legend."""
    max_cycles: int = 100
    """Steps after which live agents are truncated (the official code capped at 249)."""
    ball_reward: float = 220.0
    """Reward for collecting one of the agent's own balls (paper §4.1: 220)."""
    penalty_reward: float = -220.0
    """Reward for a step ending on a pit or another agent's uncollected ball (paper §4.1: -220)."""
    step_reward: float = -10.0
    """Reward for every other step (paper §4.1: -10)."""
    obs_encoding: str = "onehot"
    """``"onehot"``: the paper's ``(n, m, 2)`` layers; ``"signed"``: the code's flat ``{-1,1,2}``."""

    def __post_init__(self) -> None:
        if not isinstance(self.max_cycles, (int, np.integer)) or self.max_cycles < 1:
            raise ValueError(f"max_cycles: expected a positive int, got {self.max_cycles!r}")
        if self.obs_encoding not in ("onehot", "signed"):
            raise ValueError(f"obs_encoding: expected 'onehot' or 'signed', got {self.obs_encoding!r}")
        if not isinstance(self.layout, str):
            raise ValueError(f"layout: expected an ASCII string, got {type(self.layout).__name__}")


@dataclass(frozen=True)
class ParsedLayout:
    """A validated layout. Arrays are ``(H, W)``; ``balls`` holds the owner agent or -1."""

    walls: np.ndarray
    pits: np.ndarray
    balls: np.ndarray
    num_agents: int

    @property
    def free(self) -> np.ndarray:
        """``bool (H, W)`` start cells: no wall, pit or ball."""
        return ~self.walls & ~self.pits & (self.balls < 0)


def parse_layout(layout: str) -> ParsedLayout:
    """Parse and validate an ASCII layout.

    Raises:
        ValueError: on an unknown character, ragged rows, no agents (no ball digits), agent digits
            that skip a number, more agents than free cells, or a ball that some free start cell
            cannot reach.
    """
    rows = [r.strip() for r in layout.strip("\n").splitlines()]
    rows = [r for r in rows if r]
    if not rows:
        raise ValueError("layout: empty map")
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        raise ValueError(f"layout: all rows must have the same width; got widths {[len(r) for r in rows]}")
    grid = np.array([list(r) for r in rows])
    bad = sorted(set(grid.ravel()) - set(".#Xx0123456789"))
    if bad:
        raise ValueError(f"layout: unknown character(s) {' '.join(map(repr, map(str, bad)))}; legend is '.', '#', 'X', '0'-'9'")
    walls = grid == "#"
    pits = (grid == "X") | (grid == "x")
    digits = np.char.isdigit(grid)
    balls = np.full(grid.shape, -1, dtype=np.int16)
    balls[digits] = grid[digits].astype(np.int16)
    owners = np.unique(balls[balls >= 0])
    if owners.size == 0:
        raise ValueError("layout: no agents; mark each agent's ball with its digit 0-9")
    n = int(owners.max()) + 1
    if owners.size != n:
        missing = sorted(set(range(n)) - set(owners.tolist()))
        raise ValueError(f"layout: agents are numbered 0..{n - 1} but no ball is marked for {missing}")
    parsed = ParsedLayout(walls=walls, pits=pits, balls=balls, num_agents=n)
    free = parsed.free
    if free.sum() < n:
        raise ValueError(f"layout: {n} agents but only {int(free.sum())} free start cells")
    for r, c in zip(*np.nonzero(balls >= 0)):
        one = np.zeros_like(free)
        one[r, c] = True
        dist = kernels.bfs_distances(~walls, one)
        stuck = np.argwhere(free & (dist < 0))
        if stuck.size:
            raise ValueError(f"layout: ball of agent {balls[r, c]} at ({r}, {c}) cannot be reached "
                             f"from free cell ({stuck[0][0]}, {stuck[0][1]})")
    return parsed


class BallCollection(Scenario):
    """Ball collection (QBM paper §4.1); see the module docstring for the rules.

    Agents are ``agent_0 .. agent_{i-1}``. Observation per agent, ``float32``:

    * ``obs_encoding="onehot"``: ``(H, W, 2)`` in ``{0, 1}``. Layer 0: own cell and own uncollected
      balls. Layer 1: cells of the other live agents and of their uncollected balls.
    * ``obs_encoding="signed"``: ``(H*W,)`` in ``{-1, 1, 2}``, row-major. ``-1`` everywhere, ``+2``
      at other live agents and their uncollected balls, then ``+1`` at the own cell and own balls
      (own wins where they coincide).

    Global state: ``float32 (H, W, 4)``: walls, pits, uncollected balls, live-agent count.
    Episode score: the summed return of all agents (the paper's "accumulated episode rewards").
    """

    name = "ball_collection"

    def __init__(self, config: BallCollectionConfig) -> None:
        super().__init__(config)
        self.layout = parse_layout(config.layout)
        h, w = self.layout.walls.shape
        self.shape = (h, w)
        n = self.layout.num_agents
        self.agent_ids = [f"agent_{i}" for i in range(n)]
        self.agent_entities = np.arange(n, dtype=np.int64)
        if config.obs_encoding == "onehot":
            self.obs_shape = (h, w, 2)
            self.obs_low, self.obs_high = 0.0, 1.0
        else:
            self.obs_shape = (h * w,)
            self.obs_low, self.obs_high = -1.0, 2.0
        self.state_shape = (h, w, 4)
        self.state_high = float(max(n, 1))
        self._free = self.layout.free
        self._ids = np.arange(n)

    def reset(self, rng: np.random.Generator) -> GridState:
        n = self.layout.num_agents
        return GridState(
            shape=self.shape,
            positions=kernels.sample_free_cells(rng, self._free, n),
            alive=np.ones(n, dtype=bool),
            team=np.zeros(n, dtype=np.int8),
            hp=np.ones(n, dtype=np.int16),
            walls=self.layout.walls.copy(),
            pits=self.layout.pits.copy(),
            balls=self.layout.balls.copy(),
        )

    def step(self, state, actions, rng, live):
        cfg = self.config
        pos = kernels.move(state.positions, actions, state.walls, live)
        owner = state.balls[pos[:, 0], pos[:, 1]].astype(np.int64)
        own = live & (owner == self._ids)
        penalty = live & ~own & (((owner >= 0) & (owner != self._ids)) | state.pits[pos[:, 0], pos[:, 1]])
        rewards = np.where(own, cfg.ball_reward, np.where(penalty, cfg.penalty_reward, cfg.step_reward))
        rewards = np.where(live, rewards, 0.0).astype(np.float32)
        state.balls[pos[own, 0], pos[own, 1]] = -1
        state.positions = pos
        left = np.bincount(state.balls[state.balls >= 0], minlength=len(self._ids))
        terminated = left == 0
        state.alive = ~terminated
        return rewards, terminated

    def _layers(self, state: GridState) -> tuple[np.ndarray, np.ndarray]:
        """``(own, other)``: ``bool (N, H, W)`` cells marked in each agent's own / others' layer."""
        n = len(self._ids)
        h, w = self.shape
        me = np.zeros((n, h, w), dtype=bool)
        me[self._ids, state.positions[:, 0], state.positions[:, 1]] = True
        own_balls = state.balls[None] == self._ids[:, None, None]
        any_ball = state.balls >= 0
        # cells holding a live agent other than me
        count = kernels.occupancy(state.positions, self.shape, state.alive)
        others_here = (count[None] - (me & state.alive[:, None, None])) > 0
        other = others_here | (any_ball[None] & ~own_balls)
        return me | own_balls, other

    def observe(self, state):
        own, other = self._layers(state)
        if self.config.obs_encoding == "onehot":
            return np.stack([own, other], axis=-1).astype(np.float32)
        n = len(self._ids)
        obs = np.full(own.shape, -1.0, dtype=np.float32)
        obs[other] = 2.0
        obs[own] = 1.0
        return obs.reshape(n, -1)

    def global_state(self, state):
        count = kernels.occupancy(state.positions, self.shape, state.alive)
        return np.stack([state.walls, state.pits, state.balls >= 0, count], axis=-1).astype(np.float32)

    def episode_summary(self, state, returns):
        return {"score": float(np.sum(returns))}

    def entity_styles(self, state):
        """``int8 (N,)``: agent ``i`` gets palette colour ``i``, the colour its balls are drawn in."""
        return self._ids.astype(np.int8)


def optimal_returns(config: BallCollectionConfig) -> dict[str, float]:
    """Optimal summed episode return of a layout, by exact finite-horizon dynamic programming.

    Enumerates the joint state (each agent's cell, or "done") and joint actions ``5^N``, with the
    rules above and horizon ``max_cycles``; the optimum is cooperative (it maximises the sum over
    agents). Values are then taken over the start distribution (distinct free cells, uniform).

    Args:
        config: a layout with one ball per agent and at most 3 agents.

    Returns:
        ``{"min", "mean", "median", "max"}`` of the optimal return over starting configurations.

    Raises:
        ValueError: for more than 3 agents or more than one ball per agent.
    """
    lay = parse_layout(config.layout)
    n = lay.num_agents
    if n > 3:
        raise ValueError(f"config.layout: optimal_returns supports up to 3 agents, got {n}")
    if np.bincount(lay.balls[lay.balls >= 0]).max() > 1:
        raise ValueError("config.layout: optimal_returns supports one ball per agent")
    h, w = lay.walls.shape
    cells = h * w
    done = cells  # extra "cell" index meaning the agent has finished
    per = cells + 1
    # deterministic single-agent move table (cells x actions) -> cell
    rc = np.stack(np.unravel_index(np.arange(cells), (h, w)), axis=1).astype(np.int32)
    nxt = np.stack([kernels.flat_index(kernels.move(rc, np.full(cells, a), lay.walls), w)
                    for a in range(kernels.NUM_ACTIONS)], axis=1)
    ball_cell = np.array([int(np.flatnonzero(lay.balls.ravel() == i)[0]) for i in range(n)])
    pits = lay.pits.ravel()
    states = np.array(list(itertools.product(range(per), repeat=n)), dtype=np.int64)  # (S, n)
    radix = per ** np.arange(n - 1, -1, -1)
    value = np.zeros(len(states))
    all_done = (states == done).all(axis=1)
    for _ in range(config.max_cycles):
        best = np.full(len(states), -np.inf)
        for joint in itertools.product(range(kernels.NUM_ACTIONS), repeat=n):
            new = states.copy()
            reward = np.zeros(len(states))
            for i in range(n):
                active = states[:, i] != done
                cur = np.where(active, states[:, i], 0)
                dest = nxt[cur, joint[i]]
                got = active & (dest == ball_cell[i])
                other_ball = np.zeros(len(states), dtype=bool)
                for j in range(n):
                    if j != i:
                        other_ball |= (states[:, j] != done) & (dest == ball_cell[j])
                bad = active & ~got & (other_ball | pits[dest])
                reward += np.where(got, config.ball_reward,
                                   np.where(bad, config.penalty_reward,
                                            np.where(active, config.step_reward, 0.0)))
                new[:, i] = np.where(~active, done, np.where(got, done, dest))
            q = reward + value[new @ radix]
            best = np.maximum(best, q)
        value = np.where(all_done, 0.0, best)
    free = np.flatnonzero(lay.free.ravel())
    starts = [s for s in itertools.product(free, repeat=n) if len(set(s)) == n]
    v = value[np.array(starts) @ radix]
    return {"min": float(v.min()), "mean": float(v.mean()), "median": float(np.median(v)),
            "max": float(v.max())}
