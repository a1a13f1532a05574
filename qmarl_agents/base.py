"""The policy interface every qmarl agent implements, and its AEC adapter.

Two forms of the same policy:

* :meth:`Policy.act` — a dict of observations in, a dict of actions out, keyed by PettingZoo agent
  id. It drops into any PettingZoo parallel loop::

      actions = policy.act(observations)           # {agent: obs} -> {agent: int}
      observations, rewards, terms, truncs, infos = env.step(actions)

* :meth:`BatchPolicy.act_batch` — the array form over the env's array interface
  (``env.reset_arrays`` / ``env.step_arrays``): ``(N, *obs_shape)`` in, ``int64 (N,)`` out, with no
  per-agent Python work, so one call serves 10,000 agents.

:class:`AECAdapter` serves AEC loops (``for agent in env.agent_iter(): ...``). Evaluators import only
this module: they see a :class:`Policy`, never an agent's internals (the model is SB3's
``PolicyPredictor`` protocol).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

NUM_ACTIONS: int = 5
"""Every qmarl grid env has ``Discrete(5)`` actions: ``0 up, 1 down, 2 left, 3 right, 4 stay``."""

STAY: int = 4
"""Action given to rows that are not live in :meth:`BatchPolicy.act_batch`."""


@runtime_checkable
class Policy(Protocol):
    """Anything that maps per-agent observations to per-agent actions.

    The only contract between an agent and the evaluator / leaderboard.
    """

    def act(self, observations: Mapping[str, np.ndarray], *, deterministic: bool = True) -> dict[str, int]:
        """Actions for the agents in ``observations``.

        Args:
            observations: ``{agent_id: obs}``; each ``obs`` is the agent's ``float32`` observation of
                shape ``observation_space(agent).shape`` (what ``env.reset``/``env.step`` return).
            deterministic: greedy actions if True (the leaderboard protocol), sampled otherwise.

        Returns:
            ``{agent_id: action}`` with one Python ``int`` in ``[0, 5)`` per key of ``observations``.
        """
        ...


class BatchPolicy(ABC):
    """Base class of the built-in policies: implement :meth:`act_batch`, get :meth:`act` for free.

    Attributes:
        name: registry name of the agent that made this policy (``"ppo"``, ``"random"`` ...).
        env_id: the env id the policy was built or trained for, or ``None`` if it fits any env.
    """

    name: str = "policy"
    env_id: str | None = None

    @abstractmethod
    def act_batch(self, obs: np.ndarray, alive: np.ndarray | None = None, *,
                  deterministic: bool = True) -> np.ndarray:
        """Actions of ``N`` agents at once (the array form of :meth:`act`).

        Args:
            obs: ``float32 (N, *obs_shape)`` observations, one row per agent (rows in
                ``possible_agents`` order when the policy is bound to an env).
            alive: optional ``bool (N,)``; rows with False get :data:`STAY` (4) and cost nothing.
            deterministic: greedy if True, sampled from the policy's own generator otherwise.

        Returns:
            ``int64 (N,)`` actions in ``[0, 5)``.

        Raises:
            ValueError: if ``obs`` or ``alive`` has the wrong shape for this policy.
        """

    def act(self, observations: Mapping[str, np.ndarray], *, deterministic: bool = True) -> dict[str, int]:
        """Dict form of :meth:`act_batch` for PettingZoo parallel loops (see :class:`Policy`).

        Raises:
            ValueError: if ``observations`` is not a mapping or its values do not stack into one
                array of the policy's observation shape.
        """
        keys = _check_obs_dict(observations)
        if not keys:
            return {}
        try:
            batch = np.stack([np.asarray(observations[k]) for k in keys])
        except ValueError as e:
            raise ValueError(f"observations: values must all have the same shape ({e})") from None
        actions = self.act_batch(batch, deterministic=deterministic)
        return dict(zip(keys, actions.tolist()))

    def bind(self, env) -> "BatchPolicy":
        """Give the policy the env it acts in; returns self.

        The binding contract: a policy that reads more than its agents' observations (the scripted
        heuristics read the env's state, Q-MARL reads its neighbour graph) overrides this; the
        evaluator, :func:`~qmarl_agents.train.train`, ``qmarl play``, :class:`AECAdapter` and the demo
        call it before the first action. A bound policy's :meth:`act` builds the full ``(N, ...)``
        batch in ``env.possible_agents`` order with an alive mask, so rows are matched by agent id,
        never by position in the dict, and agents that died mid-episode do not shift the others.
        The default (observation-only policies) ignores ``env``.

        Args:
            env: a qmarl parallel or AEC env (``env.unwrapped`` is what bound policies read).

        Raises:
            ValueError: in overrides, for an env of another id or observation shape.
        """
        return self

    def reset(self, seed: int | None = None) -> None:
        """Start a new evaluation run: re-seed the policy's own generator (if it has one).

        The evaluator calls this once per evaluation seed, so a sampling policy gives the same
        actions for the same seed in any process. The default does nothing.

        Args:
            seed: a non-negative int, or None for fresh OS entropy.
        """

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (name, env id, configuration) for submissions."""
        return {"agent": self.name, "env_id": self.env_id}


def _check_obs_dict(observations: Any) -> list[str]:
    if not isinstance(observations, Mapping):
        raise ValueError(f"observations: expected a dict {{agent_id: obs}}, got {type(observations).__name__}")
    return list(observations)


def check_batch(obs: np.ndarray, alive: np.ndarray | None, obs_shape: tuple[int, ...] | None) -> tuple[np.ndarray, np.ndarray]:
    """Validate the arguments of :meth:`BatchPolicy.act_batch`.

    Args:
        obs: ``(N, *obs_shape)`` observations.
        alive: ``bool (N,)`` or None (all rows live).
        obs_shape: the per-row shape the policy expects, or None to accept any.

    Returns:
        ``(obs as float32 array, alive as bool (N,) array)``.

    Raises:
        ValueError: naming ``obs`` or ``alive`` and the expected shape.
    """
    arr = np.asarray(obs, dtype=np.float32)
    if arr.ndim < 1:
        raise ValueError("obs: expected an array of shape (N, ...), got a scalar")
    if obs_shape is not None and tuple(arr.shape[1:]) != tuple(obs_shape):
        raise ValueError(f"obs: expected shape (N, {', '.join(map(str, obs_shape))}), got {arr.shape}")
    n = arr.shape[0]
    if alive is None:
        mask = np.ones(n, dtype=bool)
    else:
        mask = np.asarray(alive)
        if mask.shape != (n,) or mask.dtype != bool:
            raise ValueError(f"alive: expected a bool array of shape ({n},), got {mask.dtype} {mask.shape}")
    return arr, mask


class AECAdapter:
    """Use any :class:`Policy` in a PettingZoo AEC loop, one agent at a time.

    Example::

        env = qmarl_envs.make("qmarl/BallCollection-3x3-2Agents-v0", api="aec")
        env.reset(seed=0)
        adapter = AECAdapter(policy, env)   # binds env-reading policies to this env
        for agent in env.agent_iter():
            obs, reward, term, trunc, info = env.last()
            env.step(None if term or trunc else adapter.act(agent, obs))

    Each call is ``policy.act({agent: obs})``. Env-bound (scripted) policies compute the whole
    cycle's actions from the env state once and answer every agent of that cycle from a cache.

    Args:
        policy: anything with ``act(observations, *, deterministic)``.
        env: the AEC env the loop steps; if given, ``policy.bind(env)`` is called (the binding
            contract, see :meth:`BatchPolicy.bind`), so env-reading policies see this env.
        deterministic: passed to every ``policy.act`` call.

    Raises:
        ValueError: if ``policy`` has no callable ``act``, or ``bind`` rejects ``env``.
    """

    def __init__(self, policy: Policy, env=None, *, deterministic: bool = True):
        if not callable(getattr(policy, "act", None)):
            raise ValueError(f"policy: expected an object with act(observations), got {type(policy).__name__}")
        if env is not None and callable(getattr(policy, "bind", None)):
            policy = policy.bind(env) or policy
        self.policy = policy
        self.deterministic = deterministic

    def act(self, agent: str, observation: np.ndarray) -> int:
        """The action of ``agent`` for its current ``observation`` (from ``env.last()``).

        Returns:
            a Python ``int`` in ``[0, 5)``.
        """
        return int(self.policy.act({agent: observation}, deterministic=self.deterministic)[agent])

    def __call__(self, agent: str, observation: np.ndarray) -> int:
        """Same as :meth:`act`."""
        return self.act(agent, observation)


class TrainingCallback(Protocol):
    """What :meth:`Agent.learn` reports to while it trains (progress bar, logs, checkpoints).

    :func:`qmarl_agents.train.train` passes one; every agent calls it the same way, so the
    ``qmarl train`` command works for any registered agent.
    """

    def on_steps(self, agent_steps: int) -> bool:
        """Called at least once per env step; ``agent_steps`` is the running total. Return False to stop."""
        ...

    def on_episode(self, agent_steps: int, summary: Mapping[str, Any]) -> None:
        """Called when an env episode ends, with its summary (``score``, ``length``, ``win``...)."""
        ...

    def on_metrics(self, agent_steps: int, metrics: Mapping[str, float]) -> None:
        """Called with scalar training metrics (losses, entropy, learning rate ...)."""
        ...


class Agent(BatchPolicy):
    """A policy that can train and save itself: what :func:`qmarl_agents.make_agent` returns.

    Attributes:
        agent_steps: agent-steps trained so far: one per agent slot per env step, agents already dead
            included (the budget rule of every agent, docs/agents.md).
        live_agent_steps: the agent-steps of live agents among them, or None for agents that play
            no env steps (random, scripted).
        seed: the seed the agent was made with.
    """

    agent_steps: int = 0
    live_agent_steps: int | None = None
    seed: int | None = None
    trainable: bool = True

    @abstractmethod
    def learn(self, total_agent_steps: int, *, callback: TrainingCallback | None = None) -> "Agent":
        """Train until ``total_agent_steps`` agent-steps in all (counting earlier calls), or until
        ``callback.on_steps`` returns False.

        Args:
            total_agent_steps: the budget, in agent-steps (one per agent per env step).
            callback: optional progress/log/checkpoint hooks.

        Returns:
            self.

        Raises:
            ValueError: if ``total_agent_steps`` is not a positive int.
        """

    @abstractmethod
    def save(self, path: str) -> str:
        """Write a checkpoint directory (safetensors + JSON config, atomically); returns the path."""


class FixedAgent(Agent):
    """An agent with nothing to learn (random, scripted): :meth:`learn` only records the budget."""

    trainable: bool = False

    def learn(self, total_agent_steps: int, *, callback: TrainingCallback | None = None) -> "FixedAgent":
        """Nothing to learn; records the budget, reports it to ``callback`` and returns self.

        Raises:
            ValueError: if ``total_agent_steps`` is not a positive int.
        """
        self.agent_steps = max(self.agent_steps, check_budget(total_agent_steps))
        if callback is not None:
            callback.on_steps(self.agent_steps)
        return self


def check_budget(total_agent_steps: Any) -> int:
    """Validate a training budget.

    Raises:
        ValueError: naming ``total_agent_steps`` unless it is a positive int.
    """
    if isinstance(total_agent_steps, bool) or not isinstance(total_agent_steps, (int, np.integer)) \
            or total_agent_steps < 1:
        raise ValueError(f"total_agent_steps: expected a positive int, got {total_agent_steps!r}")
    return int(total_agent_steps)
