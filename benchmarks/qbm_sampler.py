"""QBM speed: Q-value evaluations per second (batched in-house Gibbs vs per-call dwave-samplers) and
the wall clock of one 500-episode single-agent 3x3 training run.

Both samplers draw the same reads x replicas of the same 16-hidden-unit effective model (the
3x3 ball-collection visible layout, all 5 actions of a batch of observations) with the same number of
sweeps and the same schedule; a Q-value is one clamped (state, action) model scored from its reads
(Q = -F, :meth:`~qmarl_agents.qbm.model.QBMModel.evaluate`). The training run is
``qmarl reproduce qbm``'s single-agent 3x3 run (default config, replay + target net, seed 0).
Prints a table and writes benchmarks/results/qbm_sampler.json (atomically).

    python benchmarks/qbm_sampler.py [--batch 128] [--reads 8] [--replicas 4] [--sweeps 10] [--episodes 500]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # one core for both samplers (before NumPy loads)
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from qmarl_agents.checkpoint import atomic_write_json  # noqa: E402
from qmarl_agents.qbm.agent import make_qbm  # noqa: E402
from qmarl_agents.qbm.reproduce import train_run  # noqa: E402
from qmarl_agents.qbm.samplers import DimodSampler  # noqa: E402


def q_per_second(model, obs_flat: np.ndarray, rng, min_time: float = 0.5) -> float:
    """Q-values per second of ``model.q_all_actions`` on ``obs_flat`` (repeated for ``min_time`` s)."""
    n_q = obs_flat.shape[0] * model.num_actions
    calls, t0 = 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - t0 < min_time:
        model.q_all_actions(obs_flat, None, rng)
        calls += 1
    return calls * n_q / (time.perf_counter() - t0)


def main() -> dict:
    """Run the benchmark; returns the JSON record."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128, help="observations per batched call (x 5 actions)")
    ap.add_argument("--reads", type=int, default=8)
    ap.add_argument("--replicas", type=int, default=4)
    ap.add_argument("--sweeps", type=int, default=10)
    ap.add_argument("--episodes", type=int, default=500, help="episodes of the training run (0: skip it)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds of each sampler")
    ap.add_argument("--out", default="benchmarks/results/qbm_sampler.json")
    a = ap.parse_args()
    load0 = os.getloadavg()
    agent = make_qbm("qmarl/BallCollection-3x3-v0", 0, reads=a.reads, replicas=a.replicas, sweeps=a.sweeps)
    m = agent.online
    rng = np.random.default_rng(0)
    obs = np.stack([agent.env.reset_arrays(s).copy() for s in range(a.batch)])[:, 0]
    o = agent._map_obs(obs)
    gibbs = m.sampler
    ref = DimodSampler(m.cfg.hidden_layers, a.replicas, a.reads, a.sweeps, m.cfg.beta_start, m.cfg.final_beta, m.wp)
    o_ref = o[: max(1, a.batch // 16)]                                    # one dimod call per Q-value
    m.q_all_actions(o, None, rng)                                         # warm-up
    g_rates, r_rates = [], []
    for _ in range(a.rounds):    # interleaved, so that both see the same load; best round of each
        m.sampler = gibbs
        g_rates.append(q_per_second(m, o, rng))
        m.sampler = ref
        r_rates.append(q_per_second(m, o_ref, rng))
    m.sampler = gibbs
    gibbs_qps, ref_qps = max(g_rates), max(r_rates)
    rec = {"batch_observations": a.batch, "reads": a.reads, "replicas": a.replicas, "sweeps": a.sweeps,
           "hidden": m.num_hidden, "gibbs_q_per_s": round(gibbs_qps, 1), "dwave_samplers_q_per_s": round(ref_qps, 1),
           "speedup": round(gibbs_qps / ref_qps, 1),
           "speedup_per_round": [round(g / r, 1) for g, r in zip(g_rates, r_rates)], "blas_threads_env":
           os.environ.get("OPENBLAS_NUM_THREADS", "unset")}
    print("| sampler | Q-values/s |\n|---|---|")
    print(f"| in-house Gibbs (batched, {a.batch * agent.num_actions} per call) | {gibbs_qps:,.0f} |")
    print(f"| dwave-samplers SA (one call per Q-value) | {ref_qps:,.0f} |")
    print(f"speed-up {gibbs_qps / ref_qps:.1f}x, best round of each of {a.rounds} (per round: "
          f"{', '.join(f'{g / r:.0f}x' for g, r in zip(g_rates, r_rates))}; reads {a.reads}, replicas "
          f"{a.replicas}, sweeps {a.sweeps}, one thread)")
    if a.episodes:
        t = time.perf_counter()
        scores = train_run("3x3", {}, a.episodes, 0)
        wall = time.perf_counter() - t
        tail = max(1, a.episodes // 10)
        rec.update({"train_episodes": a.episodes, "train_wall_clock_s": round(wall, 1),
                    "train_last10pct_mean_reward": round(float(scores[-tail:].mean()), 1)})
        print(f"500-episode run: {a.episodes} episodes of BallCollection-3x3-v0 (default config) in {wall:.1f} s; "
              f"mean training reward over the last {tail} episodes {scores[-tail:].mean():.1f}")
    rec["load_average_start"] = [round(x, 2) for x in load0]
    rec["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    rec["cpu_count"] = os.cpu_count()
    print(f"load average {load0[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end ({os.cpu_count()} CPUs)")
    atomic_write_json(a.out, rec)
    return rec


if __name__ == "__main__":
    main()
