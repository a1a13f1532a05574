"""REINFORCE (Williams 1992; Sutton & Barto 2018 §13.3) with a linear softmax policy, NumPy only."""
import dataclasses

import numpy as np
import qmarl_envs
from qmarl_agents import Agent, AgentSpec
from qmarl_agents.base import check_batch, check_budget
from qmarl_agents.checkpoint import save_checkpoint
from qmarl_agents.rollout import RolloutCollector
from qmarl_envs.scenarios.base import config_from_kwargs


@dataclasses.dataclass(frozen=True)
class LinearPGConfig:
    """Hyperparameters (the single source of defaults)."""
    lr: float = 0.05
    """Gradient-ascent step size on ``W`` and ``b``."""
    gamma: float = 0.99
    """Discount of the reward-to-go."""
    n_envs: int = 4
    """Env copies played per update (one episode each)."""
    env_kwargs: dict | None = None
    """Config overrides of the training env (e.g. ``max_cycles``)."""


class LinearPGAgent(Agent):
    """``pi(a|o) = softmax(W o + b)``, shared by all agents; ``W float64 (5, D)``, ``D`` = obs size."""
    name = "linear-pg"

    def __init__(self, env_id, seed, config: LinearPGConfig, arrays=None, agent_steps=0):
        env = qmarl_envs.make(env_id, **(config.env_kwargs or {}))
        self.env_id, self.seed, self.config = env_id, seed, config
        self.obs_shape = env.observation_space(env.possible_agents[0]).shape
        self.rng, self.agent_steps, self.live_agent_steps = np.random.default_rng(seed), agent_steps, 0
        self.W = np.array(arrays["W"]) if arrays else np.zeros((5, int(np.prod(self.obs_shape))))
        self.b = np.array(arrays["b"]) if arrays else np.zeros(5)

    def _probs(self, x):
        z = x.reshape(len(x), -1) @ self.W.T + self.b
        return (e := np.exp(z - z.max(1, keepdims=True))) / e.sum(1, keepdims=True)

    def act_batch(self, obs, alive=None, *, deterministic=True):
        """``float32 (N, *obs_shape)`` -> ``int64 (N,)``; rows not alive get 4 (stay)."""
        obs, alive = check_batch(obs, alive, self.obs_shape)
        p = self._probs(obs)
        a = p.argmax(1) if deterministic else (self.rng.random((len(p), 1)) > p.cumsum(1)).sum(1)
        return np.where(alive, np.minimum(a, 4), 4).astype(np.int64)

    def reset(self, seed=None):
        """Re-seed the sampling generator (the evaluator calls this per evaluation seed)."""
        self.rng = np.random.default_rng(seed)

    def learn(self, total_agent_steps, *, callback=None):
        """REINFORCE updates (baseline: per-step mean return of live rows) until the budget is spent."""
        budget, c = check_budget(total_agent_steps), self.config
        col = RolloutCollector(self.env_id, c.n_envs, env_kwargs=c.env_kwargs, seed=int(self.rng.integers(2**31)))
        while self.agent_steps < budget:
            tr = col.collect_episodes(lambda o, live, _: self.act_batch(o, live, deterministic=False))
            ret, g, m = np.zeros(tr.rewards.shape), np.zeros(tr.rewards.shape[1]), tr.alive
            for t in range(tr.num_steps - 1, -1, -1):  # reward-to-go; a loop over time, not agents
                g = ret[t] = tr.rewards[t] + c.gamma * g
            base = (ret * m).sum(1, keepdims=True) / np.maximum(m.sum(1, keepdims=True), 1)
            x, a, w = tr.obs[m].reshape(m.sum(), -1), tr.actions[m], (ret - base)[m] / max(m.sum(), 1)  # live rows only
            grad = np.eye(5)[a] - self._probs(x)  # d log pi(a|x) / d logits
            self.W, self.b = self.W + c.lr * (grad * w[:, None]).T @ x, self.b + c.lr * grad.T @ w
            self.agent_steps += tr.agent_steps
            self.live_agent_steps += tr.live_agent_steps
            if callback is not None:
                for ep in tr.episodes:
                    callback.on_episode(self.agent_steps, ep)
                callback.on_metrics(self.agent_steps, {"mean_return": float(ret[0][m[0]].mean())})
                if callback.on_steps(self.agent_steps) is False:
                    break
        col.close()
        return self

    def describe(self):
        """Name, env id, seed, config and agent-steps, JSON-ready (checkpoints and submissions)."""
        return {"agent": self.name, "env_id": self.env_id, "seed": self.seed, "agent_steps": self.agent_steps,
                "config": dataclasses.asdict(self.config)}

    def save(self, path):
        """Write ``W``, ``b`` and :meth:`describe` through :func:`save_checkpoint`; returns the path."""
        return str(save_checkpoint(path, self.describe(), {"W": self.W, "b": self.b}))


def make(env_id, seed=0, **config):
    """Factory ``(env_id, seed, **config)``; an unknown config key is a ValueError listing the allowed."""
    return LinearPGAgent(env_id, seed, config_from_kwargs(LinearPGConfig, config, what="linear-pg"))


def load(cfg, arrays, env):
    """Loader ``(config, arrays, env)``: the trained agent again (so ``--resume`` works too)."""
    return LinearPGAgent(cfg["env_id"], cfg["seed"], LinearPGConfig(**cfg["config"]), arrays, cfg["agent_steps"])


# a package exposes it: [project.entry-points."qmarl.agents"] linear-pg = "linear_pg_agent:SPEC"
SPEC = AgentSpec("linear-pg", factory="linear_pg_agent:make", loader="linear_pg_agent:load",
                 description="REINFORCE with a linear softmax policy (the docs/agents.md example)")
