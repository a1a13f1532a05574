"""``qmarl reproduce quantum-train``: QTRL depth sweep and Dist-QTRL speedup (Chen et al., arXiv 2412.08845, Fig. 1).

Experiments (the paper's body was not available; its Fig. 1 caption gives the design):

* **Depth sweep** (Fig. 1b): centralised QTRL with L = 3, 7, 13 against the classical policy of the same
  architecture (trained directly), on CartPole-v1 (official notebook's net 4-128-2) and on
  ``qmarl/BallCollection-3x3-v0`` (net 18-32-5, so n = 10 as in CartPole).
* **Speedup** (Fig. 1c): Dist-QTRL with K = 1, 2, 4, 8 workers at L = 3, each run a
  ``qmarl train quantum-train --workers K`` through torchrun's launcher
  (:func:`qmarl_agents.quantum_train.dist.run_workers`). ``qmarl train`` takes qmarl ids only, so
  this runs on ``qmarl/BallCollection-3x3-v0`` (the paper: CartPole); the target is the final
  moving-average score of centralised L = 13 on that env; reported: rounds (= episodes per worker)
  and total episodes until the moving average (window 10 rounds, rank 0's episode per round)
  reaches it, plus wall-clock. The run directories are kept under ``out/dist/K<k>``.

Writes ``depth_sweep.png``, ``speedup.png``, ``results.md`` and ``results.json`` under ``out``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

WINDOW = 10


def _moving(x, w=WINDOW):
    x = np.asarray(x, float)
    if len(x) == 0:
        return x
    c = np.cumsum(np.insert(x, 0, 0.0))
    out = np.empty(len(x))
    for i in range(len(x)):
        lo = max(0, i + 1 - w)
        out[i] = (c[i + 1] - c[lo]) / (i + 1 - lo)
    return out


def _train(env_id: str, episodes: int, seed: int, config: dict[str, Any]) -> dict[str, Any]:
    from qmarl_agents.quantum_train.agent import make_quantum_train

    agent = make_quantum_train(env_id, seed=seed, **config)
    scores: list[float] = []
    ep_steps: list[int] = []

    class CB:
        def on_steps(self, steps):
            return agent.episodes < episodes

        def on_episode(self, steps, summary):
            scores.append(float(summary.get("score", 0.0)))
            ep_steps.append(int(steps))

        def on_metrics(self, steps, metrics):
            pass

    t = time.perf_counter()
    agent.learn(10**12, callback=CB())
    return {"scores": scores, "wall_s": time.perf_counter() - t, "params": agent.parameter_counts(),
            "episode_agent_steps": ep_steps}


def _first_reach(curve, target):
    idx = np.nonzero(np.asarray(curve) >= target)[0]
    return int(idx[0]) + 1 if idx.size else None


def run(out: Path, *, quick: bool, seed: int = 0, progress: bool = True) -> dict:
    """Run the experiments and write plots, ``results.md`` and ``results.json`` under ``out``.

    Args:
        out: output directory.
        quick: fewer episodes (the only setting that fits the shared 2-core machine in minutes).
        seed: seed of every run.
        progress: print one line per run.

    Returns:
        the figures of the table (JSON-ready dict).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qmarl_agents.checkpoint import atomic_write_bytes, atomic_write_json
    from qmarl_agents.quantum_train.dist import agent_steps_for, run_workers

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    episodes = 80 if quick else 400
    rounds = 40 if quick else 200
    envs = {"CartPole-v1": {"hidden": (128,)}, "qmarl/BallCollection-3x3-v0": {"hidden": (32,)}}
    depths = (3, 7, 13)
    sweep: dict[str, dict[str, Any]] = {}
    for env_id, base in envs.items():
        sweep[env_id] = {}
        for label, cfg in [*[(f"QT L={d}", {"depth": d}) for d in depths], ("classical", {"generator": "classical"})]:
            r = _train(env_id, episodes, seed, {**base, **cfg, "learning_rate": 1e-3 if env_id == "CartPole-v1" else 3e-3})
            sweep[env_id][label] = r
            if progress:
                print(f"{env_id} {label}: final MA {_moving(r['scores'])[-1]:.1f}, params {r['params']['total']}, "
                      f"{r['wall_s']:.0f} s", flush=True)
    dist_env = "qmarl/BallCollection-3x3-v0"
    dist_cfg = {**envs[dist_env], "depth": 3, "learning_rate": 3e-3}
    target = float(_moving(sweep[dist_env]["QT L=13"]["scores"])[-1])
    # agent-steps per episode over the centralised L = 3 run's first `rounds` episodes (early episodes
    # are the long ones; K = 1 replays that run exactly)
    first = sweep[dist_env]["QT L=3"]["episode_agent_steps"][:rounds]
    per_episode = first[-1] / len(first)
    dist = {}
    for k in (1, 2, 4, 8):
        # budget for `rounds` rounds at that episode length (+25 % margin), curve cut at `rounds`
        r = run_workers(dist_env, k, seed=seed, config=dist_cfg, out=out / "dist" / f"K{k}", max_rounds=rounds,
                        agent_steps=agent_steps_for(rounds, k, 1.25 * per_episode))
        curve = _moving(r["scores"])
        dist[k] = {"rounds_to_target": _first_reach(curve, target), "wall_s": r["wall_s"], "scores": r["scores"],
                   "final_ma": float(curve[-1]), "rounds": r["rounds"],
                   "run_dir": Path(r["out"]).relative_to(out).as_posix()}
        reach = dist[k]["rounds_to_target"]
        dist[k]["episodes_to_target"] = None if reach is None else reach * k
        if reach is not None:
            dist[k]["wall_s_to_target"] = r["wall_s"] * reach / max(1, r["rounds"])
        if progress:
            print(f"Dist-QTRL K={k}: rounds to target {reach}, final MA {curve[-1]:.1f}, {r['wall_s']:.0f} s", flush=True)

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, (env_id, runs) in zip(axes[:2], sweep.items()):
        for label, r in runs.items():
            ax.plot(_moving(r["scores"]), label=f"{label} ({r['params']['total']} params)")
        ax.set_title(f"{env_id}: depth sweep")
        ax.set_xlabel("episode")
        ax.set_ylabel(f"score (moving average, {WINDOW})")
        ax.legend(fontsize=7)
    ax = axes[2]
    for k, r in dist.items():
        ax.plot(_moving(r["scores"]), label=f"K={k}, L=3")
    ax.axhline(target, ls="--", color="tab:blue", label="target: centralised L=13 final")
    ax.set_title(f"{dist_env}: Dist-QTRL (torchrun)")
    ax.set_xlabel("round (episodes per worker)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write_bytes(out / "quantum_train.png", buf.getvalue())
    plt.close(fig)

    lines = [f"# Quantum-Train reproduction ({'quick' if quick else 'full'} run, seed {seed})", "",
             f"Depth sweep: {episodes} episodes per run; moving average over {WINDOW} episodes.", "",
             "| env | policy | trainable params | classical M | final MA score | best MA score | wall s |",
             "|---|---|---|---|---|---|---|"]
    figures: dict[str, Any] = {"quick": quick, "seed": seed, "episodes": episodes, "rounds": rounds, "sweep": {},
                               "target": target, "dist_env": dist_env, "dist": {}}
    for env_id, runs in sweep.items():
        for label, r in runs.items():
            ma = _moving(r["scores"])
            lines.append(f"| {env_id} | {label} | {r['params']['total']} | {r['params']['classical_M']} | "
                         f"{ma[-1]:.1f} | {ma.max():.1f} | {r['wall_s']:.0f} |")
            figures["sweep"].setdefault(env_id, {})[label] = {"final_ma": float(ma[-1]), "best_ma": float(ma.max()),
                                                              "params": r["params"], "wall_s": r["wall_s"]}
    lines += ["", f"Dist-QTRL on {dist_env} (`qmarl train quantum-train --workers K` through torchrun), L = 3, "
              f"up to {rounds} rounds; target = centralised L = 13 final MA ({target:.1f}).", "",
              "| K | rounds run | rounds to target | episodes to target | final MA | wall s (all rounds) |",
              "|---|---|---|---|---|---|"]
    for k, r in dist.items():
        lines.append(f"| {k} | {r['rounds']} | {r['rounds_to_target']} | {r['episodes_to_target']} | "
                     f"{r['final_ma']:.1f} | {r['wall_s']:.0f} |")
        figures["dist"][str(k)] = {kk: v for kk, v in r.items() if kk != "scores"}
    atomic_write_bytes(out / "results.md", ("\n".join(lines) + "\n").encode())
    atomic_write_json(out / "results.json", figures)
    if progress:
        print("\n".join(lines))
    return figures
