"""``qmarl reproduce qbm``: the experiments of Müller et al. (ICAART 2022, §4) with the QBM agent.

Single agent on 3x3 and 5x3: the four variants traditional (no replay, no target net), +replay,
+target, +both. Two agents on 3x3 and 5x3, with and without parameter sharing (replay and target).
Each configuration is trained ``runs`` times for ``episodes`` episodes; the score of a run is the
mean training reward over its last 10% of episodes (the paper's notebooks: episodes 450-499).
Writes ``curves.png`` (mean reward per episode over runs), ``boxplots.png``, ``results.json`` and
``results.md`` (beside the paper's numbers) under ``out``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from qmarl_agents.checkpoint import atomic_write_json
from qmarl_agents.qbm.agent import make_qbm

PAPER = {"3x3": "≈ 205 (optimal median)", "5x3": "≈ 195 (optimal median)", "3x3-2": "≈ +350",
         "5x3-2": "≈ −450 (unsolved)"}
"""The paper's numbers (§4, as quoted in the issue; not verifiable from the public text)."""
OPTIMUM = {"3x3": "207.5 (190..220)", "5x3": "197.7 (170..220)", "3x3-2": "420 (400..440)",
           "5x3-2": "403.3 (360..440)"}
ENVS = {"3x3": "qmarl/BallCollection-3x3-v0", "5x3": "qmarl/BallCollection-5x3-v0",
        "3x3-2": "qmarl/BallCollection-3x3-2Agents-v0", "5x3-2": "qmarl/BallCollection-5x3-2Agents-v0"}
VARIANTS = {"traditional": dict(replay=False, target_net=False), "replay": dict(replay=True, target_net=False),
            "target": dict(replay=False, target_net=True), "replay+target": dict(replay=True, target_net=True)}


def experiments() -> list[tuple[str, str, dict]]:
    """``(env key, label, config)`` of every configuration."""
    out = [(k, v, cfg) for k in ("3x3", "5x3") for v, cfg in VARIANTS.items()]
    for k in ("3x3-2", "5x3-2"):
        out.append((k, "shared", dict(parameter_sharing=True)))
        out.append((k, "independent", dict(parameter_sharing=False)))
    return out


class _Episodes:
    def __init__(self, limit: int):
        self.limit, self.scores = limit, []

    def on_steps(self, n):
        return len(self.scores) < self.limit

    def on_episode(self, n, summary):
        self.scores.append(float(summary.get("score", 0.0)))

    def on_metrics(self, n, m):
        pass


def train_run(env_key: str, config: dict, episodes: int, seed: int) -> np.ndarray:
    """Train one agent for ``episodes`` episodes; ``float64 (episodes,)`` training scores."""
    agent = make_qbm(ENVS[env_key], seed, **config)
    cb = _Episodes(episodes)
    agent.learn(10**9, callback=cb)
    return np.asarray(cb.scores[:episodes])


def run(out: Path, *, quick: bool, seed: int, progress: bool) -> dict:
    """Run the reproduction (see the module docstring); returns the table's figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    episodes, runs = (30, 2) if quick else (500, 5)
    out = Path(out)
    results, curves = {}, {}
    for env_key, label, cfg in experiments():
        t = time.perf_counter()
        scores = [train_run(env_key, cfg, episodes, seed + i) for i in range(runs)]
        tail = max(1, episodes // 10)
        finals = [float(s[-tail:].mean()) for s in scores]
        key = f"{env_key}/{label}"
        results[key] = {"env_id": ENVS[env_key], "variant": label, "runs": runs, "episodes": episodes,
                        "final_scores": finals, "median": float(np.median(finals)),
                        "wall_clock_s": round(time.perf_counter() - t, 1)}
        curves[key] = np.mean(np.stack(scores), axis=0)
        if progress:
            print(f"{key}: median of run means over the last {tail} episodes {np.median(finals):.1f} "
                  f"({results[key]['wall_clock_s']} s)", flush=True)
        atomic_write_json(out / "results.json", results)
    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    for ax, env_key in zip(axes, ENVS):
        for key, c in curves.items():
            if key.startswith(env_key + "/"):
                w = max(1, episodes // 25)
                ax.plot(np.convolve(c, np.ones(w) / w, mode="valid"), label=key.split("/")[1])
        ax.set_title(ENVS[env_key].split("/")[1])
        ax.set_xlabel("episode")
        ax.set_ylabel("reward (moving mean)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(12, 4))
    keys = list(results)
    ax.boxplot([results[k]["final_scores"] for k in keys])
    ax.set_xticks(range(1, len(keys) + 1), keys, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("mean reward, last 10% of episodes")
    fig.tight_layout()
    fig.savefig(out / "boxplots.png", dpi=110)
    plt.close(fig)
    lines = ["| env | variant | runs x episodes | median (ours) | paper | optimum (mean, min..max) |",
             "|---|---|---|---|---|---|"]
    for k, r in results.items():
        ek = k.split("/")[0]
        lines.append(f"| {ek} | {r['variant']} | {r['runs']} x {r['episodes']} | {r['median']:.1f} | "
                     f"{PAPER[ek]} | {OPTIMUM[ek]} |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    return results


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(Path("runs/reproduce-qbm-quick"), quick=True, seed=0, progress=True), indent=1)[:2000])
