"""Checkpoints: a safetensors file of arrays plus a JSON config, written atomically, loaded safely.

A checkpoint is a directory::

    <dir>/model.safetensors   named float/int arrays (a network's state_dict; empty for random/scripted)
    <dir>/config.json         format tag and version, agent name, env id, observation/action spaces,
                              the agent's constructor arguments, and the SHA-256 of model.safetensors

Writes go to a temporary file in the same directory and are moved into place with ``os.replace``,
weights first and config last; the config's hash ties the two files together, so a crash between
the two renames is detected on load instead of silently pairing old and new files.

Loading parses JSON and the safetensors format only: nothing is unpickled and nothing named in the
files is imported or called (agents map names such as ``"tanh"`` through fixed tables).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from qmarl_envs import fileio

FORMAT = "qmarl-checkpoint"
"""Value of ``config["format"]`` in every checkpoint."""
FORMAT_VERSION = 1
"""Current checkpoint format version; loading rejects newer versions."""
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :mod:`qmarl_envs.fileio`); returns the path."""
    return fileio.atomic_write_bytes(path, data)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically (numpy scalars and arrays converted).

    Raises:
        TypeError: if ``obj`` is not JSON-serialisable (nothing is written).
    """
    return fileio.atomic_write_json(path, obj, default=_json_default)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"{type(o).__name__} is not JSON-serialisable")


def config_hash(config: dict[str, Any]) -> str:
    """Short stable hash (first 12 hex digits of SHA-256) of a JSON-ready config dict.

    Keys are sorted, so the hash does not depend on insertion order.
    """
    text = json.dumps(config, sort_keys=True, default=_json_default, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def save_checkpoint(path: str | os.PathLike, config: dict[str, Any],
                    arrays: dict[str, np.ndarray] | None = None) -> Path:
    """Write a checkpoint directory atomically.

    Args:
        path: the checkpoint directory (created if missing; an existing checkpoint is replaced).
        config: JSON-ready dict; must contain ``"agent"`` (registry name) and ``"env_id"``. The
            format tag, version and weights hash are added.
        arrays: named numpy arrays (e.g. a ``state_dict`` converted with ``.numpy()``); any shape,
            numeric dtype. ``None`` or ``{}`` writes an empty weights file.

    Returns:
        the directory.

    Raises:
        ValueError: if ``config`` lacks ``agent``/``env_id`` or is not JSON-serialisable, or an array
            is not a numeric numpy array. Nothing is written then.
    """
    for key in ("agent", "env_id"):
        if key not in config:
            raise ValueError(f"config: missing required key {key!r}")
    arrays = dict(arrays or {})
    for k, v in arrays.items():
        if not isinstance(v, np.ndarray) or v.dtype.kind not in "biuf":
            raise ValueError(f"arrays[{k!r}]: expected a numeric numpy array, got {type(v).__name__}")
    from safetensors.numpy import save as st_save

    # np.require keeps 0-d arrays 0-d (np.ascontiguousarray would make them shape (1,), e.g. Adam's step)
    blob = st_save({k: np.require(v, requirements='C') for k, v in arrays.items()},
                   metadata={"format": FORMAT, "agent": str(config["agent"])})
    full = {"format": FORMAT, "format_version": FORMAT_VERSION, **config,
            "weights_sha256": hashlib.sha256(blob).hexdigest()}
    try:
        text = json.dumps(full, indent=2, allow_nan=False, default=_json_default)
    except (TypeError, ValueError) as e:
        raise ValueError(f"config: not JSON-serialisable ({e})") from None
    path = Path(path)
    atomic_write_bytes(path / WEIGHTS_FILE, blob)
    atomic_write_bytes(path / CONFIG_FILE, (text + "\n").encode())
    return path


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a checkpoint's ``config.json`` (no weights).

    Raises:
        FileNotFoundError: if ``path`` is not a directory holding ``config.json``.
        ValueError: if the JSON is malformed, not a qmarl checkpoint, or from a newer format version.
    """
    path = Path(path)
    cfg_file = path / CONFIG_FILE
    if not cfg_file.is_file():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r}: {CONFIG_FILE} is missing")
    try:
        cfg = json.loads(cfg_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{cfg_file}: not valid JSON ({e})") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise ValueError(f"{cfg_file}: not a qmarl checkpoint (format tag {FORMAT!r} missing)")
    version = cfg.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"{cfg_file}: format_version {version!r} is not supported "
                         f"(this qmarl reads versions <= {FORMAT_VERSION})")
    for key in ("agent", "env_id"):
        if not isinstance(cfg.get(key), str):
            raise ValueError(f"{cfg_file}: missing or non-string {key!r}")
    return cfg


def load_checkpoint(path: str | os.PathLike, *, env_id: str | None = None,
                    agent: str | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: the checkpoint directory.
        env_id: if given, the checkpoint must have been made for this env id (or for any env: a
            checkpoint whose ``env_id`` is ``""``, such as an unbound random or scripted policy).
        agent: if given, the checkpoint must be of this agent.

    Returns:
        ``(config, arrays)``: the JSON config and ``{name: numpy array}``.

    Raises:
        FileNotFoundError: if the directory or one of its two files is missing.
        ValueError: if the files are not a valid checkpoint (bad JSON, not safetensors — e.g. a
            pickle —, hash mismatch between config and weights), or the env id / agent differ.
    """
    cfg = read_config(path)
    if env_id is not None and cfg["env_id"] and cfg["env_id"] != env_id:  # "" = made for any env
        raise ValueError(f"checkpoint {str(path)!r} was made for env {cfg['env_id']!r}, not {env_id!r}")
    if agent is not None and cfg["agent"] != agent:
        raise ValueError(f"checkpoint {str(path)!r} holds agent {cfg['agent']!r}, not {agent!r}")
    wfile = Path(path) / WEIGHTS_FILE
    if not wfile.is_file():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r}: {WEIGHTS_FILE} is missing")
    blob = wfile.read_bytes()
    if hashlib.sha256(blob).hexdigest() != cfg.get("weights_sha256"):
        raise ValueError(f"{wfile}: SHA-256 does not match {CONFIG_FILE} (corrupt, replaced or "
                         "half-written checkpoint)")
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load

    try:
        arrays = st_load(blob)
    except (SafetensorError, ValueError, OSError) as e:
        raise ValueError(f"{wfile}: not a safetensors file ({e})") from None
    return cfg, arrays
