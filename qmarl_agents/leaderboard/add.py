"""``qmarl leaderboard add RUN_DIR``: copy a ``qmarl train`` run's submission and checkpoint onto the board.

The run directory holds ``submission.json`` (written by ``qmarl train``) and the final checkpoint
(``config.json`` + ``model.safetensors``). They are copied to
``<board>/submissions/<env id>/<name>.json`` and ``<board>/submissions/<env id>/<name>/``; the
submission gets the name, the author and ``checkpoint = {"path": "<name>", "sha256": ...}``, and
is validated (:func:`~qmarl_agents.leaderboard.validate.check_submission`) before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from qmarl_agents.checkpoint import CONFIG_FILE, WEIGHTS_FILE, atomic_write_bytes, atomic_write_json, read_config
from qmarl_agents.leaderboard.validate import LEADERBOARD_DIR, check_submission, load_strict

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
"""Allowed entry names: they become file names."""


def add_submission(sub: dict, *, board: str | Path = LEADERBOARD_DIR, checkpoint_dir: str | Path | None = None,
                   name: str | None = None, author: str | None = None, replace: bool = False) -> Path:
    """Put a submission dict (and its checkpoint) on a board.

    Args:
        sub: a submission (see ``leaderboard/schema.json``); not modified.
        board: the board folder (default the committed ``leaderboard/``).
        checkpoint_dir: a checkpoint directory to copy beside it, or None (random/scripted).
        name: entry name (default ``sub["name"]``); letters, digits, ``. _ -``.
        author: author (default ``sub["author"]``).
        replace: overwrite an entry of the same name.

    Returns:
        the written JSON file.

    Raises:
        ValueError: bad name, an existing entry without ``replace``, or an invalid submission
            (nothing is written then).
    """
    sub = json.loads(json.dumps(sub))
    name = name or sub.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"name: expected letters, digits, '.', '_' or '-' (at most 80, not starting with a "
                         f"separator), got {name!r}")
    sub["name"] = name
    if author is not None:
        sub["author"] = author
    sub.setdefault("author", "")
    folder = Path(board) / "submissions" / str(sub.get("env_id", "unknown"))
    target = folder / f"{name}.json"
    if target.exists() and not replace:
        raise ValueError(f"name: {str(target)!r} exists; choose another --name or pass --replace")
    blobs: dict[str, bytes] = {}
    if checkpoint_dir is not None:
        src = Path(checkpoint_dir)
        read_config(src)  # a qmarl checkpoint, JSON only
        blobs = {f: (src / f).read_bytes() for f in (CONFIG_FILE, WEIGHTS_FILE)}
        sub["checkpoint"] = {"path": name, "sha256": hashlib.sha256(blobs[WEIGHTS_FILE]).hexdigest()}
    else:
        sub["checkpoint"] = None
    problems = [p for p in check_submission(sub, file=target) if not p.pointer.startswith("/checkpoint")]
    if problems:
        raise ValueError("submission rejected: " + "; ".join(f"{p.pointer}: {p.message}" for p in problems))
    for fname, data in blobs.items():
        atomic_write_bytes(folder / name / fname, data)
    atomic_write_json(target, sub)
    return target


def add_run(run_dir: str | Path, *, board: str | Path = LEADERBOARD_DIR, name: str | None = None,
            author: str | None = None, replace: bool = False) -> Path:
    """Copy a ``qmarl train`` run onto the board (see the module docstring).

    Raises:
        FileNotFoundError: ``run_dir`` has no ``submission.json``.
        ValueError: as :func:`add_submission`, or malformed JSON.
    """
    run = Path(run_dir)
    path = run / "submission.json"
    if not path.is_file():
        raise FileNotFoundError(f"run_dir: {str(path)!r} is missing (run `qmarl train` without --no-eval)")
    sub = load_strict(path.read_text(encoding="utf-8"))
    ckpt = run if (run / WEIGHTS_FILE).is_file() and (run / CONFIG_FILE).is_file() else None
    return add_submission(sub, board=board, checkpoint_dir=ckpt, name=name, author=author, replace=replace)
