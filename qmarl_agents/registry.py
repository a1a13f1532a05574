"""The agent registry: ``make_agent``, ``load_policy`` and ``resolve_policy``.

Every agent is one :class:`AgentSpec` naming (as ``"module:attr"`` strings, imported only when
used, so ``import qmarl_agents`` stays free of torch) a factory that builds a trainable
:class:`~qmarl_agents.base.Agent` and a loader that rebuilds a policy from a checkpoint. New agents
(the quantum ones) call :func:`register_agent` and then work in ``qmarl train``/``evaluate`` and the
leaderboard unchanged.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qmarl_agents.base import Agent, BatchPolicy


@dataclass(frozen=True)
class AgentSpec:
    """One registered agent.

    Attributes:
        name: registry name, e.g. ``"ppo"``.
        factory: ``"module:attr"`` of ``f(env_id: str | None, seed: int | None, **config) -> Agent``;
            it must reject unknown config keys with a ValueError listing the allowed ones.
        loader: ``"module:attr"`` of ``f(config: dict, arrays: dict[str, ndarray], env) -> BatchPolicy``
            rebuilding a policy from a checkpoint (``env`` may be None).
        description: one line for ``qmarl train --help`` and the docs.
        needs_env_id: whether :func:`make_agent` requires ``env_id``.
        resumer: optional ``"module:attr"`` of ``f(config, arrays) -> Agent`` rebuilding a *trainable*
            agent from a checkpoint (``qmarl train --resume``); without it the loader's result must
            itself be an :class:`~qmarl_agents.base.Agent`.
        supports_workers: whether the agent trains data-parallel over ``qmarl train --workers K``
            (its ``learn`` broadcasts rank 0's parameters and averages gradients with
            :mod:`qmarl_agents.distributed`); agents without it reject ``--workers`` > 1.
        gymnasium_envs: whether the agent also trains on registered single-agent Gymnasium ids
            (e.g. ``"CartPole-v1"``); :func:`make_agent` and ``qmarl train`` then accept them
            (:func:`env_kind`). Agents without it take qmarl ids only.
    """

    name: str
    factory: str
    loader: str
    description: str = ""
    needs_env_id: bool = True
    resumer: str | None = None
    supports_workers: bool = False
    gymnasium_envs: bool = False

    def _load(self, field: str):
        mod, attr = getattr(self, field).split(":")
        return getattr(importlib.import_module(mod), attr)


_AGENTS: dict[str, AgentSpec] = {}


def register_agent(spec: AgentSpec) -> None:
    """Add an agent to the registry.

    Raises:
        ValueError: if the name is taken or a ``factory``/``loader`` string is not ``"module:attr"``.
    """
    if spec.name in _AGENTS:
        raise ValueError(f"agent {spec.name!r} is already registered")
    for field in ("factory", "loader", "resumer"):
        value = getattr(spec, field)
        if (value is not None or field != "resumer") and (not isinstance(value, str) or value.count(":") != 1):
            raise ValueError(f"{field}: expected 'module:attr', got {getattr(spec, field)!r}")
    _AGENTS[spec.name] = spec


def list_agents() -> list[str]:
    """Names of the registered agents, in registration order."""
    return list(_AGENTS)


def agent_spec(name: str) -> AgentSpec:
    """The :class:`AgentSpec` of ``name``.

    Raises:
        ValueError: for an unknown name; the message lists the available ones.
    """
    try:
        return _AGENTS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown agent {name!r}; available: {', '.join(_AGENTS)}") from None


def env_kind(env_id: str, agent: str | None = None) -> str:
    """What kind of env ``env_id`` names, for ``agent``: ``"qmarl"`` or ``"gymnasium"``.

    A registered qmarl id is ``"qmarl"``. Any other id is ``"gymnasium"`` when ``agent``'s
    :class:`AgentSpec` has ``gymnasium_envs`` and the id is in Gymnasium's registry
    (``gymnasium.envs.registry``; nothing is built here).

    Raises:
        ValueError: for an id that is neither (the message names the closest qmarl ids and, for an
            agent with ``gymnasium_envs``, the closest Gymnasium ids), or an unknown ``agent``.
    """
    import qmarl_envs

    if not isinstance(env_id, str):
        raise ValueError(f"env_id: expected a string, got {env_id!r}")
    gym_ok = agent is not None and agent_spec(agent).gymnasium_envs
    try:
        qmarl_envs.spec(env_id)
        return "qmarl"
    except ValueError as e:
        if not gym_ok or env_id.startswith("qmarl/"):
            raise
        qmarl_error = str(e)
    import difflib

    import gymnasium

    if env_id in gymnasium.envs.registry:
        return "gymnasium"
    close = difflib.get_close_matches(env_id, list(gymnasium.envs.registry), n=3, cutoff=0.6)
    hint = f" (close: {', '.join(map(repr, close))})" if close else ""
    raise ValueError(f"env_id: {env_id!r} is not a registered Gymnasium id{hint}, which agent {agent!r} also "
                     f"takes, nor a qmarl id: {qmarl_error}")


def make_agent(name: str, env_id: str | None = None, seed: int | None = 0, **config: Any) -> Agent:
    """Build a registered agent, ready to ``learn``, ``save`` and ``act``.

    Args:
        name: ``"ppo"``, ``"a2c"``, ``"dqn"``, ``"random"``, ``"scripted"`` or any registered name
            (:func:`list_agents`).
        env_id: the env to train on (required by trainable agents), e.g. ``"qmarl/Jungle-v0"``;
            agents with ``gymnasium_envs`` also take Gymnasium ids, e.g. ``"CartPole-v1"``
            (:func:`env_kind`).
        seed: seeds the agent's generators and its training envs; the same seed gives the same
            result in a new process.
        **config: agent hyperparameters (the agent's config dataclass lists them) and
            ``env_kwargs={...}`` (config overrides of the env, e.g. ``max_cycles``).

    Returns:
        an :class:`~qmarl_agents.base.Agent`.

    Raises:
        ValueError: unknown agent (lists the available names), missing or unknown ``env_id``,
            unknown config key (lists the allowed ones) or a bad value.
    """
    spec = agent_spec(name)
    if env_id is not None:
        env_kind(env_id, name)  # raises ValueError naming close ids
    elif spec.needs_env_id:
        raise ValueError(f"env_id: agent {name!r} needs an env id, e.g. env_id='qmarl/Jungle-v0'")
    return spec._load("factory")(env_id=env_id, seed=seed, **config)


def load_policy(path: str | os.PathLike, env=None, *, env_id: str | None = None) -> BatchPolicy:
    """Load a policy from a checkpoint directory (never unpickles or executes code from it).

    Args:
        path: a directory written by ``agent.save`` (``config.json`` + ``model.safetensors``).
        env: optional env to use the policy in; its id must match the checkpoint's, and
            env-bound policies (``scripted``) are bound to it.
        env_id: optional id the checkpoint must have been made for.

    Returns:
        a :class:`~qmarl_agents.base.BatchPolicy` (``act`` and ``act_batch``).

    Raises:
        FileNotFoundError: if there is no checkpoint at ``path``.
        ValueError: if the files are not a valid qmarl checkpoint, the agent is not registered, the
            env id differs, or the stored architecture does not match the weights or the env.
    """
    from qmarl_agents.checkpoint import load_checkpoint

    if env is not None:
        env_id_of_env = getattr(getattr(env, "unwrapped", env), "env_id", None)
        if env_id is not None and env_id_of_env != env_id:
            raise ValueError(f"env_id {env_id!r} and env ({env_id_of_env!r}) disagree")
        env_id = env_id_of_env
    config, arrays = load_checkpoint(path, env_id=env_id)
    spec = agent_spec(config["agent"])
    return spec._load("loader")(config, arrays, env)


def load_agent(path: str | os.PathLike) -> Agent:
    """Rebuild a trainable agent from a checkpoint, to continue training (``qmarl train --resume``).

    Raises:
        FileNotFoundError: if there is no checkpoint at ``path``.
        ValueError: as :func:`load_policy`, or if the agent cannot resume.
    """
    from qmarl_agents.checkpoint import load_checkpoint

    config, arrays = load_checkpoint(path)
    spec = agent_spec(config["agent"])
    if spec.resumer is not None:
        return spec._load("resumer")(config, arrays)
    agent = spec._load("loader")(config, arrays, None)
    if not isinstance(agent, Agent):
        raise ValueError(f"agent {spec.name!r} cannot resume training from a checkpoint")
    return agent


BUILTIN_SPECS = ("random", "scripted")
"""Policy specs that :func:`resolve_policy` accepts besides checkpoint directories."""


def resolve_policy(spec: str, env, *, seed: int | None = 0) -> BatchPolicy:
    """A policy for ``env`` from a command-line style spec (what ``qmarl play`` and ``evaluate`` take).

    Args:
        spec: ``"random"``, ``"scripted"`` (bound to ``env``) or a checkpoint directory.
        env: the qmarl env (parallel or AEC) the policy will act in.
        seed: seed of the random/scripted policy's generator.

    Returns:
        a :class:`~qmarl_agents.base.BatchPolicy`.

    Raises:
        ValueError: for a spec that is neither a built-in name nor a checkpoint directory, or a
            checkpoint that does not fit ``env`` (see :func:`load_policy`).
    """
    from qmarl_agents.baselines import RandomPolicy, ScriptedPolicy

    if not isinstance(spec, (str, os.PathLike)):
        raise ValueError(f"policy: expected a checkpoint dir, 'random' or 'scripted', got {spec!r}")
    env_id = getattr(getattr(env, "unwrapped", env), "env_id", None)
    if spec == "random":
        return RandomPolicy(seed=seed, env_id=env_id)
    if spec == "scripted":
        return ScriptedPolicy(env, seed=seed)
    if not Path(spec).is_dir():
        raise ValueError(f"policy: {str(spec)!r} is neither {' nor '.join(map(repr, BUILTIN_SPECS))} "
                         "nor a checkpoint directory")
    return load_policy(spec, env)


def _register_builtin() -> None:
    base = "qmarl_agents"
    register_agent(AgentSpec("ppo", f"{base}.sb3.agent:make_ppo", f"{base}.sb3.agent:load_sb3_policy",
                             "PPO (Stable-Baselines3), one policy shared by all agents",
                             resumer=f"{base}.sb3.agent:resume_sb3_agent"))
    register_agent(AgentSpec("a2c", f"{base}.sb3.agent:make_a2c", f"{base}.sb3.agent:load_sb3_policy",
                             "A2C (Stable-Baselines3), one policy shared by all agents",
                             resumer=f"{base}.sb3.agent:resume_sb3_agent"))
    register_agent(AgentSpec("dqn", f"{base}.sb3.agent:make_dqn", f"{base}.sb3.agent:load_sb3_policy",
                             "DQN (Stable-Baselines3), one Q-network shared by all agents",
                             resumer=f"{base}.sb3.agent:resume_sb3_agent"))
    register_agent(AgentSpec("random", f"{base}.registry:_make_random",
                             f"{base}.registry:_load_random",
                             "uniform random actions", needs_env_id=False))
    register_agent(AgentSpec("scripted", f"{base}.registry:_make_scripted",
                             f"{base}.registry:_load_scripted",
                             "the scenario's scripted heuristic (bound to an env)"))
    # quantum-inspired agents (one register_agent line each):
    # [agent:qbm]
    register_agent(AgentSpec("qbm", f"{base}.qbm.agent:make_qbm", f"{base}.qbm.agent:load_qbm",
                             "QBM: free-energy Q-learning with a (quantum) Boltzmann machine",
                             resumer=f"{base}.qbm.agent:resume_qbm"))
    # [agent:quantum-train]
    register_agent(AgentSpec("quantum-train", f"{base}.quantum_train.agent:make_quantum_train", f"{base}.quantum_train.agent:load_qt_policy", "Quantum-Train: a PennyLane circuit generates the policy weights (QTRL, REINFORCE)", resumer=f"{base}.quantum_train.agent:resume_qt_agent",
                             supports_workers=True, gymnasium_envs=True))
    # [agent:qmarl]
    register_agent(AgentSpec("qmarl", f"{base}.qmarl.agent:make_qmarl", f"{base}.qmarl.agent:load_qmarl_policy",
                             "Q-MARL: ego-graph message passing, actor-critic, ensembling (arXiv 2503.07397)",
                             resumer=f"{base}.qmarl.agent:resume_qmarl_agent", supports_workers=True))


def _no_config(name: str, config: dict, allowed: tuple[str, ...] = ()) -> None:
    unknown = sorted(set(config) - set(allowed))
    if unknown:
        raise ValueError(f"{name}: unknown config key(s) {unknown}; allowed: {sorted(allowed)}")


def _make_random(env_id: str | None, seed: int | None, **config: Any) -> Agent:
    from qmarl_agents.baselines import RandomPolicy

    _no_config("random", config, ("env_kwargs",))
    return RandomPolicy(seed=seed, env_id=env_id)


def _make_scripted(env_id: str | None, seed: int | None, **config: Any) -> Agent:
    from qmarl_agents.baselines import ScriptedPolicy

    _no_config("scripted", config, ("env", "env_kwargs"))
    return ScriptedPolicy(config.get("env"), seed=seed, env_id=env_id)


def _load_random(config: dict, arrays: dict, env) -> BatchPolicy:
    from qmarl_agents.baselines import RandomPolicy

    return RandomPolicy.from_checkpoint(config, arrays, env)


def _load_scripted(config: dict, arrays: dict, env) -> BatchPolicy:
    from qmarl_agents.baselines import ScriptedPolicy

    return ScriptedPolicy.from_checkpoint(config, arrays, env)


_register_builtin()


ENTRY_POINT_GROUP = "qmarl.agents"
"""Entry-point group through which installed packages add agents; each entry point resolves to an
:class:`AgentSpec` (e.g. ``[project.entry-points."qmarl.agents"] my-agent = "my_pkg.agent:SPEC"``)."""


def load_plugins(entry_points=None) -> list[str]:
    """Register the agents of installed packages (entry-point group :data:`ENTRY_POINT_GROUP`).

    Called once when :mod:`qmarl_agents` is imported. Only the entry point's module is imported (an
    :class:`AgentSpec` names its factory and loader as strings, so a plugin that follows the pattern
    adds no torch import). A broken plugin never breaks the built-in agents: an import error, an
    object that is not an :class:`AgentSpec`, or a name already taken gives a ``RuntimeWarning``
    naming the entry point, and the plugin is skipped.

    Args:
        entry_points: the entry points to load (default: the installed ones of the group).

    Returns:
        the names of the agents registered by this call.
    """
    import warnings
    from importlib.metadata import entry_points as _installed

    eps = _installed(group=ENTRY_POINT_GROUP) if entry_points is None else entry_points
    added = []
    for ep in eps:
        where = f"{ENTRY_POINT_GROUP} entry point {ep.name!r} ({ep.value})"
        try:
            spec = ep.load()
        except Exception as e:  # noqa: BLE001 - any failure of third-party code is reported, not raised
            warnings.warn(f"{where}: could not be loaded ({type(e).__name__}: {e}); skipped", RuntimeWarning,
                          stacklevel=2)
            continue
        if not isinstance(spec, AgentSpec):
            warnings.warn(f"{where}: expected a qmarl_agents.AgentSpec, got {type(spec).__name__}; skipped",
                          RuntimeWarning, stacklevel=2)
            continue
        try:
            register_agent(spec)
        except ValueError as e:
            warnings.warn(f"{where}: {e}; skipped", RuntimeWarning, stacklevel=2)
            continue
        added.append(spec.name)
    return added


load_plugins()
