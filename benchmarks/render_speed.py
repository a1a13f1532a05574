"""Rasteriser speed: time to draw one ``rgb_array`` frame of every registered env.

The headline row is the 10,000-agent map (``qmarl/Jungle-10k-v0``: 500 x 500 cells, 2,500 food,
drawn at 2 px per cell into a 1000 x 1000 frame); the target is at most 50 ms per frame. Each env is
reset with a fixed seed and stepped a few times with random actions, so agents are spread out and
some are damaged, then :func:`qmarl_envs.render.raster.render_env` is timed (median of repeats).

If no 10k preset is registered, a synthetic 500 x 500 state with 10,000 agents in two teams and
2,500 food is timed instead.

Usage::

    python benchmarks/render_speed.py [--repeats 20] [--ids qmarl/Jungle-10k-v0 ...] [--out PATH]

Prints a table and writes ``benchmarks/results/render_speed.json`` (atomically).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

import qmarl_envs
from qmarl_envs.core.state import GridState
from qmarl_envs.render import raster

TARGET_MS = 50.0
"""Budget for one 10,000-agent frame, in milliseconds."""
RESULTS = Path(__file__).resolve().parent / "results" / "render_speed.json"


def _time(fn, repeats: int) -> dict[str, float]:
    """Median, min and max wall time of ``fn()`` over ``repeats`` calls (after one warm-up), in ms."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000.0)
    return {"median_ms": float(np.median(times)), "min_ms": float(np.min(times)), "max_ms": float(np.max(times))}


def bench_env(env_id: str, repeats: int, warm_steps: int = 3, seed: int = 0) -> dict:
    """Time :func:`raster.render_env` on ``env_id`` after ``warm_steps`` random steps."""
    env = qmarl_envs.make(env_id, render_mode="rgb_array")
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(warm_steps):
        if not env.agents:
            break
        acts = rng.integers(0, 5, size=len(env.agents))
        env.step(dict(zip(env.agents, acts.tolist())))
    st = env.grid_state
    frame = raster.render_env(env)
    row = {"id": env_id, "map": f"{st.shape[0]}x{st.shape[1]}", "entities": int(st.num_entities),
           "live": int(st.alive.sum()), "cell_px": raster.cell_size(st.shape),
           "frame": f"{frame.shape[1]}x{frame.shape[0]}"}
    row.update(_time(lambda: raster.render_env(env), repeats))
    env.close()
    return row


def bench_synthetic(repeats: int, seed: int = 0) -> dict:
    """Time a synthetic 500 x 500 state: 10,000 agents (two teams, random hit points), 2,500 food."""
    rng = np.random.default_rng(seed)
    shape, m = (500, 500), 10_000
    cells = rng.choice(shape[0] * shape[1], m + 2500, replace=False)
    pos = np.stack(np.unravel_index(cells[:m], shape), axis=1).astype(np.int32)
    st = GridState(shape=shape, positions=pos, alive=np.ones(m, bool), team=(np.arange(m) % 2).astype(np.int8),
                   hp=np.ones(m, np.int16))
    st.food.flat[cells[m:]] = True
    hp = rng.random(m).astype(np.float32)
    frame = raster.rasterize(st, st.team, hp)
    row = {"id": "synthetic 10k agents", "map": "500x500", "entities": m, "live": m,
           "cell_px": raster.cell_size(shape), "frame": f"{frame.shape[1]}x{frame.shape[0]}"}
    row.update(_time(lambda: raster.rasterize(st, st.team, hp), repeats))
    return row


def _write_json(path: Path, data: dict) -> None:
    from qmarl_envs.fileio import atomic_write_json

    atomic_write_json(path, data)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print the table, write the JSON; returns the results dict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed frames per env (default 20)")
    parser.add_argument("--ids", nargs="*", default=None, help="env ids (default: every registered id)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON output path")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats: expected a positive int")
    ids = qmarl_envs.list_envs() if args.ids is None else args.ids
    rows = [bench_env(i, args.repeats) for i in ids]
    tenk = [r for r in rows if r["entities"] >= 10_000]
    if not tenk:
        rows.append(bench_synthetic(args.repeats))
        tenk = rows[-1:]
    head = tenk[0]
    result = {
        "benchmark": "render_speed",
        "what": "one rgb_array frame drawn by qmarl_envs.render.raster.render_env (median of repeats)",
        "target_ms_10k": TARGET_MS,
        "headline": {"id": head["id"], "median_ms": round(head["median_ms"], 2),
                     "meets_target": head["median_ms"] <= TARGET_MS},
        "repeats": args.repeats,
        "machine": {"python": platform.python_version(), "numpy": np.__version__,
                    "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
        "rows": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
    }
    cols = ("id", "map", "entities", "cell_px", "frame", "median_ms", "min_ms")

    def cell(v) -> str:
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    widths = [max(len(c), *(len(cell(r[c])) for r in rows)) for c in cols]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(cell(r[c]).ljust(w) for c, w in zip(cols, widths)))
    verdict = "meets" if result["headline"]["meets_target"] else "MISSES"
    print(f"\n{head['id']}: {head['median_ms']:.1f} ms per frame ({verdict} the {TARGET_MS:.0f} ms target)")
    _write_json(args.out, result)
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
