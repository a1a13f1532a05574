"""PPO, A2C and DQN from Stable-Baselines3, with one network shared by all agents.

Training runs on :class:`~qmarl_agents.sb3.vec_env.AgentVecEnv` (one SB3 slot per agent) with the
masked buffers of :mod:`qmarl_agents.sb3.buffers`. Checkpoints hold the SB3 policy's
``state_dict`` (and the optimiser state, for ``--resume``) in safetensors and the constructor
arguments in JSON; loading rebuilds the SB3 policy class from those arguments (activation functions
by name from a fixed table) and never unpickles anything. SB3's own ``model.save`` zip is not used.

Algorithms: PPO (Schulman et al. 2017, arXiv:1707.06347), A2C (Mnih et al. 2016,
arXiv:1602.01783), DQN (Mnih et al. 2015, Nature 518:529); implementations are SB3's.

Randomness: ``PPO(..., seed=s)`` etc. seed SB3's generators (SB3 itself seeds Python's, NumPy's and
torch's global RNGs at construction, as it always does); our buffers, DQN exploration and
:meth:`SB3Policy.act_batch` sampling use ``np.random.Generator`` objects derived from the seed.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import KVWriter, Logger
from stable_baselines3.common.utils import obs_as_tensor

from qmarl_agents.torch_utils import (load_optimizer_arrays, load_state_dict_arrays, optimizer_to_arrays,
                                      torch_threads)
from qmarl_agents.base import NUM_ACTIONS, STAY, Agent, BatchPolicy, TrainingCallback, check_batch, check_budget

ACTIVATIONS: tuple[str, ...] = ("tanh", "relu", "elu", "leaky_relu")
"""Activation names a checkpoint may use (mapped to ``torch.nn`` classes by a fixed table)."""


def _activation(name: str):
    import torch.nn as nn

    table = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU}
    try:
        return table[name]
    except (KeyError, TypeError):
        raise ValueError(f"activation: expected one of {list(table)}, got {name!r}") from None


# ---------------------------------------------------------------------------------------- configs
@dataclass(frozen=True, kw_only=True)
class SB3CommonConfig:
    """Fields shared by the three algorithms."""

    n_envs: int = 8
    """Env copies run side by side; SB3 sees ``n_envs * num_agents`` slots."""
    learning_rate: float = 3e-4
    """Optimiser step size (constant)."""
    gamma: float = 0.99
    """Discount factor."""
    net_arch: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the MLP (actor and critic each, or the Q-network)."""
    activation: str = "relu"
    """Hidden activation: one of ``relu``, ``tanh``, ``elu``, ``leaky_relu``. ReLU, not SB3's tanh: the
    CPU torch build computes tanh about 20x slower (measured 4.1 ms against 0.21 ms on an 8000 x 64
    batch, one thread), which halved PPO's end-to-end throughput at 1,000 agents."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this before SB3 sees them (scores stay unscaled)."""
    device: str = "cpu"
    """Torch device (MLP policies train fastest on the CPU)."""
    torch_threads: int | None = 1
    """Torch intra-op threads while training and acting (see :func:`torch_threads`); None: torch's default."""

    def _check_ints(self, *names: str, minimum: int = 1) -> None:
        """Raise ``ValueError`` naming the first field in ``names`` that is not an int >= ``minimum``."""
        for name in names:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
                kind = {0: "a non-negative int", 1: "a positive int"}.get(minimum, f"an int >= {minimum}")
                raise ValueError(f"{name}: expected {kind}, got {v!r}")

    def __post_init__(self) -> None:
        self._check_ints("n_envs")
        if not (self.learning_rate > 0):
            raise ValueError(f"learning_rate: expected > 0, got {self.learning_rate!r}")
        if not (0.0 <= self.gamma <= 1.0):
            raise ValueError(f"gamma: expected a float in [0, 1], got {self.gamma!r}")
        arch = tuple(self.net_arch)
        if not arch or any(isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1 for w in arch):
            raise ValueError(f"net_arch: expected a non-empty sequence of positive ints, got {self.net_arch!r}")
        object.__setattr__(self, "net_arch", tuple(int(w) for w in arch))
        _activation(self.activation)
        if not (self.reward_scale > 0):
            raise ValueError(f"reward_scale: expected > 0, got {self.reward_scale!r}")
        t = self.torch_threads
        if t is not None and (isinstance(t, bool) or not isinstance(t, int) or t < 1):
            raise ValueError(f"torch_threads: expected None or a positive int, got {t!r}")


@dataclass(frozen=True, kw_only=True)
class PPOConfig(SB3CommonConfig):
    """PPO hyperparameters (SB3 names; defaults tuned for small qmarl grids)."""

    n_steps: int = 128
    """Env steps per copy per rollout (a rollout holds ``n_steps * n_envs * N`` transitions)."""
    batch_size: int = 2048
    """Minibatch size in transitions."""
    n_epochs: int = 4
    """Passes over each rollout."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip_range: float = 0.2
    """PPO clipping parameter."""
    ent_coef: float = 0.01
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient."""
    max_grad_norm: float = 0.5
    """Gradient clipping norm."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_ints("n_steps", "batch_size", "n_epochs")


@dataclass(frozen=True, kw_only=True)
class A2CConfig(SB3CommonConfig):
    """A2C hyperparameters (SB3 names)."""

    learning_rate: float = 7e-4
    """Optimiser step size (RMSprop, as SB3's default)."""
    n_steps: int = 8
    """Env steps per copy per update."""
    gae_lambda: float = 1.0
    """GAE lambda (1.0: n-step returns, the classic A2C)."""
    ent_coef: float = 0.01
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient."""
    max_grad_norm: float = 0.5
    """Gradient clipping norm."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_ints("n_steps")


@dataclass(frozen=True, kw_only=True)
class DQNConfig(SB3CommonConfig):
    """DQN hyperparameters (SB3 names)."""

    n_envs: int = 4
    """Env copies run side by side."""
    learning_rate: float = 1e-3
    """Adam step size."""
    buffer_size: int = 100_000
    """Replay buffer capacity in transitions."""
    learning_starts: int = 1_000
    """Agent-steps of uniform random actions before learning starts."""
    batch_size: int = 128
    """Transitions per gradient step."""
    train_freq: int = 4
    """Env steps (per copy) between updates."""
    gradient_steps: int = 1
    """Gradient steps per update."""
    target_update_interval: int = 2_000
    """Agent-steps between target network copies."""
    exploration_fraction: float = 0.3
    """Fraction of the budget over which epsilon decays."""
    exploration_initial_eps: float = 1.0
    """Initial epsilon."""
    exploration_final_eps: float = 0.05
    """Final epsilon (also used by ``act(deterministic=False)``)."""
    max_grad_norm: float = 10.0
    """Gradient clipping norm."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_ints("buffer_size", "batch_size", "train_freq", "gradient_steps", "target_update_interval")
        self._check_ints("learning_starts", minimum=0)
        for name in ("exploration_fraction", "exploration_initial_eps", "exploration_final_eps"):
            v = getattr(self, name)
            if not (0.0 <= v <= 1.0):
                raise ValueError(f"{name}: expected a float in [0, 1], got {v!r}")


CONFIGS: dict[str, type[SB3CommonConfig]] = {"ppo": PPOConfig, "a2c": A2CConfig, "dqn": DQNConfig}
"""Config dataclass of each algorithm name."""


def _config_from(algo: str, values: dict[str, Any]) -> SB3CommonConfig:
    from qmarl_envs.scenarios.base import config_from_kwargs

    values = dict(values)
    if "net_arch" in values and isinstance(values["net_arch"], list):
        values["net_arch"] = tuple(values["net_arch"])
    return config_from_kwargs(CONFIGS[algo], values, what=algo)


# ---------------------------------------------------------------------------------------- policy view
class SB3Policy(BatchPolicy):
    """Inference view of an SB3 policy network (``ActorCriticPolicy`` or ``DQNPolicy``).

    Args:
        module: the SB3 policy ``nn.Module``.
        algo: ``"ppo"``, ``"a2c"`` or ``"dqn"``.
        env_id: the env it was trained on.
        obs_shape: per-agent observation shape.
        seed: seed of the generator used when ``deterministic=False``.
        epsilon: exploration rate of ``act(deterministic=False)`` for DQN.
        config: the checkpoint config (for :meth:`describe`).
    """

    def __init__(self, module, algo: str, env_id: str, obs_shape: tuple[int, ...], *, seed: int | None = None,
                 epsilon: float = 0.05, config: dict[str, Any] | None = None):
        self.module = module
        self.name = algo
        self.env_id = env_id
        self.obs_shape = tuple(obs_shape)
        self.epsilon = float(epsilon)
        self.rng = np.random.default_rng(seed)
        self._config = dict(config or {})
        self.torch_threads = (self._config.get("algo_config") or {}).get("torch_threads", 1)

    def reset(self, seed: int | None = None) -> None:
        """Re-seed the sampling generator (see :meth:`BatchPolicy.reset`)."""
        self.rng = np.random.default_rng(seed)

    def act_batch(self, obs: np.ndarray, alive: np.ndarray | None = None, *,
                  deterministic: bool = True) -> np.ndarray:
        """``int64 (N,)`` actions; greedy, or sampled from the policy (PPO/A2C) / epsilon-greedy (DQN)
        with the policy's own generator. Rows with ``alive`` False get 4 (stay) and are not computed.

        Raises:
            ValueError: if ``obs`` is not ``(N, *obs_shape)`` or ``alive`` is not ``bool (N,)``.
        """
        arr, mask = check_batch(obs, alive, self.obs_shape)
        out = np.full(arr.shape[0], STAY, dtype=np.int64)
        if not mask.any():
            return out
        x = torch.as_tensor(arr[mask] if not mask.all() else arr)
        with torch.no_grad(), torch_threads(self.torch_threads):
            if self.name == "dqn":
                scores = self.module.q_net(x)
            else:
                scores = self.module.get_distribution(x).distribution.logits
        scores = scores.numpy()
        if deterministic:
            acts = scores.argmax(axis=1)
        elif self.name == "dqn":
            acts = scores.argmax(axis=1)
            explore = self.rng.random(acts.shape[0]) < self.epsilon
            acts[explore] = self.rng.integers(0, scores.shape[1], size=int(explore.sum()))
        else:
            z = scores.astype(np.float64) - scores.max(axis=1, keepdims=True)
            p = np.exp(z)
            cdf = np.cumsum(p, axis=1)
            u = self.rng.random(scores.shape[0])[:, None] * cdf[:, -1:]
            acts = np.minimum((cdf < u).sum(axis=1), scores.shape[1] - 1)
        out[mask] = acts
        return out

    def describe(self) -> dict[str, Any]:
        """Name, env id and the checkpoint config (hyperparameters)."""
        return {"agent": self.name, "env_id": self.env_id, **{k: v for k, v in self._config.items()
                                                                if k in ("algo_config", "env_kwargs", "seed", "agent_steps")}}


def _space_dict(space) -> dict[str, Any]:
    return {"shape": list(space.shape), "low": float(np.min(space.low)), "high": float(np.max(space.high)),
            "dtype": str(space.dtype)}


def _space_from(d: dict[str, Any]):
    from gymnasium import spaces

    try:
        shape = tuple(int(s) for s in d["shape"])
        dtype = np.dtype(d.get("dtype", "float32"))
        if dtype.kind != "f":
            raise ValueError(f"dtype {dtype} is not a float type")
        return spaces.Box(low=float(d["low"]), high=float(d["high"]), shape=shape, dtype=dtype)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"checkpoint config: bad observation_space {d!r} ({e})") from None


def _build_module(algo: str, cfg: SB3CommonConfig, obs_space, n_actions: int):
    from gymnasium import spaces

    act_space = spaces.Discrete(n_actions)
    kwargs = {"net_arch": list(cfg.net_arch), "activation_fn": _activation(cfg.activation)}
    if algo == "dqn":
        from stable_baselines3.dqn.policies import DQNPolicy

        return DQNPolicy(obs_space, act_space, lambda _: 0.0, **kwargs)
    from stable_baselines3.common.policies import ActorCriticPolicy

    return ActorCriticPolicy(obs_space, act_space, lambda _: 0.0, **kwargs)


def load_sb3_policy(config: dict[str, Any], arrays: dict[str, np.ndarray], env=None) -> SB3Policy:
    """Rebuild an SB3 policy from a checkpoint (registry loader of ``ppo``, ``a2c``, ``dqn``).

    Args:
        config: the checkpoint's JSON config.
        arrays: its safetensors arrays (``policy/*``; ``optim/*`` are ignored).
        env: optional env the policy will act in; its observation shape must match.

    Raises:
        ValueError: unknown algorithm or activation, bad spaces, weights that do not fit the
            architecture, or an env whose observation shape differs.
    """
    algo = config.get("agent")
    if algo not in CONFIGS:
        raise ValueError(f"checkpoint config: agent {algo!r} is not an SB3 agent ({list(CONFIGS)})")
    cfg = _config_from(algo, config.get("algo_config", {}))
    obs_space = _space_from(config.get("observation_space", {}))
    n_actions = int(config.get("n_actions", NUM_ACTIONS))
    if env is not None:
        base = getattr(env, "unwrapped", env)
        shape = tuple(base.observation_space(base.possible_agents[0]).shape)
        if shape != obs_space.shape:
            raise ValueError(f"checkpoint expects observations of shape {obs_space.shape}, env "
                             f"{getattr(base, 'env_id', '?')} gives {shape}")
    module = _build_module(algo, cfg, obs_space, n_actions)
    load_state_dict_arrays(module, arrays, "policy/", where=f"{algo} checkpoint")
    module.set_training_mode(False)
    eps = getattr(cfg, "exploration_final_eps", 0.05)
    return SB3Policy(module, algo, config["env_id"], obs_space.shape, seed=config.get("seed"), epsilon=eps,
                     config=config)


# ---------------------------------------------------------------------------------------- agent
class SB3Agent(Agent):
    """A trainable SB3 agent on :class:`~qmarl_agents.sb3.vec_env.AgentVecEnv` (what
    ``make_agent("ppo" | "a2c" | "dqn", ...)`` returns).

    Args:
        algo: ``"ppo"``, ``"a2c"`` or ``"dqn"``.
        env_id: qmarl env id.
        seed: seeds SB3, the env copies (copy ``k`` gets ``seed + k``) and our generators.
        config: the algorithm's config dataclass.
        env_kwargs: env config overrides.

    Raises:
        ValueError: unknown ``algo``, env id or env kwargs, or agents with different spaces.
    """

    ALGOS: ClassVar[tuple[str, ...]] = ("ppo", "a2c", "dqn")

    def __init__(self, algo: str, env_id: str, seed: int | None, config: SB3CommonConfig,
                 env_kwargs: dict[str, Any] | None = None):
        if algo not in self.ALGOS:
            raise ValueError(f"algo: expected one of {self.ALGOS}, got {algo!r}")
        from qmarl_agents.sb3.vec_env import AgentVecEnv

        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed: expected None or a non-negative int, got {seed!r}")
        self.name = algo
        self.env_id = env_id
        self.seed = None if seed is None else int(seed)
        self.config = config
        self.env_kwargs = dict(env_kwargs or {})
        self.venv = AgentVecEnv(env_id, config.n_envs, self.env_kwargs, reward_scale=config.reward_scale)
        with torch_threads(config.torch_threads):  # initialisation (QR for orthogonal init) too
            self.model = self._build_model()
        self.wall_clock_s = 0.0
        self._view: SB3Policy | None = None

    def _build_model(self):
        from qmarl_agents.sb3.buffers import MaskedReplayBuffer, MaskedRolloutBuffer

        c = self.config
        policy_kwargs = {"net_arch": list(c.net_arch), "activation_fn": _activation(c.activation)}
        common = {"learning_rate": c.learning_rate, "gamma": c.gamma, "policy_kwargs": policy_kwargs,
                  "seed": self.seed, "device": c.device, "verbose": 0}
        if self.name in ("ppo", "a2c"):
            buf = {"rollout_buffer_class": MaskedRolloutBuffer,
                   "rollout_buffer_kwargs": {"vec_env": self.venv, "seed": self.seed}}
            if self.name == "ppo":
                batch = min(c.batch_size, c.n_steps * self.venv.num_envs)
                with warnings.catch_warnings():
                    # SB3 warns when batch_size does not divide the rollout; our masked buffer draws
                    # minibatches from the live transitions only, whose number varies anyway
                    warnings.filterwarnings("ignore", message="You have specified a mini-batch size")
                    return _QmarlPPO("MlpPolicy", self.venv, n_steps=c.n_steps, batch_size=batch,
                                     n_epochs=c.n_epochs, gae_lambda=c.gae_lambda, clip_range=c.clip_range,
                                     ent_coef=c.ent_coef, vf_coef=c.vf_coef, max_grad_norm=c.max_grad_norm,
                                     **buf, **common)
            return _QmarlA2C("MlpPolicy", self.venv, n_steps=c.n_steps, gae_lambda=c.gae_lambda, ent_coef=c.ent_coef,
                       vf_coef=c.vf_coef, max_grad_norm=c.max_grad_norm, **buf, **common)
        return _QmarlDQN("MlpPolicy", self.venv, buffer_size=c.buffer_size, learning_starts=c.learning_starts,
                         batch_size=c.batch_size, train_freq=c.train_freq, gradient_steps=c.gradient_steps,
                         target_update_interval=c.target_update_interval,
                         exploration_fraction=c.exploration_fraction,
                         exploration_initial_eps=c.exploration_initial_eps,
                         exploration_final_eps=c.exploration_final_eps, max_grad_norm=c.max_grad_norm,
                         replay_buffer_class=MaskedReplayBuffer,
                         replay_buffer_kwargs={"vec_env": self.venv, "seed": self.seed}, **common)

    # ------------------------------------------------------------------ training
    @property
    def agent_steps(self) -> int:  # type: ignore[override]
        """Agent-steps trained so far (SB3's ``num_timesteps``: one per slot per env step)."""
        return int(self.model.num_timesteps)

    @property
    def live_agent_steps(self) -> int:  # type: ignore[override]
        """Agent-steps of live agents among :attr:`agent_steps` (real transitions, see docs/agents.md)."""
        return int(self.venv.live_agent_steps)

    def learn(self, total_agent_steps: int, *, callback: TrainingCallback | None = None) -> "SB3Agent":
        """Train until ``total_agent_steps`` agent-steps in all (rounded up to whole PPO/A2C rollouts).

        Raises:
            ValueError: if ``total_agent_steps`` is not a positive int.
        """
        total = check_budget(total_agent_steps)
        remaining = total - self.agent_steps
        if remaining <= 0:
            return self
        bridge = _Bridge(callback, self.venv, dump_every=None if self.name != "dqn" else
                         max(1000, self.venv.num_envs * 100))
        self.model.set_logger(Logger(folder=None, output_formats=[_MetricsWriter(callback)]))
        t0 = time.perf_counter()
        try:
            with torch_threads(self.config.torch_threads):
                self.model.learn(total_timesteps=remaining, callback=bridge, reset_num_timesteps=False,
                                 log_interval=1 if self.name != "dqn" else None)
        finally:
            self.wall_clock_s += time.perf_counter() - t0
        return self

    # ------------------------------------------------------------------ acting
    def _policy_view(self) -> SB3Policy:
        if self._view is None:
            eps = getattr(self.config, "exploration_final_eps", 0.05)
            self._view = SB3Policy(self.model.policy, self.name, self.env_id,
                                   tuple(self.venv.observation_space.shape), seed=self.seed, epsilon=eps,
                                   config=self.checkpoint_config())
        return self._view

    def act_batch(self, obs: np.ndarray, alive: np.ndarray | None = None, *,
                  deterministic: bool = True) -> np.ndarray:
        """See :meth:`SB3Policy.act_batch`."""
        self.model.policy.set_training_mode(False)
        with torch_threads(self.config.torch_threads):
            return self._policy_view().act_batch(obs, alive, deterministic=deterministic)

    def reset(self, seed: int | None = None) -> None:
        """Re-seed the sampling generator of :meth:`act_batch`."""
        self._policy_view().reset(seed)

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_config(self) -> dict[str, Any]:
        """The JSON config of a checkpoint (constructor arguments, spaces, progress)."""
        import stable_baselines3

        return {
            "agent": self.name, "env_id": self.env_id, "env_kwargs": self.env_kwargs, "seed": self.seed,
            "agent_steps": self.agent_steps, "live_agent_steps": int(self.venv.live_agent_steps),
            "wall_clock_s": round(self.wall_clock_s, 3),
            "algo_config": dataclasses.asdict(self.config),
            "policy_class": "DQNPolicy" if self.name == "dqn" else "ActorCriticPolicy",
            "observation_space": _space_dict(self.venv.observation_space),
            "n_actions": int(self.venv.action_space.n),
            "versions": {"stable_baselines3": stable_baselines3.__version__, "torch": torch.__version__},
        }

    def save(self, path: str) -> str:
        """Write the policy weights, optimiser state and config (atomically); returns ``path``."""
        from qmarl_agents.checkpoint import save_checkpoint

        arrays = {f"policy/{k}": v.detach().cpu().numpy() for k, v in self.model.policy.state_dict().items()}
        opt_arrays, groups = optimizer_to_arrays(self.model.policy.optimizer)
        arrays.update(opt_arrays)
        cfg = self.checkpoint_config()
        cfg["resume"] = {"num_timesteps": int(self.model.num_timesteps), "n_updates": int(self.model._n_updates),
                         "optimizer_param_groups": groups,
                         "n_calls": int(getattr(self.model, "_n_calls", 0))}
        return str(save_checkpoint(path, cfg, arrays))

    @classmethod
    def from_checkpoint(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> "SB3Agent":
        """Rebuild a trainable agent (weights, optimiser state, step counter) to resume training.

        The DQN replay buffer is not saved: a resumed DQN refills it (without a new warm-up).

        Raises:
            ValueError: as :func:`load_sb3_policy`.
        """
        algo = config.get("agent")
        if algo not in CONFIGS:
            raise ValueError(f"checkpoint config: agent {algo!r} is not an SB3 agent ({list(CONFIGS)})")
        cfg = _config_from(algo, config.get("algo_config", {}))
        agent = cls(algo, config["env_id"], config.get("seed"), cfg, config.get("env_kwargs"))
        module = agent.model.policy
        load_state_dict_arrays(module, arrays, "policy/", where=f"{algo} checkpoint")
        resume = config.get("resume") or {}
        if resume.get("optimizer_param_groups"):
            load_optimizer_arrays(module.optimizer, arrays, resume["optimizer_param_groups"])
        agent.model.num_timesteps = int(resume.get("num_timesteps", config.get("agent_steps", 0)))
        agent.model._n_updates = int(resume.get("n_updates", 0))
        if algo == "dqn":
            agent.model._n_calls = int(resume.get("n_calls", 0))
            agent.model.learning_starts = 0
        agent.venv.live_agent_steps = int(config.get("live_agent_steps", 0))
        agent.wall_clock_s = float(config.get("wall_clock_s", 0.0))
        return agent

    def describe(self) -> dict[str, Any]:
        """Name, env id and hyperparameters."""
        return {"agent": self.name, "env_id": self.env_id, "seed": self.seed,
                "algo_config": dataclasses.asdict(self.config), "env_kwargs": self.env_kwargs}


# ---------------------------------------------------------------------------------------- SB3 glue
class _Bridge(BaseCallback):
    """Forwards SB3 steps and finished env episodes to a :class:`TrainingCallback`; for DQN it also
    dumps SB3's log records every ``dump_every`` agent-steps (SB3 logs DQN per finished episode,
    which with hundreds of agents ending together means hundreds of dumps in one step)."""

    def __init__(self, callback: TrainingCallback | None, venv, dump_every: int | None):
        super().__init__(verbose=0)
        self.cb, self.venv, self.dump_every = callback, venv, dump_every
        self._next_dump = 0

    def _on_step(self) -> bool:
        steps = int(self.model.num_timesteps)
        summaries = self.venv.pop_episode_summaries()
        if self.cb is None:
            return True
        for s in summaries:
            self.cb.on_episode(steps, s)
        if self.dump_every is not None and steps >= self._next_dump:
            self._next_dump = steps + self.dump_every
            if steps > 0:
                self.model.logger.dump(step=steps)
        return self.cb.on_steps(steps) is not False


class _MetricsWriter(KVWriter):
    """SB3 logger output that hands numeric records to :meth:`TrainingCallback.on_metrics`."""

    def __init__(self, callback: TrainingCallback | None):
        self.cb = callback

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0) -> None:
        """Forward the numeric values of one SB3 log dump (``step`` = agent-steps)."""
        if self.cb is None:
            return
        metrics = {k: float(v) for k, v in key_values.items()
                   if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)}
        if metrics:
            self.cb.on_metrics(int(step), metrics)

    def close(self) -> None:
        """Nothing to close."""


class _BatchedTimeouts:
    """On-policy mixin: SB3's ``collect_rollouts`` with the truncation bootstrap done in one batch.

    SB3 adds ``gamma * V(terminal_observation)`` to the reward of every truncated slot with one
    ``predict_values`` call per slot; at ``max_cycles`` of a 1,000-agent env that is 1,000 separate
    forward passes. This is the same computation as one batched forward pass. Everything else is
    SB3 2.x's ``OnPolicyAlgorithm.collect_rollouts`` (discrete actions, no gSDE).
    """

    def collect_rollouts(self, env, callback, rollout_buffer, n_rollout_steps: int) -> bool:
        """Fill ``rollout_buffer`` with ``n_rollout_steps`` env steps (SB3's signature and return)."""
        assert self._last_obs is not None, "No previous observation was provided"
        self.policy.set_training_mode(False)
        n_steps = 0
        rollout_buffer.reset()
        callback.on_rollout_start()
        while n_steps < n_rollout_steps:
            with torch.no_grad():
                obs_tensor = obs_as_tensor(self._last_obs, self.device)
                actions, values, log_probs = self.policy(obs_tensor)
            actions = actions.cpu().numpy()
            new_obs, rewards, dones, infos = env.step(actions)
            self.num_timesteps += env.num_envs
            callback.update_locals(locals())
            if not callback.on_step():
                return False
            self._update_info_buffer(infos, dones)
            n_steps += 1
            actions = actions.reshape(-1, 1)
            cut = [i for i in np.flatnonzero(dones).tolist()
                   if infos[i].get("TimeLimit.truncated", False) and infos[i].get("terminal_observation") is not None]
            if cut:
                terminal = np.stack([infos[i]["terminal_observation"] for i in cut])
                with torch.no_grad():
                    terminal_values = self.policy.predict_values(obs_as_tensor(terminal, self.device))
                rewards[cut] += self.gamma * terminal_values.cpu().numpy().reshape(-1)
            rollout_buffer.add(self._last_obs, actions, rewards, self._last_episode_starts, values, log_probs)
            self._last_obs = new_obs
            self._last_episode_starts = dones
        with torch.no_grad():
            values = self.policy.predict_values(obs_as_tensor(new_obs, self.device))
        rollout_buffer.compute_returns_and_advantage(last_values=values, dones=dones)
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True


class _QmarlPPO(_BatchedTimeouts, PPO):
    """SB3 PPO with batched truncation bootstrapping (see :class:`_BatchedTimeouts`)."""


class _QmarlA2C(_BatchedTimeouts, A2C):
    """SB3 A2C with batched truncation bootstrapping (see :class:`_BatchedTimeouts`)."""


class _QmarlDQN(DQN):
    """SB3 DQN with per-slot epsilon-greedy exploration from a seeded generator (SB3's explores all
    slots together, drawing from NumPy's global RNG)."""

    def _setup_model(self) -> None:
        super()._setup_model()
        self._explore_rng = np.random.default_rng(self.seed)

    def _sample_action(self, learning_starts: int, action_noise=None, n_envs: int = 1):
        n = int(self.action_space.n)
        if self.num_timesteps < learning_starts:
            action = self._explore_rng.integers(0, n, size=n_envs)
        else:
            action, _ = self.policy.predict(self._last_obs, deterministic=True)
            explore = self._explore_rng.random(n_envs) < self.exploration_rate
            action = np.where(explore, self._explore_rng.integers(0, n, size=n_envs), action)
        return action, action


# ---------------------------------------------------------------------------------------- factories
def _make(algo: str, env_id: str | None, seed: int | None, config: dict[str, Any]) -> SB3Agent:
    config = dict(config)
    env_kwargs = config.pop("env_kwargs", None)
    if env_kwargs is not None and not isinstance(env_kwargs, dict):
        raise ValueError(f"env_kwargs: expected a dict, got {type(env_kwargs).__name__}")
    return SB3Agent(algo, env_id, seed, _config_from(algo, config), env_kwargs)


def make_ppo(env_id: str | None, seed: int | None = 0, **config: Any) -> SB3Agent:
    """Registry factory of ``"ppo"`` (fields: :class:`PPOConfig`, plus ``env_kwargs``)."""
    return _make("ppo", env_id, seed, config)


def make_a2c(env_id: str | None, seed: int | None = 0, **config: Any) -> SB3Agent:
    """Registry factory of ``"a2c"`` (fields: :class:`A2CConfig`, plus ``env_kwargs``)."""
    return _make("a2c", env_id, seed, config)


def make_dqn(env_id: str | None, seed: int | None = 0, **config: Any) -> SB3Agent:
    """Registry factory of ``"dqn"`` (fields: :class:`DQNConfig`, plus ``env_kwargs``)."""
    return _make("dqn", env_id, seed, config)


def resume_sb3_agent(config: dict[str, Any], arrays: dict[str, np.ndarray]) -> SB3Agent:
    """Registry resumer of the SB3 agents (see :meth:`SB3Agent.from_checkpoint`)."""
    return SB3Agent.from_checkpoint(config, arrays)
