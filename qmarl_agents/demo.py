"""``qmarl demo``: the main job, end to end in a few minutes on 2 CPU cores.

1. Evaluate the random and scripted baselines on ``qmarl/Jungle-v0`` under the leaderboard protocol.
2. Train a PPO baseline (one network shared by the agents) with :func:`qmarl_agents.train.train`.
3. Evaluate it under the same protocol and write its submission JSON.
4. Write the learning curve (with the baselines drawn in) and a GIF of a greedy rollout.
5. Print a results table, say where PPO falls short of (or beats) the baselines, and list the files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
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


def compare(results: dict[str, Any], learner: str = "ppo") -> list[str]:
    """Plain-language verdicts: where ``learner`` falls short of or beats each baseline (IQM, with
    the bootstrap intervals deciding whether the gap is clear)."""
    lines = []
    me = results[learner]
    lo, hi = me.stats["iqm_ci"]
    for name, other in results.items():
        if name == learner:
            continue
        olo, ohi = other.stats["iqm_ci"]
        gap = me.iqm - other.iqm
        if hi < olo:
            lines.append(f"{learner.upper()} falls short of {name}: IQM {me.iqm:.3f} vs {other.iqm:.3f} "
                         f"({gap:+.3f}; the 95% intervals do not overlap).")
        elif lo > ohi:
            lines.append(f"{learner.upper()} beats {name}: IQM {me.iqm:.3f} vs {other.iqm:.3f} ({gap:+.3f}; "
                         "the 95% intervals do not overlap).")
        else:
            word = "below" if gap < 0 else "above"
            lines.append(f"{learner.upper()} is level with {name} within the noise: IQM {me.iqm:.3f} vs "
                         f"{other.iqm:.3f} ({gap:+.3f}, {word}; the 95% intervals overlap).")
    return lines


def run_demo(out: str | Path = "runs/demo", *, env_id: str = DEMO_ENV, agent_steps: int = DEMO_AGENT_STEPS,
             seed: int = 0, progress: bool = True, console=None) -> DemoResult:
    """Run the demo (see the module docstring) and print its report.

    Args:
        out: output directory (the PPO run goes to ``out/ppo``; an earlier demo there is replaced).
        env_id: env to train on.
        agent_steps: PPO budget.
        seed: training seed.
        progress: show the training progress bar.
        console: a ``rich.console.Console`` to print to (default: a new one).

    Returns:
        a :class:`DemoResult`.

    Raises:
        ValueError: unknown env id or a bad budget.
    """
    from rich.console import Console
    from rich.table import Table

    from qmarl_agents.checkpoint import atomic_write_bytes, atomic_write_json
    from qmarl_agents.leaderboard.protocol import DEFAULT_PROTOCOL, evaluate_policy
    from qmarl_agents.registry import load_policy
    from qmarl_agents.train import plot_learning_curve, train

    t0 = time.perf_counter()
    console = console or Console()
    out = Path(out)
    protocol = DEFAULT_PROTOCOL
    console.print(f"[bold]qmarl demo[/]: PPO on [cyan]{env_id}[/], {agent_steps:,} agent-steps, then the "
                  f"leaderboard protocol ({len(protocol.seeds)} seeds x {protocol.episodes_per_seed} episodes)")
    results: dict[str, Any] = {}
    for name in ("random", "scripted"):
        results[name] = evaluate_policy(name, env_id, protocol, seed=seed)
        console.print(f"  {name:9s} {results[name].line()}")
    baselines = {n: r.iqm for n, r in results.items()}
    run = train("ppo", env_id, agent_steps=agent_steps, seed=seed, out=out / "ppo", overwrite=True,
                protocol=protocol, progress=progress, config=DEMO_PPO_CONFIG, baselines=baselines)
    results["ppo"] = run.evaluation
    console.print(f"  {'ppo':9s} {run.evaluation.line()}  (trained {run.agent_steps:,} agent-steps "
                  f"in {run.wall_clock_s:.0f} s, {run.agent_steps / max(run.wall_clock_s, 1e-9):,.0f}/s)")
    sampled = evaluate_policy(load_policy(run.out), env_id, replace(protocol, deterministic=False))
    # the learning curve with the baselines as IQM lines (train() drew it already; redraw with the title)
    curve = plot_learning_curve(run.files["episodes_csv"], out / "learning_curve.png", baselines=baselines,
                                title=f"PPO on {env_id}: episode score during training")
    gif = record_gif(load_policy(run.out), env_id, out / "rollout.gif", seed=protocol.seeds[0])
    submission = atomic_write_bytes(out / "submission.json", run.files["submission"].read_bytes())

    table = Table(title=f"{env_id}: episode score under the leaderboard protocol "
                        f"({protocol.episodes_per_seed * len(protocol.seeds)} episodes; greedy actions except "
                        "'ppo, sampled')")
    for col in ("policy", "mean", "IQM", "IQM 95% CI", "win rate", "eval s"):
        table.add_column(col, justify="right" if col != "policy" else "left")
    for name, r in (("ppo", results["ppo"]), ("ppo, sampled", sampled),
                    ("scripted", results["scripted"]), ("random", results["random"])):
        lo, hi = r.stats["iqm_ci"]
        win = "-" if r.wins is None else f"{float(r.wins.mean()):.0%}"
        table.add_row(name, f"{r.mean:.3f}", f"{r.iqm:.3f}", f"[{lo:.3f}, {hi:.3f}]", win, f"{r.wall_clock_s:.1f}")
    console.print(table)
    verdicts = compare(results)
    gap = sampled.iqm - results["ppo"].iqm
    note = (": the policy is memoryless and sees only its agent's local view, and a greedy one can repeat "
            "one move where sampling keeps exploring" if gap > 0.02 else "")
    verdicts.append(f"With sampled instead of greedy actions (not the leaderboard protocol) PPO scores IQM "
                    f"{sampled.iqm:.3f} ({gap:+.3f}){note}.")
    for line in verdicts:
        console.print(f"  - {line}")
    files = {"submission": submission, "learning_curve": curve, "rollout_gif": gif, "policy": run.out,
             "episodes_csv": run.files["episodes_csv"], "tensorboard": run.files.get("tensorboard", run.out / "tb")}
    wall = time.perf_counter() - t0
    atomic_write_json(out / "results.json", {
        "env_id": env_id, "agent_steps": run.agent_steps, "training_wall_clock_s": round(run.wall_clock_s, 3),
        "demo_wall_clock_s": round(wall, 3), "protocol": protocol.to_dict(),
        "ppo_sampled_actions": {"mean": sampled.mean, "iqm": sampled.iqm, "iqm_ci": sampled.stats["iqm_ci"]},
        "results": {n: {"mean": r.mean, "iqm": r.iqm, **{k: r.stats[k] for k in ("mean_ci", "iqm_ci", "std")},
                        "win_rate": None if r.wins is None else float(r.wins.mean())} for n, r in results.items()},
        "verdicts": verdicts})
    files["results"] = out / "results.json"
    console.print("[bold]files[/]:")
    for k, p in files.items():
        console.print(f"  {k:15s} {p}")
    console.print(f"demo finished in {wall:.0f} s")
    return DemoResult(results=results, files=files, wall_clock_s=wall, verdicts=verdicts)
