"""The ``qmarl`` command.

Each verb lives with the code it drives and adds its own sub-parser through an ``add_cli(sub)``
function; heavy imports (torch, SB3) happen inside the handlers, so ``qmarl list`` stays light.
"""

from __future__ import annotations

import argparse
import os
import sys


def _cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    import qmarl_envs

    if args.markdown:
        print("| id | agents | obs shape | actions | max_cycles | description |")
        print("|---|---|---|---|---|---|")
        for env_id in qmarl_envs.list_envs():
            d = qmarl_envs.describe(env_id)
            shape = "x".join(map(str, d["obs_shape"]))
            print(f"| `{d['id']}` | {d['agents']} | {shape} | {d['actions']} | {d['max_cycles']} | {d['description']} |")
        return 0
    table = Table(title="qmarl environments")
    for col in ("id", "agents", "obs shape", "actions", "max_cycles", "description"):
        table.add_column(col)
    for env_id in qmarl_envs.list_envs():
        d = qmarl_envs.describe(env_id)
        table.add_row(d["id"], str(d["agents"]), "x".join(map(str, d["obs_shape"])), str(d["actions"]),
                      str(d["max_cycles"]), d["description"])
    Console(width=200).print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every verb registered."""
    parser = argparse.ArgumentParser(prog="qmarl", description="qmarl: quantum-inspired and classical MARL")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="registered envs as a table")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table (as in the README)")
    p.set_defaults(func=_cmd_list)
    # verbs contributed by other modules (one line each)
    # [cli-verbs]
    from qmarl_envs.render.play import add_cli as add_play_cli; add_play_cli(sub)  # noqa: E702
    from qmarl_agents.commands import add_cli as add_agent_cli; add_agent_cli(sub)  # noqa: E702
    from qmarl_agents.reproduce import add_cli as add_reproduce_cli; add_reproduce_cli(sub)  # noqa: E702
    from qmarl_agents.bench import add_cli as add_bench_cli; add_bench_cli(sub)  # noqa: E702
    # [cli:leaderboard]
    from qmarl_agents.leaderboard.cli import add_cli as add_leaderboard_cli; add_leaderboard_cli(sub)  # noqa: E702
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``qmarl`` console script; returns the exit status."""
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "pass_through", False):  # only verbs that forward arguments accept extras
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if rest:
        args.script_args = [a for a in rest if a != "--"]
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for verbs that relaunch themselves (--workers)
    try:
        return int(args.func(args) or 0)
    except (ValueError, RuntimeError, OSError) as e:  # bad input, wrong order, unreadable/unwritable files
        print(f"qmarl {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"qmarl {args.command}: interrupted", file=sys.stderr)
        return 130


def _exit_rank(code: int) -> None:
    """End a torchrun rank (``WORLD_SIZE`` > 1) without interpreter finalisation.

    Every rank has left its gloo group (``distributed.teardown``) and rank 0 has written its files
    (atomically) when the command returns, but gloo's worker threads can still abort the process
    while Python finalises ("terminate called without an active exception", exit -6; PyTorch's
    c10d discussion of AsyncWork objects destroyed at interpreter teardown), which fails the whole
    torchrun job now and then. Flushing and ``os._exit`` skips that phase.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    code = main()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        _exit_rank(code)
    sys.exit(code)
