"""``qmarl leaderboard {validate,verify,build,add}``."""

from __future__ import annotations

import argparse
import json


def _cmd_validate(args: argparse.Namespace) -> int:
    from qmarl_agents.leaderboard.validate import main_validate

    return main_validate(args.files)


def _cmd_verify(args: argparse.Namespace) -> int:
    from qmarl_agents.checkpoint import atomic_write_json
    from qmarl_agents.leaderboard.protocol import parse_seeds
    from qmarl_agents.leaderboard.verify import verify_submission

    rep = verify_submission(args.submission, seeds=parse_seeds(args.seeds), n_seeds=args.n_seeds)
    f = rep["fresh"]
    print(f"{rep['name']} on {rep['env_id']} ({rep['policy']})")
    print(f"fresh seeds: {' '.join(map(str, rep['seeds']))} x {rep['episodes_per_seed']} episodes")
    print(f"claimed IQM {rep['claimed']['iqm']:.4g} {rep['claimed']['iqm_ci']}; fresh IQM {f['iqm']:.4g} "
          f"[{f['iqm_ci'][0]:.4g}, {f['iqm_ci'][1]:.4g}]")
    print(("FLAGGED: " if rep["flagged"] else "ok: ") + rep["reason"])
    if args.report:
        atomic_write_json(args.report, rep)
        print(f"report written to {args.report}")
    return 1 if rep["flagged"] else 0


def _cmd_build(args: argparse.Namespace) -> int:
    from qmarl_agents.leaderboard.build import build_board
    from qmarl_agents.leaderboard.validate import LEADERBOARD_DIR

    files = build_board(args.board or LEADERBOARD_DIR)
    print(f"wrote {files['readme']} and {files['html']}")
    return 0


def _cmd_add(args: argparse.Namespace) -> int:
    from qmarl_agents.leaderboard.add import add_run
    from qmarl_agents.leaderboard.validate import LEADERBOARD_DIR

    path = add_run(args.run_dir, board=args.board or LEADERBOARD_DIR, name=args.name, author=args.author,
                   replace=args.replace)
    sub = json.loads(path.read_text())
    print(f"added {path} (IQM {sub['summary']['iqm']:.4g}); run `qmarl leaderboard build` to update the pages")
    return 0


def add_cli(sub: argparse._SubParsersAction) -> None:
    """Register ``qmarl leaderboard`` and its four sub-commands."""
    p = sub.add_parser("leaderboard", help="validate, verify, build the leaderboard; add a training run to it")
    lsub = p.add_subparsers(dest="leaderboard_command", required=True)
    q = lsub.add_parser("validate", help="check submissions (default: every committed one)")
    q.add_argument("files", nargs="*", metavar="FILE", help="submission JSON files")
    q.set_defaults(func=_cmd_validate)
    q = lsub.add_parser("verify", help="re-run a submission's policy on fresh seeds; flag a claim outside the CI")
    q.add_argument("submission", metavar="SUBMISSION", help="submission JSON file")
    q.add_argument("--seeds", nargs="+", metavar="S", help="use these seeds instead of fresh ones")
    q.add_argument("--n-seeds", type=int, metavar="N", help="number of fresh seeds (default: the entry's)")
    q.add_argument("--report", metavar="OUT.json", help="write the report (seeds included)")
    q.set_defaults(func=_cmd_verify)
    q = lsub.add_parser("build", help="regenerate leaderboard/README.md and index.html")
    q.add_argument("--board", metavar="DIR", help="board folder (default: the committed leaderboard/)")
    q.set_defaults(func=_cmd_build)
    q = lsub.add_parser("add", help="copy a `qmarl train` run's submission and checkpoint onto the board")
    q.add_argument("run_dir", metavar="RUN_DIR", help="a `qmarl train` output directory")
    q.add_argument("--name", help="entry name (default: the run's, e.g. ppo-s0)")
    q.add_argument("--author", help="author shown on the board")
    q.add_argument("--board", metavar="DIR", help="board folder (default: the committed leaderboard/)")
    q.add_argument("--replace", action="store_true", help="overwrite an entry of the same name")
    q.set_defaults(func=_cmd_add)
