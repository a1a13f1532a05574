"""Regenerate the committed leaderboard entries: ``python leaderboard/seed.py [--only AGENT ...]``.

For every registered agent (``qmarl_agents.list_agents()``, so the quantum agents QBM,
Quantum-Train and Q-MARL join once they are registered) and every env in :data:`ENVS`:

- ``random`` and ``scripted`` are scored directly under the protocol (no training, no checkpoint;
  ``qmarl leaderboard verify`` rebuilds them from the registry);
- every other agent is trained with ``qmarl_agents.train.train`` on the small budget of
  :data:`BUDGETS` (seed 0), and its run is copied onto the board with
  :func:`qmarl_agents.leaderboard.add.add_run` (submission + safetensors checkpoint).

An agent that rejects an env (``ValueError`` from its factory, e.g. a scripted policy bound to
another scenario) is skipped with a message. Entries are replaced; the board is rebuilt at the end.
Runs go to ``runs/leaderboard-seed/``. Budgets are small on purpose (a few MB of checkpoints, minutes
on 2 cores): the entries show the board working, not the agents' best.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ENVS = ("qmarl/BallCollection-3x3-v0", "qmarl/BallCollection-3x3-2Agents-v0", "qmarl/Jungle-v0",
        "qmarl/Battle-v0", "qmarl/Deception-v0")
"""The envs seeded on the board (the papers' small maps)."""
BUDGETS = {"ppo": 200_000, "a2c": 200_000, "dqn": 100_000, "qmarl": 100_000, "quantum-train": 20_000,
           "qbm": 4_000}
"""Training budget in agent-steps per agent (others: :data:`DEFAULT_BUDGET`). QBM's simulated
annealing runs at about 20 agent-steps/s on a loaded 2-core machine, hence its tiny budget."""
EPISODES = {"qmarl": 3000}
"""Agents budgeted in episodes (games) instead of agent-steps: Q-MARL trains 3,000 games in batches
of 20 (:data:`CONFIGS`), as ``qmarl reproduce qmarl`` does, on each of its maps."""
CONFIGS = {"qmarl": {"games_per_batch": 20, "n_envs": 20}}
"""Hyperparameter overrides per agent (others: the agent's config defaults)."""
AGENT_ENVS = {"qbm": ENVS[:2], "quantum-train": ENVS[:3], "qmarl": ENVS[2:]}
"""Envs per agent where it is not every env of :data:`ENVS` (QBM: the ball-collection maps of its paper;
Q-MARL: the maps of its paper)."""
DEFAULT_BUDGET = 100_000
"""Budget of an agent not in :data:`BUDGETS` (the quantum agents)."""
BASELINES = ("random", "scripted")
AUTHOR = "qmarl maintainers"


def seed_board(board: Path, *, only: list[str] | None = None, envs: tuple[str, ...] = ENVS,
               runs: Path = Path("runs/leaderboard-seed"), budget_scale: float = 1.0) -> list[Path]:
    """Score/train every agent on every env and put the results on ``board``; returns the written files."""
    from qmarl_agents import list_agents
    from qmarl_agents.leaderboard.add import add_run, add_submission
    from qmarl_agents.leaderboard.protocol import DEFAULT_PROTOCOL, build_submission, evaluate_policy
    from qmarl_agents.train import train

    written = []
    for agent in list_agents():
        if only and agent not in only:
            continue
        for env_id in envs:
            if env_id not in AGENT_ENVS.get(agent, envs):
                continue
            t0 = time.perf_counter()
            name = f"{agent}" if agent in BASELINES else f"{agent}-s0"
            try:
                if agent in BASELINES:
                    res = evaluate_policy(agent, env_id, DEFAULT_PROTOCOL)
                    sub = build_submission(res, name=name, author=AUTHOR)
                    path = add_submission(sub, board=board, name=name, replace=True)
                else:
                    out = runs / f"{env_id.split('/')[-1]}-{agent}"
                    if agent in EPISODES:
                        budget = {"episodes": max(1, int(EPISODES[agent] * budget_scale))}
                    else:
                        budget = {"agent_steps": int(BUDGETS.get(agent, DEFAULT_BUDGET) * budget_scale)}
                    train(agent, env_id, **budget, seed=0, out=out, overwrite=True, progress=False,
                          tensorboard=False, config=CONFIGS.get(agent))
                    path = add_run(out, board=board, name=name, author=AUTHOR, replace=True)
            except ValueError as e:
                print(f"skip {agent} on {env_id}: {e}", file=sys.stderr)
                continue
            written.append(path)
            print(f"{env_id:38s} {agent:10s} {time.perf_counter() - t0:6.1f} s  -> {path}", flush=True)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--only AGENT ...``, ``--board DIR``, ``--envs ID ...``, ``--no-build``."""
    from qmarl_agents.leaderboard.build import build_board
    from qmarl_agents.leaderboard.validate import LEADERBOARD_DIR

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", metavar="AGENT", help="only these agents")
    p.add_argument("--envs", nargs="+", metavar="ID", default=list(ENVS), help="envs (default: the small maps)")
    p.add_argument("--board", type=Path, default=LEADERBOARD_DIR, help="board folder (default leaderboard/)")
    p.add_argument("--budget-scale", type=float, default=1.0, help="multiply every training budget")
    p.add_argument("--no-build", action="store_true", help="do not rebuild the pages")
    args = p.parse_args(argv)
    seed_board(args.board, only=args.only, envs=tuple(args.envs), budget_scale=args.budget_scale)
    if not args.no_build:
        build_board(args.board)
    return 0


if __name__ == "__main__":
    sys.exit(main())
