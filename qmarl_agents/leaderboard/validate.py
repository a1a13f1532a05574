"""``qmarl leaderboard validate``: reject a submission that is malformed, inconsistent or a duplicate.

Every problem names the file and the field as a JSON pointer (RFC 6901), e.g.
``leaderboard/submissions/qmarl/Jungle-v0/ppo-s0.json: /summary/iqm: is 0.5, the scores give 0.02``.

Checks, in order: strict JSON (``NaN``/``Infinity`` — which Python's ``json`` accepts by default —
and repeated keys are refused); the JSON Schema ``leaderboard/schema.json``; the score matrix has
``len(seeds) x episodes_per_seed`` finite entries; the aggregates (mean, IQM and both 95% CIs)
recompute from the raw scores with the protocol's own bootstrap settings
(:func:`~qmarl_agents.leaderboard.protocol.score_statistics`); the env id (with its version) is
registered and ``env_version`` matches it; committed entries use the registered env defaults
(empty ``env_kwargs``); the checkpoint's ``model.safetensors`` has the recorded SHA-256; and no two
files share an ``(env_id, name)`` pair or an ``(env_id, config_hash, scores)`` result.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qmarl_agents.leaderboard.protocol import SUBMISSION_SCHEMA, json_pointer, score_statistics

LEADERBOARD_DIR = Path(__file__).resolve().parents[2] / "leaderboard"
"""The committed board: ``schema.json``, ``submissions/<env id>/<name>.json``, generated pages."""
SUBMISSIONS_DIR = LEADERBOARD_DIR / "submissions"
"""Submissions live at ``submissions/qmarl/<Env>-vN/<name>.json`` (the env id as nested folders),
with the checkpoint (if any) in the folder ``submissions/qmarl/<Env>-vN/<name>/``."""
TOLERANCE = 1e-6
"""Relative and absolute tolerance when recomputing the aggregates."""


@dataclass(frozen=True)
class Problem:
    """One rejected field.

    Attributes:
        file: the submission file (as given).
        pointer: JSON pointer of the offending field (``/`` for the whole document).
        message: what is wrong and what was expected.
    """

    file: str
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.pointer}: {self.message}"


class _Reject(ValueError):
    def __init__(self, pointer: str, message: str):
        super().__init__(message)
        self.pointer, self.message = pointer, message


def _no_constants(name: str) -> float:
    raise _Reject("/", f"{name} is not valid JSON (scores and aggregates must be finite numbers)")


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _Reject("/", f"key {k!r} appears twice in one object")
        out[k] = v
    return out


def load_strict(text: str) -> Any:
    """Parse JSON strictly: ``NaN``, ``Infinity``, ``-Infinity`` and repeated keys raise.

    Raises:
        ValueError: with the line/column of a syntax error or the name of the refused constant.
    """
    try:
        return json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_repeats)
    except json.JSONDecodeError as e:
        raise _Reject("/", f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


def check_submission(sub: Any, *, file: str | Path = "<submission>", committed: bool = True) -> list[Problem]:
    """All problems of one parsed submission (empty list: valid).

    Args:
        sub: the parsed JSON document.
        file: the submission's path; a relative ``checkpoint.path`` is resolved against its folder.
        committed: also apply the board's rules (registered env defaults, i.e. empty ``env_kwargs``).

    Returns:
        the problems, schema violations first.
    """
    import jsonschema

    import qmarl_envs

    f = str(file)
    errors = sorted(jsonschema.Draft202012Validator(SUBMISSION_SCHEMA).iter_errors(sub),
                    key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        return [Problem(f, json_pointer(e.absolute_path), e.message) for e in errors]
    out: list[Problem] = []
    proto, scores = sub["protocol"], sub["scores"]
    shape = (len(proto["seeds"]), proto["episodes_per_seed"])
    if len(scores) != shape[0] or any(len(r) != shape[1] for r in scores):
        return [Problem(f, "/scores", f"expected {shape[0]} rows (one per seed) of {shape[1]} episodes, got "
                        f"rows of {[len(r) for r in scores]}")]
    x = np.asarray(scores, dtype=np.float64)
    bad = np.argwhere(~np.isfinite(x))
    if bad.size:
        i, j = bad[0]
        return [Problem(f, f"/scores/{i}/{j}", f"expected a finite number, got {x[i, j]}")]
    summary = sub["summary"]
    if summary["n_episodes"] != x.size:
        out.append(Problem(f, "/summary/n_episodes", f"is {summary['n_episodes']}, the scores hold {x.size}"))
    bs = proto["bootstrap"]
    stats = score_statistics(x, reps=bs["reps"], seed=bs["seed"], confidence=bs["confidence"])
    for key in ("mean", "iqm"):
        if not _close(summary[key], stats[key]):
            out.append(Problem(f, f"/summary/{key}", f"is {summary[key]}, the scores give {stats[key]}"))
    for key in ("mean_ci", "iqm_ci"):
        for k in range(2):
            if not _close(summary[key][k], stats[key][k]):
                out.append(Problem(f, f"/summary/{key}/{k}",
                                   f"is {summary[key][k]}, the scores give {stats[key][k]} ({stats['ci_method']}, "
                                   f"{bs['reps']} resamples, seed {bs['seed']})"))
    env_id = sub["env_id"]
    known = qmarl_envs.list_envs()
    if env_id not in known:
        family = env_id.rpartition("-v")[0]
        same = [e for e in known if e.rpartition("-v")[0] == family]
        hint = f"registered versions: {', '.join(same)}" if same else "no env of that name is registered"
        out.append(Problem(f, "/env_id", f"unknown env id or version {env_id!r} ({hint})"))
    elif sub["env_version"] != int(env_id.rpartition("-v")[2]):
        out.append(Problem(f, "/env_version", f"is {sub['env_version']}, the env id says "
                           f"{env_id.rpartition('-v')[2]}"))
    if committed and sub["env_kwargs"]:
        out.append(Problem(f, "/env_kwargs", "leaderboard entries use the registered env defaults: expected {}"))
    ckpt = sub.get("checkpoint")
    if ckpt:
        weights = Path(file).parent / ckpt["path"] / "model.safetensors"
        if not weights.is_file():
            out.append(Problem(f, "/checkpoint/path", f"no checkpoint weights at {str(weights)!r}"))
        else:
            digest = hashlib.sha256(weights.read_bytes()).hexdigest()
            if digest != ckpt["sha256"]:
                out.append(Problem(f, "/checkpoint/sha256", f"is {ckpt['sha256']}, {weights.name} hashes to {digest}"))
    return out


def check_file(path: str | Path, *, committed: bool = True) -> tuple[Any, list[Problem]]:
    """Read and check one submission file; returns ``(document or None, problems)``."""
    try:
        sub = load_strict(Path(path).read_text(encoding="utf-8"))
    except _Reject as e:
        return None, [Problem(str(path), e.pointer, e.message)]
    except (OSError, UnicodeDecodeError) as e:
        return None, [Problem(str(path), "/", f"cannot read: {e}")]
    return sub, check_submission(sub, file=path, committed=committed)


def committed_files(board: str | Path = LEADERBOARD_DIR) -> list[Path]:
    """Every ``submissions/<namespace>/<env>/*.json`` under ``board`` (not the checkpoints' configs), sorted."""
    return sorted((Path(board) / "submissions").glob("*/*/*.json"))


def validate_files(paths: Iterable[str | Path] | None = None, *, committed: bool = True) -> list[Problem]:
    """Check several submissions, and duplicates among them.

    Args:
        paths: files; default every committed submission (:func:`committed_files`).
        committed: apply the board's rules too (see :func:`check_submission`).

    Returns:
        all problems (empty: every file is valid and none duplicates another).
    """
    files = [Path(p) for p in (committed_files() if paths is None else paths)]
    problems: list[Problem] = []
    by_name: dict[tuple[str, str], Path] = {}
    by_result: dict[tuple[str, str, str], Path] = {}
    for path in files:
        sub, found = check_file(path, committed=committed)
        problems.extend(found)
        if not isinstance(sub, dict) or found:
            continue
        key = (sub["env_id"], sub["name"])
        if key in by_name:
            problems.append(Problem(str(path), "/name", f"duplicate: {str(by_name[key])!r} already has name "
                                    f"{sub['name']!r} on {sub['env_id']}"))
        else:
            by_name[key] = path
        rkey = (sub["env_id"], sub["config_hash"], json.dumps(sub["scores"]))
        if rkey in by_result:
            problems.append(Problem(str(path), "/scores", f"duplicate: the same result (config_hash "
                                    f"{sub['config_hash']}, identical scores) as {str(by_result[rkey])!r}"))
        else:
            by_result[rkey] = path
        if committed and path.is_relative_to(SUBMISSIONS_DIR):
            expected = SUBMISSIONS_DIR / sub["env_id"]
            if path.parent != expected:
                problems.append(Problem(str(path), "/env_id", f"file lies under {str(path.parent)!r}, expected "
                                        f"{str(expected)!r}"))
    return problems


def main_validate(paths: Sequence[str] | None) -> int:
    """CLI body: print each problem, return 1 if any, else 0."""
    files = list(paths) if paths else None
    problems = validate_files(files)
    n = len(files) if files is not None else len(committed_files())
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s) in {len({p.file for p in problems})} of {n} file(s)")
        return 1
    print(f"{n} submission(s) valid")
    return 0
