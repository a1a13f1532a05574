"""Rollout collector overhead: the raw array loop of an env against :class:`RolloutCollector`.

Both loops play whole episodes of ``qmarl/Jungle-1k-v0`` (1,000 agents, 31 steps) with uniform
random actions drawn from a seeded generator, resets included:

* **raw env**: ``env.reset_arrays(seed)`` then ``env.step_arrays(actions)`` until no agent is live.
* **collector**: ``RolloutCollector(env_id, n_envs=K).collect(policy_fn, steps)``: the same env
  stepped through the toolkit, which also stores the trajectory arrays (observations, actions,
  rewards, terminated, truncated, alive), masks dead rows and auto-resets finished copies.

Rates are agent-steps (slots, the budget rule of docs/agents.md) per second; the table also gives
live agent-steps per second. Each case runs ``--repeats`` times; the table shows the best (the
machine may be shared; the load average is recorded).

Usage::

    python benchmarks/collector_throughput.py [--repeats 3] [--episodes 20]

Writes ``benchmarks/results/collector_throughput.json`` (atomically) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import qmarl_envs
from qmarl_agents.checkpoint import atomic_write_json
from qmarl_agents.rollout import RolloutCollector

ENV_ID = "qmarl/Jungle-1k-v0"


def raw_loop(episodes: int, seed: int) -> tuple[float, int, int]:
    """``(seconds, agent_steps, live_agent_steps)`` of ``episodes`` episodes on the raw array API."""
    env = qmarl_envs.make(ENV_ID).unwrapped
    rng = np.random.default_rng(seed)
    n = len(env.possible_agents)
    slots = live = 0
    t0 = time.perf_counter()
    for ep in range(episodes):
        env.reset_arrays(seed + ep)
        alive = env.alive_mask()
        while alive.any():
            live += int(alive.sum())
            slots += n
            env.step_arrays(rng.integers(0, 5, n))
            alive = env.alive_mask()
    return time.perf_counter() - t0, slots, live


def collector_loop(episodes: int, seed: int, n_envs: int) -> tuple[float, int, int]:
    """The same work through ``RolloutCollector.collect`` (``n_envs`` copies, trajectory stored)."""
    col = RolloutCollector(ENV_ID, n_envs=n_envs, seed=seed)
    rng = np.random.default_rng(seed)
    steps = episodes * col.envs[0].scenario.max_cycles // n_envs
    t0 = time.perf_counter()
    col.reset(seed)
    traj = col.collect(lambda obs, alive, graph: rng.integers(0, 5, obs.shape[0]), steps)
    return time.perf_counter() - t0, int(traj.agent_steps), int(traj.live_agent_steps)


def main() -> None:
    """Run both loops, print the table, write the JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--episodes", type=int, default=20)
    args = p.parse_args()
    rows = []
    cases = [("raw env (array API)", lambda s: raw_loop(args.episodes, s))] + [
        (f"RolloutCollector, {k} copies", (lambda k: lambda s: collector_loop(args.episodes, s, k))(k)) for k in (1, 4)]
    for name, fn in cases:
        best = None
        for r in range(args.repeats):
            sec, slots, live = fn(100 * r)
            if best is None or slots / sec > best[1] / best[0]:
                best = (sec, slots, live)
        sec, slots, live = best
        rows.append({"case": name, "seconds": round(sec, 4), "agent_steps": slots, "live_agent_steps": live,
                     "agent_steps_per_s": slots / sec, "live_agent_steps_per_s": live / sec})
    raw = rows[0]["agent_steps_per_s"]
    for r in rows:
        r["relative_to_raw"] = r["agent_steps_per_s"] / raw
    load = os.getloadavg()
    print(f"{ENV_ID}, random actions, whole episodes with resets; best of {args.repeats}; load average "
          f"{load[0]:.1f} / {load[1]:.1f}")
    print("| loop | agent-steps/s (M) | live agent-steps/s (M) | relative to raw env |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['agent_steps_per_s'] / 1e6:.2f} | {r['live_agent_steps_per_s'] / 1e6:.2f} | "
              f"{r['relative_to_raw']:.2f} |")
    atomic_write_json(os.path.join(os.path.dirname(__file__), "results", "collector_throughput.json"),
                      {"env_id": ENV_ID, "episodes": args.episodes, "repeats": args.repeats,
                       "load_average": list(load), "rows": rows})


if __name__ == "__main__":
    main()
