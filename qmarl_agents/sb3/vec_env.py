"""Stable-Baselines3 ``VecEnv`` over the qmarl array interface: one vector slot per agent.

``AgentVecEnv`` runs ``n_envs`` copies of one env through :meth:`reset_arrays` / :meth:`step_arrays`
and exposes their ``n_envs * N`` agents as SB3 slots (slot ``k * N + i`` is agent ``i`` of copy
``k``), so one SB3 policy is shared by all agents (parameter sharing). No per-agent dicts are built
on the hot path, which is why it scales to 10,000 agents.

Why not SuperSuit (``pettingzoo_env_to_vec_env_v1`` + ``concat_vec_envs_v1``): it reports
truncation at ``max_cycles`` as a terminal step (values are never bootstrapped), its vec env has no
``seed()`` so ``PPO(..., seed=0)`` crashes, and with agent death it needs ``black_death``, which
feeds the zero observations of dead agents to the learner as real experience. This adapter fixes
all three; :mod:`qmarl_agents.sb3.supersuit` keeps the SuperSuit pipeline available as an
alternative.

Episode ends, per slot:

* An agent whose episode ends by the rules: ``done=True`` with ``infos[i]["terminal_observation"]``.
* An agent still live at ``max_cycles``: ``done=True``, ``infos[i]["TimeLimit.truncated"] = True``
  and ``infos[i]["terminal_observation"]``, so SB3 bootstraps its value (PPO/A2C add
  ``gamma * V(terminal_observation)`` to the reward; DQN's replay buffer ignores the done flag).
* Each agent's own end also carries ``infos[i]["episode"] = {"r": return, "l": length}`` (SB3's
  Monitor convention, feeding ``rollout/ep_rew_mean``).

Dead agents (masking): after its end, an agent's slot waits until the whole copy ends. Meanwhile it
shows a constant all-zero observation, reward 0 and ``done=False``, and its action is ignored by
the env. Those transitions are *not experience*: :attr:`step_valid` marks them False, and the
buffers of :mod:`qmarl_agents.sb3.buffers` drop them (PPO/A2C minibatches and DQN samples only
contain transitions whose input observation belonged to a live agent). Their values never leak
into live transitions either, because an agent's own end has ``done=True``, which cuts GAE there.
When every agent of a copy has ended, the copy auto-resets and all its slots restart together.

Stepping is :meth:`qmarl_agents.rollout.RolloutCollector.step` (the project's one stepping loop);
this class only translates its results into SB3's ``(obs, rewards, dones, infos)``.

Seeding: :meth:`seed` (called by ``PPO(..., seed=s)``) makes copy ``k`` reset with seed ``s + k`` at
the next :meth:`reset`; later episodes continue each copy's own generator, so the same seed gives
the same trajectories in a new process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn


class AgentVecEnv(VecEnv):
    """One SB3 slot per agent over ``n_envs`` copies of a qmarl env (see the module docstring).

    Args:
        env_id: registered qmarl id, e.g. ``"qmarl/Jungle-1k-v0"``.
        n_envs: number of env copies; the vec env has ``n_envs * N`` slots.
        env_kwargs: config overrides passed to :func:`qmarl_envs.make` (e.g. ``max_cycles``).
        reward_scale: factor applied to rewards before SB3 sees them (scores and ``episode`` infos
            stay unscaled).
        seed: if given, :meth:`seed` is called with it (copies reset with ``seed + k``).

    Attributes:
        envs: the ``n_envs`` unwrapped :class:`~qmarl_envs.api.parallel.GridParallelEnv` copies.
        agents_per_env: ``N``.
        step_valid: ``bool (num_envs,)``; for the last :meth:`step`, whether each slot's input
            observation belonged to a live agent (a real transition). All True after reset.
        live: ``bool (num_envs,)``; whether each slot's current observation belongs to a live agent.
        live_agent_steps: number of real (valid) transitions produced so far.

    Raises:
        ValueError: unknown env id or kwargs, ``n_envs < 1``, ``reward_scale <= 0``, or agents with
            different observation/action spaces.
    """

    def __init__(self, env_id: str, n_envs: int = 1, env_kwargs: dict[str, Any] | None = None,
                 reward_scale: float = 1.0, seed: int | None = None):
        from qmarl_agents.rollout import RolloutCollector

        if not np.isfinite(reward_scale) or reward_scale <= 0:
            raise ValueError(f"reward_scale: expected a positive float, got {reward_scale!r}")
        self.collector = RolloutCollector(env_id, n_envs, env_kwargs=env_kwargs)
        self.env_id = env_id
        self.env_kwargs = self.collector.env_kwargs
        self.envs = self.collector.envs
        self.agents_per_env = self.collector.agents_per_env
        self.reward_scale = float(reward_scale)
        super().__init__(self.collector.num_rows, self.collector.observation_space, self.collector.action_space)
        self._seed: int | None = None
        self._actions: np.ndarray | None = None
        self.step_valid = np.ones(self.num_envs, dtype=bool)
        self._summaries: list[dict[str, Any]] = []
        if seed is not None:
            self.seed(seed)

    @property
    def live(self) -> np.ndarray:
        """``bool (num_envs,)``: whether each slot's current observation belongs to a live agent."""
        return self.collector.alive

    @property
    def live_agent_steps(self) -> int:
        """Real (valid) transitions produced so far (live agent-steps)."""
        return self.collector.live_agent_steps

    @live_agent_steps.setter
    def live_agent_steps(self, value: int) -> None:  # restored on resume
        self.collector.live_agent_steps = int(value)

    @property
    def agent_steps(self) -> int:
        """Agent-steps (slots, dead ones included) stepped so far."""
        return self.collector.agent_steps

    @agent_steps.setter
    def agent_steps(self, value: int) -> None:
        self.collector.agent_steps = int(value)

    # ----------------------------------------------------------------- seeding / reset
    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Seeds for the next :meth:`reset`: copy ``k`` gets ``seed + k``.

        Args:
            seed: a non-negative int, or None to draw one from OS entropy.

        Returns:
            the seed of each slot's copy (``num_envs`` entries).

        Raises:
            ValueError: for a negative or non-int seed.
        """
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed: expected None or a non-negative int, got {seed!r}")
        self._seed = int(seed)
        return [int(seed) + k for k in range(len(self.envs)) for _ in range(self.agents_per_env)]

    def reset(self) -> np.ndarray:
        """Reset every copy (with the seeds from :meth:`seed`, if any; then they are used up).

        Returns:
            ``float32 (num_envs, *obs_shape)`` observations.
        """
        obs = self.collector.reset(self._seed)
        self._seed = None
        self._reset_seeds()
        self.step_valid[:] = True
        self._summaries.clear()
        return obs.copy()

    # ----------------------------------------------------------------- stepping
    def step_async(self, actions: np.ndarray) -> None:
        """Store the actions of every slot for :meth:`step_wait`.

        Args:
            actions: integer ``(num_envs,)`` (or ``(num_envs, 1)``) action ids in ``[0, 5)``.

        Raises:
            ValueError: for a wrong shape or a non-integer dtype.
        """
        a = np.asarray(actions)
        if a.shape == (self.num_envs, 1):
            a = a[:, 0]
        if a.shape != (self.num_envs,):
            raise ValueError(f"actions: expected shape ({self.num_envs},), got {a.shape}")
        if a.dtype.kind not in "iu":
            raise ValueError(f"actions: expected an integer dtype, got {a.dtype}")
        self._actions = a.astype(np.int64, copy=False)

    def step_wait(self) -> VecEnvStepReturn:
        """Step every copy; auto-reset copies whose agents have all ended.

        Returns:
            ``(obs, rewards, dones, infos)``: ``float32 (num_envs, *obs_shape)`` (zeros in masked
            slots), ``float32 (num_envs,)`` (scaled by ``reward_scale``), ``bool (num_envs,)``, and
            ``num_envs`` dicts (see the module docstring).

        Raises:
            RuntimeError: if :meth:`step_async` was not called first.
        """
        if self._actions is None:
            raise RuntimeError("step_wait() called without step_async(actions)")
        actions, self._actions = self._actions, None
        res = self.collector.step(actions)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for j, i in enumerate(res.ended_rows.tolist()):  # only ended agents, not every slot
            info = infos[i]
            info["terminal_observation"] = res.ended_obs[j]
            if res.truncated[i]:
                info["TimeLimit.truncated"] = True
            info["episode"] = {"r": float(res.ended_returns[j]), "l": int(res.ended_length[j])}
        self._summaries.extend(res.episodes)
        self.step_valid = res.alive
        return res.obs.copy(), res.rewards * np.float32(self.reward_scale), res.terminated | res.truncated, infos

    def pop_episode_summaries(self) -> list[dict[str, Any]]:
        """Summaries (``score``, ``length``, ``win`` ...) of the env episodes finished since the last
        call, scalars only (per-agent arrays averaged); clears the list."""
        out, self._summaries = self._summaries, []
        return out

    # ----------------------------------------------------------------- VecEnv plumbing
    def _slots(self, indices: VecEnvIndices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, (int, np.integer)):
            return [int(indices)]
        return [int(i) for i in indices]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """``getattr`` on the copy behind each slot."""
        if not hasattr(self, "envs"):
            raise AttributeError(attr_name)
        return [getattr(self.envs[i // self.agents_per_env], attr_name) for i in self._slots(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """``setattr`` on each distinct copy behind the slots."""
        for k in sorted({i // self.agents_per_env for i in self._slots(indices)}):
            setattr(self.envs[k], attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        """Call a method once per distinct copy; the result is repeated for each of its slots."""
        slots = self._slots(indices)
        results = {k: getattr(self.envs[k], method_name)(*method_args, **method_kwargs)
                   for k in sorted({i // self.agents_per_env for i in slots})}
        return [results[i // self.agents_per_env] for i in slots]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        """Always False: the copies are unwrapped qmarl envs."""
        return [False] * len(self._slots(indices))

    def get_images(self) -> Sequence[np.ndarray | None]:
        """One frame per copy (``render_mode`` of the copies; None without one)."""
        return [env.render() for env in self.envs]

    def close(self) -> None:
        """Close every copy."""
        for env in self.envs:
            env.close()

