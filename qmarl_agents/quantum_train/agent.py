"""QTRL and Dist-QTRL: the Quantum-Train policy trained by REINFORCE (or with a value baseline).

Follows the official QTRL notebooks (``appendix_example/QTRL/CartPole_.ipynb``): Monte-Carlo
REINFORCE, one update per episode, discounted returns (γ 0.99) standardised as ``(G − mean)/(std +
1e-8)``, loss ``Σ −log π(a|s)·G``, one Adam over the QNN and the mapping model. Choices where the code
is silent or single-agent:

* **Multi-agent**: one policy shared by all agents of a qmarl env; the loss sums over time and
  averages over agent slots; returns are standardised over all live (t, agent) entries of the update.
* **Weights once per update**: the circuit runs once per update; the episodes are played with a
  detached copy of those weights and the log-probabilities recomputed with the attached ones.
* **Actor-critic** (``algo="actor_critic"``): a classical value net (``critic_hidden``) fits the
  standardised returns; the advantage ``G − V(s)`` replaces ``G``.
* **Gymnasium ids** (CartPole-v1): the env's own ``TimeLimit`` (500) ends the episode; the official
  code ignored truncation and ran up to 1000 steps.
* **Dist-QTRL** (Chen et al., arXiv 2412.08845; the paper's aggregation rule was not available): K
  workers share one parameter set (broadcast from rank 0 at start); each plays its own episodes with
  its own simulator and env copies, the gradients are averaged by all-reduce and every worker takes
  the same Adam step (synchronous data-parallel policy gradient). ``qmarl train quantum-train
  --workers K`` launches them; the budget is global.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from qmarl_agents.base import STAY, Agent, check_batch, check_budget
from qmarl_agents.quantum_train.config import QTConfig
from qmarl_agents.quantum_train.policy import QTModel, target_net

NAME = "quantum-train"


def _dist():
    from qmarl_agents import distributed

    return distributed


def _scalar_mean(d, x: float) -> float:
    return float(d.allreduce_mean(float(x)))


class _Env:
    """One episode-playing env: a qmarl env's array API, or a Gymnasium env as one agent."""

    def __init__(self, env_id: str, env_kwargs: dict[str, Any]):
        self.env_id = env_id
        self.qmarl = env_id.startswith("qmarl/")
        if self.qmarl:
            import qmarl_envs

            self.env = qmarl_envs.make(env_id, **env_kwargs).unwrapped
            a0 = self.env.possible_agents[0]
            self.obs_shape = tuple(self.env.observation_space(a0).shape)
            self.num_actions = int(self.env.action_space(a0).n)
            self.num_agents = len(self.env.possible_agents)
        else:
            import gymnasium as gym

            try:
                self.env = gym.make(env_id, **env_kwargs)
            except gym.error.Error as e:
                raise ValueError(f"env_id: {env_id!r} is neither a qmarl id nor a Gymnasium id ({e})") from None
            if not isinstance(self.env.action_space, gym.spaces.Discrete):
                raise ValueError(f"env_id: {env_id!r} needs a Discrete action space")
            self.obs_shape = tuple(self.env.observation_space.shape)
            self.num_actions = int(self.env.action_space.n)
            self.num_agents = 1

    def episode(self, act, seed: int):
        """Play one episode with ``act(obs (N, D) float32, alive (N,)) -> int64 (N,)``.

        Returns:
            ``(obs float32 (T, N, D), actions int64 (T, N), rewards float32 (T, N), alive bool (T, N),
            summary dict)``.
        """
        N = self.num_agents
        O, A, R, L = [], [], [], []
        if self.qmarl:
            obs = self.env.reset_arrays(seed).reshape(N, -1)
            alive = self.env.alive_mask()
            while alive.any():
                a = act(obs, alive)
                nobs, rew, term, trunc = self.env.step_arrays(a)
                O.append(obs), A.append(a), R.append(rew.astype(np.float32)), L.append(alive)
                obs, alive = nobs.reshape(N, -1), self.env.alive_mask()
            summary = self.env.episode_summary() or {}
        else:
            o, _ = self.env.reset(seed=int(seed))
            done, ret = False, 0.0
            while not done:
                obs = np.asarray(o, dtype=np.float32).reshape(1, -1)
                a = act(obs, np.ones(1, bool))
                o, r, term, trunc, _ = self.env.step(int(a[0]))
                done = term or trunc
                ret += float(r)
                O.append(obs), A.append(a), R.append(np.array([r], np.float32)), L.append(np.ones(1, bool))
            summary = {"score": ret, "length": len(O)}
        return np.stack(O).astype(np.float32), np.stack(A).astype(np.int64), np.stack(R), np.stack(L), summary


def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """``G_t = r_t + γ G_{t+1}`` along axis 0 of ``float (T, N)`` rewards (vectorised over N)."""
    G = np.zeros_like(rewards, dtype=np.float64)
    acc = np.zeros(rewards.shape[1:], dtype=np.float64)
    for t in range(rewards.shape[0] - 1, -1, -1):
        acc = rewards[t] + gamma * acc
        G[t] = acc
    return G


def reinforce_loss(logits: torch.Tensor, actions: torch.Tensor, weights: torch.Tensor, mask: torch.Tensor,
                   num_slots: int, entropy_coef: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Σ −log π(a|s)·w − β·H) / num_slots`` over the live entries (official QTRL loss).

    Args:
        logits: ``float32 (B, A)``; actions ``int64 (B,)``; weights ``float (B,)`` (standardised
            returns or advantages); mask ``bool (B,)`` live entries.
        num_slots: agent slots × episodes in the update (the sum is averaged over them).

    Returns:
        ``(loss, mean entropy)``.
    """
    logp = torch.log_softmax(logits, dim=-1)
    lp = logp.gather(1, actions[:, None]).squeeze(1)
    ent = -(logp.exp() * logp).sum(-1)
    m = mask.to(logp.dtype)
    loss = (-(lp * weights.to(logp.dtype)) * m).sum() / num_slots - entropy_coef * (ent * m).sum() / num_slots
    return loss, (ent * m).sum() / m.sum().clamp_min(1)


class QTAgent(Agent):
    """The trainable Quantum-Train agent (``make_agent("quantum-train", env_id=...)``).

    Args:
        env_id: a qmarl id (all agents share one policy) or a registered single-agent Gymnasium id
            with discrete actions (e.g. ``"CartPole-v1"``; ``make_agent`` and ``qmarl train`` take
            both, the registry entry has ``gymnasium_envs``).
        seed: seeds the initialisation (same on every worker) and the episodes (worker ``r`` uses
            ``distributed.rank_seed(seed, r)``).
        config: a :class:`QTConfig`.

    Raises:
        ValueError: bad seed or env id.
    """

    name = NAME

    def __init__(self, env_id: str, seed: int | None = 0, config: QTConfig | None = None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed: expected None or a non-negative int, got {seed!r}")
        if not isinstance(env_id, str):
            raise ValueError(f"env_id: expected a string, got {env_id!r}")
        self.config = config or QTConfig()
        self.env_id = env_id
        self.seed = None if seed is None else int(seed)
        self.envs = _Env(env_id, dict(self.config.env_kwargs))
        self.obs_shape = self.envs.obs_shape
        obs_dim = int(np.prod(self.obs_shape))
        gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
        self.model = QTModel(obs_dim, self.envs.num_actions, self.config, gen)
        modules = {"gen": self.model}
        if self.config.algo == "actor_critic":
            self.critic = target_net(obs_dim, 1, self.config.critic_hidden)
            modules["critic"] = self.critic
        else:
            self.critic = None
        self.trainable_module = nn.ModuleDict(modules)
        self.optimizer = torch.optim.Adam([p for p in self.trainable_module.parameters() if p.requires_grad],
                                          lr=self.config.learning_rate)
        self.agent_steps = 0
        self.live_agent_steps = 0
        self.episodes = 0
        self.updates = 0
        self._rng = np.random.default_rng(seed)
        self._params: dict[str, torch.Tensor] | None = None

    # ------------------------------------------------------------------ policy
    def parameter_counts(self) -> dict[str, int]:
        """Trainable parameters: ``qnn`` (6·n·L), ``mapping``, ``total``, ``classical_M``, ``n``, ``critic``."""
        c = self.model.trainable_counts()
        c["n"] = self.model.n or 0
        c["critic"] = 0 if self.critic is None else sum(p.numel() for p in self.critic.parameters())
        return c

    def _weights(self) -> dict[str, torch.Tensor]:
        if self._params is None:
            with torch.no_grad():
                self._params = {k: v.detach().clone() for k, v in self.model.generate().items()}
        return self._params

    def _act(self, obs: np.ndarray, alive: np.ndarray, deterministic: bool,
             rng: np.random.Generator | None = None) -> np.ndarray:
        rng = self._rng if rng is None else rng
        with torch.no_grad():
            logits = self.model.logits(torch.from_numpy(obs.reshape(len(obs), -1)), self._weights()).numpy()
        if deterministic:
            a = logits.argmax(1)
        else:
            a = (logits + rng.gumbel(size=logits.shape)).argmax(1)
        return np.where(alive, a, STAY if self.envs.qmarl else 0).astype(np.int64)

    def act_batch(self, obs: np.ndarray, alive: np.ndarray | None = None, *, deterministic: bool = True) -> np.ndarray:
        """Actions of ``N`` rows (see :meth:`~qmarl_agents.base.BatchPolicy.act_batch`); the weights
        are generated once after each update and cached.

        Raises:
            ValueError: if ``obs`` is not ``(N, *obs_shape)`` or ``alive`` not ``bool (N,)``.
        """
        arr, mask = check_batch(obs, alive, self.obs_shape)
        if len(arr) == 0:
            return np.zeros(0, np.int64)
        return self._act(arr, mask, deterministic)

    def reset(self, seed: int | None = None) -> None:
        """Re-seed the sampling generator."""
        self._rng = np.random.default_rng(seed)

    def describe(self) -> dict[str, Any]:
        """Name, env id, seed, hyperparameters and parameter counts (JSON-ready)."""
        return {"agent": self.name, "env_id": self.env_id, "seed": self.seed,
                "qt_config": self.config.to_dict(), "parameters": self.parameter_counts(),
                "agent_steps": self.agent_steps}

    # ---------------------------------------------------------------- learning
    def update(self, batch: list[tuple], params: dict[str, torch.Tensor] | None = None) -> dict[str, float]:
        """One gradient step on episodes ``[(obs, actions, rewards, alive, summary), ...]``.

        Args:
            batch: the episodes, played with the current parameters.
            params: the generated weights (with their autograd graph) the episodes were played with;
                None generates them here (one circuit call).

        Averages the gradients over workers and steps Adam. Returns the update's metrics.
        """
        c = self.config
        d = _dist()
        obs = np.concatenate([b[0].reshape(-1, b[0].shape[-1]) for b in batch])
        act = np.concatenate([b[1].reshape(-1) for b in batch])
        alive = np.concatenate([b[3].reshape(-1) for b in batch])
        G = np.concatenate([discounted_returns(b[2], c.gamma).reshape(-1) for b in batch])
        live = G[alive]
        Gn = np.zeros_like(G)
        if live.size:
            Gn[alive] = (live - live.mean()) / (live.std() + 1e-8)
        obs_t, Gn_t = torch.from_numpy(obs), torch.from_numpy(Gn).float()
        mask_t = torch.from_numpy(alive)
        slots = sum(b[1].shape[1] for b in batch)
        params = self.model.generate() if params is None else params
        logits = self.model.logits(obs_t, params)
        metrics = {}
        if self.critic is not None:
            v = self.critic(obs_t).squeeze(-1)
            adv = Gn_t - v.detach()
            vloss = (((v - Gn_t) ** 2) * mask_t).sum() / mask_t.sum().clamp_min(1)
            loss, ent = reinforce_loss(logits, torch.from_numpy(act), adv, mask_t, slots, c.entropy_coef)
            loss = loss + 0.5 * vloss
            metrics["value_loss"] = float(vloss.detach())
        else:
            loss, ent = reinforce_loss(logits, torch.from_numpy(act), Gn_t, mask_t, slots, c.entropy_coef)
        self.optimizer.zero_grad(set_to_none=False)
        loss.backward()
        d.allreduce_gradients(self.trainable_module)
        if c.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.trainable_module.parameters(), c.max_grad_norm)
        self.optimizer.step()
        self._params = None
        self.updates += 1
        metrics.update({"loss": float(loss.detach()), "entropy": float(ent.detach())})
        return metrics

    def learn(self, total_agent_steps: int, *, callback=None) -> "QTAgent":
        """REINFORCE until ``total_agent_steps`` agent-steps over all workers, ``config.max_updates``
        updates, or the callback stops it.

        Each update: every worker plays ``episodes_per_update`` episodes, then one shared Adam step.
        The callback's metrics per update: ``loss``, ``entropy`` (``value_loss``), ``score`` (rank 0's
        episodes) and ``score_all_workers`` (the mean over every worker's episodes of the update).

        Raises:
            ValueError: if ``total_agent_steps`` is not a positive int.
        """
        total = check_budget(total_agent_steps)
        d = _dist()
        d.init_from_env()  # joins torchrun's process group when launched by it; no-op otherwise
        world, rank = d.world_size(), d.rank()
        if self.updates == 0:
            d.broadcast_parameters(self.trainable_module, src=0)
            self._params = None
        base = d.rank_seed(self.seed if self.seed is not None else 0, rank)
        stop = False
        with _threads(self.config.torch_threads):
            cap = self.config.max_updates or math.inf
            while self.agent_steps < total and self.updates < cap and not stop:
                batch = []
                params = self.model.generate()  # the one circuit call of this update
                self._params = {k: v.detach() for k, v in params.items()}
                for _ in range(self.config.episodes_per_update):
                    # env and sampling seeds from (seed, worker, episode): exact on --resume
                    rng = np.random.default_rng([int(base), rank, self.episodes])
                    ep = self.envs.episode(lambda o, a: self._act(o, a, False, rng),
                                           seed=int(base) * 100_003 + self.episodes + rank)
                    batch.append(ep)
                    self.episodes += world
                metrics = self.update(batch, params)
                local_steps = sum(b[1].size for b in batch)
                local_live = sum(int(b[3].sum()) for b in batch)
                self.agent_steps += int(round(_scalar_mean(d, local_steps) * world))
                self.live_agent_steps += int(round(_scalar_mean(d, local_live) * world))
                scores = [float(b[4].get("score", 0.0)) for b in batch]
                # the round's mean score over all workers' episodes (rank 0 alone logs its episodes)
                metrics["score_all_workers"] = _scalar_mean(d, float(np.mean(scores)))
                if callback is not None:
                    for b in batch:
                        callback.on_episode(self.agent_steps, b[4])
                    metrics["score"] = float(np.mean(scores))
                    callback.on_metrics(self.agent_steps, metrics)
                    stop = not callback.on_steps(self.agent_steps)
                if world > 1:
                    stop = _scalar_mean(d, float(stop)) > 0
        return self

    # ------------------------------------------------------------- checkpoints
    def save(self, path: str) -> str:
        """Write weights, Adam state and config atomically (safetensors + JSON); returns ``path``."""
        from qmarl_agents.checkpoint import save_checkpoint

        opt_arrays, groups = _opt_to_arrays(self.optimizer)
        arrays = {f"model/{k}": v.detach().cpu().numpy() for k, v in self.trainable_module.state_dict().items()}
        arrays.update(opt_arrays)
        cfg = {"agent": NAME, "env_id": self.env_id, "seed": self.seed, "qt_config": self.config.to_dict(),
               "obs_shape": list(self.obs_shape), "num_actions": self.envs.num_actions,
               "parameters": self.parameter_counts(), "agent_steps": int(self.agent_steps),
               "live_agent_steps": int(self.live_agent_steps),
               "resume": {"episodes": self.episodes, "updates": self.updates, "optimizer_param_groups": groups}}
        return str(save_checkpoint(path, cfg, arrays))

    @classmethod
    def from_checkpoint(cls, config: dict[str, Any], arrays: dict[str, np.ndarray], *,
                        optimizer: bool = True) -> "QTAgent":
        """Rebuild the agent from :meth:`save`'s output (weights, counters, Adam state if ``optimizer``).

        Raises:
            ValueError: wrong agent, unknown config key, or weights that do not fit the architecture
                (missing, unexpected or mis-shaped tensors are listed).
        """
        if config.get("agent") != NAME:
            raise ValueError(f"checkpoint config: agent {config.get('agent')!r} is not {NAME!r}")
        agent = cls(config["env_id"], config.get("seed"), QTConfig.from_dict(config.get("qt_config", {})))
        sd = {k[len("model/"):]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith("model/")}
        expected = agent.trainable_module.state_dict()
        missing = sorted(set(expected) - set(sd))
        unexpected = sorted(set(sd) - set(expected))
        shapes = sorted(k for k in set(sd) & set(expected) if tuple(sd[k].shape) != tuple(expected[k].shape))
        if missing or unexpected or shapes:
            raise ValueError(f"quantum-train checkpoint does not match the architecture: missing {missing}, "
                             f"unexpected {unexpected}, mis-shaped {shapes}")
        agent.trainable_module.load_state_dict(sd)
        resume = config.get("resume") or {}
        if optimizer and resume.get("optimizer_param_groups"):
            _opt_from_arrays(agent.optimizer, arrays, resume["optimizer_param_groups"])
        agent.agent_steps = int(config.get("agent_steps", 0))
        agent.live_agent_steps = int(config.get("live_agent_steps", 0))
        agent.episodes = int(resume.get("episodes", 0))
        agent.updates = int(resume.get("updates", 0))
        return agent


def _threads(n):
    from qmarl_agents.torch_utils import torch_threads

    return torch_threads(n)


def _opt_to_arrays(opt):
    from qmarl_agents.torch_utils import optimizer_to_arrays

    return optimizer_to_arrays(opt)


def _opt_from_arrays(opt, arrays, groups):
    from qmarl_agents.torch_utils import load_optimizer_arrays

    load_optimizer_arrays(opt, arrays, groups)


def make_quantum_train(env_id: str, seed: int | None = 0, **config: Any) -> QTAgent:
    """Registry factory: ``make_agent("quantum-train", env_id=..., seed=..., **QTConfig fields)``.

    Also takes Gymnasium ids: ``make_agent("quantum-train", env_id="CartPole-v1").learn(50_000)``.

    Raises:
        ValueError: unknown config keys (the allowed ones are listed), bad values or env id.
    """
    from qmarl_envs.scenarios.base import config_from_kwargs

    return QTAgent(env_id, seed, config_from_kwargs(QTConfig, config, what=NAME))


def load_qt_policy(config: dict[str, Any], arrays: dict[str, np.ndarray], env=None) -> QTAgent:
    """Registry loader: the agent as a policy (no optimiser state)."""
    return QTAgent.from_checkpoint(config, arrays, optimizer=False)


def resume_qt_agent(config: dict[str, Any], arrays: dict[str, np.ndarray]) -> QTAgent:
    """Registry resumer: the trainable agent with its Adam state and counters."""
    return QTAgent.from_checkpoint(config, arrays)
