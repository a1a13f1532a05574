"""Run Dist-QTRL workers in-process (gloo over localhost) for the benchmark and the reproduction.

``qmarl train quantum-train --workers K`` (the toolkit's torchrun launcher) is the user-facing way;
this helper spawns K processes with ``torch.multiprocessing`` so a sweep can call it from Python and
collect each run's episode scores. Every worker builds the same agent (same seed, so the same
initial parameters; rank 0's are broadcast anyway), plays its own episodes and all-reduces gradients.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, env_id: str, seed: int, config: dict, max_episodes: int,
            queue) -> None:
    import torch
    import torch.distributed as td

    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(1)
    td.init_process_group("gloo", rank=rank, world_size=world)
    try:
        from qmarl_agents.quantum_train.agent import make_quantum_train

        agent = make_quantum_train(env_id, seed=seed, **config)
        scores: list[float] = []

        class CB:
            def on_steps(self, steps):
                return agent.episodes < max_episodes

            def on_episode(self, steps, summary):
                scores.append(float(summary.get("score", 0.0)))

            def on_metrics(self, steps, metrics):
                pass

        t0 = time.perf_counter()
        agent.learn(10**12, callback=CB())
        wall = time.perf_counter() - t0
        checksum = float(sum(p.detach().double().sum() for p in agent.trainable_module.parameters()))
        queue.put((rank, scores, wall, agent.updates, agent.agent_steps, checksum))
    finally:
        td.destroy_process_group()


def run_dist_qtrl(env_id: str, workers: int, *, seed: int = 0, max_episodes: int = 200,
                  config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train Dist-QTRL with ``workers`` processes until ``max_episodes`` episodes in all.

    Returns:
        ``{"scores": per-update mean score list (float, length = updates), "episode_scores": all
        episodes in order of (update, rank), "wall_s" (training time of the slowest worker, start-up excluded), "updates", "agent_steps",
        "workers", "param_checksums" (sum of each worker's parameters: equal when in sync)}``.
        Assumes ``episodes_per_update == 1`` (the official setting) for the per-update scores.

    Raises:
        ValueError: if ``workers`` is not a positive int.
    """
    import torch.multiprocessing as mp

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: expected a positive int, got {workers!r}")
    ctx = mp.get_context("spawn")
    q = ctx.SimpleQueue()
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(r, workers, port, env_id, seed, dict(config or {}), max_episodes, q))
             for r in range(workers)]
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    results.sort(key=lambda r: r[0])
    per_rank = [r[1] for r in results]
    updates = results[0][3]
    episode_scores = [per_rank[k][u] for u in range(updates) for k in range(workers)]
    import numpy as np

    return {"workers": workers, "episode_scores": episode_scores,
            "scores": [float(np.mean([per_rank[k][u] for k in range(workers)])) for u in range(updates)],
            "wall_s": max(r[2] for r in results), "updates": updates, "agent_steps": results[0][4],
            "param_checksums": [r[5] for r in results]}
