"""Single-agent ``gymnasium.Env`` view of a one-agent qmarl grid world."""

from __future__ import annotations

import gymnasium

from qmarl_envs.api.parallel import GridParallelEnv, _as_action


class GridGymEnv(gymnasium.Env):
    """A one-agent qmarl world as a ``gymnasium.Env`` (registered for single-agent ids only).

    Observations, actions, rewards and episode ends are those of the only agent of the parallel
    env; ``info`` is empty until the last step, which carries ``episode``
    (``env.unwrapped_parallel.positions()`` gives the agent's cell). Truncation at ``max_cycles``
    is reported by the env itself (no ``TimeLimit`` wrapper needed).

    Args:
        parallel_env: a :class:`GridParallelEnv` with exactly one possible agent.

    Raises:
        ValueError: if the parallel env has more than one agent; from :meth:`step`, for a bad action.
        RuntimeError: ``step`` before ``reset``.
    """

    def __init__(self, parallel_env: GridParallelEnv):
        if len(parallel_env.possible_agents) != 1:
            raise ValueError(f"{parallel_env.env_id} has {len(parallel_env.possible_agents)} agents; "
                             "the gymnasium view needs exactly one")
        self.par = parallel_env
        self.agent = parallel_env.possible_agents[0]
        self.observation_space = parallel_env.observation_space(self.agent)
        self.action_space = parallel_env.action_space(self.agent)
        self.metadata = dict(parallel_env.metadata)
        self.render_mode = parallel_env.render_mode
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode; returns ``(observation float32 obs_shape, info)``."""
        super().reset(seed=seed)
        obs, infos = self.par.reset(seed=seed, options=options)
        self._started = True
        return obs[self.agent], infos[self.agent]

    def step(self, action):
        """One step; returns ``(observation, reward, terminated, truncated, info)``."""
        if not self._started or not self.par.agents:
            raise RuntimeError("step() called before reset() or after the episode ended; call reset()")
        a = _as_action(self.agent, action)
        obs, rew, term, trunc, info = self.par.step({self.agent: a})
        return obs[self.agent], float(rew[self.agent]), bool(term[self.agent]), bool(trunc[self.agent]), info[self.agent]

    def render(self):
        """Render the underlying parallel env (``uint8 (H, W, 3)`` for ``rgb_array``)."""
        return self.par.render()

    def close(self):
        """Close the underlying env's window, if any."""
        self.par.close()

    @property
    def unwrapped_parallel(self) -> GridParallelEnv:
        """The underlying parallel env (for the array interface)."""
        return self.par
