"""``qmarl play``: watch a policy in a window, steer one agent yourself, record GIF/MP4.

::

    qmarl play qmarl/Jungle-v0                                   # random policy, in a window
    qmarl play qmarl/BallCollection-5x3-2Agents-v0 --human agent_0   # you steer agent_0
    qmarl play qmarl/Battle-1k-v0 --policy runs/battle --record battle.mp4   # headless recording

Keys: ``p`` pause, ``n`` single step, ``r`` restart the episode, ``q``/Escape quit; with
``--human AGENT`` the arrow keys move that agent and space makes it stay (the world waits for your
move while the agent is in the episode). Arrow keys (Shift+arrows while steering) pan a map larger
than the window; ``+``/``-`` zoom, ``0`` fits, ``c`` re-centres on your agent.

pygame is imported only when a window opens (in :mod:`qmarl_envs.render.window`); recording without
a window needs none of it beyond its font for the caption.
"""

from __future__ import annotations

import argparse
import inspect
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np

HUMAN_KEYS = {"up": 0, "down": 1, "left": 2, "right": 3, "space": 4}
"""Key name -> action id for the human-steered agent (``0 up, 1 down, 2 left, 3 right, 4 stay``)."""
STAY = 4
QUIT_KEYS = frozenset({"q", "escape", "quit"})
KEY_HELP = "p pause · n step · r restart · q quit · +/- zoom"


class UniformRandomPolicy:
    """Fallback policy: every agent picks one of the 5 actions uniformly at random.

    ``qmarl play`` uses it for ``--policy random`` only while ``qmarl_agents.resolve_policy`` is not
    available; the agents package's own policies are always the first choice.

    Args:
        seed: seeds the policy's own ``np.random.Generator``.
        num_actions: number of discrete actions.
    """

    def __init__(self, seed: int = 0, num_actions: int = 5):
        self._rng = np.random.default_rng(seed)
        self._n = int(num_actions)

    def act(self, observations: Mapping[str, Any], *, deterministic: bool = True) -> dict[str, int]:
        """One uniformly random action per agent.

        Args:
            observations: ``{agent_id: observation}``; only the keys are used.
            deterministic: ignored (a random policy has no greedy mode).

        Returns:
            ``{agent_id: int}`` with actions in ``[0, num_actions)``.
        """
        keys = list(observations)
        acts = self._rng.integers(0, self._n, size=len(keys))
        return dict(zip(keys, acts.tolist()))


def resolve_policy(spec: str, env: Any, seed: int = 0) -> Any:
    """The policy named by ``--policy``: ``qmarl_agents.resolve_policy(spec, env)`` when available.

    Args:
        spec: a checkpoint directory, ``"random"`` or ``"scripted"``.
        env: the env the policy acts in.
        seed: seed of the policy's generator (passed on when the resolver takes a ``seed``).

    Returns:
        an object with ``act(observations, *, deterministic=True) -> {agent: int}``.

    Raises:
        ValueError: for an empty ``spec``; for a spec other than ``"random"`` when
            ``qmarl_agents.resolve_policy`` is not available; if the resolved object has no ``act``.
    """
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"policy: expected a checkpoint directory, 'random' or 'scripted', got {spec!r}")
    try:
        import qmarl_agents

        resolver = getattr(qmarl_agents, "resolve_policy", None)
    except ImportError:
        resolver = None
    if resolver is not None:
        try:
            takes_seed = "seed" in inspect.signature(resolver).parameters
        except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
            takes_seed = False
        policy = resolver(spec, env, seed=seed) if takes_seed else resolver(spec, env)
    elif spec == "random":
        # Fallback until qmarl_agents provides resolve_policy(): a seeded uniform random policy.
        policy = UniformRandomPolicy(seed)
    else:
        raise ValueError(f"policy: {spec!r} needs qmarl_agents.resolve_policy, which this install does "
                         "not provide; use --policy random")
    if not callable(getattr(policy, "act", None)):
        raise ValueError(f"policy: {spec!r} resolved to {type(policy).__name__}, which has no act() method")
    return policy


def format_summary(summary: Mapping[str, Any]) -> str:
    """``"score -40.00 · length 7 · win True"`` from an episode summary (per-agent arrays as means)."""
    parts = []
    for key, value in summary.items():
        if np.ndim(value):
            arr = np.asarray(value)
            value = float(arr.mean()) if arr.dtype.kind in "fiu" else f"{int(arr.sum())}/{arr.size}"
            key = f"{key} (mean)" if isinstance(value, float) else key
        if isinstance(value, (float, np.floating)):
            value = f"{value:.2f}"
        parts.append(f"{key} {value}")
    return " · ".join(parts)


class PlaySession:
    """One ``qmarl play`` run: policy rollouts, optional human control, window and recording.

    Drive it with :meth:`run` (what the CLI does), or step by step with :meth:`tick` (one pass of
    the interactive loop: read keys, maybe advance the world, draw) as the keyboard tests do.

    Args:
        env: a parallel env from :func:`qmarl_envs.make` (any render mode; frames come from the
            rasteriser).
        policy: acts for every live agent except the human one.
        human: agent id steered from the keyboard, or ``None``.
        window: a :class:`~qmarl_envs.render.window.HumanWindow`, or ``None`` to run headless.
        recorder: a :class:`~qmarl_envs.render.record.VideoWriter`, or ``None``.
        seed: episode ``k`` (from 0) is reset with ``seed + k``.
        episodes: number of episodes to play.
        fps: world steps per second with a window (the world waits for the human's key instead,
            while the human's agent is in the episode).
        print_fn: where episode summaries are printed.

    Attributes:
        paused: the world is paused (``p``).
        finished: every episode has ended, or the user quit.
        summaries: the summary dict of each finished episode.

    Raises:
        ValueError: for an unknown ``human`` agent, ``episodes < 1`` or a non-positive ``fps``.
    """

    def __init__(self, env: Any, policy: Any, *, human: str | None = None, window: Any = None,
                 recorder: Any = None, seed: int = 0, episodes: int = 1, fps: float = 5.0,
                 print_fn: Callable[[str], None] = print):
        from qmarl_envs.render.raster import agent_entity, cell_size

        self.env = env
        self.base = getattr(env, "unwrapped", env)
        if callable(getattr(policy, "bind", None)):
            policy = policy.bind(env) or policy  # the policy contract: env-reading policies see this env
        if human is not None:
            try:
                self._human_entity = agent_entity(self.base, human)
            except ValueError as e:
                raise ValueError(str(e).replace("agent: unknown agent", "human: unknown agent")) from None
        if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
            raise ValueError(f"episodes: expected a positive int, got {episodes!r}")
        if not fps or fps <= 0:
            raise ValueError(f"fps: expected a positive number, got {fps!r}")
        self.policy = policy
        self.human = human
        self.window = window
        self.recorder = recorder
        self.seed = int(seed)
        self.episodes = int(episodes)
        self.fps = float(fps)
        self.print_fn = print_fn
        self.paused = False
        self.finished = False
        self.summaries: list[dict[str, Any]] = []
        self.episode = 0
        self._obs: dict[str, Any] = {}
        self._human_action: int | None = None
        self._single = False
        self._next_step = 0.0
        self._caption = None
        self._base_cell = 1
        if recorder is not None:
            from qmarl_envs.render.hud import CaptionRenderer

            self._caption = CaptionRenderer()
        if window is not None:
            window.arrows_pan = human is None
        self._cell_size = cell_size
        self.reset()

    # ------------------------------------------------------------------ world
    @property
    def human_live(self) -> bool:
        """Whether the human-steered agent is still in the episode."""
        return self.human is not None and self.human in self.env.agents

    def reset(self) -> None:
        """Start (or restart) the current episode with seed ``seed + episode``."""
        self._obs, _ = self.env.reset(seed=self.seed + self.episode)
        self._human_action = None
        # the whole map to start with; zoomed in around the agent when a human steers on a big map
        self._base_cell = self._cell_size(self.base.grid_state.shape)
        if self.human is not None:
            self._base_cell = max(self._base_cell, 24)
        self._record()

    def step(self, human_action: int | None = None) -> None:
        """Advance the world one step: the policy acts for everyone but the human's agent.

        Args:
            human_action: action of the human's agent (``None``: stay).

        Ends the episode when no agent is left: prints its summary, then resets into the next
        episode or marks the session :attr:`finished`.
        """
        live = self.env.agents
        if not live:
            return
        others = {a: self._obs[a] for a in live if a != self.human}
        actions = dict(self.policy.act(others, deterministic=True)) if others else {}
        if self.human is not None and self.human in live:
            actions[self.human] = STAY if human_action is None else int(human_action)
        self._obs, _, _, _, _ = self.env.step({a: actions[a] for a in live})
        self._record()
        if not self.env.agents:
            summary = self.base.episode_summary() or {}
            self.summaries.append(summary)
            self.print_fn(f"episode {self.episode + 1}/{self.episodes}: {format_summary(summary)}")
            self.episode += 1
            if self.episode < self.episodes:
                self.reset()
            else:
                self.finished = True

    def _record(self) -> None:
        if self.recorder is None:
            return
        from qmarl_envs.render.hud import status_line
        from qmarl_envs.render.raster import render_env

        frame = render_env(self.base)
        self.recorder.append(self._caption.captioned(frame, status_line(self.base)))

    # ------------------------------------------------------------------ interactive loop
    def handle_keys(self, keys: list[str]) -> None:
        """Apply key presses (pygame key names): quit, pause, single step, restart, steering."""
        for k in keys:
            if k in QUIT_KEYS:
                self.finished = True
                if self.window is not None:
                    self.window.closed = True
            elif k == "p":
                self.paused = not self.paused
            elif k == "n":
                self.paused = True
                self._single = True
            elif k == "r":
                self.reset()
            elif k in HUMAN_KEYS and self.human_live and not self.paused:
                self._human_action = HUMAN_KEYS[k]

    def status(self) -> str:
        """Status-bar text: episode, step, live agents, running score, and pause/turn state."""
        from qmarl_envs.render.hud import status_line

        text = f"episode {min(self.episode + 1, self.episodes)}/{self.episodes} · {status_line(self.base)}"
        if self.paused:
            text += " · PAUSED"
        elif self.human_live:
            text += " · your move"
        return text

    def draw(self) -> None:
        """Draw the visible part of the map in the window (no-op when headless)."""
        if self.window is None:
            return
        from qmarl_envs.render.raster import render_env

        highlight = None
        follow = None
        if self.human is not None:
            highlight = [self._human_entity]
            if self.human_live:
                follow = tuple(int(v) for v in self.base.grid_state.positions[self._human_entity])
        self.window.show_scene(partial(render_env, self.base, highlight=highlight), self.base.grid_state.shape,
                               self.status(), base_cell=self._base_cell, follow=follow, hint=KEY_HELP)

    def tick(self, now: float | None = None) -> bool:
        """One pass of the interactive loop: read keys, advance the world if it is due, draw.

        The world advances on ``n``; otherwise, unless paused, on the human's key while the human's
        agent is in the episode, or every ``1 / fps`` seconds.

        Args:
            now: the current time in seconds (``time.monotonic()`` if ``None``).

        Returns:
            False once the session is finished (all episodes done, ``q``, or the window closed).
        """
        now = time.monotonic() if now is None else now
        if self.window is not None:
            self.handle_keys(self.window.poll())
            if self.window.closed:
                self.finished = True
        if self.finished:
            return False
        if self._single:
            self._single = False
            self.step(self._human_action)
            self._human_action = None
        elif not self.paused:
            if self.human_live:
                if self._human_action is not None:
                    action, self._human_action = self._human_action, None
                    self.step(action)
            elif now >= self._next_step:
                self._next_step = now + 1.0 / self.fps
                self.step()
        if not self.finished:
            self.draw()
        return not self.finished

    def run(self) -> list[dict[str, Any]]:
        """Play until every episode has ended or the user quits.

        Returns:
            the summaries of the finished episodes.
        """
        if self.window is None:
            while not self.finished:
                self.step()
            return self.summaries
        clock = self.window.pg.time.Clock()
        while self.tick():
            clock.tick(60)
        if self.summaries and not self.window.closed and self.episode >= self.episodes:
            self.draw()  # hold the last frame for a moment before the window closes
            end = time.monotonic() + 1.5
            while time.monotonic() < end and not (set(self.window.poll()) & QUIT_KEYS):
                clock.tick(30)
        return self.summaries

    def close(self, *, keep_recording: bool = True) -> None:
        """Finish the recording (or discard it) and close the window and the env."""
        try:
            if self.recorder is not None:
                if keep_recording and self.recorder.frames:
                    self.recorder.close()
                else:
                    self.recorder.abort()
        finally:
            if self.window is not None:
                self.window.close()
            self.env.close()


def play(env_id: str, *, policy: str = "random", human: str | None = None, record: str | None = None,
         headless: bool | None = None, seed: int = 0, episodes: int = 1, max_steps: int | None = None,
         fps: float | None = None, print_fn: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Run ``qmarl play``: roll out a policy, in a window or headless, optionally recording it.

    Args:
        env_id: a registered id, e.g. ``"qmarl/Jungle-v0"``.
        policy: ``--policy``: a checkpoint directory, ``"random"`` or ``"scripted"``.
        human: ``--human``: agent id steered with the arrow keys (needs a window).
        record: ``--record``: ``.gif`` or ``.mp4`` file to write.
        headless: run without a window; ``None`` means headless exactly when recording without
            ``human``.
        seed: seed of the first episode (episode ``k`` uses ``seed + k``) and of the policy.
        episodes: number of episodes.
        max_steps: cap on steps per episode (sets the env's ``max_cycles``); ``None`` keeps it.
        fps: steps per second in the window and frame rate of the recording; ``None`` uses the
            env's ``render_fps``.
        print_fn: receives one line per finished episode.

    Returns:
        the summary dict of each finished episode.

    Raises:
        ValueError: for an unknown id or agent, a bad ``record`` suffix, ``human`` with
            ``headless``, or a non-positive ``seed``/``episodes``/``max_steps``/``fps``.
    """
    import qmarl_envs
    from qmarl_envs.render.record import VideoWriter, check_video_path

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ValueError(f"episodes: expected a positive int, got {episodes!r}")
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer))
                                  or max_steps < 1):
        raise ValueError(f"max_steps: expected a positive int or None, got {max_steps!r}")
    if fps is not None and not fps > 0:
        raise ValueError(f"fps: expected a positive number, got {fps!r}")
    if record is not None:
        check_video_path(record, "record")
    if headless is None:
        headless = record is not None and human is None
    if headless and human is not None:
        raise ValueError(f"human: steering {human!r} needs a window; drop --headless")
    if headless and record is None:
        print_fn("headless without --record: only episode summaries are printed")
    kwargs = {} if max_steps is None else {"max_cycles": int(max_steps)}
    env = qmarl_envs.make(env_id, render_mode="rgb_array", **kwargs)
    window = recorder = None
    try:
        if human is not None:
            from qmarl_envs.render.raster import agent_entity

            try:
                agent_entity(env, human)
            except ValueError as e:
                raise ValueError(str(e).replace("agent: unknown agent", "human: unknown agent")) from None
        pol = resolve_policy(policy, env, seed)
        rate = float(fps if fps is not None else env.metadata.get("render_fps", 5))
        if record is not None:
            recorder = VideoWriter(record, rate)
        if not headless:
            from qmarl_envs.render.window import HumanWindow

            window = HumanWindow(title=f"qmarl play {env_id} — {KEY_HELP}", fps=rate)
            print_fn(f"keys: {KEY_HELP}" + (f"; arrows/space steer {human} (Shift+arrows pan)" if human else
                                            "; arrows pan"))
        session = PlaySession(env, pol, human=human, window=window, recorder=recorder, seed=seed,
                              episodes=episodes, fps=rate, print_fn=print_fn)
    except BaseException:
        if recorder is not None:
            recorder.abort()
        if window is not None:
            window.close()
        env.close()
        raise
    ok = False
    try:
        summaries = session.run()
        ok = True
    finally:
        session.close(keep_recording=ok)
    if recorder is not None and recorder.frames:
        print_fn(f"wrote {recorder.path} ({recorder.frames} frames)")
    return summaries


# ---------------------------------------------------------------------- command line
def _positive_int(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text}")
    return v


def _cmd_play(args: argparse.Namespace) -> int:
    play(args.env_id, policy=args.policy, human=args.human, record=args.record,
         headless=True if args.headless else None, seed=args.seed, episodes=args.episodes,
         max_steps=args.max_steps, fps=args.fps)
    return 0


def add_cli(sub: Any) -> None:
    """Register the ``play`` verb on the ``qmarl`` sub-parsers (``sub`` from ``add_subparsers``)."""
    p = sub.add_parser(
        "play", help="watch or steer a rollout in a window; record it to .gif/.mp4",
        description="Roll out a policy in a registered env, in a window or headless. " + KEY_HELP
        + "; with --human the arrow keys (space = stay) steer that agent.",
    )
    p.add_argument("env_id", metavar="ID", help="registered env id, e.g. qmarl/Jungle-v0 (see `qmarl list`)")
    p.add_argument("--policy", default="random", metavar="DIR|random|scripted",
                   help="who acts for the agents not steered by you (default: random)")
    p.add_argument("--human", metavar="AGENT", help="agent id you steer with the arrow keys, e.g. agent_0")
    p.add_argument("--record", metavar="OUT.gif|OUT.mp4", help="write the rollout to a GIF or MP4")
    p.add_argument("--headless", action="store_true",
                   help="no window (the default when recording without --human)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first episode (default: 0)")
    p.add_argument("--episodes", type=_positive_int, default=1, help="episodes to play (default: 1)")
    p.add_argument("--max-steps", type=_positive_int, default=None, help="cap on steps per episode")
    p.add_argument("--fps", type=float, default=None, help="steps per second (default: the env's render_fps)")
    p.set_defaults(func=_cmd_play)

