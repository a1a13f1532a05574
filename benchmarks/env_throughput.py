"""Environment throughput: random-action agent-steps per second, qmarl against MAgent2.

For Jungle, Battle and Deception at N = 100, 1,000 and 10,000 agents (the ``-100-v0``, ``-1k-v0``
and ``-10k-v0`` presets), and in the same run MAgent2's ``battle_v4`` at matching agent counts,
this measures:

* **dict API**: the PettingZoo ``ParallelEnv`` loop a user writes::

      acts = dict(zip(env.agents, rng.integers(0, n_actions, len(env.agents)).tolist()))
      env.step(acts)

  (one vectorised draw per step; the same loop for MAgent2, with its 21 actions).
* **array API** (qmarl only): ``env.step_arrays(rng.integers(0, 5, N))``, what trainers use.

* **end to end** (both APIs, and MAgent2's dict loop): whole episodes timed from the reset to
  the last step, resets included, as a trainer pays them: live agent-steps per second over
  ``_episodes_for(N)`` episodes per repeat. MAgent2 runs these with ``max_cycles=31``, the length
  of the Q-MARL presets' episodes, so both sides pay one reset per 31 steps.

An agent-step is one live agent stepped once (MAgent2 removes dead agents, qmarl too), so deaths
lower the count, not the rate per agent. Action drawing is inside the timed loop; in the first
two columns resets are not (they are timed separately and reported as ``reset_ms``). Each case runs ``--repeats`` times from
different seeds, interleaved with MAgent2 at the same N; the table shows medians, and the ratios
are medians of per-repeat ratios (robust to load changes on a shared machine). Battle runs with
``opponent=None`` (both teams are agents, as in MAgent2); the ``scripted blue`` rows add the
default presets, whose built-in opponent is stepped by the env: ``Battle-10k-v0`` (ring-search
chase) and ``Battle-10k-v1`` (distance-field chase; docs/environments.md, "Versions"). Memory: for each 10,000-agent
preset, a fresh process builds the env, resets and steps it 10 times, and reports its resident-set
growth, the tracemalloc peak and the bytes of the arrays the env holds.

Usage::

    python benchmarks/env_throughput.py            # full run, a few minutes on 2 cores
    python benchmarks/env_throughput.py --quick    # smoke run (fewer steps, one repeat)

Writes ``benchmarks/results/env_throughput.json`` (atomically) and prints a Markdown table.
Targets at 10,000 agents (docs/environments.md): dict API >= 3x MAgent2, array API >= 20x MAgent2;
end to end (resets included) array API >= 30x and dict API >= 4x MAgent2; resets <= 3 ms;
<= 200 MB per env, and a cost per agent-step that does not grow from 100 to 10,000 agents.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "env_throughput.json"
SCALES = (("100", 100), ("1k", 1_000), ("10k", 10_000))
E2E_CYCLES = 31
"""Episode length of MAgent2 in the end-to-end column (that of the Q-MARL presets)."""
MAGENT_MAPS = {100: 35, 1_000: 112, 10_000: 354}
"""MAgent2 battle_v4 ``map_size`` per agent count: 84, 968 and 9,800 agents (0.04 per team per cell)."""


def _steps_for(n: int, quick: bool) -> int:
    """Timed steps per repeat: about 100,000 agent-steps (fewer with ``--quick``)."""
    steps = int(np.clip(100_000 // max(n, 1), 30, 1_000))
    return max(5, steps // 10) if quick else steps


def _rate(step_fn, reset_fn, live_count, steps: int) -> dict[str, float]:
    """Time ``steps`` calls of ``step_fn`` (resets excluded) and count live agent-steps."""
    agent_steps = 0
    done = 0
    elapsed = 0.0
    resets: list[float] = []
    while done < steps:
        live = live_count()
        if live == 0:
            t = time.perf_counter()
            reset_fn()
            resets.append(time.perf_counter() - t)
            continue
        t = time.perf_counter()
        step_fn()
        elapsed += time.perf_counter() - t
        agent_steps += live
        done += 1
    return {"agent_steps_per_s": agent_steps / elapsed, "step_ms": 1e3 * elapsed / done,
            "mean_live": agent_steps / done, "resets": len(resets),
            "reset_ms": 1e3 * float(np.median(resets)) if resets else float("nan")}


def _rate_end_to_end(step_fn, reset_fn, live_count, episodes: int) -> dict[str, float]:
    """Time ``episodes`` whole episodes, each from its reset to its last step (resets included)."""
    agent_steps = 0
    steps = 0
    resets = []
    t = time.perf_counter()
    for _ in range(episodes):
        t_reset = time.perf_counter()
        reset_fn()
        resets.append(time.perf_counter() - t_reset)
        live = live_count()
        while live:
            step_fn()
            agent_steps += live
            steps += 1
            live = live_count()
    elapsed = time.perf_counter() - t
    return {"agent_steps_per_s": agent_steps / elapsed, "episodes": episodes, "steps": steps,
            "ms_per_episode": 1e3 * elapsed / episodes, "reset_ms": 1e3 * float(np.median(resets)),
            "reset_ms_best": 1e3 * float(np.min(resets))}


def _episodes_for(n: int, quick: bool) -> int:
    """Whole episodes per end-to-end repeat (31 steps each for the Q-MARL presets)."""
    return 1 if quick else int(np.clip(30_000 // max(n, 1), 3, 100))


def bench_qmarl(env_id: str, kwargs: dict[str, Any], api: str, steps: int, seed: int,
                episodes: int = 0) -> dict[str, Any]:
    """One repeat of one qmarl case (``api`` is ``"dict"`` or ``"array"``)."""
    import qmarl_envs

    env = qmarl_envs.make(env_id, **kwargs)
    n = len(env.possible_agents)
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    if api == "array":
        env.reset_arrays(seed=seed)
        first_reset = time.perf_counter() - t

        def step():
            env.step_arrays(rng.integers(0, 5, n))

        out = _rate(step, lambda: env.reset_arrays(), lambda: int(env.alive_mask().sum()), steps)
        if episodes:
            out["end_to_end"] = _rate_end_to_end(step, lambda: env.reset_arrays(),
                                                  lambda: int(env.alive_mask().sum()), episodes)
    else:
        env.reset(seed=seed)
        first_reset = time.perf_counter() - t

        def step():
            agents = env.agents
            env.step(dict(zip(agents, rng.integers(0, 5, len(agents)).tolist())))

        out = _rate(step, lambda: env.reset(), lambda: len(env.agents), steps)
        if episodes:
            out["end_to_end"] = _rate_end_to_end(step, lambda: env.reset(), lambda: len(env.agents),
                                                  episodes)
    out.update(agents=n, obs_shape=list(env.scenario.obs_shape), first_reset_ms=1e3 * first_reset)
    return out


def bench_magent(n: int, steps: int, seed: int, episodes: int = 0) -> dict[str, Any]:
    """One repeat of MAgent2 ``battle_v4`` at the map size matching ``n`` agents (dict API).

    The end-to-end episodes use ``max_cycles=31``, the episode length of the Q-MARL presets, so
    that both sides pay one reset per 31 steps (MAgent2's default is 1,000).
    """
    from magent2.environments import battle_v4

    if episodes:
        e2e_env = battle_v4.parallel_env(map_size=MAGENT_MAPS[n], max_cycles=E2E_CYCLES)
        e2e_env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        n_act = e2e_env.action_space(e2e_env.possible_agents[0]).n

        def e2e_step():
            agents = e2e_env.agents
            e2e_env.step(dict(zip(agents, rng.integers(0, n_act, len(agents)).tolist())))

        e2e = _rate_end_to_end(e2e_step, lambda: e2e_env.reset(), lambda: len(e2e_env.agents), episodes)
        e2e_env.close()
    env = battle_v4.parallel_env(map_size=MAGENT_MAPS[n])
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    env.reset(seed=seed)
    first_reset = time.perf_counter() - t
    n_act = env.action_space(env.possible_agents[0]).n

    def step():
        agents = env.agents
        env.step(dict(zip(agents, rng.integers(0, n_act, len(agents)).tolist())))

    out = _rate(step, lambda: env.reset(), lambda: len(env.agents), steps)
    out.update(agents=len(env.possible_agents),
               obs_shape=list(env.observation_space(env.possible_agents[0]).shape),
               first_reset_ms=1e3 * first_reset, map_size=MAGENT_MAPS[n])
    if episodes:
        out["end_to_end"] = e2e
    env.close()
    return out


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of the numeric fields over repeats (other fields from the first run)."""
    out = dict(runs[0])
    for k in ("agent_steps_per_s", "step_ms", "mean_live", "reset_ms", "first_reset_ms"):
        out[k] = float(np.nanmedian([r[k] for r in runs]))
    out["agent_steps_per_s_all"] = [round(r["agent_steps_per_s"]) for r in runs]
    if all("end_to_end" in r for r in runs):
        e2e = [r["end_to_end"]["agent_steps_per_s"] for r in runs]
        out["end_to_end"] = {**runs[0]["end_to_end"], "agent_steps_per_s": float(np.median(e2e)),
                             "agent_steps_per_s_all": [round(x) for x in e2e],
                             "ms_per_episode": float(np.median([r["end_to_end"]["ms_per_episode"]
                                                                for r in runs])),
                             "reset_ms": float(np.median([r["end_to_end"]["reset_ms"] for r in runs])),
                             "reset_ms_best": float(np.min([r["end_to_end"]["reset_ms_best"]
                                                            for r in runs]))}
    return out


def memory_probe(env_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Memory held by one env: RSS growth, tracemalloc peak and array bytes (run in a fresh process).

    Returns:
        ``{"rss_delta_mb", "tracemalloc_peak_mb", "tracemalloc_current_mb", "array_mb"}``.
    """
    import tracemalloc

    import qmarl_envs  # noqa: F401  (imports and registrations are not counted)

    def rss_mb() -> float:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    gc.collect()
    base = rss_mb()
    tracemalloc.start()
    env = qmarl_envs.make(env_id, **kwargs)
    env.reset_arrays(seed=0)
    n = len(env.possible_agents)
    rng = np.random.default_rng(0)
    for _ in range(10):
        if not env.alive_mask().any():
            env.reset_arrays()
        env.step_arrays(rng.integers(0, 5, n))
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    arrays = _array_bytes(env)
    return {"rss_delta_mb": rss_mb() - base, "tracemalloc_peak_mb": peak / 2**20,
            "tracemalloc_current_mb": current / 2**20, "array_mb": arrays / 2**20}


def _array_bytes(obj: Any, seen: set[int] | None = None, depth: int = 0) -> int:
    """Bytes of the distinct NumPy arrays reachable from ``obj``'s attributes (a few levels deep)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 4:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        base = obj if obj.base is None else obj.base
        if isinstance(base, np.ndarray) and id(base) not in seen and base is not obj:
            seen.add(id(base))
            return base.nbytes
        return obj.nbytes if obj.base is None else 0
    total = 0
    if isinstance(obj, dict):
        items = obj.values()
    elif isinstance(obj, (list, tuple)):
        items = obj
    elif hasattr(obj, "__dict__") and type(obj).__module__.startswith(("qmarl_envs", "qmarl")):
        items = vars(obj).values()
    else:
        return 0
    for v in items:
        total += _array_bytes(v, seen, depth + 1)
    return total


def _probe_in_subprocess(env_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    code = ("import json, sys; sys.path.insert(0, 'benchmarks'); import env_throughput as b; "
            f"print(json.dumps(b.memory_probe({env_id!r}, {kwargs!r})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cases() -> list[tuple[str, str, dict[str, Any], int]]:
    """``(label, env id, kwargs, N)`` of every qmarl case."""
    out = []
    for name in ("Jungle", "Battle", "Deception"):
        for suffix, n in SCALES:
            kw = {"opponent": None} if name == "Battle" else {}
            out.append((f"{name}-{suffix}", f"qmarl/{name}-{suffix}-v0", kw, n))
    out.append(("Battle-10k-v0 (scripted blue)", "qmarl/Battle-10k-v0", {}, 10_000))
    out.append(("Battle-10k-v1 (scripted blue)", "qmarl/Battle-10k-v1", {}, 10_000))
    return out


def run(quick: bool, repeats: int, magent: bool) -> dict[str, Any]:
    """Run every case and the MAgent2 reference; returns the JSON-able results.

    Repeats are interleaved (MAgent2, then every qmarl case at the same N, then the next repeat) so
    that a change in machine load hits both sides of each ratio alike; every ratio is a median over
    repeats of per-repeat ratios.
    """
    warnings.filterwarnings("ignore")
    results: dict[str, Any] = {"qmarl": [], "magent2": [], "memory": {}}
    all_cases = cases()
    for _, n in SCALES:
        steps = _steps_for(n, quick)
        mine = [c for c in all_cases if c[3] == n]
        runs: dict[str, dict[str, list]] = {c[0]: {"array": [], "dict": []} for c in mine}
        mag_runs: list[dict[str, Any]] = []
        episodes = _episodes_for(n, quick)
        for seed in range(repeats):
            if magent:
                mag_runs.append(bench_magent(n, steps, seed, episodes))
            for label, env_id, kw, _ in mine:
                for api in ("array", "dict"):
                    runs[label][api].append(bench_qmarl(env_id, kw, api, steps, seed, episodes))
        if magent:
            row = {"label": f"MAgent2 battle_v4 map {MAGENT_MAPS[n]}", "n": n, "dict": _median(mag_runs)}
            results["magent2"].append(row)
            print(f"  {row['label']:28s} dict {row['dict']['agent_steps_per_s'] / 1e6:6.2f} M/s", flush=True)
        for label, env_id, kw, _ in mine:
            row = {"label": label, "id": env_id, "kwargs": kw, "n": n}
            for api in ("array", "dict"):
                row[api] = _median(runs[label][api])
                if magent:
                    ratios = [r["agent_steps_per_s"] / m["agent_steps_per_s"]
                              for r, m in zip(runs[label][api], mag_runs)]
                    row[api]["vs_magent2"] = float(np.median(ratios))
                    ratios = [r["end_to_end"]["agent_steps_per_s"] / m["end_to_end"]["agent_steps_per_s"]
                              for r, m in zip(runs[label][api], mag_runs)]
                    row[api]["end_to_end"]["vs_magent2"] = float(np.median(ratios))
            results["qmarl"].append(row)
            print(f"  {label:28s} array {row['array']['agent_steps_per_s'] / 1e6:7.2f} M/s   "
                  f"dict {row['dict']['agent_steps_per_s'] / 1e6:6.2f} M/s   end to end: array "
                  f"{row['array']['end_to_end']['agent_steps_per_s'] / 1e6:6.2f} M/s dict "
                  f"{row['dict']['end_to_end']['agent_steps_per_s'] / 1e6:6.2f} M/s   reset "
                  f"{row['array']['end_to_end']['reset_ms']:.2f} ms", flush=True)
    for name in ("Jungle", "Battle", "Deception"):
        env_id = f"qmarl/{name}-10k-v0"
        kw = {"opponent": None} if name == "Battle" else {}
        results["memory"][env_id] = _probe_in_subprocess(env_id, kw)
    return results


def table(res: dict[str, Any]) -> str:
    """A Markdown table of the results (rates in millions of agent-steps per second)."""
    mag = {r["n"]: r["dict"] for r in res["magent2"]}
    lines = ["| env | agents | obs | array API M/s (us/agent-step) | dict API M/s (us/agent-step) "
             "| array / MAgent2 | dict / MAgent2 | reset ms (median / best) | end to end array M/s (/ MAgent2) "
             "| end to end dict M/s (/ MAgent2) |",
             "|---|---|---|---|---|---|---|---|---|---|"]

    def cell(d: dict[str, Any]) -> str:
        r = d["agent_steps_per_s"]
        return f"{r / 1e6:.2f} ({1e6 / r:.3f})"

    def resets(d: dict[str, Any]) -> str:
        e = d.get("end_to_end")
        return f"{e['reset_ms']:.2f} / {e['reset_ms_best']:.2f}" if e else "-"

    def e2e(d: dict[str, Any]) -> str:
        e = d.get("end_to_end")
        if not e:
            return "-"
        ratio = f" ({e['vs_magent2']:.1f}x)" if "vs_magent2" in e else ""
        return f"{e['agent_steps_per_s'] / 1e6:.2f}{ratio}"

    for row in res["qmarl"]:
        m = mag.get(row["n"])
        ratio_a = f"{row['array']['vs_magent2']:.1f}x" if m else "-"
        ratio_d = f"{row['dict']['vs_magent2']:.1f}x" if m else "-"
        obs = "x".join(map(str, row["array"]["obs_shape"]))
        lines.append(f"| {row['label']} | {row['n']:,} | {obs} | {cell(row['array'])} | {cell(row['dict'])} "
                     f"| {ratio_a} | {ratio_d} | {resets(row['array'])} | {e2e(row['array'])} "
                     f"| {e2e(row['dict'])} |")
    for row in res["magent2"]:
        d = row["dict"]
        obs = "x".join(map(str, d["obs_shape"]))
        lines.append(f"| {row['label']} | {d['agents']:,} | {obs} | - | {cell(d)} | 1.0x | 1.0x "
                     f"| {resets(d)} | - | {e2e(d)} (31-step episodes) |")
    if res.get("memory"):
        lines += ["", "| 10k-agent env | RSS growth MB | tracemalloc peak MB | arrays held MB |",
                  "|---|---|---|---|"]
        for env_id, m in res["memory"].items():
            lines.append(f"| {env_id} | {m['rss_delta_mb']:.1f} | {m['tracemalloc_peak_mb']:.1f} "
                         f"| {m['array_mb']:.1f} |")
    return "\n".join(lines)


def _finite(obj: Any) -> Any:
    """``obj`` with NaN/infinite floats (cases not measured, e.g. MAgent2's array API) as ``None``."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    return obj


def _write_json(path: Path, data: dict[str, Any]) -> None:
    from qmarl_envs.fileio import atomic_write_json

    atomic_write_json(path, _finite(data), indent=1, default=float)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="few steps, one repeat (smoke run)")
    p.add_argument("--repeats", type=int, default=3, help="repeats per case (median reported)")
    p.add_argument("--no-magent2", action="store_true", help="skip the MAgent2 reference")
    p.add_argument("--out", type=Path, default=RESULTS, help="JSON output path")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error("--repeats: expected >= 1")
    repeats = 1 if args.quick else args.repeats
    magent = not args.no_magent2
    if magent:
        try:
            import magent2  # noqa: F401
        except ImportError:
            print("magent2 is not installed (pip install --no-deps magent2==0.3.4); skipping it")
            magent = False
    print(f"env throughput ({'quick' if args.quick else f'{repeats} repeats'}), "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, NumPy {np.__version__}")
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    res = run(args.quick, repeats, magent)
    res["meta"] = {"python": platform.python_version(), "numpy": np.__version__,
                   "machine": platform.machine(), "cpus": os.cpu_count(), "quick": args.quick,
                   "repeats": repeats, "seconds": round(time.perf_counter() - t0, 1),
                   "date": time.strftime("%Y-%m-%d"),
                   "load_average_1min": [round(load0, 2), round(os.getloadavg()[0], 2)]}
    _write_json(args.out, res)
    print()
    print(table(res))
    print(f"\n1-minute load average before / after: {res['meta']['load_average_1min']} on "
          f"{os.cpu_count()} CPUs (other work on the machine slows every row, ratios less so)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
