"""The QBM agent: free-energy Q-learning (Müller et al., ICAART 2022, §3; Levit et al. eqs. 7-10).

One env step of :meth:`QBMAgent.learn`:

1. epsilon-greedy actions from ``Q(s, a) = -F(s, a)`` of every live agent (one sampler call for all
   agents x actions);
2. the transitions of the live agents go into the replay buffer (one central buffer with parameter
   sharing, one per agent for independent learners);
3. one batched TD update: ``batch_size`` transitions per live agent, target
   ``r + gamma (1 - terminated) max_a' Q_target(s', a')`` (``terminal_mask``), where ``Q_target`` is a
   real copy of the online weights synced every ``target_sync`` updates (``target_net``); the target's
   Q of every next action and the online Q(s, a) come from one sampler call.

The env is stepped through :class:`~qmarl_agents.rollout.RolloutCollector` (one copy).

Choices where the papers are silent: the update is the sum of the per-transition TD gradients over
the batch divided by ``batch_size`` (so N agents sharing parameters give N updates' worth per step,
like the code's N sequential ``qlearn`` calls); truncation at ``max_cycles`` bootstraps; rewards are
scaled by ``reward_scale`` before learning.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qmarl_agents.base import STAY, Agent, check_batch
from qmarl_agents.qbm.config import QBMConfig, make_config
from qmarl_agents.qbm.model import QBMModel

_ARRAY_NAMES = ("W_vh", "W_hh")


class ReplayBuffer:
    """FIFO buffers of ``M`` models, as arrays ``(M, capacity, ...)`` (M = 1: a central buffer).

    Args:
        num_models: M; capacity: transitions per model; obs_dim: flattened observation size.
    """

    def __init__(self, num_models: int, capacity: int, obs_dim: int):
        M, C = num_models, capacity
        self.obs = np.zeros((M, C, obs_dim), np.float32)
        self.next_obs = np.zeros((M, C, obs_dim), np.float32)
        self.actions = np.zeros((M, C), np.int64)
        self.rewards = np.zeros((M, C), np.float32)
        self.terminated = np.zeros((M, C), bool)
        self.pos = np.zeros(M, np.int64)
        self.size = np.zeros(M, np.int64)
        self.capacity = C

    def add(self, model_ids, obs, actions, rewards, next_obs, terminated) -> None:
        """Store ``n`` transitions; row j goes to model ``model_ids[j]`` (vectorised)."""
        order = np.argsort(model_ids, kind="stable")
        m = model_ids[order]
        counts = np.bincount(m, minlength=self.pos.size)
        start = np.cumsum(counts) - counts
        rank = np.arange(m.size) - start[m]
        slot = (self.pos[m] + rank) % self.capacity
        self.obs[m, slot] = obs[order]
        self.next_obs[m, slot] = next_obs[order]
        self.actions[m, slot] = actions[order]
        self.rewards[m, slot] = rewards[order]
        self.terminated[m, slot] = terminated[order]
        self.pos = (self.pos + counts) % self.capacity
        self.size = np.minimum(self.size + counts, self.capacity)

    def sample(self, k: np.ndarray, rng: np.random.Generator):
        """``k[m]`` uniform transitions of each model m; returns ``(model_ids, obs, a, r, next_obs, term)``."""
        mids = np.repeat(np.arange(k.size), k)
        idx = (rng.random(mids.size) * self.size[mids]).astype(np.int64)
        return (mids, self.obs[mids, idx], self.actions[mids, idx], self.rewards[mids, idx],
                self.next_obs[mids, idx], self.terminated[mids, idx])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Named arrays for a checkpoint (``buffer/*``): only the filled rows (``size.max()``)."""
        n = int(self.size.max())
        out = {f"buffer/{k}": getattr(self, k)[:, :n] for k in ("obs", "next_obs", "actions", "rewards", "terminated")}
        out.update({"buffer/pos": self.pos, "buffer/size": self.size})
        return out

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore from :meth:`to_arrays` output.

        Raises:
            ValueError: an array whose shape does not fit this buffer (nothing is changed then).
        """
        M, C = self.pos.size, self.capacity
        new = {}
        for k in ("obs", "next_obs", "actions", "rewards", "terminated"):
            a = arrays[f"buffer/{k}"]
            cur = getattr(self, k)
            if a.ndim != cur.ndim or a.shape[0] != M or a.shape[1] > C or a.shape[2:] != cur.shape[2:]:
                raise ValueError(f"checkpoint: buffer/{k} has shape {a.shape}, expected at most {cur.shape}")
            full = np.zeros_like(cur)
            full[:, : a.shape[1]] = a
            new[k] = full
        for k in ("pos", "size"):
            a = arrays[f"buffer/{k}"]
            if a.shape != (M,):
                raise ValueError(f"checkpoint: buffer/{k} has shape {a.shape}, expected ({M},)")
            new[k] = a.astype(np.int64).copy()
        if new["size"].max(initial=0) > arrays["buffer/obs"].shape[1]:
            raise ValueError("checkpoint: buffer/size exceeds the stored rows")
        for k, v in new.items():
            setattr(self, k, v)


class QBMAgent(Agent):
    """Free-energy Q-learning with a (quantum) Boltzmann machine on any registered qmarl env.

    Args:
        env_id: a qmarl env id.
        seed: seed of every generator the agent uses (weights, sampler, exploration, env).
        config: a :class:`QBMConfig`.
        env_kwargs: env config overrides (``obs_encoding`` comes from the config on ball collection).

    Attributes:
        online, target: :class:`QBMModel` (``target is online`` without ``target_net``, or after the
            first sync with ``target_alias``).
        epsilon: ``float64 (N,)`` current exploration rate of each agent.
        agent_steps, live_agent_steps, updates, episodes: counters.
    """

    name = "qbm"

    def __init__(self, env_id: str, seed: int | None = 0, config: QBMConfig | None = None,
                 env_kwargs: dict[str, Any] | None = None):
        import qmarl_envs

        self.cfg = config or QBMConfig()
        self.env_id = env_id
        self.seed = 0 if seed is None else int(seed)
        self.env_kwargs = dict(env_kwargs or {})
        kwargs = dict(self.env_kwargs)
        if "BallCollection" in env_id and self.cfg.obs_encoding != "onehot":
            kwargs.setdefault("obs_encoding", self.cfg.obs_encoding)
        self._env_kwargs_full = kwargs
        self.env = qmarl_envs.make(env_id, **kwargs).unwrapped
        self.num_agents = self.env.max_num_agents
        self.obs_shape = tuple(self.env.observation_space(self.env.possible_agents[0]).shape)
        self.obs_dim = int(np.prod(self.obs_shape))
        self.num_actions = int(self.env.action_space(self.env.possible_agents[0]).n)
        self.num_models = 1 if self.cfg.parameter_sharing else self.num_agents
        ss = np.random.SeedSequence(self.seed)
        s_w, s_s, s_e, s_x = ss.spawn(4)
        self.rng_sample = np.random.default_rng(s_s)
        self.rng_explore = np.random.default_rng(s_e)
        self.rng_env = np.random.default_rng(s_x)
        self.online = QBMModel(self.cfg, self.obs_dim, self.num_actions, self.num_models, np.random.default_rng(s_w))
        if self.cfg.target_net:
            # the code initialises the target independently; a real copy is the method done right
            self.target = QBMModel(self.cfg, self.obs_dim, self.num_actions, self.num_models,
                                   np.random.default_rng(s_w.spawn(1)[0]), sampler=self.online.sampler)
            if not self.cfg.target_alias:
                self.target.copy_weights_from(self.online)
        else:
            self.target = self.online
        cap = self.cfg.buffer_size if self.cfg.replay else 1
        self.buffer = ReplayBuffer(self.num_models, cap, self.obs_dim)
        self.epsilon = np.full(self.num_agents, float(self.cfg.eps_start))
        self.agent_steps = 0
        self.live_agent_steps = 0
        self.updates = 0
        self.syncs = 0
        self.episodes = 0
        self.eval_rng = np.random.default_rng(self.seed)
        self.collector = None

    # ------------------------------------------------------------------ policy
    def _map_obs(self, obs: np.ndarray) -> np.ndarray:
        flat = np.asarray(obs, np.float32).reshape(obs.shape[0], -1)
        return 2.0 * flat - 1.0 if self.cfg.visible_map == "spin" else flat

    def _model_ids(self, rows: np.ndarray) -> np.ndarray | None:
        return None if self.num_models == 1 else (rows % self.num_models).astype(np.int64)

    def q_values(self, obs: np.ndarray, rows: np.ndarray | None = None, rng=None) -> np.ndarray:
        """``float64 (n, num_actions)`` estimated Q = -F (in scaled reward units) of ``n`` observations.

        Args:
            obs: ``float32 (n, *obs_shape)``.
            rows: agent index of each row (selects the model of independent learners); default 0..n-1.
            rng: generator of the sampler (default the agent's).
        """
        n = obs.shape[0]
        rows = np.arange(n) if rows is None else rows
        return self.online.q_all_actions(self._map_obs(obs), self._model_ids(rows), rng or self.rng_sample)

    def act_batch(self, obs, alive=None, *, deterministic=True):
        """Greedy (or epsilon-greedy with the current epsilon) actions of ``N`` agents.

        Args:
            obs: ``float32 (N, *obs_shape)``; alive: optional ``bool (N,)``.
            deterministic: greedy if True, epsilon-greedy otherwise.

        Returns:
            ``int64 (N,)``; rows not live get STAY.

        Raises:
            ValueError: wrong shapes.
        """
        obs, alive = check_batch(obs, alive, self.obs_shape)
        out = np.full(obs.shape[0], STAY, np.int64)
        rows = np.flatnonzero(alive)
        if rows.size:
            out[rows] = self._choose(obs[rows], rows, 0.0 if deterministic else None, self.eval_rng)
        return out

    def _choose(self, obs, rows, eps, rng):
        q = self.online.q_all_actions(self._map_obs(obs), self._model_ids(rows), rng)
        greedy = q.argmax(axis=1)
        e = self.epsilon[rows % self.num_agents] if eps is None else np.full(rows.size, eps)
        explore = self.rng_explore.random(rows.size) < e
        rand = self.rng_explore.integers(0, self.num_actions, rows.size)
        return np.where(explore, rand, greedy)

    def reset(self, seed: int | None = None) -> None:
        """Re-seed the evaluation sampler's generator."""
        self.eval_rng = np.random.default_rng(seed)

    def describe(self) -> dict[str, Any]:
        """Name, env id, config, seed and counters (JSON-ready)."""
        return {"agent": self.name, "env_id": self.env_id, "config": self.cfg.to_dict(), "seed": self.seed,
                "agent_steps": int(self.agent_steps)}

    # ---------------------------------------------------------------- learning
    def _update(self, mids, obs, actions, rewards, next_obs, terminated) -> dict[str, float]:
        """One batched TD update; the target's ``Q(s', a')`` of every action and the online
        ``Q(s, a)`` come from one sampler call (the two weight sets stacked)."""
        cfg, on, A = self.cfg, self.online, self.num_actions
        n = obs.shape[0]
        o, o2 = self._map_obs(obs), self._map_obs(next_obs)
        vis_next = on.visible(np.repeat(o2, A, axis=0), np.tile(np.arange(A), n))
        vis = on.visible(o, actions)
        ids = np.asarray(mids, np.int64) if self.num_models > 1 else np.zeros(n, np.int64)
        if self.target is on:
            weights, ids_next, ids_now = None, np.repeat(ids, A), ids
        else:
            M = self.num_models
            weights = (np.concatenate([self.target.W_vh, on.W_vh]), np.concatenate([self.target.W_hh, on.W_hh]))
            ids_next, ids_now = np.repeat(ids, A), ids + M
        q_all, mh, mhh = on.evaluate(np.concatenate([vis_next, vis]), np.concatenate([ids_next, ids_now]),
                                     self.rng_sample, weights, stats_from=n * A)
        q_next = q_all[: n * A].reshape(n, A).max(axis=1)
        q = q_all[n * A:]
        if cfg.terminal_mask:
            q_next = np.where(terminated, 0.0, q_next)
        delta = rewards * cfg.reward_scale + cfg.discount * q_next - q
        if cfg.td_clip is not None:
            delta = np.clip(delta, -cfg.td_clip, cfg.td_clip)
        on.td_update(vis, None if self.num_models == 1 else ids, delta, mh, mhh, cfg.learning_rate,
                     float(cfg.batch_size if cfg.replay else 1))
        self.updates += 1
        if cfg.target_net and self.updates % cfg.target_sync == 0:
            if cfg.target_alias:
                self.target = self.online
            else:
                self.target.copy_weights_from(self.online)
            self.syncs += 1
        return {"td_error": float(np.mean(np.abs(delta))), "q_mean": float(np.mean(q))}

    def learn(self, total_agent_steps: int, *, callback=None) -> "QBMAgent":
        """Train until ``total_agent_steps`` agent-steps (see the module docstring).

        The env is stepped through the toolkit's :class:`~qmarl_agents.rollout.RolloutCollector`
        (one copy, auto-reset); a transition that ends an episode stores the agent's final
        observation as its next observation.

        Raises:
            ValueError: if ``total_agent_steps`` is not a positive int.
        """
        from qmarl_agents.rollout import RolloutCollector

        if not isinstance(total_agent_steps, (int, np.integer)) or isinstance(total_agent_steps, bool) \
                or total_agent_steps < 1:
            raise ValueError(f"total_agent_steps: expected a positive int, got {total_agent_steps!r}")
        cfg, N = self.cfg, self.num_agents
        if self.collector is None:
            self.collector = RolloutCollector(self.env_id, 1, env_kwargs=self._env_kwargs_full,
                                              seed=int(self.rng_env.integers(2**31 - 1)))
            self.collector.reset()
        col = self.collector
        rows_all = np.arange(N)
        metrics_every = 100
        steps_here = 0
        while self.agent_steps < total_agent_steps:
            obs = col.obs
            rows = rows_all[col.alive]
            actions = np.full(N, STAY, np.int64)
            actions[rows] = self._choose(obs[rows], rows, None, self.rng_sample)
            res = col.step(actions)
            next_obs = res.obs.copy()
            next_obs[res.ended_rows] = res.ended_obs
            self.agent_steps += N
            self.live_agent_steps += int(rows.size)
            steps_here += 1
            mids = rows % self.num_models
            t_obs = obs[rows].reshape(rows.size, -1)
            t_next = next_obs[rows].reshape(rows.size, -1)
            self.buffer.add(mids, t_obs, actions[rows], res.rewards[rows], t_next, res.terminated[rows])
            # epsilon decays per env step after warm-up (the code: per qlearn call)
            if not cfg.replay or self.buffer.size.min() >= cfg.warmup:
                dec = np.zeros(N)
                dec[rows] = cfg.eps_decay
                if cfg.freeze_eps_others and cfg.parameter_sharing:
                    dec[1:] = 0.0
                self.epsilon = np.maximum(self.epsilon - dec, cfg.eps_min)
                if cfg.replay:
                    per = np.bincount(mids, minlength=self.num_models) * cfg.batch_size
                    per = np.minimum(per, cfg.max_batch)
                    batch = self.buffer.sample(per, self.rng_sample)
                else:
                    batch = (mids, t_obs, actions[rows], res.rewards[rows], t_next, res.terminated[rows])
                m = self._update(*batch)
                if callback is not None and steps_here % metrics_every == 0:
                    callback.on_metrics(self.agent_steps, {**m, "epsilon": float(self.epsilon[0])})
            for summary in res.episodes:
                self.episodes += 1
                if callback is not None:
                    callback.on_episode(self.agent_steps, summary)
            if callback is not None and callback.on_steps(self.agent_steps) is False:
                break
        return self

    # -------------------------------------------------------------- checkpoint
    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {f"online/{k}": getattr(self.online, k) for k in _ARRAY_NAMES}
        if self.target is not self.online:
            arrays.update({f"target/{k}": getattr(self.target, k) for k in _ARRAY_NAMES})
        arrays.update(self.buffer.to_arrays())
        arrays["epsilon"] = self.epsilon
        return arrays

    def checkpoint_config(self) -> dict[str, Any]:
        """The JSON part of a checkpoint."""
        return {"agent": self.name, "env_id": self.env_id, "seed": self.seed, "qbm_config": self.cfg.to_dict(),
                "env_kwargs": self.env_kwargs, "n_actions": self.num_actions, "obs_shape": list(self.obs_shape),
                "counters": {"agent_steps": int(self.agent_steps), "live_agent_steps": int(self.live_agent_steps),
                             "updates": int(self.updates), "syncs": int(self.syncs), "episodes": int(self.episodes)},
                "target_is_online": self.target is self.online,
                "rng": {k: getattr(self, k).bit_generator.state for k in ("rng_sample", "rng_explore", "rng_env")}}

    def save(self, path: str) -> str:
        """Write a checkpoint (safetensors weights + buffer, JSON config) atomically; returns ``path``."""
        from qmarl_agents.checkpoint import save_checkpoint

        save_checkpoint(path, self.checkpoint_config(), self._arrays())
        return str(path)

    @classmethod
    def from_checkpoint(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> "QBMAgent":
        """Rebuild a trainable agent (weights, target, buffer, epsilon, counters, generators).

        Raises:
            ValueError: if the config or the arrays do not fit (names the mismatching array).
        """
        cfg = make_config(**dict(config.get("qbm_config", {})))
        agent = cls(config["env_id"], config.get("seed", 0), cfg, config.get("env_kwargs") or {})
        for net in ("online", "target"):
            model = agent.online if net == "online" else agent.target
            if net == "target" and (config.get("target_is_online") or agent.target is agent.online):
                agent.target = agent.online
                continue
            for k in _ARRAY_NAMES:
                key = f"{net}/{k}"
                if key not in arrays:
                    raise ValueError(f"checkpoint: missing array {key!r}")
                if arrays[key].shape != getattr(model, k).shape:
                    raise ValueError(f"checkpoint: {key} has shape {arrays[key].shape}, expected "
                                     f"{getattr(model, k).shape}")
                setattr(model, k, arrays[key].astype(np.float32).copy())
        if "buffer/obs" in arrays:
            agent.buffer.load_arrays(arrays)
        if "epsilon" in arrays:
            agent.epsilon = arrays["epsilon"].astype(np.float64).copy()
        c = config.get("counters", {})
        agent.agent_steps = int(c.get("agent_steps", 0))
        agent.live_agent_steps = int(c.get("live_agent_steps", 0))
        agent.updates, agent.syncs, agent.episodes = (int(c.get(k, 0)) for k in ("updates", "syncs", "episodes"))
        for k, st in (config.get("rng") or {}).items():
            if k in ("rng_sample", "rng_explore", "rng_env"):
                getattr(agent, k).bit_generator.state = st
        return agent


def make_qbm(env_id: str | None, seed: int | None = 0, **config: Any) -> QBMAgent:
    """Registry factory of ``"qbm"``: fields of :class:`QBMConfig`, plus ``preset`` (``"default"`` or
    ``"faithful"``) and ``env_kwargs``.

    Raises:
        ValueError: unknown keys (listing the allowed ones), bad values, or no env id.
    """
    if env_id is None:
        raise ValueError("env_id: the qbm agent needs an env id")
    env_kwargs = config.pop("env_kwargs", None)
    preset = config.pop("preset", "default")
    return QBMAgent(env_id, seed, make_config(preset, **config), env_kwargs)


def load_qbm(config: dict[str, Any], arrays: dict[str, np.ndarray], env=None) -> QBMAgent:
    """Registry loader of ``"qbm"`` (a greedy policy that can also keep training).

    Raises:
        ValueError: mismatching checkpoint, or an env whose observation shape differs.
    """
    agent = QBMAgent.from_checkpoint(config, arrays)
    if env is not None:
        base = getattr(env, "unwrapped", env)
        shape = tuple(base.observation_space(base.possible_agents[0]).shape)
        if shape != agent.obs_shape:
            raise ValueError(f"checkpoint expects observations of shape {agent.obs_shape}, env gives {shape}")
    return agent


def resume_qbm(config: dict[str, Any], arrays: dict[str, np.ndarray]) -> QBMAgent:
    """Registry resumer of ``"qbm"`` (``qmarl train qbm --resume``)."""
    return QBMAgent.from_checkpoint(config, arrays)
