"""SB3 buffers that drop the masked transitions of dead agents (see :mod:`qmarl_agents.sb3.vec_env`).

Both read :attr:`AgentVecEnv.step_valid` when SB3 adds a step (right after ``env.step``), keep a
``bool (buffer_size, n_envs)`` validity mask, and sample only valid transitions. They also draw
their minibatch order from a seeded ``np.random.Generator`` instead of NumPy's global RNG.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
from stable_baselines3.common.buffers import ReplayBuffer, RolloutBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples, RolloutBufferSamples


class MaskedRolloutBuffer(RolloutBuffer):
    """PPO/A2C rollout buffer whose minibatches contain only transitions of live agents.

    GAE is computed over the full ``(n_steps, n_envs)`` grid as usual (the agent's own end has
    ``done=True``, so masked steps never feed a live step's advantage); :meth:`get` then yields
    minibatches drawn from the valid transitions only, in a seeded random order.

    Args:
        *args: as :class:`~stable_baselines3.common.buffers.RolloutBuffer`.
        vec_env: the :class:`~qmarl_agents.sb3.vec_env.AgentVecEnv` (or None: every step is valid).
        seed: seed of the minibatch shuffling generator.
        **kwargs: as :class:`~stable_baselines3.common.buffers.RolloutBuffer`.
    """

    valid: np.ndarray

    def __init__(self, *args: Any, vec_env: Any = None, seed: int | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.vec_env = vec_env
        self.rng = np.random.default_rng(seed)

    def reset(self) -> None:
        """Clear the buffer and its validity mask."""
        super().reset()
        self.valid = np.ones((self.buffer_size, self.n_envs), dtype=bool)

    def add(self, *args: Any, **kwargs: Any) -> None:
        """Add one vector step (SB3 signature) and record which slots were live for it."""
        if self.vec_env is not None:
            self.valid[self.pos] = self.vec_env.step_valid
        super().add(*args, **kwargs)

    @property
    def num_valid(self) -> int:
        """Number of valid transitions stored."""
        return int(self.valid[: self.pos if not self.full else self.buffer_size].sum())

    def get(self, batch_size: int | None = None) -> Generator[RolloutBufferSamples, None, None]:
        """Minibatches of valid transitions in a seeded random order.

        Args:
            batch_size: transitions per minibatch; ``None`` yields all valid ones at once.
        """
        assert self.full, "the rollout buffer is not full"
        valid_flat = self.valid.swapaxes(0, 1).reshape(-1)  # same order as swap_and_flatten
        indices = self.rng.permutation(np.flatnonzero(valid_flat))
        if not self.generator_ready:
            for name in ("observations", "actions", "values", "log_probs", "advantages", "returns"):
                self.__dict__[name] = self.swap_and_flatten(self.__dict__[name])
            self.generator_ready = True
        if batch_size is None:
            batch_size = max(len(indices), 1)
        for start in range(0, len(indices), batch_size):
            yield self._get_samples(indices[start:start + batch_size])


class MaskedReplayBuffer(ReplayBuffer):
    """DQN replay buffer that never samples the masked transitions of dead agents.

    Sampling is uniform over the stored valid ``(step, slot)`` pairs (rejection sampling, with an
    exact fallback when few are valid), drawn from a seeded generator.

    Args:
        *args: as :class:`~stable_baselines3.common.buffers.ReplayBuffer`.
        vec_env: the :class:`~qmarl_agents.sb3.vec_env.AgentVecEnv` (or None: every step is valid).
        seed: seed of the sampling generator.
        **kwargs: as :class:`~stable_baselines3.common.buffers.ReplayBuffer`;
            ``optimize_memory_usage`` must be False.

    Raises:
        ValueError: if ``optimize_memory_usage`` is True.
    """

    def __init__(self, *args: Any, vec_env: Any = None, seed: int | None = None, **kwargs: Any):
        if kwargs.get("optimize_memory_usage"):
            raise ValueError("optimize_memory_usage: not supported by MaskedReplayBuffer")
        super().__init__(*args, **kwargs)
        self.vec_env = vec_env
        self.rng = np.random.default_rng(seed)
        self.valid = np.zeros((self.buffer_size, self.n_envs), dtype=bool)

    def add(self, obs, next_obs, action, reward, done, infos) -> None:  # noqa: D102 - SB3 signature
        """Add one vector step (SB3 signature) and record which slots were live for it."""
        self.valid[self.pos] = True if self.vec_env is None else self.vec_env.step_valid
        super().add(obs, next_obs, action, reward, done, infos)

    def sample(self, batch_size: int, env=None) -> ReplayBufferSamples:
        """``batch_size`` valid transitions, uniformly with replacement.

        Raises:
            RuntimeError: if the buffer holds no valid transition yet.
        """
        upper = self.buffer_size if self.full else self.pos
        valid = self.valid[:upper]
        total = int(valid.sum())
        if total == 0:
            raise RuntimeError("the replay buffer holds no valid transition yet")
        if total >= valid.size // 4:
            rows = np.empty(0, dtype=np.int64)
            cols = np.empty(0, dtype=np.int64)
            while rows.size < batch_size:
                r = self.rng.integers(0, upper, size=2 * batch_size)
                c = self.rng.integers(0, self.n_envs, size=2 * batch_size)
                ok = valid[r, c]
                rows, cols = np.concatenate([rows, r[ok]]), np.concatenate([cols, c[ok]])
            rows, cols = rows[:batch_size], cols[:batch_size]
        else:
            flat = np.flatnonzero(valid)
            pick = flat[self.rng.integers(0, flat.size, size=batch_size)]
            rows, cols = np.divmod(pick, self.n_envs)
        data = (
            self._normalize_obs(self.observations[rows, cols, :], env),
            self.actions[rows, cols, :],
            self._normalize_obs(self.next_observations[rows, cols, :], env),
            (self.dones[rows, cols] * (1 - self.timeouts[rows, cols])).reshape(-1, 1),
            self._normalize_reward(self.rewards[rows, cols].reshape(-1, 1), env),
        )
        return ReplayBufferSamples(*tuple(map(self.to_torch, data)))
