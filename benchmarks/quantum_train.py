"""Quantum-Train speed: circuit forward+backward per PennyLane device and qubit count, time per
update, and Dist-QTRL episodes/s for K workers (``qmarl train --workers K`` through torchrun).

Writes ``benchmarks/results/quantum_train.json`` (atomically) and prints Markdown tables. The machine's
load average is recorded beside the figures (the 2-core machine is shared).

    python benchmarks/quantum_train.py [--qubits 8 10 12 14] [--depth 5] [--workers 1 2 4 8]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "quantum_train.json"


def _time(fn, repeats: int) -> float:
    fn()  # warm-up (tape construction, caches)
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def bench_circuits(qubits, depth, repeats):
    import torch

    from qmarl_agents.quantum_train.circuit import QuantumCircuit

    rows = []
    for n in qubits:
        row = {"n": n, "depth": depth, "qnn_params": 6 * n * depth}
        qc = QuantumCircuit(n, depth, "u3_cu3", "default.qubit", torch.Generator().manual_seed(0))

        def fb():
            qc.zero_grad()
            (qc() ** 2).sum().backward()

        row["default.qubit_backprop_fwd_bwd_s"] = _time(fb, repeats)
        with torch.no_grad():
            row["default.qubit_fwd_s"] = _time(qc, repeats)
        import pennylane as qml

        lq = QuantumCircuit(n, depth, "u3_cu3", "default.qubit", torch.Generator().manual_seed(0))
        # lightning.qubit: adjoint does not apply to qml.probs and parameter-shift has no rule for
        # C(U3) (PennyLane raises for both), so only its forward pass (inference) is timed
        dev = qml.device("lightning.qubit", wires=n)
        qn = qml.QNode(lq._qnode.func, dev, interface="torch", diff_method=None)
        with torch.no_grad():
            row["lightning.qubit_fwd_s"] = _time(lambda: qn(lq.u3, lq.cu3), repeats)
        rows.append(row)
        print(f"n={n}: " + ", ".join(f"{k}={v:.4f}" for k, v in row.items() if k.endswith("_s")), flush=True)
    return rows


def bench_update(repeats):
    from qmarl_agents.quantum_train.agent import make_quantum_train

    out = {}
    for gen in ("quantum", "classical"):
        a = make_quantum_train("CartPole-v1", seed=0, generator=gen)
        ep = a.envs.episode(lambda o, m: a._act(o, m, False), seed=0)
        batch = [ep] * 1
        # a fixed 50-step episode so the two generators do the same classical work
        batch = [tuple(x[:50] if isinstance(x, np.ndarray) else x for x in ep)]
        out[gen] = {"update_s": _time(lambda: a.update(batch), repeats), "episode_len": int(batch[0][1].shape[0]),
                    "params": a.parameter_counts()}
    return out


def bench_workers(workers, episodes_per_worker, env_id, depth):
    """Each K: ``qmarl train quantum-train --workers K`` through torchrun (``dist.run_workers``);
    the figures come from rank 0's run.json / episodes.csv (torchrun start-up excluded)."""
    import tempfile

    import qmarl_envs

    from qmarl_agents.quantum_train.dist import agent_steps_for, run_workers

    probe = qmarl_envs.make(env_id).unwrapped
    bound = probe.scenario.max_cycles * probe.max_num_agents  # agent-steps of the longest episode
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in workers:
            t = time.perf_counter()
            r = run_workers(env_id, k, seed=0, config={"depth": depth}, out=Path(tmp) / f"K{k}",
                            agent_steps=agent_steps_for(episodes_per_worker, k, bound),
                            max_rounds=episodes_per_worker)
            rows.append({"workers": k, "episodes": r["episodes"], "wall_s": r["wall_s"],
                         "episodes_per_s": r["episodes_per_s"], "agent_steps_per_s": r["agent_steps_per_s"],
                         "launch_total_s": time.perf_counter() - t})
            print(f"K={k}: {rows[-1]}", flush=True)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qubits", type=int, nargs="+", default=[8, 9, 10, 11, 12, 13, 14])
    ap.add_argument("--depth", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--episodes-per-worker", type=int, default=8)
    ap.add_argument("--env", default="qmarl/BallCollection-3x3-v0")
    ap.add_argument("--skip", nargs="*", default=[], choices=["circuits", "update", "workers"])
    ap.add_argument("--json", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    import json

    from qmarl_agents.checkpoint import atomic_write_json

    report = json.loads(args.json.read_text()) if args.json.is_file() else {}
    report["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform()}
    if "circuits" not in args.skip:
        la = os.getloadavg()[0]
        report["circuits"] = {"load_avg_1min": la, "rows": bench_circuits(args.qubits, args.depth, args.repeats)}
    if "update" not in args.skip:
        la = os.getloadavg()[0]
        report["update"] = {"load_avg_1min": la, **bench_update(args.repeats)}
        print(report["update"])
    if "workers" not in args.skip:
        la = os.getloadavg()[0]
        report["workers"] = {"load_avg_1min": la, "env_id": args.env, "depth": args.depth,
                             "rows": bench_workers(args.workers, args.episodes_per_worker, args.env, args.depth)}
    atomic_write_json(args.json, report)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
