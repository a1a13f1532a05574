"""Uniform random baseline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from qmarl_agents.base import NUM_ACTIONS, STAY, FixedAgent, _check_obs_dict, check_batch


def _check_seed(seed: Any) -> int | None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"seed: expected None or a non-negative int, got {seed!r}")
    return None if seed is None else int(seed)


class RandomPolicy(FixedAgent):
    """Uniform random actions from a seeded ``np.random.Generator``.

    The baseline samples whatever ``deterministic`` says (a greedy random policy is meaningless);
    the same seed gives the same actions in any process. ``learn`` does nothing, ``save`` writes a
    config-only checkpoint.

    Args:
        seed: seed of the policy's generator (``None``: OS entropy).
        env_id: env the policy is meant for (recorded in checkpoints; ``None`` fits any env).
        n_actions: size of the discrete action space.

    Raises:
        ValueError: for a negative or non-int ``seed`` or ``n_actions < 1``.
    """

    name = "random"

    def __init__(self, seed: int | None = None, env_id: str | None = None, n_actions: int = NUM_ACTIONS):
        self.seed = _check_seed(seed)
        if isinstance(n_actions, bool) or not isinstance(n_actions, (int, np.integer)) or n_actions < 1:
            raise ValueError(f"n_actions: expected a positive int, got {n_actions!r}")
        self.n_actions = int(n_actions)
        self.env_id = env_id
        self.agent_steps = 0
        self.rng = np.random.default_rng(self.seed)

    def reset(self, seed: int | None = None) -> None:
        """Re-seed the generator (see :meth:`BatchPolicy.reset`)."""
        self.rng = np.random.default_rng(_check_seed(seed))

    def act_batch(self, obs: np.ndarray, alive: np.ndarray | None = None, *,
                  deterministic: bool = True) -> np.ndarray:
        """``int64 (N,)`` uniform actions; rows with ``alive`` False get 4 (stay) and draw nothing.

        Raises:
            ValueError: if ``alive`` is not ``bool (N,)``.
        """
        _, mask = check_batch(obs, alive, None)
        out = np.full(mask.shape[0], STAY, dtype=np.int64)
        out[mask] = self.rng.integers(0, self.n_actions, size=int(mask.sum()))
        return out

    def act(self, observations: Mapping[str, np.ndarray], *, deterministic: bool = True) -> dict[str, int]:
        """``{agent: uniform action}`` for every key of ``observations`` (values are not read)."""
        keys = _check_obs_dict(observations)
        return dict(zip(keys, self.rng.integers(0, self.n_actions, size=len(keys)).tolist()))

    def config(self) -> dict[str, Any]:
        """The JSON config stored in checkpoints."""
        return {"agent": self.name, "env_id": self.env_id or "", "seed": self.seed,
                "n_actions": self.n_actions, "agent_steps": self.agent_steps}

    def save(self, path: str) -> str:
        """Write a config-only checkpoint; returns ``path``."""
        from qmarl_agents.checkpoint import save_checkpoint

        return str(save_checkpoint(path, self.config(), {}))

    @classmethod
    def from_checkpoint(cls, config: dict[str, Any], arrays: dict[str, np.ndarray], env=None) -> "RandomPolicy":
        """Rebuild from :meth:`config` (``arrays`` must be empty).

        Raises:
            ValueError: if the checkpoint holds arrays or bad values.
        """
        if arrays:
            raise ValueError(f"random checkpoint: expected no arrays, found {sorted(arrays)[:3]}")
        p = cls(seed=config.get("seed"), env_id=config.get("env_id") or None,
                n_actions=config.get("n_actions", NUM_ACTIONS))
        p.agent_steps = int(config.get("agent_steps", 0))
        return p

    def describe(self) -> dict[str, Any]:
        """Name, env id and configuration."""
        return self.config()
