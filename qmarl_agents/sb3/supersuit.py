"""The SuperSuit pipeline, kept working as an alternative to :class:`~qmarl_agents.sb3.vec_env.AgentVecEnv`.

PettingZoo's tutorials train SB3 on a parallel env with::

    env = ss.black_death_v3(env)                         # constant agent count (agents may die)
    env = ss.pettingzoo_env_to_vec_env_v1(env)           # one vector slot per possible agent
    env = ss.concat_vec_envs_v1(env, n, base_class="stable_baselines3")

Under the pinned versions (SuperSuit 3.11, SB3 2.9) that pipeline has three bugs and one clash;
:func:`supersuit_vec_env` works around them:

* ``ss.black_death_v3`` ends an episode only when every agent is terminated *and* truncated
  (``(terminations & truncations).all()``), so on an env whose agents end by one flag (every qmarl
  env) it keeps stepping a finished env. :class:`BlackDeath` is the same wrapper (dead agents stay
  with zero observations and zero rewards) with the end taken from the env's live agents.
* ``PPO(..., seed=0)`` crashes (``'ConcatVecEnv' object has no attribute 'seed'``): SB3 calls
  ``VecEnv.seed``, which the wrapper forwards to a vec env that has none. Patched: ``seed`` stores
  the seed and the next ``reset`` passes it down (copy ``k`` gets ``seed + k``).
* qmarl envs put their episode summary (``return``, ``length``, ``score``) in
  ``infos[agent]["episode"]``, where SB3 expects its Monitor's ``r``/``l`` keys; the wrapper adds them.
* Truncation is reported as a terminal step (``dones = terminated | truncated`` and no
  ``TimeLimit.truncated`` info, PettingZoo issue #1126), so values are not bootstrapped at
  ``max_cycles``. Patched: ``infos[i]["TimeLimit.truncated"]`` is set for truncated slots.

What stays: ``black_death`` feeds the zero observations and zero rewards of dead agents to the
learner as real experience (our adapter masks them out), and the dict API's per-agent Python work
makes it slower at scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pettingzoo.utils.wrappers import BaseParallelWrapper
from supersuit.vector.sb3_vector_wrapper import SB3VecEnvWrapper


class BlackDeath(BaseParallelWrapper):
    """Keep every possible agent in the parallel API until the episode ends (SuperSuit's black death).

    An agent that has ended keeps appearing with an all-zero observation, reward 0 and
    ``terminated = truncated = False`` until the whole episode ends; then every agent reports done
    (agents ending on that step with their real flags, earlier ones as terminated). This is what
    ``ss.pettingzoo_env_to_vec_env_v1`` needs to keep one slot per agent.

    Args:
        env: a PettingZoo parallel env with Box observation spaces.
    """

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Reset; returns observations and infos for every possible agent."""
        obs, infos = self.env.reset(seed=seed, options=options)
        self.agents = list(self.env.possible_agents)
        for a in self.agents:
            if a not in obs:
                obs[a] = np.zeros_like(self.observation_space(a).low)
                infos[a] = {}
        return obs, infos

    def step(self, actions):
        """Step the live agents (actions of ended agents are dropped); pad the ended ones."""
        live = list(self.env.agents)
        obs, rew, term, trunc, infos = self.env.step({a: actions[a] for a in live})
        over = not self.env.agents
        for a in self.agents:
            if a not in obs:
                obs[a] = np.zeros_like(self.observation_space(a).low)
                rew[a], term[a], trunc[a], infos[a] = 0.0, over, False, {}
        if over:
            self.agents = []
        return obs, rew, term, trunc, infos


class SeededSB3VecEnvWrapper(SB3VecEnvWrapper):
    """SuperSuit's SB3 wrapper with a working :meth:`seed` and truncation flags (see the module docstring)."""

    _pending_seed: int | None = None

    def seed(self, seed: int | None = None) -> list[int | None]:
        """Use ``seed`` at the next :meth:`reset` (copy ``k`` of the concatenated envs gets ``seed + k``)."""
        self._pending_seed = seed
        return [None if seed is None else seed + i for i in range(self.num_envs)]

    def reset(self, seed: int | None = None, options: dict | None = None) -> np.ndarray:
        """Reset every env (with the pending seed, if any); returns the observations."""
        if seed is None:
            seed, self._pending_seed = self._pending_seed, None
        observations, self.reset_infos = self.venv.reset(seed=seed, options=options)
        return observations

    def step_wait(self):
        """SuperSuit's step, with ``TimeLimit.truncated`` set where an agent was truncated."""
        observations, rewards, terminations, truncations, infos = self.venv.step_wait()
        term = np.asarray(terminations, dtype=bool)
        trunc = np.asarray(truncations, dtype=bool)
        for i in np.flatnonzero(trunc & ~term):
            infos[i]["TimeLimit.truncated"] = True
        for info in infos:
            ep = info.get("episode")
            if isinstance(ep, dict) and "r" not in ep:  # qmarl's summary -> SB3's Monitor keys
                info["episode"] = {"r": ep.get("return", 0.0), "l": ep.get("length", 0), **ep}
        return observations, rewards, term | trunc, infos


def supersuit_vec_env(env_id: str, n_envs: int = 1, *, black_death: bool = True,
                      env_kwargs: dict[str, Any] | None = None, seed: int | None = None) -> SeededSB3VecEnvWrapper:
    """Build the SuperSuit vec env of ``env_id`` for SB3 (``n_envs`` copies, one slot per agent).

    Args:
        env_id: qmarl env id.
        n_envs: env copies concatenated (``concat_vec_envs_v1``, in-process).
        black_death: wrap with :class:`BlackDeath` (required when agents can end before others).
        env_kwargs: env config overrides.
        seed: if given, seeds the next reset.

    Returns:
        an SB3 ``VecEnv`` with ``n_envs * N`` slots.

    Raises:
        ValueError: unknown env id or kwargs, or ``n_envs < 1``.
    """
    import supersuit as ss

    import qmarl_envs

    if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
        raise ValueError(f"n_envs: expected a positive int, got {n_envs!r}")
    env = qmarl_envs.make(env_id, **(env_kwargs or {}))
    if black_death:
        env = BlackDeath(env)
    vec = ss.pettingzoo_env_to_vec_env_v1(env)
    vec = ss.concat_vec_envs_v1(vec, n_envs, num_cpus=0, base_class="gymnasium")
    out = SeededSB3VecEnvWrapper(vec)
    if seed is not None:
        out.seed(seed)
    return out
