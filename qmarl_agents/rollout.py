"""Rollouts over the array interface: ``K`` env copies x ``N`` agents stepped as ``R = K*N`` rows.

The one stepping loop of the project (:class:`~qmarl_agents.sb3.vec_env.AgentVecEnv` is built on
:meth:`RolloutCollector.step`). It imports NumPy and :mod:`qmarl_envs` only — no torch, no SB3.

Row ``k*N + i`` is agent ``i`` (``possible_agents`` order) of copy ``k``. Budget rule
(docs/agents.md): one *agent-step* is one agent slot for one env step, so every stepped copy adds
``N`` agent-steps, dead agents' slots included (what the env computes and what SB3 counts); *live
agent-steps* count only rows whose agent was live when its observation was taken.

Dead rows (masking): after an agent's episode ends, its row shows an all-zero observation, reward
0, ``terminated = truncated = False`` and ``alive = False`` until its copy resets; its action is
ignored by the env. Train only on rows with ``alive`` True.

Seeding: ``reset(seed)`` seeds copy ``k`` with ``seed + k``; later episodes (auto-resets,
``reset()`` without a seed) continue each copy's own generator, so one seed gives the same
trajectories in a new process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class GraphBatch:
    """Positions and neighbour edges of all ``R`` rows at one step (``graph=True``).

    Attributes:
        positions: ``int32 (R, 2)`` ``(row, col)`` cells (dead agents keep their last cell).
        edges: ``int64 (2, E)`` directed edges between live agents within the view radius (Q-MARL
            §3.1.1), as row indices: copy ``k``'s env edges offset by ``k*N``; no edge crosses copies.
    """

    positions: np.ndarray
    edges: np.ndarray


@dataclass
class StepResult:
    """Everything one :meth:`RolloutCollector.step` produced (``R`` rows).

    Attributes:
        obs: ``float32 (R, *obs_shape)`` observations for the next step (a reset copy's rows hold
            its new episode's first observation; dead rows are zeros).
        rewards: ``float32 (R,)`` rewards of this step (0 in rows that were not live).
        terminated: ``bool (R,)`` True where a live agent's episode ended by the rules this step.
        truncated: ``bool (R,)`` True where a live agent reached ``max_cycles`` this step.
        alive: ``bool (R,)`` whether each row was live when its input observation was taken.
        next_alive: ``bool (R,)`` whether each row of ``obs`` is live.
        ended_rows: ``int64 (M,)`` rows whose episode ended this step (``terminated | truncated``).
        ended_obs: ``float32 (M, *obs_shape)`` those rows' final observations (before any reset).
        ended_returns: ``float64 (M,)`` those agents' undiscounted episode returns.
        ended_length: ``int64 (M,)`` their episode length in env steps.
        reset_copies: ``int64`` indices of the copies that finished and were reset (or, without
            auto-reset, stopped).
        episodes: summaries (``score``, ``length``, ``win`` ..., scalars) of the copies' finished
            episodes.
    """

    obs: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    alive: np.ndarray
    next_alive: np.ndarray
    ended_rows: np.ndarray
    ended_obs: np.ndarray
    ended_returns: np.ndarray
    ended_length: np.ndarray
    reset_copies: np.ndarray
    episodes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Trajectory:
    """``T`` steps of ``R`` rows, as arrays (see the module docstring for the row layout).

    Attributes:
        obs: ``float32 (T, R, *obs_shape)``; ``obs[t]`` is the input of step ``t``.
        actions: ``int64 (T, R)``.
        rewards: ``float32 (T, R)``.
        terminated: ``bool (T, R)``; True on the step an agent's episode ends by the rules.
        truncated: ``bool (T, R)``; True on the step a live agent reaches ``max_cycles``.
        alive: ``bool (T, R)``; row live when ``obs[t]`` was observed (train only on these).
        next_obs: ``float32 (R, *obs_shape)`` observations after the last step.
        next_alive: ``bool (R,)`` liveness of ``next_obs``.
        final_obs: ``T`` arrays ``float32 (M_t, *obs_shape)``: the final observations of the rows
            in ``final_rows[t]`` (their true next observation, e.g. to bootstrap truncations,
            since ``obs[t+1]`` holds zeros or a reset copy's new episode there).
        final_rows: ``T`` arrays ``int64 (M_t,)``: rows whose episode ended at step ``t``.
        episodes: summaries of the copies' episodes finished during the trajectory.
        agent_steps: agent-steps (slots) stepped by this trajectory.
        live_agent_steps: live agent-steps (``alive.sum()``).
        positions: ``int32 (T, R, 2)`` when the collector has ``graph=True``, else None.
        edges: ``T`` arrays ``int64 (2, E_t)`` when ``graph=True``, else None.
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    alive: np.ndarray
    next_obs: np.ndarray
    next_alive: np.ndarray
    final_obs: list[np.ndarray]
    final_rows: list[np.ndarray]
    episodes: list[dict[str, Any]]
    agent_steps: int
    live_agent_steps: int
    positions: np.ndarray | None = None
    edges: list[np.ndarray] | None = None

    @property
    def num_steps(self) -> int:
        """``T``."""
        return int(self.actions.shape[0])


PolicyFn = Callable[[np.ndarray, np.ndarray, "GraphBatch | None"], np.ndarray]
"""``policy_fn(obs float32 (R, *obs_shape), alive bool (R,), graph GraphBatch | None) -> int64 (R,)``."""


def scalar_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """An episode summary with per-agent arrays averaged and NumPy scalars made Python scalars."""
    out = {}
    for k, v in summary.items():
        if isinstance(v, np.ndarray):
            v = float(v.mean()) if v.size else 0.0
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


def _check_seed(seed: Any, name: str = "seed") -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{name}: expected None or a non-negative int, got {seed!r}")
    return int(seed)


class RolloutCollector:
    """Steps ``n_envs`` copies of one qmarl env as ``R = n_envs * N`` rows (see the module docstring).

    Args:
        env_id: registered qmarl id, e.g. ``"qmarl/Jungle-1k-v0"``.
        n_envs: number of copies ``K`` (>= 1).
        env_kwargs: config overrides for :func:`qmarl_envs.make` (e.g. ``max_cycles``).
        seed: seed of the first reset (copy ``k`` gets ``seed + k``); None draws OS entropy.
        graph: if True, policies get a :class:`GraphBatch` and trajectories keep positions/edges.

    Attributes:
        envs: the ``K`` unwrapped :class:`~qmarl_envs.api.parallel.GridParallelEnv` copies.
        n_envs: ``K``.  agents_per_env: ``N``.  num_rows: ``R``.
        obs_shape: one agent's observation shape.  num_actions: size of the action space.
        agent_steps: agent-steps (slots) stepped so far.  live_agent_steps: live ones among them.
        obs: ``float32 (R, *obs_shape)`` current observations (None before :meth:`reset`).
        alive: ``bool (R,)`` current liveness.

    Raises:
        ValueError: unknown env id or kwargs, bad ``n_envs`` or ``seed``, or agents with different
            observation/action spaces (one shared policy needs identical ones).
    """

    def __init__(self, env_id: str, n_envs: int = 1, *, env_kwargs: dict[str, Any] | None = None,
                 seed: int | None = None, graph: bool = False):
        import qmarl_envs

        if isinstance(n_envs, bool) or not isinstance(n_envs, (int, np.integer)) or n_envs < 1:
            raise ValueError(f"n_envs: expected a positive int, got {n_envs!r}")
        self._pending_seed = _check_seed(seed)
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.envs = [qmarl_envs.make(env_id, **self.env_kwargs).unwrapped for _ in range(int(n_envs))]
        first = self.envs[0]
        agents = first.possible_agents
        obs_space, act_space = first.observation_space(agents[0]), first.action_space(agents[0])
        for a in agents[1:]:
            if first.observation_space(a) != obs_space or first.action_space(a) != act_space:
                raise ValueError(f"{env_id}: agent {a!r} has other spaces than {agents[0]!r}; one shared "
                                 "policy needs identical observation and action spaces")
        self.observation_space, self.action_space = obs_space, act_space
        self.n_envs = int(n_envs)
        self.agents_per_env = len(agents)
        self.num_rows = self.n_envs * self.agents_per_env
        self.obs_shape = tuple(obs_space.shape)
        self.num_actions = int(act_space.n)
        self.graph = bool(graph)
        self.agent_steps = 0
        self.live_agent_steps = 0
        self.obs: np.ndarray | None = None
        self.alive = np.zeros(self.num_rows, dtype=bool)
        self._running = np.zeros(self.n_envs, dtype=bool)  # copy has a live episode

    # ----------------------------------------------------------------- reset / step
    def reset(self, seed: int | None = None) -> np.ndarray:
        """Reset every copy: copy ``k`` with ``seed + k`` (or the constructor's seed on the first
        reset; None otherwise continues each copy's generator).

        Returns:
            ``float32 (R, *obs_shape)`` observations, all rows live.

        Raises:
            ValueError: for a negative or non-int seed (nothing is reset).
        """
        seed = _check_seed(seed)
        if seed is None:
            seed, self._pending_seed = self._pending_seed, None
        else:
            self._pending_seed = None
        obs = [env.reset_arrays(None if seed is None else seed + k) for k, env in enumerate(self.envs)]
        self.obs = np.concatenate(obs).astype(np.float32, copy=False) if self.n_envs > 1 \
            else obs[0].astype(np.float32, copy=True)
        self.alive = np.ones(self.num_rows, dtype=bool)
        self._running[:] = True
        return self.obs

    def graph_batch(self) -> GraphBatch:
        """Positions and edges of all rows now (see :class:`GraphBatch`).

        Raises:
            RuntimeError: before :meth:`reset`.
        """
        if self.obs is None:
            raise RuntimeError("graph_batch() called before reset()")
        n = self.agents_per_env
        pos = np.concatenate([env.positions() for env in self.envs]).astype(np.int32, copy=False)
        edges = [env.neighbor_graph() + k * n for k, env in enumerate(self.envs)
                 if self._running[k]]
        e = np.concatenate(edges, axis=1) if edges else np.zeros((2, 0), dtype=np.int64)
        return GraphBatch(positions=pos, edges=e.astype(np.int64, copy=False))

    def step(self, actions: np.ndarray, *, auto_reset: bool = True) -> StepResult:
        """Step every running copy with one action per row.

        Args:
            actions: integer ``(R,)`` action ids in ``[0, num_actions)``; dead rows' entries are ignored.
            auto_reset: reset a copy as soon as all its agents have ended (next episode continues its
                generator); if False the copy stops (its rows stay dead) until :meth:`reset`.

        Returns:
            a :class:`StepResult`.

        Raises:
            RuntimeError: before :meth:`reset`, or when no copy is running.
            ValueError: wrong shape or dtype, or a live row's action out of range (names the row;
                nothing is stepped).
        """
        if self.obs is None:
            raise RuntimeError("step() called before reset()")
        if not self._running.any():
            raise RuntimeError("every copy's episode has ended; call reset() before step()")
        a = np.asarray(actions)
        if a.shape != (self.num_rows,):
            raise ValueError(f"actions: expected shape ({self.num_rows},), got {a.shape}")
        if a.dtype.kind not in "iu":
            raise ValueError(f"actions: expected an integer dtype, got {a.dtype}")
        bad = self.alive & ((a < 0) | (a >= self.num_actions))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"actions[{i}] (agent {i % self.agents_per_env} of copy "
                             f"{i // self.agents_per_env}) is {a[i]}; expected an int in [0, {self.num_actions})")
        n, r_all = self.agents_per_env, self.num_rows
        alive_in = self.alive.copy()
        obs_out = np.zeros((r_all,) + self.obs_shape, dtype=np.float32)
        rewards = np.zeros(r_all, dtype=np.float32)
        term = np.zeros(r_all, dtype=bool)
        trunc = np.zeros(r_all, dtype=bool)
        next_alive = np.zeros(r_all, dtype=bool)
        ended_rows, ended_obs, ended_ret, ended_len, resets, episodes = [], [], [], [], [], []
        stepped = 0
        for k, env in enumerate(self.envs):  # one call per copy; all agent work is vectorised
            if not self._running[k]:
                continue
            lo, hi = k * n, (k + 1) * n
            live_before = alive_in[lo:hi]
            obs, r, te, tr = env.step_arrays(np.where(live_before, a[lo:hi], self.num_actions - 1))
            stepped += 1
            te, tr = te & live_before, tr & live_before
            ended = te | tr
            rewards[lo:hi] = r
            term[lo:hi], trunc[lo:hi] = te, tr
            if ended.any():
                idx = np.flatnonzero(ended)
                ended_rows.append(idx + lo)
                ended_obs.append(obs[idx].astype(np.float32, copy=True))
                ended_ret.append(env.returns()[idx])
                ended_len.append(np.full(idx.size, int(env.grid_state.step), dtype=np.int64))
            live_after = live_before & ~ended
            if not live_after.any():
                episodes.append(scalar_summary(env.episode_summary() or {}))
                resets.append(k)
                if auto_reset:
                    obs_out[lo:hi] = env.reset_arrays(None)
                    next_alive[lo:hi] = True
                else:
                    self._running[k] = False
            else:
                obs_out[lo:hi] = obs if live_after.all() else \
                    np.where(live_after.reshape((n,) + (1,) * len(self.obs_shape)), obs, 0.0)
                next_alive[lo:hi] = live_after
        self.agent_steps += stepped * n
        self.live_agent_steps += int(alive_in.sum())
        self.obs, self.alive = obs_out, next_alive

        def cat(parts, dtype, shape=()):
            return np.concatenate(parts) if parts else np.zeros((0,) + shape, dtype=dtype)

        return StepResult(obs=obs_out, rewards=rewards, terminated=term, truncated=trunc, alive=alive_in,
                          next_alive=next_alive, ended_rows=cat(ended_rows, np.int64),
                          ended_obs=cat(ended_obs, np.float32, self.obs_shape),
                          ended_returns=cat(ended_ret, np.float64), ended_length=cat(ended_len, np.int64),
                          reset_copies=np.asarray(resets, dtype=np.int64), episodes=episodes)

    # ----------------------------------------------------------------- whole trajectories
    def _run(self, policy_fn: PolicyFn, num_steps: int | None, auto_reset: bool) -> Trajectory:
        obs_l, act_l, rew_l, term_l, trunc_l, alive_l, fin_obs, fin_rows, episodes = ([] for _ in range(9))
        pos_l: list[np.ndarray] = []
        edge_l: list[np.ndarray] = []
        steps0, live0 = self.agent_steps, self.live_agent_steps
        t = 0
        while (t < num_steps) if num_steps is not None else self._running.any():
            g = self.graph_batch() if self.graph else None
            if g is not None:
                pos_l.append(g.positions)
                edge_l.append(g.edges)
            actions = np.asarray(policy_fn(self.obs, self.alive.copy(), g))
            obs_l.append(self.obs)
            alive_l.append(self.alive)
            res = self.step(actions, auto_reset=auto_reset)
            act_l.append(actions.astype(np.int64, copy=False))
            rew_l.append(res.rewards)
            term_l.append(res.terminated)
            trunc_l.append(res.truncated)
            fin_obs.append(res.ended_obs)
            fin_rows.append(res.ended_rows)
            episodes.extend(res.episodes)
            t += 1
        shape = (0, self.num_rows)
        stack = (lambda xs, dt, extra=(): np.stack(xs) if xs else np.zeros(shape + extra, dtype=dt))
        return Trajectory(obs=stack(obs_l, np.float32, self.obs_shape), actions=stack(act_l, np.int64),
                          rewards=stack(rew_l, np.float32), terminated=stack(term_l, bool),
                          truncated=stack(trunc_l, bool), alive=stack(alive_l, bool),
                          next_obs=self.obs, next_alive=self.alive.copy(), final_obs=fin_obs,
                          final_rows=fin_rows, episodes=episodes, agent_steps=self.agent_steps - steps0,
                          live_agent_steps=self.live_agent_steps - live0,
                          positions=stack(pos_l, np.int32, (2,)) if self.graph else None,
                          edges=edge_l if self.graph else None)

    def collect(self, policy_fn: PolicyFn, num_steps: int) -> Trajectory:
        """Play ``num_steps`` steps of every copy with auto-reset (for TD / actor-critic learners).

        Resets first if :meth:`reset` was never called; otherwise continues where the last call
        stopped, so consecutive calls form one stream.

        Args:
            policy_fn: see :data:`PolicyFn`; called once per step with all ``R`` rows.
            num_steps: ``T`` >= 1.

        Returns:
            a :class:`Trajectory` of ``T`` steps.

        Raises:
            ValueError: bad ``num_steps`` or bad actions from ``policy_fn``.
        """
        if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
            raise ValueError(f"num_steps: expected a positive int, got {num_steps!r}")
        if self.obs is None or not self._running.any():
            self.reset()
        return self._run(policy_fn, int(num_steps), auto_reset=True)

    def collect_episodes(self, policy_fn: PolicyFn, *, seed: int | None = None) -> Trajectory:
        """Reset every copy and play until each copy's episode has ended, without auto-reset
        (for Monte-Carlo / REINFORCE learners). Rows after their end have ``alive`` False.

        Args:
            policy_fn: see :data:`PolicyFn`.
            seed: passed to :meth:`reset`.

        Returns:
            a :class:`Trajectory` with ``T`` = the longest episode; ``episodes`` has ``K`` summaries.
        """
        self.reset(seed)
        return self._run(policy_fn, None, auto_reset=False)

    def close(self) -> None:
        """Close every copy."""
        for env in self.envs:
            env.close()
