"""QBM sampler speed: Q-value evaluations per second, batched in-house Gibbs vs per-call dwave-samplers.

Both samplers draw the same reads x replicas of the same 16-hidden-unit effective model (the
3x3 ball-collection visible layout, all 5 actions of a batch of observations) with the same number of
sweeps and the same schedule. Prints a table and writes benchmarks/results/qbm_sampler.json.

    python benchmarks/qbm_sampler.py [--batch 64] [--reads 8] [--replicas 4] [--sweeps 10]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from qmarl_agents.checkpoint import atomic_write_json
from qmarl_agents.qbm.agent import make_qbm
from qmarl_agents.qbm.samplers import DimodSampler


def main() -> dict:
    """Run the benchmark; returns the JSON record."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64, help="observations per call (x 5 actions)")
    ap.add_argument("--reads", type=int, default=8)
    ap.add_argument("--replicas", type=int, default=4)
    ap.add_argument("--sweeps", type=int, default=10)
    ap.add_argument("--out", default="benchmarks/results/qbm_sampler.json")
    a = ap.parse_args()
    agent = make_qbm("qmarl/BallCollection-3x3-v0", 0, reads=a.reads, replicas=a.replicas, sweeps=a.sweeps)
    m = agent.online
    rng = np.random.default_rng(0)
    obs = np.stack([agent.env.reset_arrays(s) for s in range(a.batch)])[:, 0]
    o = agent._map_obs(obs)
    n_q = a.batch * agent.num_actions
    m.q_all_actions(o, None, rng)
    t = time.perf_counter()
    reps = 5
    for _ in range(reps):
        m.q_all_actions(o, None, rng)
    gibbs_qps = reps * n_q / (time.perf_counter() - t)
    ref = DimodSampler(m.cfg.hidden_layers, a.replicas, a.reads, a.sweeps, m.cfg.beta_start, m.cfg.final_beta, m.wp)
    gibbs = m.sampler
    m.sampler = ref
    n_ref = max(5, n_q // 8)
    t = time.perf_counter()
    m.q_all_actions(o[: max(1, n_ref // agent.num_actions)], None, rng)
    ref_qps = (max(1, n_ref // agent.num_actions) * agent.num_actions) / (time.perf_counter() - t)
    m.sampler = gibbs
    rec = {"batch_observations": a.batch, "reads": a.reads, "replicas": a.replicas, "sweeps": a.sweeps,
           "hidden": m.num_hidden, "gibbs_q_per_s": round(gibbs_qps, 1), "dwave_samplers_q_per_s": round(ref_qps, 1),
           "speedup": round(gibbs_qps / ref_qps, 1), "load_average": list(os.getloadavg())}
    print("| sampler | Q-values/s |\n|---|---|")
    print(f"| in-house Gibbs (batched, {n_q} per call) | {gibbs_qps:,.0f} |")
    print(f"| dwave-samplers SA (one call per Q-value) | {ref_qps:,.0f} |")
    print(f"speed-up {gibbs_qps / ref_qps:.1f}x (reads {a.reads}, replicas {a.replicas}, sweeps {a.sweeps}; "
          f"load average {os.getloadavg()[0]:.2f})")
    atomic_write_json(a.out, rec)
    return rec


if __name__ == "__main__":
    main()
