"""``qmarl bench envs|agents``: run the benchmark scripts of a source checkout.

The benchmarks are plain scripts in ``benchmarks/`` (each prints a Markdown table and writes its
JSON under ``benchmarks/results/``, see their docstrings); this verb runs a suite of them one after
another with the current interpreter, from the checkout's root, so a user does not need to know
the file names:

* ``envs``: ``env_throughput.py`` (qmarl against MAgent2; MAgent2 is skipped when not installed,
  ``make bench`` installs it) and ``render_speed.py``;
* ``agents``: ``collector_throughput.py``, ``qbm_sampler.py``, ``quantum_train.py`` and
  ``qmarl_scale.py``.

``--only NAME`` picks scripts of the suite; any other argument (after ``--`` if it could be taken
for one of ``bench``'s own) goes to the script, only with a single ``--only``, since the scripts
take different options. ``--list`` prints the commands and
runs nothing. Benchmarks are measurements, not tests: figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

SUITES: dict[str, tuple[str, ...]] = {
    "envs": ("env_throughput", "render_speed"),
    "agents": ("collector_throughput", "qbm_sampler", "quantum_train", "qmarl_scale"),
}
"""Benchmark scripts (``benchmarks/<name>.py``) of each suite, in the order they run."""


def benchmarks_dir() -> Path:
    """The checkout's ``benchmarks/`` folder.

    Raises:
        RuntimeError: qmarl is not installed from a source checkout (the scripts are not part of the
            installed package).
    """
    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    if not (folder / f"{SUITES['envs'][0]}.py").is_file():
        raise RuntimeError(f"no benchmarks/ folder beside the package ({folder}); qmarl bench runs from a "
                           "source checkout installed with `pip install -e .`")
    return folder


def bench_commands(suite: str, only: list[str] | None = None, extra: list[str] | None = None) -> list[list[str]]:
    """The command lines ``qmarl bench`` runs, without running them.

    Args:
        suite: ``"envs"`` or ``"agents"``.
        only: script names of the suite to run (default: all, in :data:`SUITES` order).
        extra: arguments passed to the script; needs exactly one ``only`` name.

    Returns:
        one ``[python, script, *extra]`` list per script.

    Raises:
        ValueError: unknown ``suite`` or ``only`` name, or ``extra`` with more than one script.
        RuntimeError: see :func:`benchmarks_dir`.
    """
    if suite not in SUITES:
        raise ValueError(f"suite must be one of {', '.join(SUITES)}, got {suite!r}")
    names = list(SUITES[suite]) if not only else list(dict.fromkeys(only))
    unknown = [n for n in names if n not in SUITES[suite]]
    if unknown:
        raise ValueError(f"--only: {', '.join(unknown)} not in the {suite} suite ({', '.join(SUITES[suite])})")
    if extra and len(names) != 1:
        raise ValueError(f"script arguments {' '.join(extra)!r} go to one script: give exactly one --only NAME")
    folder = benchmarks_dir()
    return [[sys.executable, str(folder / f"{n}.py"), *(extra or [])] for n in names]


def _cmd_bench(args: argparse.Namespace) -> int:
    commands = bench_commands(args.suite, args.only, args.script_args)
    root = benchmarks_dir().parent
    for cmd in commands:
        shown = " ".join(["python", str(Path(cmd[1]).relative_to(root)), *cmd[2:]])
        print(shown if args.list else f"$ {shown}", flush=True)
        if not args.list:
            rc = subprocess.run(cmd, cwd=root).returncode
            if rc:
                print(f"qmarl bench: {shown} exited with status {rc}", file=sys.stderr)
                return rc
    return 0


def add_cli(sub: argparse._SubParsersAction) -> None:
    """Register ``bench`` on the ``qmarl`` sub-parser collection."""
    p = sub.add_parser("bench", help="run the benchmark scripts (envs: throughput vs MAgent2, render; "
                                     "agents: collector, QBM sampler, Quantum-Train, Q-MARL scale)")
    p.add_argument("suite", choices=sorted(SUITES), help="which benchmarks")
    p.add_argument("--only", action="append", metavar="NAME", help="run only this script (repeatable)")
    p.add_argument("--list", action="store_true", help="print the commands, run nothing")
    p.set_defaults(func=_cmd_bench, pass_through=True, script_args=[])
