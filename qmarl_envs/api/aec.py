"""AEC view of a :class:`~qmarl_envs.api.parallel.GridParallelEnv` (PettingZoo ``parallel_to_aec``).

PettingZoo's converter only checks actions when the last agent of a cycle has acted, and its order
wrapper raises ``AssertionError``. This subclass checks each action as it is given and raises the
project's ``ValueError`` / ``RuntimeError`` instead, so a rejected ``step`` leaves the env unchanged.
"""

from __future__ import annotations

from pettingzoo.utils.conversions import parallel_to_aec_wrapper

from qmarl_envs.api.parallel import GridParallelEnv, _as_action


class GridAECEnv(parallel_to_aec_wrapper):
    """A qmarl grid world as a PettingZoo ``AECEnv``: agents act in turn, the world steps once per cycle.

    Args:
        parallel_env: the underlying parallel env (``env.unwrapped`` returns it).

    Raises (from :meth:`step`):
        RuntimeError: ``step``/``observe``/``last`` before ``reset``.
        ValueError: an action that is None (for a live agent), not an int scalar, or out of range;
            or a non-None action for an agent that is already terminated or truncated.
    """

    def __init__(self, parallel_env: GridParallelEnv):
        super().__init__(parallel_env)
        self._has_reset = False

    def reset(self, seed=None, options=None):
        """Start an episode (see :meth:`GridParallelEnv.reset`)."""
        super().reset(seed=seed, options=options)
        self._has_reset = True

    def _require_reset(self, what: str) -> None:
        if not self._has_reset:
            raise RuntimeError(f"{what}() called before reset(); call reset(seed=...) first")

    def step(self, action):
        """Record ``action`` for ``agent_selection``; the world advances after the last agent."""
        self._require_reset("step")
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            if action is not None:
                raise ValueError(f"agent {agent!r} is already terminated or truncated; its action must be None")
            return super().step(None)
        return super().step(_as_action(agent, action))

    def observe(self, agent):
        """Observation of ``agent`` from the last completed cycle."""
        self._require_reset("observe")
        return super().observe(agent)

    def last(self, observe: bool = True):
        """``(observation, cumulative reward, termination, truncation, info)`` of ``agent_selection``."""
        self._require_reset("last")
        return super().last(observe)

    def state(self):
        """Global state (see :meth:`GridParallelEnv.state`)."""
        self._require_reset("state")
        return super().state()

    def render(self):
        """Render the underlying parallel env."""
        return self.env.render()

    def close(self):
        """Close the underlying parallel env."""
        self.env.close()
