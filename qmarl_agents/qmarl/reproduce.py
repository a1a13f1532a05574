"""``qmarl reproduce qmarl``: Q-MARL's experiments (Vo & Lin, arXiv 2503.07397, §3) on this project's envs.

1. Learning curves (mean episode score per batch, [P] Fig. 6) of Q-MARL-AC, Q-MARL-PG and
   Vanilla-PG on Jungle-v0, Battle-v0 and Deception-v0.
2. Generalisation ([P] Table 1): each Q-MARL-AC policy trained at the small N is evaluated at N and
   2N (Jungle 4 -> 8 agents, Battle 7 -> 14 a side, Deception 1 -> 2), and at the 1k / 10k presets.
3. Ensembling on against off (the same trained weights, ``config.ensemble`` switched).
4. Jungle references that are not learnt: the hand-written 3x3-window policy
   (:func:`local_view_actions`, with random and with fixed tie-breaks) and the score ceiling no
   policy can pass (:func:`jungle_score_ceiling`).

Every evaluation is the leaderboard protocol (greedy actions; seeds 0-9 x 5 episodes, or seeds 0-2
x 2 episodes with ``quick`` and at 1k/10k agents). Writes ``results.json``, ``results.md`` (the
table beside the paper's numbers and the README's scripted / PPO figures) and
``learning_curves.png`` under ``out``. Full runs train every configuration with three seeds and
report the mean; ``--quick`` uses one seed.
"""

from __future__ import annotations

import dataclasses
import os
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
             "Battle": ("qmarl/Battle-v0", {"num_agents": 28}),        # bodies, both teams: 7 v 7 -> 14 v 14
             "Deception": ("qmarl/Deception-v0", {"num_agents": 2})}
VARIANTS = {"Q-MARL-AC": "ac", "Q-MARL-PG": "pg", "Vanilla-PG": "vanilla"}


_MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1], [0, 0]])   # actions 0 up, 1 down, 2 left, 3 right, 4 stay


def local_view_actions(obs: np.ndarray, alive: np.ndarray, rng: np.random.Generator,
                       noise: float = 1e-3) -> np.ndarray:
    """A hand-written Jungle policy that sees only what Q-MARL sees: the 3x3 window, no memory.

    A reference for what the window allows, not from the paper. Each of the 5 actions is scored by
    the cell it leads to (the agent's own cell when the move is blocked by the map edge or food):
    ``+10`` if a visible food is 4-adjacent to that cell (it feeds), ``-12`` per other visible agent
    on it or 4-adjacent to it (crowding), ``+6`` for staying on a feeding cell, ``-0.2`` for
    staying elsewhere, ``-0.5`` for a blocked move, plus uniform noise in ``[0, noise)``; the best
    score is taken. Cells outside the window count as empty. Vectorised over agents (the loops run
    over the 5 actions and 5 cells only). Its weights were set by a small sweep on Jungle-v0 (300
    episodes each): crowding weights 4-12, stay penalties 0.01-1 and blocked-move penalties 0.5-2
    give the same IQM within 0.01; no blocked-move penalty (0.41 against 0.49), a crowding weight
    of 30 (0.43), pushing agents away from the map edge (0.43) or a bonus for staying off food
    (0.25) lower it.

    With the default ``noise`` the noise only breaks ties, so an agent with nothing in view takes one
    of the unblocked moves at random: this is a *stochastic* policy, and the randomness is what lets
    a memoryless agent explore. ``noise=0`` breaks ties by action order (a deterministic policy, like
    a greedy learnt one): on Jungle-v0 that scores IQM 0.23 against 0.51 with random ties (500 episodes).

    Args:
        obs: ``float32 (N, 3, 3, 2)`` Jungle observations (food, agent count; -1 off the map).
        alive: ``bool (N,)``.
        rng: generator for the tie-breaking noise.
        noise: width of the uniform noise added to the action scores (score units, >= 0).

    Returns:
        ``int64 (N,)`` actions; dead agents stay (4).

    Raises:
        ValueError: for a negative ``noise``.
    """
    if not noise >= 0:
        raise ValueError(f"noise: expected a number >= 0, got {noise!r}")
    n = obs.shape[0]
    food = np.zeros((n, 5, 5))
    others = np.zeros((n, 5, 5))
    off = np.zeros((n, 5, 5), dtype=bool)
    food[:, 1:4, 1:4] = obs[..., 0] == 1
    others[:, 1:4, 1:4] = np.maximum(obs[..., 1], 0)
    off[:, 1:4, 1:4] = obs[..., 0] < 0
    others[:, 2, 2] -= 1                                                # the observer itself
    rows = np.arange(n)
    score = np.empty((n, 5))
    for m, (dr, dc) in enumerate(_MOVES):
        blocked = off[:, 2 + dr, 2 + dc] | (food[:, 2 + dr, 2 + dc] == 1)
        r = np.where(blocked, 2, 2 + dr)
        c = np.where(blocked, 2, 2 + dc)
        feeds = sum(food[rows, r + a, c + b] for a, b in _MOVES[:4]) > 0
        crowd = sum(others[rows, r + a, c + b] for a, b in _MOVES)
        stay = m == 4
        score[:, m] = (10.0 * feeds - 12.0 * crowd + (6.0 * feeds - 0.2 * ~feeds) * stay
                       - 0.5 * (blocked & (not stay)) + rng.random(n) * noise)
    return np.where(alive, score.argmax(axis=1), 4).astype(np.int64)


def local_view_reference(env_id: str = "qmarl/Jungle-v0", episodes: int = 200, seed: int = 0,
                         noise: float = 1e-3) -> float:
    """IQM of :func:`local_view_actions` (with ``noise``) over ``episodes`` episodes (env seeds ``seed ..``).

    Raises:
        ValueError: for an env id that is not a Jungle env (from :func:`qmarl_envs.make`), or a
            negative ``noise``.
    """
    import qmarl_envs

    env = qmarl_envs.make(env_id).unwrapped
    if type(env.scenario).__name__ != "Jungle":
        raise ValueError(f"env_id: expected a Jungle env, got {env_id!r}")
    rng = np.random.default_rng(seed)
    scores = []
    for e in range(episodes):
        obs = env.reset_arrays(seed + e)
        while env.alive_mask().any():
            obs = env.step_arrays(local_view_actions(obs, env.alive_mask(), rng, noise))[0]
        scores.append(float(np.mean(env.episode_summary()["score"])))
    return float(scipy_trim_mean(scores))


def jungle_score_bound(env) -> float:
    """An upper bound on the Jungle score of the episode the env has just been reset to, for any
    policy, even one that sees the whole map.

    Not from the paper: derived from the rules of :mod:`qmarl_envs.scenarios.jungle`. An agent's
    reward is ``+1`` on a step only when it stands on a free cell 4-adjacent to food (a *feeding
    cell*) after the moves of that step; otherwise it is 0 or ``-1``. A fed agent is either
    uncrowded, and then no other agent shares its cell, or crowded, which costs 1 HP: with ``hp``
    HP an agent survives at most ``hp - 1`` crowded steps (the ``hp``-th pays ``-1``). So on step
    ``t`` (``t = 1 .. T``) the uncrowded fed agents stand on distinct feeding cells, each within
    Manhattan distance ``t`` of its start (food only lengthens paths): their number is at most
    ``M_t``, the largest matching between agents and feeding cells at distance ``<= t``
    (``scipy.optimize.linear_sum_assignment``). The bound is
    ``min(1, (sum_t M_t + (hp - 1) N) / (N T))``.

    Args:
        env: an unwrapped Jungle :class:`~qmarl_envs.api.parallel.GridParallelEnv` right after
            ``reset`` / ``reset_arrays`` (all agents alive at their starts).

    Returns:
        the bound, a ``float`` in ``[0, 1]`` (same units as ``episode_summary()["score"]``).

    Raises:
        ValueError: if ``env`` is not a Jungle env.
        RuntimeError: before the first reset, or once the episode has taken a step.
    """
    from scipy.optimize import linear_sum_assignment

    if type(getattr(env, "scenario", None)).__name__ != "Jungle":
        raise ValueError(f"env: expected an unwrapped Jungle env, got {type(env).__name__}")
    if env.grid_state is None or env.grid_state.step != 0:
        raise RuntimeError("jungle_score_bound() must be called right after reset(), before any step")
    food = env.state()[..., 0] > 0
    size = np.array(food.shape)
    cells = (np.argwhere(food)[:, None, :] + _MOVES[None, :4]).reshape(-1, 2)
    cells = cells[((cells >= 0) & (cells < size)).all(axis=1)]
    cells = np.unique(cells[~food[cells[:, 0], cells[:, 1]]], axis=0)          # (K, 2)
    pos = np.asarray(env.positions())
    n, steps, hp = pos.shape[0], env.scenario.config.max_cycles, env.scenario.config.hp
    dist = np.abs(pos[:, None, :] - cells[None, :, :]).sum(axis=2)               # (N, K) moves
    fed = 0
    for t in range(1, steps + 1):
        reach = (dist <= t).astype(np.int64)
        rows, cols = linear_sum_assignment(reach, maximize=True)
        fed += int(reach[rows, cols].sum())
    return float(min(1.0, (fed + (hp - 1) * n) / (n * steps))) if n else 0.0


def jungle_score_ceiling(env_id: str = "qmarl/Jungle-v0", episodes: int = 200, seed: int = 0) -> float:
    """IQM over ``episodes`` episodes (env seeds ``seed ..``) of :func:`jungle_score_bound`: no
    policy's IQM on those episodes can exceed it.

    Raises:
        ValueError: for an env id that is not a Jungle env.
    """
    import qmarl_envs

    env = qmarl_envs.make(env_id).unwrapped
    bounds = []
    for e in range(episodes):
        env.reset_arrays(seed + e)
        bounds.append(jungle_score_bound(env))
    return float(scipy_trim_mean(bounds))


def scipy_trim_mean(values) -> float:
    """Interquartile mean (25 % trimmed mean, as the leaderboard's IQM)."""
    from scipy.stats import trim_mean

    return float(trim_mean(np.asarray(values, dtype=np.float64), 0.25))


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


def _train_and_score(env_id: str, double: dict, variant: str, seed: int, games: int, protocols,
                     quick: bool) -> dict[str, Any]:
    """One run: train ``variant`` for ``games`` games with ``seed`` and evaluate it (for Q-MARL-AC also
    at 2N, the 1k/10k presets and with ensembling off)."""
    from qmarl_agents import make_agent
    import qmarl_envs

    full, small, big = protocols
    n = len(qmarl_envs.make(env_id).unwrapped.possible_agents)
    t = time.perf_counter()
    cb = _Curve()
    agent = make_agent("qmarl", env_id=env_id, seed=seed, variant=variant, games_per_batch=20, n_envs=20)
    agent.learn(games * n * 31, callback=cb)
    out: dict[str, Any] = {"curve": cb.batch_scores, "iqm": _iqm(agent, env_id, None, full),
                           "iqm_sampled": _iqm(agent, env_id, None, dataclasses.replace(full, deterministic=False)),
                           "train_s": round(time.perf_counter() - t, 1)}
    if variant == "ac":
        gen = {"N": _iqm(agent, env_id, None, small), "2N": _iqm(agent, env_id, double, small)}
        for tag in (["1k"] if quick else ["1k", "10k"]):
            gen[tag] = _iqm(agent, env_id.replace("-v0", f"-{tag}-v0"), None, big)
        agent.config = dataclasses.replace(agent.config, ensemble=False)
        ens = {"on": out["iqm"], "off": _iqm(agent, env_id, None, full), "on_2N": gen["2N"],
               "off_2N": _iqm(agent, env_id, double, small)}
        agent.config = dataclasses.replace(agent.config, ensemble=True)
        out.update({"generalisation": gen, "ensembling": ens})
    return out


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def mean_curve(curves: list[list[float]]) -> list[float]:
    """Per-batch mean of several runs' learning curves, over the batches every run has.

    Runs of one configuration train for the same agent-step budget, so a run whose agents die
    early (Battle, Jungle) plays more games and logs more batches; the mean is taken over the
    common prefix (the shortest run's length).

    Args:
        curves: one ``float`` list per run (mean score of each batch, in order).

    Returns:
        ``float`` list of length ``min(len(c) for c in curves)`` (empty if ``curves`` is).
    """
    if not curves:
        return []
    k = min(len(c) for c in curves)
    return np.mean(np.asarray([c[:k] for c in curves], dtype=np.float64), axis=0).tolist() if k else []


def run(out: Path, *, quick: bool, seed: int, progress: bool) -> dict[str, Any]:
    """Run the experiments and write the results (see the module docstring).

    Args:
        out: output directory (exists).
        quick: 300 games per run and one seed instead of 3,000 games and seeds ``seed .. seed+2``,
            fewer evaluation episodes, no 10k evaluation.
        seed: training seed of the first run of each configuration; run ``i`` uses ``seed + i``.
        progress: print a line per finished run.

    Returns:
        ``{"curves", "table", "generalisation", "ensembling", "runs", "settings", ...}``: curves are the
        per-batch mean scores averaged over seeds; table cells the mean over seeds of each run's IQM
        (the per-seed values are under ``runs``).
    """
    from qmarl_agents.checkpoint import atomic_write_bytes, atomic_write_json
    from qmarl_agents.leaderboard.protocol import DEFAULT_PROTOCOL

    games = 300 if quick else 3000
    seeds = [seed] if quick else [seed, seed + 1, seed + 2]
    full = DEFAULT_PROTOCOL if not quick else dataclasses.replace(DEFAULT_PROTOCOL, seeds=(0, 1, 2),
                                                                 episodes_per_seed=2, bootstrap_reps=200)
    small = dataclasses.replace(DEFAULT_PROTOCOL, seeds=(0, 1, 2), episodes_per_seed=2, bootstrap_reps=200)
    big = dataclasses.replace(small, seeds=(0,), episodes_per_seed=1)
    t_all = time.perf_counter()
    runs: dict[str, dict[str, list[dict]]] = {}
    for scen, (env_id, double) in SCENARIOS.items():
        runs[scen] = {}
        for label, variant in VARIANTS.items():
            runs[scen][label] = []
            for s in seeds:
                r = _train_and_score(env_id, double, variant, s, games, (full, small, big), quick)
                runs[scen][label].append({"seed": s, **r})
                atomic_write_json(out / "runs_partial.json", runs)   # kept if a later run fails
                if progress:
                    print(f"{scen} {label} seed {s}: IQM {r['iqm']:.3f} ({r['train_s']} s)", flush=True)
    curves = {scen: {label: mean_curve([r["curve"] for r in rs]) for label, rs in by.items()}
              for scen, by in runs.items()}
    table = {scen: {label: {"iqm": _mean([r["iqm"] for r in rs]), "iqm_per_seed": [r["iqm"] for r in rs],
                            "iqm_sampled": _mean([r["iqm_sampled"] for r in rs]),
                            "iqm_sampled_per_seed": [r["iqm_sampled"] for r in rs],
                            "best_batch_mean": max(max(r["curve"]) for r in rs),
                            "train_s": round(sum(r["train_s"] for r in rs), 1)}
                    for label, rs in by.items()} for scen, by in runs.items()}
    gen = {scen: {k: _mean([r["generalisation"][k] for r in by["Q-MARL-AC"]])
                  for k in by["Q-MARL-AC"][0]["generalisation"]} for scen, by in runs.items()}
    ens = {scen: {k: _mean([r["ensembling"][k] for r in by["Q-MARL-AC"]])
                  for k in by["Q-MARL-AC"][0]["ensembling"]} for scen, by in runs.items()}
    settings = {"games_per_run": games, "games_per_batch": 20, "seeds": seeds, "quick": quick,
                "wall_clock_s": round(time.perf_counter() - t_all, 1), "load_average": list(os.getloadavg())}
    ref_eps = 50 if quick else 500
    res = {"curves": curves, "table": table, "generalisation": gen, "ensembling": ens,
           "jungle_local_view_reference": local_view_reference("qmarl/Jungle-v0", ref_eps, seed),
           "jungle_local_view_deterministic": local_view_reference("qmarl/Jungle-v0", ref_eps, seed, noise=0.0),
           "jungle_score_ceiling": jungle_score_ceiling("qmarl/Jungle-v0", ref_eps, seed),
           "runs": {scen: {label: [{k: v for k, v in r.items() if k != "curve"} for r in rs]
                           for label, rs in by.items()} for scen, by in runs.items()},
           "settings": settings, "paper": PAPER, "readme_baselines": README}
    atomic_write_json(out / "results.json", res)
    atomic_write_bytes(out / "results.md", _markdown(res).encode())
    _plot(curves, out / "learning_curves.png")
    (out / "runs_partial.json").unlink(missing_ok=True)    # superseded by results.json
    return res


def _markdown(res: dict) -> str:
    s = res["settings"]
    seeds = s.get("seeds", [s.get("seed")])
    lines = [f"Training: {s['games_per_run']} games per run (batches of {s['games_per_batch']}), "
             f"seed{'s' if len(seeds) > 1 else ''} {', '.join(str(x) for x in seeds)}"
             f"{', quick run' if s['quick'] else ''}. Scores: IQM of the episode score under the leaderboard "
             "protocol (greedy actions)" + (", the mean over seeds (per seed in brackets)" if len(seeds) > 1 else "")
             + ".", "",
             "| scenario | Q-MARL-AC | Q-MARL-PG | Vanilla-PG | paper Q-MARL-AC | scripted | PPO (README) |",
             "|---|---|---|---|---|---|---|"]
    for scen, row in res["table"].items():
        b = README[scen]
        cells = [_cell(row[label]) for label in VARIANTS]
        lines.append(f"| {scen} | {' | '.join(cells)} | {PAPER[scen]:.2f} | {b['scripted']:.3f} | {b['ppo']:.3f} |")
    lines += ["", "Sampled actions (the same policies, actions drawn from the ensembled policy, seeded; "
              "the paper's training curves are of sampled actions):", "",
              "| scenario | Q-MARL-AC | Q-MARL-PG | Vanilla-PG |", "|---|---|---|---|"]
    for scen, row in res["table"].items():
        cells = [_cell({"iqm": row[label]["iqm_sampled"], "iqm_per_seed": row[label].get("iqm_sampled_per_seed")})
                 for label in VARIANTS]
        lines.append(f"| {scen} | {' | '.join(cells)} |")
    if "jungle_local_view_reference" in res:
        lines += ["", "Jungle references: a hand-written policy that sees only the 3x3 window "
                  f"(`local_view_actions`, ties broken at random) scores IQM {res['jungle_local_view_reference']:.3f}, "
                  f"{res['jungle_local_view_deterministic']:.3f} with ties broken by action order (deterministic, "
                  "like a greedy policy); the scripted heuristic reads the whole map. No policy can score above "
                  f"IQM {res['jungle_score_ceiling']:.3f} on these episodes (`jungle_score_bound`)."]
    lines += ["", "Peak training batch mean (the best mean score of a batch of 20 games during training, over "
              "all seeds; the paper's Fig. 6 figure is the peak of its 100-game batch means):", "",
              "| scenario | Q-MARL-AC | Q-MARL-PG | Vanilla-PG | paper Q-MARL-AC |", "|---|---|---|---|---|"]
    for scen, row in res["table"].items():
        lines.append(f"| {scen} | " + " | ".join(f"{row[label]['best_batch_mean']:.3f}" for label in VARIANTS)
                     + f" | {PAPER[scen]:.2f} |")
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


def _cell(entry: dict) -> str:
    per = entry.get("iqm_per_seed") or []
    if len(per) > 1:
        return f"{entry['iqm']:.3f} ({', '.join(f'{v:.2f}' for v in per)})"
    return f"{entry['iqm']:.3f}"


def _plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qmarl_envs.fileio import atomic_savefig

    fig, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3.2), constrained_layout=True)
    for ax, (scen, by_variant) in zip(np.atleast_1d(axes), curves.items()):
        for label, ys in by_variant.items():
            ax.plot(np.arange(1, len(ys) + 1), ys, label=label)
        ax.set_title(scen)
        ax.set_xlabel("batch (20 games)")
        ax.set_ylim(-1.05, 1.05)
    np.atleast_1d(axes)[0].set_ylabel("mean episode score")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    atomic_savefig(fig, path, dpi=100)
