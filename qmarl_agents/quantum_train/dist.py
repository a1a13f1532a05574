"""Dist-QTRL runs for the benchmark and the reproduction, through ``qmarl train --workers K``.

:func:`run_workers` runs ``qmarl train quantum-train --env ID --workers K ...`` through the
toolkit's torchrun launcher (:func:`qmarl_agents.distributed.launch`, i.e. ``torch.distributed.run
--standalone --nproc-per-node K``): K gloo ranks share one parameter set (broadcast from rank 0),
each plays its own episodes, the gradients are all-reduced before every Adam step, and rank 0
writes the run (``episodes.csv``, ``run.json``). The figures a sweep needs are read back from those
files; there is no process pool of our own.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any


def _config_args(config: dict[str, Any]) -> list[str]:
    """``{"depth": 3, "hidden": (4,)}`` -> ``["--config", "depth=3", "--config", "hidden=[4]"]``
    (values as JSON, what ``qmarl train --config`` parses)."""
    out: list[str] = []
    for k, v in config.items():
        out += ["--config", f"{k}={json.dumps(list(v) if isinstance(v, tuple) else v)}"]
    return out


def read_run(out: str | Path) -> dict[str, Any]:
    """Rank 0's episodes and budget from a ``qmarl train`` run directory.

    Returns:
        ``{"run": run.json as a dict, "scores": float list (one per rank-0 episode, i.e. per round
        when ``episodes_per_update == 1``), "episode_agent_steps": int list (global agent-steps
        when the episode was logged), "episode_wall_s": float list (seconds since training
        started), "scores_all_workers": float list (per update, the mean score over every
        worker's episodes, from ``metrics.csv``; empty if not logged)}``.

    Raises:
        ValueError: if ``out`` holds no finished run (``run.json`` or ``episodes.csv`` missing).
    """
    out = Path(out)
    if not (out / "run.json").is_file() or not (out / "episodes.csv").is_file():
        raise ValueError(f"out: {str(out)!r} holds no finished qmarl train run (run.json, episodes.csv)")
    run = json.loads((out / "run.json").read_text())
    scores, steps, walls = [], [], []
    with open(out / "episodes.csv", newline="") as f:
        for row in csv.DictReader(f):
            scores.append(float(row["score"]))
            steps.append(int(row["agent_steps"]))
            walls.append(float(row["wall_s"]))
    all_workers = []
    if (out / "metrics.csv").is_file():
        with open(out / "metrics.csv", newline="") as f:
            all_workers = [float(row["value"]) for row in csv.DictReader(f) if row["key"] == "score_all_workers"]
    return {"run": run, "scores": scores, "episode_agent_steps": steps, "episode_wall_s": walls,
            "scores_all_workers": all_workers}


def run_workers(env_id: str, workers: int, *, seed: int = 0, config: dict[str, Any] | None = None,
                agent_steps: int, out: str | Path, max_rounds: int | None = None,
                reuse: bool = False) -> dict[str, Any]:
    """Train Dist-QTRL with ``workers`` torchrun ranks for ``agent_steps`` (global) agent-steps.

    Runs ``qmarl train quantum-train --env env_id --workers K --agent-steps N --seed S --out out
    --overwrite --no-eval --no-progress [--config KEY=VALUE ...]`` through
    :func:`qmarl_agents.distributed.launch` and reads rank 0's ``episodes.csv`` and ``run.json``.

    Args:
        env_id: a qmarl env id or a Gymnasium id (e.g. ``"CartPole-v1"``).
        workers: number of ranks K.
        seed: training seed (rank r plays from ``distributed.rank_seed(seed, r)``).
        config: :class:`~qmarl_agents.quantum_train.config.QTConfig` fields.
        agent_steps: global budget in agent-steps (all ranks together).
        out: run directory (replaced if it holds a run).
        max_rounds: stop after ``max_rounds`` rounds (passed as ``max_updates``, so every rank stops
            at that update even with budget left); None: the budget alone.
        reuse: if ``out`` already holds a finished run of the same env, K, seed, config and budget
            (its ``run.json``), read it instead of training again (a long sweep can be resumed).

    Returns:
        ``{"workers", "scores" (rank 0's score per round: one episode per worker and update, the
        official ``episodes_per_update == 1``), "scores_all_workers" (per round, the mean score of
        the K workers' episodes), "rounds" (len(scores)), "episodes" (rounds × K),
        "wall_s" (rank 0's training seconds, start-up and evaluation excluded), "agent_steps"
        (global, at the last kept round), "episodes_per_s", "agent_steps_per_s", "out"}``.

    Raises:
        ValueError: bad ``workers``/``agent_steps``/``max_rounds``, or ``episodes_per_update != 1``.
        RuntimeError: if the launcher reports a failed rank.
    """
    for name, v in (("workers", workers), ("agent_steps", agent_steps)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}: expected a positive int, got {v!r}")
    if max_rounds is not None and (isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1):
        raise ValueError(f"max_rounds: expected None or a positive int, got {max_rounds!r}")
    config = dict(config or {})
    if config.get("episodes_per_update", 1) != 1:
        raise ValueError("config: run_workers reads one episode per round (episodes_per_update=1)")
    if max_rounds is not None:
        config["max_updates"] = max_rounds
    out = Path(out)
    same = False
    if reuse and (out / "run.json").is_file() and (out / "episodes.csv").is_file():
        prev = json.loads((out / "run.json").read_text())
        want = json.loads(json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}))
        same = (prev.get("env_id") == env_id and prev.get("seed") == int(seed) and prev.get("config") == want
                and prev.get("budget_agent_steps") == agent_steps and prev.get("workers") == workers)
    if not same:
        _launch(env_id, workers, seed, config, agent_steps, out)
    return _summary(out, workers, max_rounds)


def _launch(env_id, workers, seed, config, agent_steps, out) -> None:
    from qmarl_agents import distributed

    argv = ["train", "quantum-train", "--env", env_id, "--workers", str(workers), "--agent-steps",
            str(agent_steps), "--seed", str(int(seed)), "--out", str(out), "--overwrite", "--no-eval",
            "--no-progress", *_config_args(config)]
    rc = distributed.launch(argv, workers)
    if rc != 0:
        raise RuntimeError(f"qmarl train quantum-train --workers {workers} failed (exit code {rc})")
    # record K beside the run (run.json does not hold it), so that `reuse` can tell runs apart
    from qmarl_agents.checkpoint import atomic_write_json

    info = json.loads((out / "run.json").read_text())
    atomic_write_json(out / "run.json", {**info, "workers": workers})


def _summary(out: Path, workers: int, max_rounds: int | None) -> dict[str, Any]:
    r = read_run(out)
    scores, steps, walls = r["scores"], r["episode_agent_steps"], r["episode_wall_s"]
    wall, total = float(r["run"]["training_wall_clock_s"]), int(r["run"]["agent_steps"])
    all_workers = r["scores_all_workers"]
    if max_rounds is not None and len(scores) > max_rounds:
        scores, wall, total = scores[:max_rounds], walls[max_rounds - 1], steps[max_rounds - 1]
        all_workers = all_workers[:max_rounds]
    wall = max(wall, 1e-9)
    rounds = len(scores)
    return {"workers": workers, "scores": scores, "scores_all_workers": all_workers, "rounds": rounds,
            "episodes": rounds * workers,
            "wall_s": wall, "agent_steps": total, "episodes_per_s": rounds * workers / wall,
            "agent_steps_per_s": total / wall, "out": str(out)}


def agent_steps_for(rounds: int, workers: int, steps_per_episode: float) -> int:
    """Global budget for about ``rounds`` rounds of ``workers`` episodes of ``steps_per_episode``
    agent-steps each (episodes of qmarl envs vary in length; :func:`run_workers` cuts at
    ``max_rounds``)."""
    return max(1, int(math.ceil(rounds * workers * steps_per_episode)))
