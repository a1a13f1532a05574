"""PettingZoo ``ParallelEnv`` adapter over a scenario, plus the array interface used at scale.

The adapter owns what a scenario does not: the random generator and seeding, the step counter and
truncation at ``max_cycles``, input validation, episode bookkeeping, and the conversion of arrays to
and from the per-agent dicts of the PettingZoo API. Rules live in :mod:`qmarl_envs.scenarios`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from qmarl_envs.core import kernels
from qmarl_envs.scenarios.base import Scenario

RENDER_MODES = ["human", "rgb_array"]


def _as_action(agent: str, value: Any) -> int:
    """Check one action value and return it as an int.

    One rule for every API (dict, Gymnasium view, AEC, and :meth:`GridParallelEnv.step_arrays`,
    which rejects a ``bool`` dtype): a ``bool`` (``True``/``False``, Python or NumPy) is not an
    action id, even though Python treats it as an int.

    Raises:
        ValueError: naming ``agent`` when the value is None, a bool, not an integer scalar, or out
            of range.
    """
    if value is None:
        raise ValueError(f"action for agent {agent!r} is None; expected an int in [0, {kernels.NUM_ACTIONS})")
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"action for agent {agent!r} is the bool {bool(value)}; expected an int in "
                         f"[0, {kernels.NUM_ACTIONS}) (booleans are rejected on every API)")
    arr = np.asarray(value)
    if arr.shape != ():
        raise ValueError(f"action for agent {agent!r} has shape {arr.shape}; expected a scalar int "
                         f"in [0, {kernels.NUM_ACTIONS})")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"action for agent {agent!r} has dtype {arr.dtype}; expected an integer "
                         f"in [0, {kernels.NUM_ACTIONS})")
    v = int(arr)
    if not 0 <= v < kernels.NUM_ACTIONS:
        raise ValueError(f"action for agent {agent!r} is {v}; expected an int in [0, {kernels.NUM_ACTIONS})")
    return v


_NO_INFO: dict = {}
"""The empty info dict that :func:`_new_infos` copies (never handed out)."""


def _new_infos(k: int):
    """An iterator of ``k`` new, independent empty dicts (copies of one empty dict: about 15%
    cheaper than a comprehension of ``{}`` literals at 10,000 agents)."""
    return map(dict.copy, itertools.repeat(_NO_INFO, k))


class GridParallelEnv(ParallelEnv):
    """A qmarl grid world as a PettingZoo ``ParallelEnv``.

    Build it with :func:`qmarl_envs.make`; the scenario's docstring gives the rules, observation
    channels and score. Agent ids are ``<role>_<i>``; every agent has ``Discrete(5)`` actions
    ``0 up, 1 down, 2 left, 3 right, 4 stay`` and a ``Box`` observation of ``float32``.

    Besides the dict API, the unwrapped env offers the array interface (DESIGN.md), which every
    trainer uses at scale: :meth:`reset_arrays`, :meth:`step_arrays`, :meth:`alive_mask`,
    :meth:`positions` and :meth:`neighbor_graph`. The dict API is a thin layer over it.

    Infos: a new empty dict per agent and step (positions come from :meth:`positions`, one array
    for all agents; per-agent copies would cost about 2 ms a step at 10,000 agents). On the
    step an agent terminates or is truncated, it gets its own ``infos[agent]["episode"]`` with
    ``return`` (its undiscounted return) and ``length`` (the steps it played), as Gymnasium's
    ``RecordEpisodeStatistics``; on the step that ends the episode, the agents of that step also
    get the team ``score`` (the paper's score, see the scenario) and ``win`` where defined.

    Args:
        scenario: the rules, already configured.
        env_id: registered id, used in ``metadata["name"]`` and messages.
        render_mode: ``None``, ``"rgb_array"`` or ``"human"``.

    Raises:
        ValueError: for an unknown ``render_mode``.
    """

    def __init__(self, scenario: Scenario, env_id: str = "qmarl/custom", render_mode: str | None = None):
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode: expected one of {RENDER_MODES} or None, got {render_mode!r}")
        self.scenario = scenario
        self.env_id = env_id
        self.render_mode = render_mode
        short = env_id.split("/")[-1]
        self.metadata = {
            "name": short.lower().replace("-", "_"),
            "render_modes": list(RENDER_MODES),
            "render_fps": 5,
            "is_parallelizable": True,
        }
        self.possible_agents = list(scenario.agent_ids)
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        n = len(self.possible_agents)
        box = spaces.Box(low=scenario.obs_low, high=scenario.obs_high, shape=scenario.obs_shape,
                         dtype=scenario.obs_dtype)
        act = spaces.Discrete(kernels.NUM_ACTIONS)
        self._obs_spaces = {a: box for a in self.possible_agents}
        self._act_spaces = {a: act for a in self.possible_agents}
        self.state_space = spaces.Box(low=0.0, high=float(scenario.state_high), shape=scenario.state_shape,
                                      dtype=np.float32)
        self._agents: list[str] | None = []
        self._state_cache: np.ndarray | None = None
        self._state = None
        self._rng: np.random.Generator | None = None
        self._live = np.zeros(n, dtype=bool)
        self._returns = np.zeros(n)
        self._obs: np.ndarray | None = None
        self._renderer = None
        self._last_summary: dict[str, Any] | None = None
        self._dict_templates: tuple | None = None
        self._full_templates: tuple | None = None

    # ------------------------------------------------------------ spaces
    def observation_space(self, agent: str) -> spaces.Box:
        """The (cached) observation space of ``agent``.

        Raises:
            ValueError: if ``agent`` is not one of ``possible_agents``.
        """
        try:
            return self._obs_spaces[agent]
        except KeyError:
            raise ValueError(f"unknown agent {agent!r}; expected one of possible_agents") from None

    def action_space(self, agent: str) -> spaces.Discrete:
        """The (cached) ``Discrete(5)`` action space of ``agent``.

        Raises:
            ValueError: if ``agent`` is not one of ``possible_agents``.
        """
        try:
            return self._act_spaces[agent]
        except KeyError:
            raise ValueError(f"unknown agent {agent!r}; expected one of possible_agents") from None

    @property
    def agents(self) -> list[str]:
        """Ids of the live agents, in ``possible_agents`` order; always agrees with :meth:`alive_mask`,
        whichever API (dict or array) advanced the env."""
        if self._agents is None:
            live = self._live
            self._agents = (list(self.possible_agents) if live.all()
                            else list(itertools.compress(self.possible_agents, live.tolist())))
        return self._agents

    @agents.setter
    def agents(self, value: list[str]) -> None:
        self._agents = list(value)

    @property
    def num_agents(self) -> int:  # noqa: D401 - PettingZoo property
        """Number of live agents."""
        return len(self.agents)

    @property
    def max_num_agents(self) -> int:
        """Number of possible agents ``N``."""
        return len(self.possible_agents)

    # ------------------------------------------------------------ array interface
    def reset_arrays(self, seed: int | None = None) -> np.ndarray:
        """Start an episode and return every agent's observation.

        Args:
            seed: seeds a fresh ``np.random.Generator``; ``None`` continues the current one (or
                draws OS entropy on the first reset).

        Returns:
            ``float32 (N, *obs_shape)`` observations, rows in ``possible_agents`` order.

        Raises:
            ValueError: if ``seed`` is not None or a non-negative int.
        """
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(f"seed: expected None or a non-negative int, got {seed!r}")
            self._rng = np.random.default_rng(int(seed))
        elif self._rng is None:
            self._rng = np.random.default_rng()
        self._state = self.scenario.reset(self._rng)
        n = len(self.possible_agents)
        self._live = np.ones(n, dtype=bool)
        self._returns = np.zeros(n)
        self._last_summary = None
        self._agents = None
        self._state_cache = None
        self._obs = self.scenario.observe(self._state)
        return self._obs

    def _check_started(self) -> None:
        if self._state is None:
            raise RuntimeError("step() called before reset(); call reset(seed=...) first")
        if not self._live.any():
            raise RuntimeError("the episode is over (no live agents); call reset() before step()")

    def step_arrays(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Advance every live agent by one step.

        Args:
            actions: integer ``(N,)`` action ids in ``[0, 5)``, in ``possible_agents`` order.
                Entries of agents that are no longer live are ignored.

        Returns:
            ``(obs, rewards, terminated, truncated)``: ``float32 (N, *obs_shape)``,
            ``float32 (N,)`` (0 for agents not live before the step), ``bool (N,)`` True for every
            agent whose episode ended by the rules (now or earlier), ``bool (N,)`` True for agents
            still live when ``max_cycles`` is reached.

        Raises:
            RuntimeError: before :meth:`reset_arrays`, or after the episode has ended.
            ValueError: for a wrong shape, a non-integer dtype, or a live agent's action out of
                range (the message names the first such agent). The env is unchanged.
        """
        self._check_started()
        a = np.asarray(actions)
        n = len(self.possible_agents)
        if a.shape != (n,):
            raise ValueError(f"actions: expected shape ({n},), got {a.shape}")
        if a.dtype.kind not in "iu":
            raise ValueError(f"actions: expected an integer dtype, got {a.dtype}")
        all_live = self._live.all()
        if n and not (a.min() >= 0 and a.max() < kernels.NUM_ACTIONS):
            bad = self._live & ((a < 0) | (a >= kernels.NUM_ACTIONS))
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(f"action for agent {self.possible_agents[i]!r} is {a[i]}; "
                                 f"expected an int in [0, {kernels.NUM_ACTIONS})")
        if all_live:  # common case: no masking needed (one int64 copy, so the caller's array is free)
            return self._advance(a.astype(np.int64, copy=True))
        return self._advance(np.where(self._live, a, kernels.NUM_ACTIONS - 1).astype(np.int64))

    def _advance(self, actions: np.ndarray):
        live_before = self._live
        self._state.step += 1
        rewards, terminated = self.scenario.step(self._state, actions, self._rng, live_before)
        terminated = terminated | ~live_before
        truncated = ~terminated & (self._state.step >= self.scenario.max_cycles)
        self._returns += rewards
        self._live = ~(terminated | truncated)
        self._agents = None
        self._state_cache = None
        self._obs = self.scenario.observe(self._state)
        if not self._live.any():
            self._last_summary = self.scenario.episode_summary(self._state, self._returns.copy())
            self._last_summary["length"] = int(self._state.step)
        return self._obs, rewards, terminated, truncated

    def alive_mask(self) -> np.ndarray:
        """``bool (N,)``: agents still in the episode (not terminated, not truncated).

        Raises:
            RuntimeError: before the first reset.
        """
        if self._state is None:
            raise RuntimeError("alive_mask() called before reset()")
        return self._live.copy()

    def positions(self) -> np.ndarray:
        """``int32 (N, 2)`` ``(row, col)`` cells of all agents (dead agents keep their last cell).

        Raises:
            RuntimeError: before the first reset.
        """
        if self._state is None:
            raise RuntimeError("positions() called before reset()")
        return self.scenario.positions(self._state).copy()

    def neighbor_graph(self) -> np.ndarray:
        """``int64 (2, E)`` directed edges between live agents within the view radius.

        Agents ``i`` and ``j`` are neighbours when their Chebyshev distance is at most
        ``scenario.view_radius`` (1: each is inside the other's 3x3 window; Q-MARL §3.1.1). Both
        directions are listed, indices are rows of ``possible_agents``.

        Raises:
            RuntimeError: before the first reset.
        """
        if self._state is None:
            raise RuntimeError("neighbor_graph() called before reset()")
        return kernels.neighbor_edges(self.scenario.positions(self._state), self._state.shape,
                                      self.scenario.view_radius, self._live)

    def episode_summary(self) -> dict[str, Any] | None:
        """The summary of the last finished episode (``score``, ``length``, ``win`` where defined),
        or ``None`` while the episode is running."""
        return None if self._last_summary is None else dict(self._last_summary)

    def returns(self) -> np.ndarray:
        """``float64 (N,)`` undiscounted return of each agent in the current episode so far."""
        return self._returns.copy()

    @property
    def grid_state(self):
        """The current :class:`~qmarl_envs.core.state.GridState` (read it, don't modify it)."""
        return self._state

    # ------------------------------------------------------------ dict API
    def reset(self, seed: int | None = None, options: dict | None = None):
        """Start an episode; returns ``(observations, infos)`` dicts keyed by agent id.

        Raises:
            ValueError: for a bad ``seed`` or non-dict ``options``.
        """
        if options is not None and not isinstance(options, Mapping):
            raise ValueError(f"options: expected a dict or None, got {type(options).__name__}")
        obs = self.reset_arrays(seed)
        self.agents = agents = list(self.possible_agents)
        empty = self._templates(agents)[2]
        infos = empty.copy()
        infos.update(zip(agents, _new_infos(len(agents))))
        observations = empty.copy()
        observations.update(zip(agents, obs))
        if self.render_mode == "human":
            self.render()
        return observations, infos

    def _actions_from_dict(self, actions: Mapping) -> np.ndarray:
        if not isinstance(actions, Mapping):
            raise ValueError(f"actions: expected a dict {{agent: int}}, got {type(actions).__name__}")
        n = len(self.possible_agents)
        live_agents = self.agents
        if list(actions) == live_agents:
            keys = live_agents
            idx = np.flatnonzero(self._live)
        else:
            for k in actions:
                if k not in self._index:
                    raise ValueError(f"action for unknown agent {k!r}; expected one of env.agents")
                if not self._live[self._index[k]]:
                    raise ValueError(f"action for agent {k!r}, which is already terminated or truncated")
            missing = [a for a in live_agents if a not in actions]
            if missing:
                raise ValueError(f"no action for live agent {missing[0]!r} ({len(missing)} missing)")
            keys = list(actions)
            idx = np.fromiter((self._index[k] for k in keys), dtype=np.int64, count=len(keys))
        values = list(actions.values())
        kinds = set(map(type, values))
        try:
            if kinds == {int}:          # the common case: plain ints (no bool: bool is its own type)
                # bytes() converts in C and raises ValueError outside [0, 256) (then: slow path)
                arr = np.frombuffer(bytes(values), dtype=np.uint8)
            else:
                arr = np.asarray(values)
            fast = (arr.shape == (len(keys),) and arr.dtype.kind in "iu"
                    and bool not in kinds and np.bool_ not in kinds)
        except (ValueError, TypeError, OverflowError):
            fast = False
        if fast and arr.size:
            fast = bool(arr.min() >= 0) and bool(arr.max() < kernels.NUM_ACTIONS)
        if not fast:  # find and name the offending agent
            arr = np.array([_as_action(k, v) for k, v in zip(keys, values)], dtype=np.int64)
        full = np.full(n, kernels.NUM_ACTIONS - 1, dtype=np.int64)
        full[idx] = arr
        return full

    def step(self, actions: Mapping[str, int]):
        """Advance one step; returns ``(observations, rewards, terminations, truncations, infos)``.

        Args:
            actions: one ``int`` in ``[0, 5)`` for every live agent (``env.agents``) and no other key.

        Raises:
            RuntimeError: before :meth:`reset`, or after the episode has ended.
            ValueError: for an action that is None, not an integer scalar, or out of range; for an
                unknown or already-finished agent; or when a live agent has no action. The message
                names the agent; the env is unchanged.
        """
        self._check_started()
        full = self._actions_from_dict(actions)
        agents = self.agents
        everyone = len(agents) == len(self.possible_agents)
        live_idx = np.flatnonzero(self._live)
        obs, rew, term, trunc = self._advance(full)
        if not everyone:  # rows of the agents that acted (the arrays cover possible_agents)
            obs, rew, term, trunc = obs[live_idx], rew[live_idx], term[live_idx], trunc[live_idx]
        no, zero, empty = self._templates(agents)
        observations = empty.copy()    # filling a copy of a ready dict beats building one
        observations.update(zip(agents, obs))
        rewards = zero.copy()
        # entries that differ from +0.0 (-0.0 included, so the values are exactly rew.tolist()'s)
        hit = np.flatnonzero(rew.view(np.uint32) if rew.dtype == np.float32 and rew.flags.c_contiguous
                             else (rew != 0) | np.signbit(rew))
        if hit.size:
            rewards.update(zip(map(agents.__getitem__, hit.tolist()), rew[hit].tolist()))
        terminations = no.copy()
        truncations = no.copy()
        for out, flags in ((terminations, term), (truncations, trunc)):
            hit = np.flatnonzero(flags)
            if hit.size:
                out.update(dict.fromkeys(map(agents.__getitem__, hit.tolist()), True))
        infos = empty.copy()
        infos.update(zip(agents, self._agent_infos(live_idx, term | trunc)))
        keep = self._live[live_idx]
        if keep.all():
            self._agents = agents
        else:
            self._agents = list(itertools.compress(agents, keep.tolist()))
            self._drop_from_templates(agents, [agents[i] for i in np.flatnonzero(~keep).tolist()])
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    def _templates(self, agents: list[str]) -> tuple[dict, dict, dict]:
        """``({agent: False}, {agent: 0.0}, {agent: None})`` for ``agents``, cached while the
        agents stay the same (checked by value, so a list changed in place is noticed); the step
        returns copies, never these dicts."""
        t = self._dict_templates
        if t is None or t[0] != agents:
            full = self._full_templates
            if full is not None and full[0] == agents:     # a new episode: every agent again
                t = full
            else:
                t = (list(agents), dict.fromkeys(agents, False), dict.fromkeys(agents, 0.0),
                     dict.fromkeys(agents))
                if len(agents) == len(self.possible_agents):
                    self._full_templates = t
            self._dict_templates = t
        return t[1], t[2], t[3]

    def _drop_from_templates(self, agents: list[str], gone: list[str]) -> None:
        """Follow agents leaving: the templates of ``agents`` minus ``gone`` (a copy and a few
        deletions instead of three new 10,000-key dicts)."""
        t = self._dict_templates
        if t is None or t[0] != agents or len(gone) * 4 > len(agents):
            return                      # rebuilt on the next use
        kept = []
        for d in t[1:]:
            d = d.copy()
            for a in gone:
                del d[a]
            kept.append(d)
        self._dict_templates = (list(self._agents), *kept)

    def _agent_infos(self, idx: np.ndarray, ended: np.ndarray) -> Iterable[dict]:
        """The step's per-agent info dicts, one new dict per agent that acted.

        Every agent whose episode ended on this step gets its own ``"episode"`` dict: its
        ``return`` (float, undiscounted) and ``length`` (steps it played), as Gymnasium's
        ``RecordEpisodeStatistics``; on the step that ends the episode, the team ``score`` (and
        ``win`` where defined) follow, per agent where the summary has one value per agent. The
        other dicts are empty.

        Args:
            idx: ``int64 (K,)`` rows in ``possible_agents`` of the agents that acted, in
                ``env.agents`` order.
            ended: ``bool (K,)`` terminated or truncated on this step.

        Returns:
            ``K`` new dicts (a list, or an iterator when none of them holds an episode), in
            the order of ``idx``.
        """
        rows = np.flatnonzero(ended)
        if rows.size == 0:
            return _new_infos(ended.size)
        length = int(self._state.step)
        returns = self._returns[idx[rows]].tolist()
        s = self._last_summary
        team = {} if s is None else {key: s[key] for key in ("score", "win") if key in s}
        per_agent = [key for key, v in team.items() if isinstance(v, np.ndarray)]
        if not team:
            eps = [{"return": r, "length": length} for r in returns]
        elif not per_agent:
            base = {"return": 0.0, "length": length, **team}
            eps = [{**base, "return": r} for r in returns]
        else:  # values per agent: zip the columns (key order: return, length, score, win)
            keys = ["return", "length", *team]
            cols = [returns, itertools.repeat(length, rows.size),
                    *(team[k][idx[rows]].tolist() if k in per_agent else itertools.repeat(team[k], rows.size)
                      for k in team)]
            eps = [dict(zip(keys, vals)) for vals in zip(*cols)]
        if rows.size == ended.size:    # every agent ended (the last step)
            return [{"episode": e} for e in eps]
        out = list(_new_infos(ended.size))
        for i, e in zip(rows.tolist(), eps):
            out[i]["episode"] = e
        return out

    def state(self) -> np.ndarray:
        """``float32`` global state of shape ``state_space.shape`` (see the scenario).

        Computed once per env step and returned read-only (an AEC loop asks for it once per agent
        turn, which at 10,000 agents would otherwise rebuild a 500x500 map 10,000 times a step).

        Raises:
            RuntimeError: before the first reset.
        """
        if self._state is None:
            raise RuntimeError("state() called before reset()")
        if self._state_cache is None:
            st = self.scenario.global_state(self._state)
            st.flags.writeable = False
            self._state_cache = st
        return self._state_cache

    # ------------------------------------------------------------ rendering
    def render(self):
        """Draw the current state.

        Returns:
            ``uint8 (H, W, 3)`` for ``render_mode="rgb_array"``; ``None`` for ``"human"`` (the
            frame is shown in a pygame window) or when no render mode was set.

        Raises:
            RuntimeError: before the first reset.
        """
        if self.render_mode is None:
            return None
        if self._state is None:
            raise RuntimeError("render() called before reset()")
        from qmarl_envs.render import raster

        frame = raster.render_env(self)
        if self.render_mode == "rgb_array":
            return frame
        if self._renderer is None:
            from qmarl_envs.render.window import HumanWindow

            self._renderer = HumanWindow(title=self.env_id, fps=self.metadata["render_fps"])
        self._renderer.show(frame, status=self.status_line())
        return None

    def status_line(self) -> str:
        """A one-line text summary: step, live agents and running score (the scenario's episode
        score as if the episode ended now); see :func:`qmarl_envs.render.hud.status_line`."""
        from qmarl_envs.render.hud import status_line

        return status_line(self)

    def close(self) -> None:
        """Close the pygame window, if one was opened."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __str__(self) -> str:
        return self.env_id
