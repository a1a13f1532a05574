"""``qmarl reproduce qbm``: the experiments of Müller et al. (ICAART 2022, §4) with the QBM agent.

Single agent on 3x3 and 5x3: the four variants traditional (no replay, no target net), +replay,
+target, +both. Two agents on 3x3 and 5x3, with and without parameter sharing (replay and target).
Each configuration is trained ``runs`` times for ``episodes`` episodes (full: 5 x 500, the paper's
protocol; ``quick``: 3 x 150). Two scores per run: the mean *training* reward over its last 10% of
episodes (the paper's notebooks: episodes 450-499, epsilon-greedy at epsilon_min = 0.1), and the
mean reward of the trained policy acting greedily over the leaderboard protocol's 50 evaluation
episodes. References beside the paper's numbers: the exact optimum (dynamic programming,
:func:`~qmarl_envs.scenarios.ball_collection.optimal_returns`) and the training reward a
shortest-path policy gets under the same epsilon (:func:`epsilon_reference`).
Writes ``curves.png`` (mean reward per episode over runs), ``boxplots.png`` (greedy evaluation
scores per run), ``results.json`` and ``results.md`` under ``out``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from qmarl_agents.checkpoint import atomic_write_json
from qmarl_agents.qbm.agent import make_qbm
from qmarl_envs.fileio import atomic_savefig

PAPER = {"3x3": "≈ 205 (optimal median)", "5x3": "≈ 195 (optimal median)", "3x3-2": "≈ +350",
         "5x3-2": "≈ −450 (unsolved)"}
"""The paper's numbers (§4, as quoted in the issue; not verifiable from the public text)."""
ENVS = {"3x3": "qmarl/BallCollection-3x3-v0", "5x3": "qmarl/BallCollection-5x3-v0",
        "3x3-2": "qmarl/BallCollection-3x3-2Agents-v0", "5x3-2": "qmarl/BallCollection-5x3-2Agents-v0"}
VARIANTS = {"traditional": dict(replay=False, target_net=False), "replay": dict(replay=True, target_net=False),
            "target": dict(replay=False, target_net=True), "replay+target": dict(replay=True, target_net=True)}


def optimum(env_key: str) -> str:
    """The exact optimum of ``env_key`` as ``"mean (min..max)"`` over start states
    (:func:`~qmarl_envs.scenarios.ball_collection.optimal_returns`, dynamic programming)."""
    import qmarl_envs
    from qmarl_envs.scenarios.ball_collection import optimal_returns

    o = optimal_returns(qmarl_envs.make(ENVS[env_key]).unwrapped.scenario.config)
    return f"{o['mean']:.1f} ({o['min']:.0f}..{o['max']:.0f})"


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


def train_run(env_key: str, config: dict, episodes: int, seed: int, *, evaluate: bool = False):
    """Train one agent for ``episodes`` episodes.

    Returns:
        ``float64 (episodes,)`` training scores; with ``evaluate``, also the mean greedy score over
        the leaderboard's default protocol (50 episodes).
    """
    agent = make_qbm(ENVS[env_key], seed, **config)
    cb = _Episodes(episodes)
    agent.learn(10**9, callback=cb)
    scores = np.asarray(cb.scores[:episodes])
    if not evaluate:
        return scores
    from qmarl_agents.leaderboard.protocol import evaluate_policy

    ev = evaluate_policy(agent, ENVS[env_key], env_kwargs=agent.env_kwargs)
    return scores, float(ev.scores.mean())


def epsilon_reference(env_key: str, eps: float = 0.1, episodes: int = 4000, seed: int = 0) -> float:
    """Mean summed return of a shortest-path policy that acts at random with probability ``eps``.

    Each agent steps to the neighbouring cell closest (BFS) to its own ball, avoiding pits and other
    agents' balls; with probability ``eps`` it takes a uniform random action instead (the
    exploration the training scores are taken under). The reference for the training scores.
    """
    import qmarl_envs
    from qmarl_envs.core import kernels

    env = qmarl_envs.make(ENVS[env_key]).unwrapped
    env.reset_arrays(seed)
    st = env.grid_state
    lay = st.balls.copy()
    n = env.max_num_agents
    dist = []
    for i in range(n):
        passable = ~st.walls & ~st.pits & ((lay < 0) | (lay == i))
        d = kernels.bfs_distances(passable, lay == i).astype(np.float64)
        d[d < 0] = np.inf
        dist.append(d)
    dist = np.stack(dist)                                                  # (n, H, W)
    Hh, Ww = dist.shape[1:]
    rng = np.random.default_rng(seed)
    total = 0.0
    for ep in range(episodes):
        if ep:
            env.reset_arrays(None)
        while env.alive_mask().any():
            pos = env.positions()
            nxt = pos[:, None, :] + kernels.ACTION_DELTAS[None]            # (n, 5, 2)
            nxt[..., 0] = np.clip(nxt[..., 0], 0, Hh - 1)
            nxt[..., 1] = np.clip(nxt[..., 1], 0, Ww - 1)
            blocked = st.walls[nxt[..., 0], nxt[..., 1]]
            nxt[blocked] = np.broadcast_to(pos[:, None, :], nxt.shape)[blocked]
            d = dist[np.arange(n)[:, None], nxt[..., 0], nxt[..., 1]]
            act = d.argmin(axis=1)
            rand = rng.random(n) < eps
            act = np.where(rand, rng.integers(0, 5, n), act)
            env.step_arrays(act.astype(np.int64))
            st = env.grid_state
        total += float(env.episode_summary()["score"])
    return total / episodes


def run(out: Path, *, quick: bool, seed: int, progress: bool) -> dict:
    """Run the reproduction (see the module docstring); returns the table's figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    episodes, runs = (150, 3) if quick else (500, 5)
    out = Path(out)
    results, curves = {}, {}
    refs = {k: round(epsilon_reference(k), 1) for k in ENVS}
    optima = {k: optimum(k) for k in ENVS}
    for env_key, label, cfg in experiments():
        t = time.perf_counter()
        done = [train_run(env_key, cfg, episodes, seed + i, evaluate=True) for i in range(runs)]
        scores = [d[0] for d in done]
        evals = [d[1] for d in done]
        tail = max(1, episodes // 10)
        finals = [float(s[-tail:].mean()) for s in scores]
        key = f"{env_key}/{label}"
        results[key] = {"env_id": ENVS[env_key], "variant": label, "runs": runs, "episodes": episodes,
                        "final_scores": finals, "median": float(np.median(finals)),
                        "eval_scores": evals, "eval_median": float(np.median(evals)),
                        "eps_reference": refs[env_key], "wall_clock_s": round(time.perf_counter() - t, 1)}
        curves[key] = np.mean(np.stack(scores), axis=0)
        if progress:
            print(f"{key}: training (last {tail} episodes) median {np.median(finals):.1f}, greedy evaluation "
                  f"median {np.median(evals):.1f} ({results[key]['wall_clock_s']} s)", flush=True)
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
    atomic_savefig(fig, out / "curves.png", dpi=80)
    fig, ax = plt.subplots(figsize=(12, 4))
    keys = list(results)
    ax.boxplot([results[k]["eval_scores"] for k in keys])
    ax.set_xticks(range(1, len(keys) + 1), keys, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("greedy evaluation score (50 episodes) per run")
    fig.tight_layout()
    atomic_savefig(fig, out / "boxplots.png", dpi=80)
    lines = ["| env | variant | runs x episodes | training, last 10% (median) | greedy evaluation (median) | "
             "paper | shortest path at epsilon 0.1 | optimum (mean, min..max) |",
             "|---|---|---|---|---|---|---|---|"]
    for k, r in results.items():
        ek = k.split("/")[0]
        lines.append(f"| {ek} | {r['variant']} | {r['runs']} x {r['episodes']} | {r['median']:.1f} | "
                     f"{r['eval_median']:.1f} | {PAPER[ek]} | {r['eps_reference']:.1f} | {optima[ek]} |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    return results


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(Path("runs/reproduce-qbm-quick"), quick=True, seed=0, progress=True), indent=1)[:2000])
