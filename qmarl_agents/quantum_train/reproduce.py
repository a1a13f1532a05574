"""``qmarl reproduce quantum-train``: QTRL depth sweep and Dist-QTRL speedup (Chen et al., arXiv 2412.08845, Fig. 1).

Experiments (the paper's body was not available; its Fig. 1 caption gives the design):

* **Depth sweep** (Fig. 1b): centralised QTRL with L = 3, 7, 13 against the classical policy of the same
  architecture (trained directly), on CartPole-v1 (the official notebook's net 4-128-2, lr 1e-3),
  ``qmarl/BallCollection-3x3-v0`` (net 18-32-5, n = 10) and ``qmarl/Jungle-v0`` (4 agents sharing
  one policy, net 18-128-5, n = 12); lr 3e-3 on the qmarl envs.
* **Speedup** (Fig. 1c): Dist-QTRL with K = 1, 2, 4, 8 workers at L = 3 on CartPole-v1 (as the paper),
  each run a ``qmarl train quantum-train --env CartPole-v1 --workers K`` through torchrun's launcher
  (:func:`qmarl_agents.quantum_train.dist.run_workers`). Every worker plays one episode per round
  (the official batch, unchanged per worker) and the K gradients are averaged before one Adam step
  at the centralised learning rate, so a round of K workers uses K episodes. The learning curve is
  the mean score of the K episodes of each round (all workers), as a moving average over ``window``
  rounds. The target is the centralised L = 13 run's final moving average (the paper's "centralised
  model's target reward"); reported per K and seed: rounds (= episodes per worker, the x-axis of
  a speedup in time) and episodes in total (rounds × K) until the moving average reaches it. A
  linear speedup means rounds ∝ 1/K, i.e. the same episodes in total for every K. K ≤ 4 run
  ``rounds`` rounds, K = 8 half as many (it has 8 episodes per round).

Each finished run is kept under ``out`` (``sweep/*.json``, ``dist/s<seed>/K<k>/``) and reused when
the command is run again with the same settings, so a long reproduction can be continued. Writes
``depth_sweep.png``, ``speedup.png``, ``results.md`` and ``results.json`` under ``out``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

ENVS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {"hidden": (128,), "learning_rate": 1e-3},
    "qmarl/BallCollection-3x3-v0": {"hidden": (32,), "learning_rate": 3e-3},
    "qmarl/Jungle-v0": {"hidden": (128,), "learning_rate": 3e-3},
}
"""Depth-sweep envs and their policy net / learning rate."""
DEPTHS: tuple[int, ...] = (3, 7, 13)
WORKERS: tuple[int, ...] = (1, 2, 4, 8)
DIST_ENV = "CartPole-v1"
DIST_DEPTH = 3
QUICK = {"episodes": 80, "rounds": 40, "dist_seeds": (0,), "sqrt_lr_seeds": (), "window": 10}
FULL = {"episodes": 500, "rounds": 500, "dist_seeds": (0, 1), "sqrt_lr_seeds": (0,), "window": 20}
"""Settings of ``--quick`` and of the full run: episodes per depth-sweep run, Dist-QTRL rounds for
K ≤ 4, seeds of the Dist-QTRL sweep at the centralised learning rate and of its variant with the
learning rate scaled by √K, moving-average window."""
VARIANTS = {"lr": 0.0, "lr·√K": 0.5}
"""Dist-QTRL learning-rate variants: the label and the power p of ``lr · K^p``."""


def _moving(x, w):
    """Trailing moving average over ``w`` entries (shorter at the start): ``float (len(x),)``."""
    x = np.asarray(x, float)
    c = np.cumsum(np.insert(x, 0, 0.0))
    i = np.arange(1, len(x) + 1)
    lo = np.maximum(0, i - w)
    return (c[i] - c[lo]) / (i - lo)


def _first_reach(curve, target, w):
    """1-based index of the first full-window moving average (index ≥ ``w``) ≥ ``target``, or None."""
    idx = np.nonzero(np.asarray(curve)[w - 1:] >= target)[0]
    return int(idx[0]) + w if idx.size else None


def _label(cfg: dict[str, Any]) -> str:
    return "classical" if cfg.get("generator") == "classical" else f"QT L={cfg['depth']}"


def _train(env_id: str, episodes: int, seed: int, config: dict[str, Any], cache: Path | None = None) -> dict[str, Any]:
    """One centralised run of ``episodes`` episodes; reuses ``cache`` (JSON) if it holds the same run."""
    from qmarl_agents.checkpoint import atomic_write_json

    key = {"env_id": env_id, "episodes": episodes, "seed": seed,
           "config": json.loads(json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}))}
    if cache is not None and cache.is_file():
        prev = json.loads(cache.read_text())
        if prev.get("key") == key:
            return prev
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
    r = {"key": key, "scores": scores, "wall_s": time.perf_counter() - t, "params": agent.parameter_counts(),
         "episode_agent_steps": ep_steps}
    if cache is not None:
        atomic_write_json(cache, r)
    return r


def _horizon(env_id: str) -> int:
    """Agent-steps of the longest episode of ``env_id`` (its budget bound)."""
    if env_id.startswith("qmarl/"):
        import qmarl_envs

        probe = qmarl_envs.make(env_id).unwrapped
        return int(probe.scenario.max_cycles * probe.max_num_agents)
    import gymnasium

    return int(gymnasium.spec(env_id).max_episode_steps)


def depth_sweep(out: Path, episodes: int, seed: int, progress: bool) -> dict[str, dict[str, Any]]:
    """Centralised QTRL at L = 3, 7, 13 and the classical net on every env of :data:`ENVS`."""
    sweep: dict[str, dict[str, Any]] = {}
    for env_id, base in ENVS.items():
        sweep[env_id] = {}
        for cfg in [*[{"depth": d} for d in DEPTHS], {"generator": "classical"}]:
            label = _label(cfg)
            name = f"{env_id.split('/')[-1]}_{label.replace(' ', '').replace('=', '')}.json"
            r = _train(env_id, episodes, seed, {**base, **cfg}, cache=out / "sweep" / name)
            sweep[env_id][label] = r
            if progress:
                print(f"{env_id} {label}: mean of last 50 {np.mean(r['scores'][-50:]):.2f}, "
                      f"params {r['params']['total']}, {r['wall_s']:.0f} s", flush=True)
    return sweep


def dist_rounds(k: int, rounds: int) -> int:
    """Rounds run by K workers: ``rounds`` for K ≤ 4, half for K = 8."""
    return rounds if k <= 4 else max(1, rounds // 2)


def dist_sweep(out: Path, rounds: int, seeds, progress: bool, lr_power: float = 0.0) -> dict[int, dict[int, dict]]:
    """Dist-QTRL at L = :data:`DIST_DEPTH` on :data:`DIST_ENV` for K in :data:`WORKERS` and each seed,
    at the learning rate ``lr · K^lr_power`` (``lr`` of :data:`ENVS`; K = 1 is the same for every power).

    Returns:
        ``{seed: {K: run_workers(...) result}}`` (``run_dir`` relative to ``out``).
    """
    from qmarl_agents.quantum_train.dist import run_workers

    horizon = _horizon(DIST_ENV)
    res: dict[int, dict[int, dict[str, Any]]] = {}
    for s in seeds:
        res[s] = {}
        for k in WORKERS:
            p = lr_power if k > 1 else 0.0
            cfg = {**ENVS[DIST_ENV], "depth": DIST_DEPTH}
            cfg["learning_rate"] = cfg["learning_rate"] * k ** p
            sub = "dist" if p == 0 else f"dist-lr-pow{p:g}"
            n = dist_rounds(k, rounds)
            r = run_workers(DIST_ENV, k, seed=s, config=cfg, out=out / sub / f"s{s}" / f"K{k}", max_rounds=n,
                            agent_steps=n * k * horizon, reuse=True)
            r["run_dir"] = Path(r.pop("out")).relative_to(out).as_posix()
            r["learning_rate"] = cfg["learning_rate"]
            res[s][k] = r
            if progress:
                print(f"Dist-QTRL lr·K^{p:g} seed {s} K={k}: {r['rounds']} rounds, mean of last 50 rounds "
                      f"{np.mean(r['scores_all_workers'][-50:]):.2f}, {r['wall_s']:.0f} s", flush=True)
    return res


def run(out: Path, *, quick: bool, seed: int = 0, progress: bool = True, episodes: int | None = None,
        rounds: int | None = None, dist_seeds: tuple[int, ...] | None = None,
        sqrt_lr_seeds: tuple[int, ...] | None = None, stages: tuple[str, ...] = ("sweep", "dist")) -> dict:
    """Run the experiments and write plots, ``results.md`` and ``results.json`` under ``out``.

    Args:
        out: output directory (finished runs in it are reused, see the module docstring).
        quick: the :data:`QUICK` settings (a few minutes) instead of :data:`FULL`.
        seed: seed of the depth-sweep runs (the Dist-QTRL seeds are ``dist_seeds``).
        progress: print one line per run.
        episodes, rounds, dist_seeds, sqrt_lr_seeds: override the setting's episodes per depth-sweep
            run, Dist-QTRL rounds (K ≤ 4), Dist-QTRL seeds and seeds of the lr·√K variant.
        stages: ``("sweep",)`` or ``("dist",)`` runs one part only (no report; two processes can
            run the parts side by side into the same ``out``); both (default) also write the report.

    Returns:
        the figures of the table (JSON-ready dict); ``{}`` when only one stage ran.

    Raises:
        ValueError: an unknown stage.
    """
    setting = dict(QUICK if quick else FULL)
    for k, v in (("episodes", episodes), ("rounds", rounds), ("dist_seeds", dist_seeds),
                 ("sqrt_lr_seeds", sqrt_lr_seeds)):
        if v is not None:
            setting[k] = tuple(v) if k.endswith("seeds") else int(v)
    if not stages or set(stages) - {"sweep", "dist"}:
        raise ValueError(f"stages: expected a non-empty subset of ('sweep', 'dist'), got {stages!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sweep = depth_sweep(out, setting["episodes"], seed, progress) if "sweep" in stages else None
    dist = None
    if "dist" in stages:
        dist = {"lr": dist_sweep(out, setting["rounds"], setting["dist_seeds"], progress)}
        if setting["sqrt_lr_seeds"]:
            dist["lr·√K"] = dist_sweep(out, setting["rounds"], setting["sqrt_lr_seeds"], progress,
                                       VARIANTS["lr·√K"])
    if sweep is None or dist is None:
        return {}
    return _report(out, sweep, dist, setting, quick=quick, seed=seed, progress=progress)


def _report(out: Path, sweep, dist, setting, *, quick: bool, seed: int, progress: bool) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qmarl_agents.checkpoint import atomic_write_bytes, atomic_write_json
    from qmarl_envs.fileio import atomic_savefig

    w = setting["window"]
    E, R = setting["episodes"], setting["rounds"]

    def png(fig, name):
        fig.tight_layout()
        atomic_savefig(fig, out / name, dpi=80)

    fig, axes = plt.subplots(1, len(sweep), figsize=(5 * len(sweep), 3.8))
    for ax, (env_id, runs) in zip(np.atleast_1d(axes), sweep.items()):
        for label, r in runs.items():
            ax.plot(_moving(r["scores"], w), label=f"{label} ({r['params']['total']} params)", lw=1)
        ax.set_title(f"{env_id}: depth sweep", fontsize=9)
        ax.set_xlabel("episode")
        ax.set_ylabel(f"score (moving average, {w})")
        ax.legend(fontsize=7)
    png(fig, "depth_sweep.png")

    t13 = float(_moving(sweep[DIST_ENV]["QT L=13"]["scores"], w)[-1])
    t3 = float(_moving(sweep[DIST_ENV][f"QT L={DIST_DEPTH}"]["scores"], w)[-1])
    targets = {"L=13": t13, f"L={DIST_DEPTH}": t3}
    figures: dict[str, Any] = {"quick": quick, "seed": seed, "episodes": E, "rounds": R, "window": w,
                               "dist_env": DIST_ENV, "dist_depth": DIST_DEPTH, "targets": targets, "sweep": {},
                               "dist": {}}
    for var, per_seed in dist.items():
        for s, per_k in per_seed.items():
            for k, r in per_k.items():
                curve = _moving(r["scores_all_workers"], w)
                row = {kk: v for kk, v in r.items() if kk not in ("scores", "scores_all_workers")}
                row["final_ma"] = float(curve[-1])
                for name, t in targets.items():
                    reach = _first_reach(curve, t, w)
                    row[f"rounds_to_{name}"] = reach
                    row[f"episodes_to_{name}"] = None if reach is None else reach * k
                    row[f"wall_s_to_{name}"] = None if reach is None else r["wall_s"] * reach / max(1, r["rounds"])
                figures["dist"].setdefault(var, {}).setdefault(str(s), {})[str(k)] = row
            for name in targets:  # speedup in rounds against K = 1 of the same seed (same for every variant)
                base = figures["dist"]["lr"].get(str(s), {}).get("1", {}).get(f"rounds_to_{name}")
                for k, row in figures["dist"][var][str(s)].items():
                    rk = row[f"rounds_to_{name}"]
                    row[f"speedup_{name}"] = None if base is None or rk is None else base / rk

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    s0 = next(iter(dist["lr"]))
    for k, r in dist["lr"][s0].items():
        axes[0].plot(_moving(r["scores_all_workers"], w), label=f"K={k}, L={DIST_DEPTH}", lw=1)
    axes[0].plot(_moving(sweep[DIST_ENV]["QT L=13"]["scores"], w), color="k", lw=1, ls=":",
                 label="centralised L=13")
    axes[0].axhline(t13, ls="--", color="gray", label=f"target: centralised L=13 final ({t13:.1f})")
    axes[0].set_title(f"{DIST_ENV}: Dist-QTRL (torchrun), centralised lr, seed {s0}", fontsize=9)
    axes[0].set_xlabel("round (episodes per worker)")
    axes[0].set_ylabel(f"mean score of the round's K episodes (MA {w})")
    axes[0].legend(fontsize=7)
    ks = list(WORKERS)
    for var, per_seed in figures["dist"].items():
        for s, per_k in per_seed.items():
            rr = [per_k[str(k)]["rounds_to_L=13"] for k in ks]
            axes[1].plot(ks, [np.nan if v is None else v for v in rr], "o-" if var == "lr" else "s--",
                         label=f"{var}, seed {s}")
    r1 = [figures["dist"]["lr"][s]["1"]["rounds_to_L=13"] for s in figures["dist"]["lr"]]
    r1 = [v for v in r1 if v is not None]
    if r1:
        axes[1].plot(ks, [np.mean(r1) / k for k in ks], ":", color="gray", label="linear speedup from K=1")
    axes[1].set_xscale("log", base=2)
    axes[1].set_xticks(ks, [str(k) for k in ks])
    axes[1].set_xlabel("workers K")
    axes[1].set_ylabel("rounds to target (episodes per worker)")
    axes[1].set_title("rounds to the centralised L=13 target (missing: not reached)", fontsize=9)
    axes[1].legend(fontsize=7)
    png(fig, "speedup.png")

    lines = [f"# Quantum-Train reproduction ({'quick' if quick else 'full'} run)", "",
             f"Depth sweep: {E} episodes per run, seed {seed}; scores as moving averages over {w} episodes "
             "(final = the last window).", "",
             "| env | policy | trainable params | classical M | final MA score | best MA score | wall s |",
             "|---|---|---|---|---|---|---|"]
    for env_id, runs in sweep.items():
        for label, r in runs.items():
            ma = _moving(r["scores"], w)
            lines.append(f"| {env_id} | {label} | {r['params']['total']} | {r['params']['classical_M']} | "
                         f"{ma[-1]:.2f} | {ma.max():.2f} | {r['wall_s']:.0f} |")
            figures["sweep"].setdefault(env_id, {})[label] = {
                "final_ma": float(ma[-1]), "best_ma": float(ma.max()), "params": r["params"], "wall_s": r["wall_s"],
                "mean_score": float(np.mean(r["scores"]))}
    lr0 = ENVS[DIST_ENV]["learning_rate"]
    lines += ["", f"Dist-QTRL on {DIST_ENV} (`qmarl train quantum-train --workers K` through torchrun), L = "
              f"{DIST_DEPTH}, one episode per worker and round, gradients averaged before one Adam step at lr "
              f"{lr0:g} (variant `lr·√K`: {lr0:g}·√K); {R} rounds for K ≤ 4, {dist_rounds(8, R)} for K = 8. "
              f"Curve: mean score of the round's K episodes, moving average over {w} rounds. Targets: "
              f"centralised L = 13 final MA ({t13:.2f}) and centralised L = {DIST_DEPTH} final MA ({t3:.2f}). "
              "Rounds = episodes per worker; episodes = rounds × K; speedup = rounds(K=1) / rounds(K), "
              "linear = K.", "",
              f"| lr | seed | K | rounds run | rounds to L=13 target | episodes to L=13 target | speedup | "
              f"rounds to L={DIST_DEPTH} target | speedup | final MA | wall s (all rounds) |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]

    def fmt(v, nd=2):
        return "–" if v is None else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))

    for var, per_seed in figures["dist"].items():
        for s, per_k in per_seed.items():
            for k in WORKERS:
                r = per_k[str(k)]
                r13, r3 = r["rounds_to_L=13"], r[f"rounds_to_L={DIST_DEPTH}"]
                lines.append(f"| {var} | {s} | {k} | {r['rounds']} | {r13 if r13 is not None else 'not reached'} | "
                             f"{fmt(r['episodes_to_L=13'])} | {fmt(r['speedup_L=13'])} | "
                             f"{r3 if r3 is not None else 'not reached'} | {fmt(r[f'speedup_L={DIST_DEPTH}'])} | "
                             f"{r['final_ma']:.2f} | {r['wall_s']:.0f} |")
    # the paper's K = 4 at L = 3 vs centralised L = 13, at the same number of episodes per worker
    n4 = min(dist_rounds(4, R), E)
    c13 = _moving(sweep[DIST_ENV]["QT L=13"]["scores"], w)
    k4 = {f"{var}, seed {s}": float(_moving(per_seed[s][4]["scores_all_workers"], w)[n4 - 1])
          for var, per_seed in dist.items() for s in per_seed}
    figures["k4_vs_l13"] = {"at_round": n4, "centralised_L13_ma": float(c13[n4 - 1]), "K4_L3_ma": k4}
    lines += ["", f"K = 4 at L = {DIST_DEPTH} vs centralised L = 13, moving averages after {n4} episodes per worker: "
              + ", ".join(f"{key}: {v:.2f}" for key, v in k4.items()) + f" vs centralised L = 13: {float(c13[n4 - 1]):.2f}."]
    atomic_write_bytes(out / "results.md", ("\n".join(lines) + "\n").encode())
    atomic_write_json(out / "results.json", figures)
    if progress:
        print("\n".join(lines))
    return figures
