"""The ``qmarl train``, ``qmarl evaluate`` and ``qmarl demo`` verbs.

:func:`add_cli` registers them on the ``qmarl`` parser; heavy imports (torch, SB3) happen inside the
handlers, so ``qmarl --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def _parse_config(items: list[str] | None) -> dict[str, Any]:
    """``["n_envs=8", "net_arch=[64,64]", "activation=relu"]`` -> dict (values parsed as JSON when they
    parse, else kept as strings).

    Raises:
        ValueError: for an item without ``=``.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--config: expected KEY=VALUE, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def _cmd_train(args: argparse.Namespace) -> int:
    import os

    from qmarl_agents.train import check_workers

    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers: expected a positive int, got {args.workers}")
    if (args.workers or 1) > 1 and "WORLD_SIZE" not in os.environ:
        check_workers(args.agent, episodes=args.episodes)
        from qmarl_agents import distributed

        # relaunch this very command as K ranks through torchrun's own launcher
        return distributed.launch(list(args.argv), args.workers)
    return _train_rank(args)


def _train_rank(args: argparse.Namespace) -> int:
    import os

    from rich.console import Console

    from qmarl_agents.leaderboard.protocol import DEFAULT_PROTOCOL, Protocol, parse_seeds
    from qmarl_agents.train import train

    protocol = None
    if not args.no_eval:
        seeds = parse_seeds(args.eval_seeds) or DEFAULT_PROTOCOL.seeds
        protocol = Protocol(seeds=seeds, episodes_per_seed=args.eval_episodes)
    res = train(args.agent, args.env, agent_steps=args.agent_steps, episodes=args.episodes, seed=args.seed,
                out=args.out, resume=args.resume, overwrite=args.overwrite, checkpoint_every=args.checkpoint_every,
                protocol=protocol, progress=not args.no_progress, config=_parse_config(args.config),
                env_kwargs=_parse_config(args.env_kwarg))
    if res.files == {} and res.evaluation is None and int(os.environ.get("RANK", "0")) > 0:
        return 0  # a worker rank of --workers K: rank 0 reports
    console = Console()
    rate = res.agent_steps / max(res.wall_clock_s, 1e-9)
    console.print(f"trained [bold]{args.agent}[/] on {args.env}: {res.agent_steps:,} agent-steps, "
                  f"{res.episodes:,} episodes, {res.wall_clock_s:.1f} s ({rate:,.0f} agent-steps/s)")
    if res.evaluation is not None:
        console.print(f"evaluation: {res.evaluation.line()}")
    for k, p in res.files.items():
        console.print(f"  {k:15s} {p}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from qmarl_agents.leaderboard.protocol import (DEFAULT_PROTOCOL, Protocol, build_submission, evaluate_policy,
                                                   parse_seeds, write_submission)

    seeds = parse_seeds(args.seeds) or DEFAULT_PROTOCOL.seeds
    protocol = Protocol(seeds=seeds, episodes_per_seed=args.episodes, deterministic=not args.stochastic)
    env_kwargs = _parse_config(args.env_kwarg)
    res = evaluate_policy(args.policy, args.env, protocol, env_kwargs=env_kwargs, seed=args.seed)
    s = res.stats
    table = Table(title=f"{res.agent} on {args.env} ({s['n_episodes']} episodes, seeds "
                        f"{_seed_text(seeds)}, {'greedy' if protocol.deterministic else 'sampled'} actions)")
    for col in ("statistic", "value", "95% CI"):
        table.add_column(col)
    table.add_row("mean score", f"{s['mean']:.4g}", f"[{s['mean_ci'][0]:.4g}, {s['mean_ci'][1]:.4g}]")
    table.add_row("IQM score", f"{s['iqm']:.4g}", f"[{s['iqm_ci'][0]:.4g}, {s['iqm_ci'][1]:.4g}]")
    table.add_row("std", f"{s['std']:.4g}", "")
    table.add_row("min / max", f"{s['min']:.4g} / {s['max']:.4g}", "")
    if res.wins is not None:
        table.add_row("win rate", f"{float(res.wins.mean()):.1%}", "")
    table.add_row("mean length", f"{float(res.lengths.mean()):.1f}", "")
    console = Console()
    console.print(table)
    console.print(f"CIs: {s['ci_method']}, {protocol.bootstrap_reps} resamples")
    if args.submission:
        training = None
        info = res.policy_info
        if "agent_steps" in info:
            training = {"agent_steps": info.get("agent_steps"), "seed": info.get("seed")}
        sub = build_submission(res, name=args.name, training=training, env_kwargs=env_kwargs,
                               author=args.author or "")
        console.print(f"submission written to {write_submission(args.submission, sub)}")
    return 0


def _seed_text(seeds: tuple[int, ...]) -> str:
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def _cmd_demo(args: argparse.Namespace) -> int:
    from qmarl_agents.demo import run_demo

    run_demo(args.out, env_id=args.env, agent_steps=args.agent_steps, seed=args.seed, progress=not args.no_progress)
    return 0


def add_cli(sub: argparse._SubParsersAction) -> None:
    """Register ``train``, ``evaluate`` and ``demo`` on the ``qmarl`` sub-parser collection."""
    from qmarl_agents.demo import DEMO_AGENT_STEPS, DEMO_ENV
    from qmarl_agents.registry import _AGENTS, list_agents

    agents_help = "; ".join(f"{n}: {s.description}" for n, s in _AGENTS.items())
    p = sub.add_parser("train", help="train an agent, log, checkpoint and evaluate it",
                       description=f"Train a registered agent ({agents_help}).")
    p.add_argument("agent", choices=list_agents(), metavar="AGENT", help=f"one of {', '.join(list_agents())}")
    p.add_argument("--env", required=True, metavar="ID", help="env id, e.g. qmarl/Jungle-v0")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--agent-steps", type=int, metavar="N", help="budget in agent-steps (default 100000)")
    budget.add_argument("--episodes", type=int, metavar="N", help="budget in env episodes")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/<Env>-<agent>-s<seed>)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    mode.add_argument("--overwrite", action="store_true", help="replace an earlier run in --out")
    p.add_argument("--checkpoint-every", type=int, metavar="N", help="agent-steps between checkpoints")
    p.add_argument("--config", action="append", metavar="KEY=VALUE", help="agent hyperparameter (repeatable)")
    p.add_argument("--env-kwarg", action="append", metavar="KEY=VALUE", help="env config override (repeatable)")
    p.add_argument("--eval-episodes", type=int, default=5, metavar="N", help="final evaluation: episodes per seed")
    p.add_argument("--eval-seeds", nargs="+", metavar="S", help="final evaluation seeds (default 0-9)")
    p.add_argument("--no-eval", action="store_true", help="skip the final evaluation")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--workers", type=int, metavar="K",
                   help="train data-parallel on K ranks (torch.distributed, gloo, started through torchrun); "
                        "rank 0 writes the run; the agent-step budget is shared by the ranks")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="score a policy under the leaderboard protocol (mean, IQM, 95%% CI)")
    p.add_argument("--env", required=True, metavar="ID", help="env id")
    p.add_argument("--policy", required=True, metavar="DIR|random|scripted", help="checkpoint dir or baseline")
    p.add_argument("--episodes", type=int, default=5, metavar="N", help="episodes per seed (default 5)")
    p.add_argument("--seeds", nargs="+", metavar="S", help="evaluation seeds, e.g. 0-9 or 0 1 2 (default 0-9)")
    p.add_argument("--submission", metavar="OUT.json", help="write a leaderboard submission")
    p.add_argument("--name", help="display name in the submission")
    p.add_argument("--author", help="author shown on the leaderboard (with --submission)")
    p.add_argument("--seed", type=int, default=0, help="seed of a random/scripted policy (default 0)")
    p.add_argument("--stochastic", action="store_true", help="sample actions (not the leaderboard protocol)")
    p.add_argument("--env-kwarg", action="append", metavar="KEY=VALUE", help="env config override (repeatable)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("demo", help="the main job: train PPO, evaluate, write submission, curve and GIF")
    p.add_argument("--out", default="runs/demo", metavar="DIR", help="output directory (default runs/demo)")
    p.add_argument("--env", default=DEMO_ENV, metavar="ID", help=f"env id (default {DEMO_ENV})")
    p.add_argument("--agent-steps", type=int, default=DEMO_AGENT_STEPS, metavar="N",
                   help=f"PPO budget (default {DEMO_AGENT_STEPS})")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_demo)
