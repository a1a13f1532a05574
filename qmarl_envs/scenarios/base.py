"""The contract between a scenario (rules on arrays) and the API adapters.

A scenario owns its frozen config dataclass and the rules of one game. It reads and writes a
:class:`~qmarl_envs.core.state.GridState`, and exposes ``N`` *agents* (the entities a learner
controls) out of ``M >= N`` *entities* (built-in opponents included). It knows nothing of
PettingZoo, dicts, seeding policy or drawing; :mod:`qmarl_envs.api` adds those.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from qmarl_envs.core.state import GridState


def _field_kinds(config_cls: type) -> dict[str, tuple[set[type], bool]]:
    """``{field: (scalar types, None allowed)}`` for the fields annotated with ``int``, ``float``,
    ``bool`` or ``str`` (optionally ``| None``); other annotations are left to the config itself."""
    hints = typing.get_type_hints(config_cls)
    out = {}
    for f in dataclasses.fields(config_cls):
        hint = hints.get(f.name)
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union else (hint,)
        kinds = {a for a in args if a in (int, float, bool, str)}
        if kinds and all(a in (int, float, bool, str, type(None)) for a in args):
            out[f.name] = (kinds, type(None) in args)
    return out


def check_field_types(config_cls: type, kwargs: dict[str, Any], *, what: str) -> None:
    """Reject values of the wrong kind for a config's scalar fields, before the config is built.

    The rule, from each field's annotation: an ``int`` field takes an integer (Python or NumPy),
    never a ``bool``; a ``float`` field takes a finite real number (ints included), never a
    ``bool``, NaN or infinity; a ``bool`` field takes a bool; a ``str`` field a string; ``None``
    only where the annotation allows it. Ranges and cross-field rules stay in the config's own
    ``__post_init__``.

    Args:
        config_cls: a dataclass type whose fields are annotated.
        kwargs: user keyword arguments (defaults are not checked).
        what: name used in the error message (the env id).

    Raises:
        ValueError: naming the field, the expected kind and the value given.
    """
    kinds = _field_kinds(config_cls)
    for name, value in kwargs.items():
        if name not in kinds:
            continue
        allowed, optional = kinds[name]
        if value is None:
            if optional:
                continue
            ok = False
        elif isinstance(value, (bool, np.bool_)):
            ok = bool in allowed
        elif isinstance(value, (int, np.integer)):
            ok = bool(allowed & {int, float})
        elif isinstance(value, (float, np.floating)):
            ok = float in allowed and math.isfinite(float(value))
        elif isinstance(value, str):
            ok = str in allowed
        else:
            ok = False
        if not ok:
            names = {int: "an int (not a bool)", float: "a finite number (not a bool)", bool: "a bool",
                     str: "a string"}
            expected = " or ".join(names[k] for k in (int, float, bool, str) if k in allowed)
            if float in allowed:
                expected = names[float]
            if optional:
                expected += " or None"
            raise ValueError(f"{what}: {name}: expected {expected}, got {value!r}")


def config_from_kwargs(config_cls: type, kwargs: dict[str, Any], *, what: str,
                       check_types: bool = False):
    """Build a frozen config dataclass from keyword arguments, rejecting unknown names.

    Args:
        config_cls: a dataclass type.
        kwargs: user keyword arguments.
        what: name used in the error message (the env id or scenario name).
        check_types: also apply :func:`check_field_types` (every scenario config does, through
            :func:`qmarl_envs.make`).

    Returns:
        an instance of ``config_cls``.

    Raises:
        ValueError: if a keyword is not a field of ``config_cls`` (the message lists the allowed
            names), if ``check_types`` and a value has the wrong kind (the message names the
            field), or if the config's own validation rejects a value.
    """
    allowed = [f.name for f in dataclasses.fields(config_cls) if f.init]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(
            f"{what}: unknown keyword argument(s) {unknown}; allowed: {sorted(allowed)}"
        )
    if check_types:
        check_field_types(config_cls, kwargs, what=what)
    return config_cls(**kwargs)


class Scenario(ABC):
    """Rules of one grid game on arrays.

    Subclasses set the class attributes, build everything that does not change between episodes in
    ``__init__`` (agent ids, spaces, static layers), and implement the abstract methods.

    Attributes:
        name: short snake_case scenario name, e.g. ``"jungle"``.
        config: the frozen config the scenario was built with.
        agent_ids: ``N`` PettingZoo agent ids ``<role>_<i>``, fixed for the scenario's life.
        agent_entities: ``int64 (N,)`` entity row of each agent in the state arrays.
        agent_roles: ``N`` role names (the part of the id before ``_``).
        obs_shape: per-agent observation shape; the array API returns ``(N, *obs_shape)``.
        obs_low, obs_high: observation bounds (scalars).
        obs_dtype: observation dtype (``float32``).
        state_shape: shape of :meth:`global_state`.
        state_high: upper bound of :meth:`global_state` (its lower bound is 0).
        max_cycles: steps after which live agents are truncated.
        view_radius: radius ``r`` of the neighbour graph (Chebyshev); 1 = the 3x3 window.
    """

    name: ClassVar[str] = "scenario"
    obs_low: float = -1.0
    obs_high: float = 1.0
    obs_dtype: type = np.float32
    view_radius: int = 1

    def __init__(self, config: Any) -> None:
        self.config = config
        self.max_cycles: int = int(config.max_cycles)
        self.agent_ids: list[str] = []
        self.agent_entities: np.ndarray = np.zeros(0, dtype=np.int64)
        self.obs_shape: tuple[int, ...] = ()
        self.state_shape: tuple[int, ...] = ()
        self.state_high: float = 1.0

    @property
    def agent_roles(self) -> list[str]:
        """Role of each agent (the id prefix before the last ``_``)."""
        return [a.rsplit("_", 1)[0] for a in self.agent_ids]

    # ------------------------------------------------------------------ rules
    @abstractmethod
    def reset(self, rng: np.random.Generator) -> GridState:
        """Draw the starting state of an episode from ``rng``."""

    @abstractmethod
    def step(self, state: GridState, actions: np.ndarray, rng: np.random.Generator,
             live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance ``state`` by one step in place.

        Args:
            state: the current state; modified in place (``state.step`` is advanced by the caller).
            actions: ``int64 (N,)`` action ids of the agents; entries of agents not in ``live`` are
                meaningless and must be ignored.
            rng: the env's generator (for built-in opponents and random rules).
            live: ``bool (N,)`` agents still in the episode before this step.

        Returns:
            ``(rewards, terminated)``: ``float32 (N,)`` rewards of this step (0 for agents not live)
            and ``bool (N,)`` True for every agent whose episode has ended by the rules (including
            those that ended earlier). ``state.step`` already counts this step, so a rule that pays
            out at the end can test ``state.step >= self.max_cycles``.
        """

    @abstractmethod
    def observe(self, state: GridState) -> np.ndarray:
        """``(N, *obs_shape)`` observations of all agents (rows of dead agents are still filled)."""

    @abstractmethod
    def global_state(self, state: GridState) -> np.ndarray:
        """Global state array of shape :attr:`state_shape`, for ``env.state()``."""

    def episode_summary(self, state: GridState, returns: np.ndarray) -> dict[str, Any]:
        """Score of a finished episode, as the paper defines it.

        Args:
            state: the final state.
            returns: ``float64 (N,)`` undiscounted return of each agent over the episode.

        Returns:
            A dict with at least ``"score"`` (float, or ``float64 (N,)`` per agent) and, where the
            scenario defines it, ``"win"`` (bool or ``bool (N,)``). This default gives the mean
            return over agents.
        """
        return {"score": float(np.mean(returns)) if returns.size else 0.0}

    def positions(self, state: GridState) -> np.ndarray:
        """``int32 (N, 2)`` cells of the agents."""
        return state.positions[self.agent_entities]

    def entity_styles(self, state: GridState) -> np.ndarray:
        """``int8 (M,)`` palette index of every entity, for the renderer (team/role colour)."""
        return state.team.astype(np.int8)

    def hp_fraction(self, state: GridState) -> np.ndarray:
        """``float32 (M,)`` hit points as a fraction of the starting value (1 where unused)."""
        return np.ones(state.num_entities, dtype=np.float32)
