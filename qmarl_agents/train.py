"""``qmarl train``: train any registered agent, with logs, checkpoints, a learning curve and a final evaluation.

One linear function, :func:`train`, drives every agent through the :class:`~qmarl_agents.base.Agent`
interface (``learn(total_agent_steps, callback=...)``, ``save(dir)``), so agents added to the
registry later work unchanged. A run directory holds::

    config.json, model.safetensors    the final policy (load_policy(out) / --policy out)
    checkpoints/step_<N>/             periodic checkpoints (weights + optimiser state), for --resume
    episodes.csv                      agent_steps, wall_s, score, length, win  (one row per env episode)
    metrics.csv                       agent_steps, key, value  (losses, entropy ... as the agent logs them)
    tb/                               the same scalars for TensorBoard
    learning_curve.png                episode score against agent-steps (rolling mean)
    submission.json                   final evaluation under the leaderboard protocol
    run.json                          the command's arguments and the training budget used
"""

from __future__ import annotations

import csv
import math
import os
import re
import shutil
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qmarl_agents.checkpoint import atomic_write_json
from qmarl_agents.leaderboard.protocol import DEFAULT_PROTOCOL, EvalResult, Protocol
from qmarl_envs.fileio import atomic_savefig

CHECKPOINT_DIR = "checkpoints"
_STEP_DIR = re.compile(r"^step_(\d+)$")
_RUN_FILES = ("config.json", "model.safetensors", "episodes.csv", "metrics.csv", "learning_curve.png",
              "submission.json", "run.json")


@dataclass
class TrainResult:
    """What :func:`train` produced.

    Attributes:
        out: the run directory.
        agent: the trained agent.
        agent_steps: agent-steps trained in all (including a resumed run's earlier steps).
        episodes: env episodes finished during training (all sessions).
        wall_clock_s: training seconds in all sessions (evaluation excluded).
        evaluation: the final evaluation, or None if skipped.
        files: ``{"policy", "episodes_csv", "metrics_csv", "tensorboard", "learning_curve",
            "submission"}`` paths (absent when not written).
    """

    out: Path
    agent: Any
    agent_steps: int
    episodes: int
    wall_clock_s: float
    evaluation: EvalResult | None
    files: dict[str, Path] = field(default_factory=dict)


class RunMonitor:
    """The :class:`~qmarl_agents.base.TrainingCallback` of :func:`train`: progress bar, CSV and
    TensorBoard logs, periodic checkpoints, and the ``--episodes`` stop rule.

    Args:
        out: run directory.
        agent: the agent (saved at checkpoints).
        total_agent_steps: the budget (progress bar length).
        checkpoint_every: agent-steps between checkpoints (0: none).
        max_episodes: stop after this many env episodes in all (None: no limit).
        progress: show a tqdm progress bar.
        tensorboard: also write ``tb/`` event files.
        start_steps: agent-steps already done (resume).
        start_episodes: env episodes already logged (resume).
    """

    def __init__(self, out: Path, agent, total_agent_steps: int, *, checkpoint_every: int = 0,
                 max_episodes: int | None = None, progress: bool = True, tensorboard: bool = True,
                 start_steps: int = 0, start_episodes: int = 0):
        self.out, self.agent = out, agent
        self.total = total_agent_steps
        self.checkpoint_every = checkpoint_every
        self.max_episodes = max_episodes
        self.episodes = start_episodes
        self.steps = start_steps
        self.t0 = time.perf_counter()
        self._recent: deque[float] = deque(maxlen=50)
        self._next_ckpt = (start_steps // checkpoint_every + 1) * checkpoint_every if checkpoint_every else math.inf
        self._ep_file = open(out / "episodes.csv", "a", newline="")
        self._ep = csv.writer(self._ep_file)
        if self._ep_file.tell() == 0:
            self._ep.writerow(["agent_steps", "wall_s", "score", "length", "win"])
        self._m_file = open(out / "metrics.csv", "a", newline="")
        self._m = csv.writer(self._m_file)
        if self._m_file.tell() == 0:
            self._m.writerow(["agent_steps", "key", "value"])
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(log_dir=str(out / "tb"))
            except ImportError:  # pragma: no cover - tensorboard is a declared dependency
                self.tb = None
        self.bar = None
        if progress:
            from tqdm.auto import tqdm

            import sys

            tty = sys.stderr.isatty()
            self.bar = tqdm(total=total_agent_steps, initial=min(start_steps, total_agent_steps),
                            unit=" agent-steps", unit_scale=True, dynamic_ncols=True, desc="train",
                            mininterval=0.5 if tty else 15.0, file=sys.stderr)
        self.stopped_by_episodes = False

    def on_steps(self, agent_steps: int) -> bool:
        """Advance the bar, save a checkpoint when due; False once ``max_episodes`` is reached."""
        if self.bar is not None and agent_steps > self.steps:
            self.bar.update(min(agent_steps, self.total) - min(self.steps, self.total))
        self.steps = max(self.steps, agent_steps)
        if agent_steps >= self._next_ckpt:
            self.save_checkpoint(agent_steps)
            self._next_ckpt = (agent_steps // self.checkpoint_every + 1) * self.checkpoint_every
        if self.max_episodes is not None and self.episodes >= self.max_episodes:
            self.stopped_by_episodes = True
            return False
        return True

    def on_episode(self, agent_steps: int, summary: Mapping[str, Any]) -> None:
        """Log one finished env episode."""
        score = float(summary.get("score", float("nan")))
        win = summary.get("win")
        self.episodes += 1
        self._recent.append(score)
        self._ep.writerow([agent_steps, f"{time.perf_counter() - self.t0:.3f}", f"{score:.6g}",
                           int(summary.get("length", 0)), "" if win is None else f"{float(win):.6g}"])
        if self.tb is not None:
            self.tb.add_scalar("episode/score", score, agent_steps)
        if self.bar is not None and self.episodes % 10 == 0:
            self.bar.set_postfix(score=f"{np.mean(self._recent):.3g}", episodes=self.episodes, refresh=False)

    def on_metrics(self, agent_steps: int, metrics: Mapping[str, float]) -> None:
        """Log scalar training metrics."""
        for k, v in metrics.items():
            self._m.writerow([agent_steps, k, f"{v:.6g}"])
            if self.tb is not None:
                self.tb.add_scalar(k, v, agent_steps)
        self._m_file.flush()
        self._ep_file.flush()

    def save_checkpoint(self, agent_steps: int) -> Path:
        """Save the agent to ``checkpoints/step_<agent_steps>``."""
        path = self.out / CHECKPOINT_DIR / f"step_{agent_steps:012d}"
        self.agent.save(str(path))
        return path

    def close(self) -> None:
        """Flush and close the logs and the progress bar."""
        if self.bar is not None:
            self.bar.close()
        self._ep_file.close()
        self._m_file.close()
        if self.tb is not None:
            self.tb.close()


def latest_checkpoint(out: str | os.PathLike) -> Path | None:
    """The checkpoint with the most agent-steps under ``out/checkpoints``, or None."""
    root = Path(out) / CHECKPOINT_DIR
    if not root.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _STEP_DIR.match(p.name))
             and (p / "config.json").is_file()]
    return max(found)[1] if found else None


def _count_rows(path: Path) -> int:
    if not path.is_file():
        return 0
    with open(path) as f:
        return max(sum(1 for _ in f) - 1, 0)


def read_episodes(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(agent_steps int64 (E,), score float64 (E,))`` from an ``episodes.csv``."""
    steps, scores = [], []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            steps.append(int(row["agent_steps"]))
            scores.append(float(row["score"]))
    return np.asarray(steps, dtype=np.int64), np.asarray(scores, dtype=np.float64)


def plot_learning_curve(episodes_csv: str | os.PathLike, png: str | os.PathLike, *, title: str = "",
                        baselines: Mapping[str, float] | None = None, window: int = 50) -> Path:
    """Plot episode score against agent-steps (raw points and a rolling mean) to a PNG, atomically.

    Args:
        episodes_csv: an ``episodes.csv`` written by :class:`RunMonitor`.
        png: output path.
        title: plot title.
        baselines: ``{label: score}`` drawn as horizontal dashed lines (e.g. random, scripted).
        window: rolling-mean window in episodes.

    Returns:
        the PNG path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, scores = read_episodes(episodes_csv)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if scores.size:
        ax.scatter(steps, scores, s=4, alpha=0.25, color="tab:blue", label="episode score")
        w = max(1, min(window, scores.size))
        kernel = np.ones(w) / w
        rolling = np.convolve(scores, kernel, mode="valid")
        ax.plot(steps[w - 1:], rolling, color="tab:blue", lw=2, label=f"rolling mean ({w} episodes)")
    for (label, value), color in zip((baselines or {}).items(), ("tab:gray", "tab:green", "tab:red", "tab:purple")):
        ax.axhline(value, ls="--", lw=1.5, color=color, label=f"{label} ({value:.3g})")
    ax.set_xlabel("agent-steps")
    ax.set_ylabel("episode score")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no finished episodes logged", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    return atomic_savefig(fig, png)


def default_out(agent_name: str, env_id: str, seed: int | None) -> Path:
    """``runs/<EnvName-vN>-<agent>-s<seed>``."""
    return Path("runs") / f"{env_id.split('/')[-1]}-{agent_name}-s{seed}"


def _check_positive(name: str, v: Any, allow_none: bool = True) -> int | None:
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name}: expected a positive int, got {v!r}")
    return int(v)


def check_workers(agent_name: str, *, episodes: int | None = None) -> None:
    """Check that ``agent_name`` can train on several ranks (``qmarl train --workers K``, K > 1).

    Raises:
        ValueError: if the agent's :class:`~qmarl_agents.registry.AgentSpec` lacks
            ``supports_workers`` (the message lists the agents that have it), or ``episodes`` is given
            (an episode budget is counted on rank 0 alone; workers take agent-steps).
    """
    from qmarl_agents.registry import _AGENTS, agent_spec

    if not agent_spec(agent_name).supports_workers:
        able = ", ".join(n for n, s in _AGENTS.items() if s.supports_workers)
        raise ValueError(f"--workers: agent {agent_name!r} does not support --workers > 1 (agents that do: {able})")
    if episodes is not None:
        raise ValueError("--workers: give the budget in agent-steps (--agent-steps), not --episodes")


def train(agent_name: str, env_id: str, *, agent_steps: int | None = None, episodes: int | None = None,
          seed: int | None = 0, out: str | os.PathLike | None = None, resume: bool = False, overwrite: bool = False,
          checkpoint_every: int | None = None, protocol: Protocol | None = DEFAULT_PROTOCOL, progress: bool = True,
          tensorboard: bool = True, config: Mapping[str, Any] | None = None,
          env_kwargs: Mapping[str, Any] | None = None, baselines: Mapping[str, float] | None = None) -> TrainResult:
    """Train a registered agent and evaluate it (what ``qmarl train`` runs).

    Args:
        agent_name: registry name (``"ppo"``, ``"a2c"``, ``"dqn"``, ``"random"``, ``"scripted"`` ...).
        env_id: qmarl env id (or a Gymnasium id for agents whose spec has ``gymnasium_envs``,
            see :func:`qmarl_agents.registry.env_kind`).
        agent_steps: budget in agent-steps (one per agent per env step; PPO/A2C round up to whole
            rollouts). Default 100,000 unless ``episodes`` is given.
        episodes: alternatively, stop after this many env episodes (the agent-step budget, which
            schedules such as DQN's epsilon use, is then ``episodes * max_cycles * num_agents``).
        seed: the agent's seed.
        out: run directory (default :func:`default_out`).
        resume: continue from the newest checkpoint in ``out`` up to the budget.
        overwrite: replace an existing run in ``out`` (its known files and checkpoints).
        checkpoint_every: agent-steps between checkpoints (default: a fifth of the budget).
        protocol: final evaluation protocol; None skips the evaluation. The protocol and the
            submission are defined on qmarl envs, so a Gymnasium id is not evaluated.
        progress: show a progress bar.
        tensorboard: write TensorBoard event files to ``out/tb``.
        config: agent hyperparameters (see the agent's config dataclass).
        env_kwargs: env config overrides.
        baselines: ``{label: score}`` lines for the learning-curve plot.

    Returns:
        a :class:`TrainResult`.

    Raises:
        ValueError: bad arguments (unknown agent, env id or config key; budgets that are not
            positive ints; both budgets), ``out`` already holding a run (without ``resume`` or
            ``overwrite``), ``resume`` without a checkpoint, or a checkpoint of another agent/env.
    """
    import qmarl_envs
    from qmarl_agents.registry import agent_spec, env_kind, load_agent, load_policy, make_agent

    agent_spec(agent_name)
    ranks = int(os.environ.get("WORLD_SIZE", "1"))
    if ranks > 1:
        # a rank started by torchrun (``qmarl train --workers K``): join the group; rank 0 alone writes
        check_workers(agent_name, episodes=episodes)
        from qmarl_agents import distributed

        distributed.init_from_env()
    kind = env_kind(env_id, agent_name)
    _check_positive("agent_steps", agent_steps)
    _check_positive("episodes", episodes)
    _check_positive("checkpoint_every", checkpoint_every)
    if agent_steps is not None and episodes is not None:
        raise ValueError("agent_steps, episodes: give one budget, not both")
    if resume and overwrite:
        raise ValueError("resume, overwrite: choose one")
    env_kwargs = dict(env_kwargs or {})
    out = Path(out) if out is not None else default_out(agent_name, env_id, seed)
    if episodes is not None and kind == "gymnasium":
        import gymnasium

        horizon = gymnasium.spec(env_id).max_episode_steps
        if horizon is None:
            raise ValueError(f"episodes: {env_id!r} has no max_episode_steps to size the budget; give agent_steps")
        total = episodes * int(env_kwargs.get("max_episode_steps", horizon))
    elif episodes is not None:
        probe = qmarl_envs.make(env_id, **env_kwargs).unwrapped
        total = episodes * probe.scenario.max_cycles * probe.max_num_agents
    else:
        total = agent_steps if agent_steps is not None else 100_000

    existing = latest_checkpoint(out)
    has_run = existing is not None or (out / "config.json").is_file()
    if resume:
        if existing is None:
            raise ValueError(f"resume: no checkpoint under {str(out / CHECKPOINT_DIR)!r} to resume from")
        agent = load_agent(existing)
        if agent.name != agent_name or agent.env_id != env_id:
            raise ValueError(f"resume: {str(existing)!r} holds {agent.name!r} on {agent.env_id!r}, not "
                             f"{agent_name!r} on {env_id!r}")
    else:
        if has_run and not overwrite:
            raise ValueError(f"out: {str(out)!r} already holds a run; pass resume=True (--resume) to "
                             "continue it, overwrite=True to replace it, or choose another directory")
        agent = make_agent(agent_name, env_id=env_id, seed=seed, **dict(config or {}),
                           **({"env_kwargs": env_kwargs} if env_kwargs else {}))
    if ranks > 1 and not distributed.is_main():
        # the other ranks train the same agent (parameters broadcast from rank 0, gradients averaged by
        # the agent; a resumed run reads rank 0's checkpoint) and write nothing
        t0 = time.perf_counter()
        agent.learn(total)
        distributed.barrier()
        distributed.teardown()  # leave the group before exiting: a live gloo group aborts at exit
        return TrainResult(out=out, agent=agent, agent_steps=int(agent.agent_steps), episodes=0,
                           wall_clock_s=time.perf_counter() - t0, evaluation=None, files={})
    if not resume and has_run:
        _clear_run(out)
    out.mkdir(parents=True, exist_ok=True)
    start = int(agent.agent_steps)
    every = checkpoint_every if checkpoint_every is not None else max(total // 5, 1)
    run_info_path = out / "run.json"
    prior_wall = 0.0
    if resume and run_info_path.is_file():
        import json

        prior_wall = float(json.loads(run_info_path.read_text()).get("training_wall_clock_s", 0.0))
    monitor = RunMonitor(out, agent, total, checkpoint_every=every,
                         max_episodes=episodes, progress=progress, tensorboard=tensorboard,
                         start_steps=start, start_episodes=_count_rows(out / "episodes.csv") if resume else 0)
    t0 = time.perf_counter()
    try:
        agent.learn(total, callback=monitor)
    finally:
        monitor.close()
    if ranks > 1:  # rank 0 of --workers K: every rank has finished learning; the rest is rank 0's alone
        distributed.barrier()
        distributed.teardown()
    wall = prior_wall + time.perf_counter() - t0
    steps = int(agent.agent_steps)
    live = getattr(agent, "live_agent_steps", None)  # the budget rule: slots, and live agents among them
    live = None if live is None else int(live)
    monitor.save_checkpoint(steps)
    agent.save(str(out))
    atomic_write_json(run_info_path, {
        "agent": agent_name, "env_id": env_id, "env_kwargs": env_kwargs, "seed": seed,
        "config": dict(config or {}), "budget_agent_steps": total, "budget_episodes": episodes,
        "agent_steps": steps, "live_agent_steps": live, "episodes": monitor.episodes,
        "training_wall_clock_s": round(wall, 3),
        "checkpoint_every": every,
    })
    files = {"policy": out, "episodes_csv": out / "episodes.csv", "metrics_csv": out / "metrics.csv"}
    if tensorboard and monitor.tb is not None:
        files["tensorboard"] = out / "tb"
    files["learning_curve"] = plot_learning_curve(
        out / "episodes.csv", out / "learning_curve.png", baselines=baselines,
        title=f"{agent_name} on {env_id} (seed {seed})")
    evaluation = None
    if protocol is not None and kind == "qmarl":
        from qmarl_agents.leaderboard.protocol import build_submission, evaluate_policy, write_submission

        env = qmarl_envs.make(env_id, **env_kwargs)
        policy = load_policy(out, env)
        evaluation = evaluate_policy(policy, env_id, protocol, env_kwargs=env_kwargs)
        sub = build_submission(evaluation, name=f"{agent_name}-s{seed}", agent_config=_agent_config(agent),
                               training={"agent_steps": steps, "live_agent_steps": live,
                                         "wall_clock_s": round(wall, 3), "seed": seed},
                               env_kwargs=env_kwargs)
        files["submission"] = Path(write_submission(str(out / "submission.json"), sub))
    return TrainResult(out=out, agent=agent, agent_steps=steps, episodes=monitor.episodes, wall_clock_s=wall,
                       evaluation=evaluation, files=files)


def _agent_config(agent) -> dict[str, Any]:
    info = agent.describe() if callable(getattr(agent, "describe", None)) else {}
    return {k: v for k, v in info.items() if k != "agent_steps"}


def _clear_run(out: Path) -> None:
    """Remove the files a previous run wrote in ``out`` (only those; other files stay)."""
    for name in _RUN_FILES:
        p = out / name
        if p.is_file():
            p.unlink()
    for name in (CHECKPOINT_DIR, "tb"):
        p = out / name
        if p.is_dir():
            shutil.rmtree(p)
