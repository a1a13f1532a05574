"""The qmarl env table and ``make()``; feeds PettingZoo's and Gymnasium's registries.

Every id is registered explicitly (no entry-point scanning): :func:`register` puts an
:class:`EnvSpec` in :data:`registry` and in ``pettingzoo``'s ``"parallel"`` and ``"aec"`` registries;
single-agent ids also go into ``gymnasium``'s registry. ``-vN`` is bumped on any change that can
alter learning results.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import types
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from qmarl_envs.scenarios.base import config_from_kwargs

API_KINDS = ("parallel", "aec")


@dataclass(frozen=True)
class EnvSpec:
    """One registered environment.

    Attributes:
        id: ``qmarl/Name-vN``.
        scenario: ``"module:Class"`` of the :class:`~qmarl_envs.scenarios.base.Scenario`.
        config: ``"module:Class"`` of its frozen config dataclass.
        kwargs: config values of this id (override the config's defaults; users override these).
        description: one line for ``qmarl list`` and the README.
    """

    id: str
    scenario: str
    config: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def load(self, name: str) -> Any:
        """Import ``module:attr`` named by the ``scenario`` or ``config`` field."""
        mod, attr = getattr(self, name).split(":")
        return getattr(importlib.import_module(mod), attr)

    def build_scenario(self, **kwargs: Any):
        """Instantiate the scenario with this id's kwargs updated by ``kwargs``.

        Raises:
            ValueError: for an unknown keyword (the message lists the allowed ones) or a bad value.
        """
        merged = {**self.kwargs, **kwargs}
        cfg = config_from_kwargs(self.load("config"), merged, what=self.id, check_types=True)
        return self.load("scenario")(cfg)

    def config_fields(self) -> list[str]:
        """Names of the keyword arguments this id accepts (besides ``render_mode``)."""
        return [f.name for f in dataclasses.fields(self.load("config")) if f.init]


registry: dict[str, EnvSpec] = {}
"""``{id: EnvSpec}`` of every registered qmarl env, in registration order."""


def list_envs() -> list[str]:
    """Ids of all registered envs, in registration order."""
    return list(registry)


def spec(env_id: str) -> EnvSpec:
    """The :class:`EnvSpec` of ``env_id``.

    Raises:
        ValueError: for an unknown id; the message names the closest registered ids.
    """
    try:
        return registry[env_id]
    except KeyError:
        close = difflib.get_close_matches(env_id, list(registry), n=3, cutoff=0.3)
        if not close:
            tail = env_id.split("/")[-1].lower()
            close = [i for i in registry if tail.split("-")[0] in i.lower()][:3]
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown env id {env_id!r}{hint} (qmarl_envs.list_envs() lists all)") from None


def make(env_id: str, api: str = "parallel", render_mode: str | None = None, **kwargs: Any):
    """Build a registered env.

    Args:
        env_id: a registered id, e.g. ``"qmarl/Jungle-v0"``.
        api: ``"parallel"`` (a PettingZoo ``ParallelEnv``) or ``"aec"`` (an ``AECEnv``).
        render_mode: ``None``, ``"rgb_array"`` or ``"human"``.
        **kwargs: config overrides (``max_cycles``, ``num_agents``, ``layout`` ... per scenario).

    Returns:
        :class:`~qmarl_envs.api.parallel.GridParallelEnv` or :class:`~qmarl_envs.api.aec.GridAECEnv`.

    Raises:
        ValueError: unknown id (names the closest ids), unknown ``api``, unknown keyword (names the
            allowed ones) or a bad value.
    """
    if api not in API_KINDS:
        raise ValueError(f"api: expected one of {API_KINDS}, got {api!r}")
    s = spec(env_id)
    from qmarl_envs.api.parallel import GridParallelEnv

    par = GridParallelEnv(s.build_scenario(**kwargs), env_id=s.id, render_mode=render_mode)
    if api == "parallel":
        return par
    from qmarl_envs.api.aec import GridAECEnv

    return GridAECEnv(par)


def make_gym(env_id: str, render_mode: str | None = None, **kwargs: Any):
    """Build the ``gymnasium.Env`` view of a single-agent id (what ``gymnasium.make`` calls).

    Raises:
        ValueError: as :func:`make`, or if the id has more than one agent.
    """
    from qmarl_envs.api.gym_env import GridGymEnv

    return GridGymEnv(make(env_id, "parallel", render_mode=render_mode, **kwargs))


def env_module(env_id: str) -> types.SimpleNamespace:
    """A PettingZoo-style module object with ``env``, ``raw_env`` and ``parallel_env`` for ``env_id``
    (what ``pettingzoo.test.max_cycles_test`` expects)."""
    spec(env_id)
    return types.SimpleNamespace(
        env=partial(make, env_id, "aec"), raw_env=partial(make, env_id, "aec"),
        parallel_env=partial(make, env_id, "parallel"),
    )


def register(env_spec: EnvSpec, *, single_agent: bool = False) -> None:
    """Add ``env_spec`` to :data:`registry` and to PettingZoo's (and, if ``single_agent``,
    Gymnasium's) registry.

    Raises:
        ValueError: if the id is already registered.
    """
    if env_spec.id in registry:
        raise ValueError(f"env id {env_spec.id!r} is already registered")
    registry[env_spec.id] = env_spec
    import pettingzoo

    for kind in API_KINDS:
        pettingzoo.register(kind, env_spec.id, entry_point=partial(make, env_spec.id, kind))
    if single_agent:
        import gymnasium

        gymnasium.register(id=env_spec.id, entry_point=partial(make_gym, env_spec.id))


def describe(env_id: str) -> dict[str, Any]:
    """A row for ``qmarl list``: id, agents, obs shape, actions, max_cycles, description."""
    s = spec(env_id)
    sc = s.build_scenario()
    return {"id": s.id, "agents": len(sc.agent_ids), "obs_shape": tuple(sc.obs_shape),
            "actions": 5, "max_cycles": sc.max_cycles, "description": s.description}
