"""``qmarl reproduce``: the paper experiments of each quantum-inspired agent, as plots and tables.

Each paper's reproduction lives beside its agent, in ``qmarl_agents/<agent>/reproduce.py``, as a
function ``run(out: pathlib.Path, *, quick: bool, seed: int, progress: bool) -> dict`` that trains,
evaluates, writes its PNGs and a Markdown table under ``out`` and returns the table's figures. This
module only dispatches to them, so the command stays light (no torch until a reproduction runs).
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

REPRODUCTIONS: dict[str, str] = {
    "qbm": "qmarl_agents.qbm.reproduce:run",
    "quantum-train": "qmarl_agents.quantum_train.reproduce:run",
    "qmarl": "qmarl_agents.qmarl.reproduce:run",
}
"""Paper name -> ``"module:function"`` of its reproduction."""


def run_reproduction(name: str, out: str | Path | None = None, *, quick: bool = False, seed: int = 0,
                     progress: bool = True) -> dict:
    """Run the reproduction of ``name`` (see :data:`REPRODUCTIONS`).

    Args:
        name: ``"qbm"``, ``"quantum-train"`` or ``"qmarl"``.
        out: output directory (default ``runs/reproduce-<name>``, ``-quick`` appended with ``quick``).
        quick: a reduced run (fewer episodes and runs) that finishes in a few minutes.
        seed: base seed; run ``i`` of a sweep uses ``seed + i``.
        progress: show progress bars.

    Returns:
        the figures of the reproduction's table, as returned by its ``run`` function.

    Raises:
        ValueError: for an unknown name (the message lists the known ones).
    """
    if name not in REPRODUCTIONS:
        raise ValueError(f"reproduce: unknown experiment {name!r}; available: {', '.join(REPRODUCTIONS)}")
    module, attr = REPRODUCTIONS[name].split(":")
    fn = getattr(importlib.import_module(module), attr)
    out = Path(out) if out is not None else Path(f"runs/reproduce-{name}{'-quick' if quick else ''}")
    out.mkdir(parents=True, exist_ok=True)
    return fn(out, quick=quick, seed=seed, progress=progress)


def _cmd_reproduce(args: argparse.Namespace) -> int:
    run_reproduction(args.name, args.out, quick=args.quick, seed=args.seed, progress=not args.no_progress)
    return 0


def add_cli(sub: argparse._SubParsersAction) -> None:
    """Register ``qmarl reproduce NAME [--quick] [--out DIR] [--seed S]``."""
    p = sub.add_parser("reproduce", help="run a paper's experiments: plots and a table beside the paper's numbers")
    p.add_argument("name", choices=list(REPRODUCTIONS), metavar="NAME", help=f"one of {', '.join(REPRODUCTIONS)}")
    p.add_argument("--quick", action="store_true", help="a reduced run that finishes in a few minutes")
    p.add_argument("--out", metavar="DIR", help="output directory (default runs/reproduce-NAME[-quick])")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_reproduce)
