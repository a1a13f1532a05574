"""``qmarl reproduce qmarl``: Q-MARL's experiments (Vo & Lin, arXiv 2503.07397, §3) on this project's envs.

1. Learning curves (mean episode score per batch, [P] Fig. 6) of Q-MARL-AC, Q-MARL-PG and
   Vanilla-PG on Jungle-v0, Battle-v0 and Deception-v0.
2. Generalisation ([P] Table 1): each Q-MARL-AC policy trained at the small N is evaluated at N and
   2N (Jungle 4 -> 8 agents, Battle 7 -> 14 a side, Deception 1 -> 2), and at the 1k / 10k presets.
3. Ensembling on against off (the same trained weights, ``config.ensemble`` switched).

Every evaluation is the leaderboard protocol (greedy actions; seeds 0-9 x 5 episodes, or seeds 0-2
x 2 episodes with ``quick`` and at 1k/10k agents). Writes ``results.json``, ``results.md`` (the
table beside the paper's numbers and the README's scripted / PPO figures) and
``learning_curves.png`` under ``out``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

PAPER = {"Jungle": 0.91, "Battle": 0.90, "Deception": 0.36}
"""[P] Q-MARL-AC peak training mean reward (Fig. 6 text: 90.94 %, 90.16 %, 36 %)."""
README = {"Jungle": {"scripted": 0.656, "ppo": 0.025, "random": -0.268},
          "Battle": {"scripted": 0.385, "ppo": 0.75, "random": -1.00},
          "Deception": {"scripted": -0.69, "ppo": -1.00, "random": -1.00}}
"""IQM scores of the README's results table (benchmarks/results/baselines.json)."""
SCENARIOS = {"Jungle": ("qmarl/Jungle-v0", {"num_agents": 8}),
             "Battle": ("qmarl/Battle-v0", {"num_agents": 14}),
             "Deception": ("qmarl/Deception-v0", {"num_agents": 2})}
VARIANTS = {"Q-MARL-AC": "ac", "Q-MARL-PG": "pg", "Vanilla-PG": "vanilla"}


class _Curve:
    def __init__(self):
        self.batch_scores: list[float] = []

    def on_steps(self, agent_steps: int) -> bool:
        return True

    def on_episode(self, agent_steps: int, summary) -> None:
        pass

    def on_metrics(self, agent_steps: int, metrics) -> None:
        if "batch/mean_score" in metrics:
            self.batch_scores.append(float(metrics["batch/mean_score"]))


def _iqm(policy, env_id: str, env_kwargs: dict | None, protocol) -> float:
    from qmarl_agents.leaderboard.protocol import evaluate_policy

    r = evaluate_policy(policy, env_id, protocol, env_kwargs=env_kwargs)
    return float(r.stats["iqm"])


def run(out: Path, *, quick: bool, seed: int, progress: bool) -> dict[str, Any]:
    """Run the experiments and write the results (see the module docstring).

    Args:
        out: output directory (exists).
        quick: 300 games per run instead of 3,000, fewer evaluation episodes, no 10k evaluation.
        seed: training seed of every run.
        progress: print a line per finished run.

    Returns:
        ``{"curves": ..., "table": ..., "generalisation": ..., "ensembling": ..., "settings": ...}``.
    """
    from qmarl_agents import make_agent
    from qmarl_agents.checkpoint import atomic_write_json
    from qmarl_agents.leaderboard.protocol import DEFAULT_PROTOCOL
    import qmarl_envs

    games = 300 if quick else 3000
    full = DEFAULT_PROTOCOL if not quick else dataclasses.replace(DEFAULT_PROTOCOL, seeds=(0, 1, 2),
                                                                 episodes_per_seed=2, bootstrap_reps=200)
    small = dataclasses.replace(DEFAULT_PROTOCOL, seeds=(0, 1, 2), episodes_per_seed=2, bootstrap_reps=200)
    big = dataclasses.replace(small, seeds=(0,), episodes_per_seed=1)
    settings = {"games_per_run": games, "games_per_batch": 20, "seed": seed, "quick": quick}
    curves: dict[str, dict[str, list[float]]] = {}
    table, gen, ens = {}, {}, {}
    for scen, (env_id, double) in SCENARIOS.items():
        spec = qmarl_envs.spec(env_id)
        n = len(qmarl_envs.make(env_id).unwrapped.possible_agents)
        steps = games * n * 31
        curves[scen] = {}
        table[scen] = {}
        for label, variant in VARIANTS.items():
            t = time.perf_counter()
            cb = _Curve()
            agent = make_agent("qmarl", env_id=env_id, seed=seed, variant=variant, games_per_batch=20, n_envs=20)
            agent.learn(steps, callback=cb)
            curves[scen][label] = cb.batch_scores
            table[scen][label] = {"iqm": _iqm(agent, env_id, None, full),
                                  "best_batch_mean": max(cb.batch_scores) if cb.batch_scores else None,
                                  "train_s": round(time.perf_counter() - t, 1)}
            if variant == "ac":
                gen[scen] = {"N": _iqm(agent, env_id, None, small), "2N": _iqm(agent, env_id, double, small)}
                for tag in (["1k"] if quick else ["1k", "10k"]):
                    big_id = env_id.replace("-v0", f"-{tag}-v0")
                    gen[scen][tag] = _iqm(agent, big_id, None, big)
                on = table[scen][label]["iqm"]
                off_agent = agent
                off_agent.config = dataclasses.replace(agent.config, ensemble=False)
                ens[scen] = {"on": on, "off": _iqm(off_agent, env_id, None, full),
                             "on_2N": gen[scen]["2N"], "off_2N": _iqm(off_agent, env_id, double, small)}
                off_agent.config = dataclasses.replace(agent.config, ensemble=True)
            if progress:
                print(f"{scen} {label}: IQM {table[scen][label]['iqm']:.3f} "
                      f"({table[scen][label]['train_s']} s)", flush=True)
    res = {"curves": curves, "table": table, "generalisation": gen, "ensembling": ens,
           "settings": settings, "paper": PAPER, "readme_baselines": README}
    atomic_write_json(out / "results.json", res)
    (out / "results.md").write_text(_markdown(res))
    _plot(curves, out / "learning_curves.png")
    return res


def _markdown(res: dict) -> str:
    s = res["settings"]
    lines = [f"Training: {s['games_per_run']} games per run (batches of {s['games_per_batch']}), seed {s['seed']}"
             f"{', quick run' if s['quick'] else ''}. Scores: IQM of the episode score under the leaderboard "
             "protocol (greedy actions).", "",
             "| scenario | Q-MARL-AC | Q-MARL-PG | Vanilla-PG | paper Q-MARL-AC | scripted | PPO (README) |",
             "|---|---|---|---|---|---|---|"]
    for scen, row in res["table"].items():
        b = README[scen]
        lines.append(f"| {scen} | {row['Q-MARL-AC']['iqm']:.3f} | {row['Q-MARL-PG']['iqm']:.3f} | "
                     f"{row['Vanilla-PG']['iqm']:.3f} | {PAPER[scen]:.2f} | {b['scripted']:.3f} | {b['ppo']:.3f} |")
    lines += ["", "Generalisation of Q-MARL-AC (trained at N; [P] Table 1 doubles N):", "",
              "| scenario | N | 2N | 1k preset | 10k preset |", "|---|---|---|---|---|"]
    for scen, g in res["generalisation"].items():
        lines.append(f"| {scen} | {g['N']:.3f} | {g['2N']:.3f} | {g.get('1k', float('nan')):.3f} | "
                     f"{g['10k']:.3f} |" if "10k" in g else
                     f"| {scen} | {g['N']:.3f} | {g['2N']:.3f} | {g.get('1k', float('nan')):.3f} | – |")
    lines += ["", "Ensembling (same Q-MARL-AC weights):", "",
              "| scenario | on | off | on, 2N | off, 2N |", "|---|---|---|---|---|"]
    for scen, e in res["ensembling"].items():
        lines.append(f"| {scen} | {e['on']:.3f} | {e['off']:.3f} | {e['on_2N']:.3f} | {e['off_2N']:.3f} |")
    return "\n".join(lines) + "\n"


def _plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3.2), constrained_layout=True)
    for ax, (scen, by_variant) in zip(np.atleast_1d(axes), curves.items()):
        for label, ys in by_variant.items():
            ax.plot(np.arange(1, len(ys) + 1), ys, label=label)
        ax.set_title(scen)
        ax.set_xlabel("batch (20 games)")
        ax.set_ylim(-1.05, 1.05)
    np.atleast_1d(axes)[0].set_ylabel("mean episode score")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)
