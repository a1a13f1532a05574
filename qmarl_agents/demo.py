"""``qmarl demo``: the main job, end to end in a few minutes on 2 CPU cores.

1. Score the random and scripted baselines on ``qmarl/Jungle-v0`` under the leaderboard protocol.
2. Train PPO (one network shared by the agents, :data:`DEMO_PPO_CONFIG`) and Q-MARL (Vo & Lin,
   message passing over ego graphs; ``qmarl_agents.qmarl.config.DEMO_CONFIG``) with
   :func:`qmarl_agents.train.train`, each scored under the same protocol at the end.
3. Put the four submissions on a local board (``<out>/board``, via ``qmarl leaderboard add``'s
   functions) and build it: ``<out>/board/index.html`` and ``README.md``.
4. Record a GIF of a greedy rollout of each trained policy.
5. Print the ranking with 95% intervals, say where each learner falls short of (or beats) the
   others, and list the files.

Q-MARL is left out, with a message, when it is not registered (``qmarl_agents.list_agents()``).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEMO_ENV = "qmarl/Jungle-v0"
"""The env the demo trains on."""
DEMO_AGENT_STEPS = 1_500_000
"""PPO budget of the demo, in agent-steps (one to two and a half minutes on two cores)."""
DEMO_PPO_CONFIG: dict[str, Any] = {"n_envs": 16, "n_steps": 64, "batch_size": 2048, "n_epochs": 10,
                                   "learning_rate": 3e-4, "gamma": 0.9, "ent_coef": 0.0}
"""PPO hyperparameters of the demo (see :class:`~qmarl_agents.sb3.agent.PPOConfig`); the best of a small
sweep on Jungle-v0 (gamma 0.9/0.95/0.99, entropy 0/0.003/0.01, 4/8/10 epochs, 64/128 units)."""
LABELS = {"ppo": "PPO", "qmarl": "Q-MARL", "random": "random", "scripted": "scripted"}
"""Display names in the demo's report."""


@dataclass
class DemoResult:
    """What the demo produced: ``results`` maps policy name to its :class:`EvalResult`, ``files``
    names the written files, ``wall_clock_s`` is the whole demo's duration."""

    results: dict[str, Any]
    files: dict[str, Path]
    wall_clock_s: float
    verdicts: list[str]


def record_gif(policy, env_id: str, path: str | Path, *, seed: int = 0, fps: float = 4.0) -> Path:
    """Play one greedy episode of ``policy`` on ``env_id`` and write it as a GIF (atomically).

    Args:
        policy: a :class:`~qmarl_agents.base.Policy` (env-bound policies are re-bound).
        env_id: the env.
        path: ``.gif`` file.
        seed: reset seed of the episode.
        fps: playback rate.

    Returns:
        the GIF path.
    """
    import qmarl_envs
    from qmarl_envs.render.record import RecordVideo

    env = RecordVideo(qmarl_envs.make(env_id, render_mode="rgb_array"), path, fps=fps)
    with env:
        if callable(getattr(policy, "bind", None)):
            policy.bind(env)
        obs, _ = env.reset(seed=seed)
        while env.agents:
            obs, *_ = env.step(policy.act({a: obs[a] for a in env.agents}, deterministic=True))
    return Path(path)


def compare(results: dict[str, Any], learner: str = "ppo", label: str | None = None) -> list[str]:
    """Plain-language verdicts: where ``learner`` falls short of or beats each other policy (IQM, with
    the bootstrap intervals deciding whether the gap is clear); ``label`` names it (default upper case)."""
    lines = []
    me = results[learner]
    label = label or learner.upper()
    lo, hi = me.stats["iqm_ci"]
    for name, other in results.items():
        if name == learner:
            continue
        olo, ohi = other.stats["iqm_ci"]
        gap = me.iqm - other.iqm
        name = LABELS.get(name, name)
        if hi < olo:
            lines.append(f"{label} falls short of {name}: IQM {me.iqm:.3f} vs {other.iqm:.3f} "
                         f"({gap:+.3f}; the 95% intervals do not overlap).")
        elif lo > ohi:
            lines.append(f"{label} beats {name}: IQM {me.iqm:.3f} vs {other.iqm:.3f} ({gap:+.3f}; "
                         "the 95% intervals do not overlap).")
        else:
            word = "below" if gap < 0 else "above"
            lines.append(f"{label} is level with {name} within the noise: IQM {me.iqm:.3f} vs "
                         f"{other.iqm:.3f} ({gap:+.3f}, {word}; the 95% intervals overlap).")
    return lines


def run_demo(out: str | Path = "runs/demo", *, env_id: str = DEMO_ENV, agent_steps: int = DEMO_AGENT_STEPS,
             qmarl_agent_steps: int | None = None, seed: int = 0, progress: bool = True,
             console=None) -> DemoResult:
    """Run the demo (see the module docstring) and print its report.

    Args:
        out: output directory (runs go to ``out/ppo`` and ``out/qmarl``, the board to ``out/board``;
            an earlier demo there is replaced).
        env_id: env to train on.
        agent_steps: PPO budget in agent-steps.
        qmarl_agent_steps: Q-MARL budget in agent-steps (default ``qmarl_agents.qmarl.config.DEMO_AGENT_STEPS``).
        seed: training seed.
        progress: show the training progress bars.
        console: a ``rich.console.Console`` to print to (default: a new one).

    Returns:
        a :class:`DemoResult` (``results`` maps ``random``, ``scripted``, ``ppo`` and ``qmarl`` to
        :class:`~qmarl_agents.leaderboard.protocol.EvalResult`).

    Raises:
        ValueError: unknown env id or a bad budget.
    """
    from rich.console import Console
    from rich.table import Table

    from qmarl_agents import list_agents
    from qmarl_agents.checkpoint import atomic_write_json
    from qmarl_agents.leaderboard.add import add_run, add_submission
    from qmarl_agents.leaderboard.build import build_board, load_entries
    from qmarl_agents.leaderboard.protocol import DEFAULT_PROTOCOL, build_submission, evaluate_policy
    from qmarl_agents.registry import load_policy
    from qmarl_agents.train import train

    t0 = time.perf_counter()
    console = console or Console()
    out = Path(out)
    board = out / "board"
    protocol = DEFAULT_PROTOCOL
    learners: dict[str, tuple[int, dict[str, Any]]] = {"ppo": (agent_steps, DEMO_PPO_CONFIG)}
    if "qmarl" in list_agents():
        from qmarl_agents.qmarl.config import DEMO_AGENT_STEPS as QMARL_STEPS
        from qmarl_agents.qmarl.config import DEMO_CONFIG as QMARL_CONFIG

        learners["qmarl"] = (qmarl_agent_steps or QMARL_STEPS, dict(QMARL_CONFIG))
    else:
        console.print("[yellow]Q-MARL is not registered; the demo trains PPO only[/]")
    console.print(f"[bold]qmarl demo[/]: {' and '.join(LABELS[n] for n in learners)} on [cyan]{env_id}[/], "
                  f"then the leaderboard protocol ({len(protocol.seeds)} seeds x {protocol.episodes_per_seed} "
                  "episodes, greedy actions)")
    if board.exists():
        shutil.rmtree(board)
    results: dict[str, Any] = {}
    files: dict[str, Path] = {}
    for name in ("random", "scripted"):
        results[name] = evaluate_policy(name, env_id, protocol, seed=seed)
        add_submission(build_submission(results[name], name=name, author="qmarl demo"), board=board, name=name)
        console.print(f"  {name:9s} {results[name].line()}")
    baselines = {n: r.iqm for n, r in results.items()}
    budgets = {}
    for name, (steps, config) in learners.items():
        run = train(name, env_id, agent_steps=steps, seed=seed, out=out / name, overwrite=True, protocol=protocol,
                    progress=progress, config=config, baselines=baselines)
        results[name], budgets[name] = run.evaluation, run.agent_steps
        console.print(f"  {name:9s} {run.evaluation.line()}  (trained {run.agent_steps:,} agent-steps "
                      f"in {run.wall_clock_s:.0f} s, {run.agent_steps / max(run.wall_clock_s, 1e-9):,.0f}/s)")
        add_run(run.out, board=board, name=f"{name}-s{seed}", author="qmarl demo")
        files[f"{name}_gif"] = record_gif(load_policy(run.out), env_id, out / f"{name}.gif", seed=protocol.seeds[0])
        files[f"{name}_run"] = run.out
        files[f"{name}_curve"] = run.files["learning_curve"]
    pages = build_board(board)
    files["board_html"], files["board_readme"] = pages["html"], pages["readme"]

    ranked = load_entries(board)[env_id]
    table = Table(title=f"{env_id}: ranking under the leaderboard protocol "
                        f"({protocol.episodes_per_seed * len(protocol.seeds)} episodes, greedy actions)")
    for col in ("rank", "entry", "IQM", "IQM 95% CI", "mean", "win rate", "budget (agent-steps)"):
        table.add_column(col, justify="left" if col == "entry" else "right")
    for i, sub in enumerate(ranked, 1):
        sm = sub["summary"]
        win = "-" if sub.get("win_rate") is None else f"{sub['win_rate']:.0%}"
        steps = sub["training"]["agent_steps"]
        table.add_row(str(i), sub["name"], f"{sm['iqm']:.3f}", f"[{sm['iqm_ci'][0]:.3f}, {sm['iqm_ci'][1]:.3f}]",
                      f"{sm['mean']:.3f}", win, "-" if sub["agent"] in ("random", "scripted") else f"{steps:,}")
    console.print(table)
    verdicts: list[str] = []
    for name in learners:
        verdicts += compare({name: results[name], **{k: v for k, v in results.items() if k != name}},
                            name, LABELS[name])
    verdicts = list(dict.fromkeys(verdicts))
    for line in verdicts:
        console.print(f"  - {line}")
    wall = time.perf_counter() - t0
    atomic_write_json(out / "results.json", {
        "env_id": env_id, "demo_wall_clock_s": round(wall, 3), "protocol": protocol.to_dict(),
        "agent_steps": budgets, "ranking": [s["name"] for s in ranked],
        "results": {n: {"mean": r.mean, "iqm": r.iqm, **{k: r.stats[k] for k in ("mean_ci", "iqm_ci", "std")},
                        "win_rate": None if r.wins is None else float(r.wins.mean())} for n, r in results.items()},
        "verdicts": verdicts})
    files["results"] = out / "results.json"
    console.print("[bold]files[/]:")
    for k, p in files.items():
        console.print(f"  {k:15s} {p}")
    console.print(f"demo finished in {wall:.0f} s; open {pages['html']}")
    return DemoResult(results=results, files=files, wall_clock_s=wall, verdicts=verdicts)
