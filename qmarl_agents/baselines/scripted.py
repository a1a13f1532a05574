"""Scripted heuristics. They read the env's privileged state, so a scripted policy is *bound* to an env.

* Ball collection: every live agent takes a step along a shortest path to its nearest own ball
  (breadth-first distances, :func:`qmarl_envs.core.kernels.bfs_distances`), avoiding pits and other
  agents' balls when a safe path exists. On one agent this is optimal.
* Jungle, Battle, Deception: the scenario module's own ``scripted_actions(scenario, state, rng)``
  (Jungle: nearest uncrowded food; Battle: chase the nearest enemy; Deception: home agents guard
  the target).

Binding::

    env = qmarl_envs.make("qmarl/BallCollection-3x3-2Agents-v0")
    policy = ScriptedPolicy(env)                  # or qmarl_agents.resolve_policy("scripted", env)
    obs, infos = env.reset(seed=0)
    actions = policy.act(obs)                     # reads env.unwrapped.grid_state, not obs

The observations passed to ``act``/``act_batch`` are only used for their keys / row count.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from qmarl_agents.base import NUM_ACTIONS, STAY, FixedAgent, _check_obs_dict, check_batch
from qmarl_agents.baselines.random_policy import _check_seed

Heuristic = Callable[[Any, Any, np.random.Generator], np.ndarray]
"""``(scenario, state, rng) -> int64 (N,)`` actions of the scenario's agents."""


def ball_collection_actions(scenario, state, rng: np.random.Generator | None = None) -> np.ndarray:
    """Shortest-path heuristic of ball collection (see the module docstring).

    Args:
        scenario: a :class:`~qmarl_envs.scenarios.ball_collection.BallCollection`.
        state: its current :class:`~qmarl_envs.core.state.GridState`.
        rng: unused (the heuristic is deterministic; ties go to the lowest action id).

    Returns:
        ``int64 (N,)`` actions; 4 (stay) for agents that are done.
    """
    from qmarl_envs.core import kernels

    ents = scenario.agent_entities
    n = len(ents)
    pos = state.positions[ents]
    live = state.alive[ents]
    out = np.full(n, STAY, dtype=np.int64)
    # (N, 5, 2): the cell each action leads to
    dest = np.stack([kernels.move(pos, np.full(n, a), state.walls) for a in range(NUM_ACTIONS)], axis=1)
    balls = state.balls
    for i in np.flatnonzero(live):
        own = balls == ents[i]
        if not own.any():
            continue
        penalty = state.pits | ((balls >= 0) & ~own)
        for passable in (~state.walls & (~penalty | own), ~state.walls):
            dist = kernels.bfs_distances(passable, own)
            cost = dist[dest[i, :, 0], dest[i, :, 1]].astype(np.float64)
            cost[cost < 0] = np.inf
            if np.isfinite(cost).any():
                out[i] = int(np.argmin(cost))
                break
    return out


def scripted_heuristic(scenario) -> Heuristic:
    """The scripted heuristic of a scenario.

    Ball collection uses :func:`ball_collection_actions`; any other scenario must define
    ``scripted_actions(scenario, state, rng)`` in its module.

    Raises:
        ValueError: if the scenario has no scripted heuristic.
    """
    if getattr(scenario, "name", None) == "ball_collection":
        return ball_collection_actions
    module = importlib.import_module(type(scenario).__module__)
    fn = getattr(module, "scripted_actions", None)
    if not callable(fn):
        raise ValueError(f"scenario {getattr(scenario, 'name', type(scenario).__name__)!r} has no "
                         f"scripted heuristic ({module.__name__}.scripted_actions is missing)")
    return fn


class ScriptedPolicy(FixedAgent):
    """The scenario's scripted heuristic, bound to one env instance.

    A scripted policy reads the bound env's :attr:`grid_state` (privileged information, not the
    agents' observations), so it only gives sensible actions for that env. Actions of one env step
    are computed once for all agents and cached, so dict, batched and AEC use cost the same.

    Args:
        env: the env to bind (parallel or AEC; ``env.unwrapped`` is used), or ``None`` to bind later
            with :meth:`bind`.
        seed: seed of the generator handed to heuristics that randomise (tie-breaks).
        env_id: the env id this policy is for; :meth:`bind` rejects other envs.

    Raises:
        ValueError: if ``env`` is not a qmarl env, has no heuristic, or has another id than ``env_id``.
    """

    name = "scripted"

    def __init__(self, env=None, *, seed: int | None = None, env_id: str | None = None):
        self.seed = _check_seed(seed)
        self.env_id = env_id
        self.agent_steps = 0
        self.rng = np.random.default_rng(self.seed)
        self.env = None
        self._fn: Heuristic | None = None
        self._cache_state = None
        self._cache_step = -1
        self._cache: np.ndarray | None = None
        if env is not None:
            self.bind(env)

    def bind(self, env) -> "ScriptedPolicy":
        """Bind to ``env`` (a qmarl parallel or AEC env); returns self.

        Raises:
            ValueError: as the constructor.
        """
        base = getattr(env, "unwrapped", env)
        if not hasattr(base, "scenario") or not hasattr(base, "grid_state"):
            raise ValueError(f"env: expected a qmarl env (from qmarl_envs.make), got {type(env).__name__}")
        env_id = getattr(base, "env_id", None)
        if self.env_id is not None and env_id != self.env_id:
            raise ValueError(f"env: this scripted policy is for {self.env_id!r}, not {env_id!r}")
        fn = scripted_heuristic(base.scenario)
        self.env, self._fn, self.env_id = base, fn, env_id
        self._index = {a: i for i, a in enumerate(base.possible_agents)}
        self._cache_state = None
        return self

    def reset(self, seed: int | None = None) -> None:
        """Re-seed the tie-break generator (see :meth:`BatchPolicy.reset`)."""
        self.rng = np.random.default_rng(_check_seed(seed))
        self._cache_state = None

    def _all_actions(self) -> np.ndarray:
        if self.env is None:
            raise RuntimeError("scripted policy is not bound to an env; call bind(env) first "
                               "(or qmarl_agents.resolve_policy('scripted', env))")
        state = self.env.grid_state
        if state is None:
            raise RuntimeError("the bound env has not been reset; call env.reset(seed=...) first")
        if state is not self._cache_state or state.step != self._cache_step:
            acts = np.asarray(self._fn(self.env.scenario, state, self.rng), dtype=np.int64)
            self._cache, self._cache_state, self._cache_step = acts, state, state.step
        return self._cache

    def act_batch(self, obs: np.ndarray, alive: np.ndarray | None = None, *,
                  deterministic: bool = True) -> np.ndarray:
        """``int64 (N,)`` heuristic actions of all ``N`` agents of the bound env (rows in
        ``possible_agents`` order; ``obs`` is only checked for its row count).

        Raises:
            RuntimeError: if unbound or the env was never reset.
            ValueError: if ``obs`` does not have ``N`` rows or ``alive`` is not ``bool (N,)``.
        """
        acts = self._all_actions()
        _, mask = check_batch(obs, alive, None)
        if mask.shape[0] != acts.shape[0]:
            raise ValueError(f"obs: expected {acts.shape[0]} rows (one per possible agent of "
                             f"{self.env_id}), got {mask.shape[0]}")
        return np.where(mask, acts, STAY)

    def act(self, observations: Mapping[str, np.ndarray], *, deterministic: bool = True) -> dict[str, int]:
        """``{agent: action}`` for the keys of ``observations``.

        Raises:
            RuntimeError: if unbound or the env was never reset.
            ValueError: for a key that is not an agent of the bound env.
        """
        keys = _check_obs_dict(observations)
        acts = self._all_actions()
        try:
            return {k: int(acts[self._index[k]]) for k in keys}
        except KeyError as e:
            raise ValueError(f"observations: unknown agent {e.args[0]!r} for {self.env_id}") from None

    def config(self) -> dict[str, Any]:
        """The JSON config stored in checkpoints."""
        return {"agent": self.name, "env_id": self.env_id or "", "seed": self.seed,
                "agent_steps": self.agent_steps}

    def save(self, path: str) -> str:
        """Write a config-only checkpoint; returns ``path``."""
        from qmarl_agents.checkpoint import save_checkpoint

        return str(save_checkpoint(path, self.config(), {}))

    @classmethod
    def from_checkpoint(cls, config: dict[str, Any], arrays: dict[str, np.ndarray], env=None) -> "ScriptedPolicy":
        """Rebuild from :meth:`config`, bound to ``env`` if given.

        Raises:
            ValueError: if the checkpoint holds arrays, or ``env`` has another id.
        """
        if arrays:
            raise ValueError(f"scripted checkpoint: expected no arrays, found {sorted(arrays)[:3]}")
        p = cls(seed=config.get("seed"), env_id=config.get("env_id") or None)
        p.agent_steps = int(config.get("agent_steps", 0))
        if env is not None:
            p.bind(env)
        return p

    def describe(self) -> dict[str, Any]:
        """Name, env id and configuration."""
        return self.config()
