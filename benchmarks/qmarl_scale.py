"""Q-MARL at scale: seconds to update 100 episodes at N = 10 ... 10,000 agents, and act() latency.

Update time (Q-MARL [P] Fig. 9, "time to update 100 episodes"): one Q-MARL-AC batch on the Jungle
family (``qmarl/Jungle-100-v0`` with ``num_agents=N``, density-scaled map) -- play the episodes
(31 env steps each, ego sub-graphs of depth 3 and the ensembled policy every step), then one
backward pass over every sub-node of every step and one Adam step. Episodes are played in chunks of
``n_envs`` copies (fewer copies at large N bound memory). At large N the run may time ``--episodes``
< 100 episodes and scale the seconds linearly to 100 (the per-episode cost is flat once a chunk
is one copy); the JSON says which rows are measured and which are scaled.

act() latency: ``qmarl/Jungle-10k-v0``, one dict of 10,000 observations in, a dict of actions out,
ensembling on, median of ``--act-repeats`` calls.

Every case runs in a fresh subprocess, so its peak memory is that process's peak RSS
(``resource.getrusage``), torch and NumPy included.

Usage::

    python benchmarks/qmarl_scale.py                     # N = 10, 100, 1k, 10k (10k scaled from 5 episodes)
    python benchmarks/qmarl_scale.py --quick             # smoke run (fewer episodes)

Writes ``benchmarks/results/qmarl_scale.json`` and prints a table. The load average is recorded:
the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

PAPER_FIG9 = {10: 100, 100: 120, 1000: 200, 10000: 350}
"""Seconds to update 100 episodes, read off [P] Fig. 9 (approximate)."""


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _case_update(n: int, episodes: int, n_envs: int) -> dict:
    from qmarl_agents import make_agent

    agent = make_agent("qmarl", env_id="qmarl/Jungle-100-v0", seed=0, games_per_batch=episodes,
                       n_envs=min(n_envs, episodes), env_kwargs={"num_agents": n})
    steps = episodes * n * 31
    t = time.perf_counter()
    agent.learn(steps)
    return {"seconds": time.perf_counter() - t, "batches": agent.batches, "agent_steps": agent.agent_steps}


def _case_act(repeats: int) -> dict:
    import numpy as np
    import qmarl_envs
    from qmarl_agents import make_agent

    env = qmarl_envs.make("qmarl/Jungle-10k-v0")
    agent = make_agent("qmarl", env_id="qmarl/Jungle-10k-v0", seed=0).bind(env)
    obs, _ = env.reset(seed=0)
    agent.act(obs)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        acts = agent.act(obs)
        times.append(time.perf_counter() - t)
        obs, *_ = env.step(acts)
        obs = {k: obs[k] for k in env.agents}
    return {"median_ms": 1000 * float(np.median(times)), "min_ms": 1000 * float(np.min(times)),
            "agents": len(acts)}


def _child(spec: dict) -> None:
    import torch

    torch.set_num_threads(1)
    out = _case_update(spec["n"], spec["episodes"], spec["n_envs"]) if spec["kind"] == "update" \
        else _case_act(spec["repeats"])
    out["peak_rss_mb"] = _peak_mb()
    print("RESULT " + json.dumps(out))


def _run(spec: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True,
                          text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"case {spec} failed:\n{proc.stderr[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    """Run the cases, print the table and write the JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--quick", action="store_true", help="fewer episodes per case (smoke run)")
    p.add_argument("--sizes", default="10,100,1000,10000")
    p.add_argument("--act-repeats", type=int, default=10)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "qmarl_scale.json")
    a = p.parse_args(argv)
    if a.child:
        _child(json.loads(a.child))
        return 0
    from qmarl_envs.fileio import atomic_write_json

    load0 = os.getloadavg()[0]
    rows = []
    for n in [int(x) for x in a.sizes.split(",")]:
        full = 100
        if a.quick:
            episodes = {10: 20, 100: 10, 1000: 2, 10000: 1}.get(n, 1)
        else:
            episodes = {10: 100, 100: 100, 1000: 20, 10000: 5}.get(n, 5)
        n_envs = max(1, min(100, 2000 // n))
        r = _run({"kind": "update", "n": n, "episodes": episodes, "n_envs": n_envs})
        secs100 = r["seconds"] * full / episodes
        rows.append({"agents": n, "episodes_timed": episodes, "scaled_to_100": episodes != full,
                     "seconds_timed": round(r["seconds"], 3), "seconds_per_100_episodes": round(secs100, 2),
                     "us_per_agent_step": round(1e6 * r["seconds"] / (episodes * n * 31), 3),
                     "paper_fig9_s": PAPER_FIG9.get(n), "peak_rss_mb": round(r["peak_rss_mb"], 1),
                     "n_envs": n_envs})
        print(rows[-1], flush=True)
    act = _run({"kind": "act", "repeats": a.act_repeats})
    res = {"update": rows, "act_10k": {k: round(v, 2) if isinstance(v, float) else v for k, v in act.items()},
           "load_average_1min": [round(load0, 2), round(os.getloadavg()[0], 2)], "cpus": os.cpu_count(),
           "quick": a.quick}
    print("\n| N | episodes timed | s / 100 episodes | paper Fig. 9 (s) | us / agent-step | peak RSS (MB) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        tag = " (scaled)" if r["scaled_to_100"] else ""
        print(f"| {r['agents']:,} | {r['episodes_timed']} | {r['seconds_per_100_episodes']:.1f}{tag} | "
              f"~{r['paper_fig9_s']} | {r['us_per_agent_step']:.2f} | {r['peak_rss_mb']:.0f} |")
    print(f"\nact() 10,000 agents (dict in/out, ensembling on): median {res['act_10k']['median_ms']:.1f} ms, "
          f"peak RSS {res['act_10k']['peak_rss_mb']:.0f} MB; load average {res['load_average_1min']}")
    atomic_write_json(a.out, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
