"""The leaderboard evaluation protocol and submission files.

Protocol (:data:`DEFAULT_PROTOCOL`): for each evaluation seed ``s`` in ``seeds`` the policy is reset
with ``s`` (:meth:`BatchPolicy.reset`), the env is reset with ``seed=s`` and then played for
``episodes_per_seed`` consecutive episodes (later resets continue the env's generator), with
deterministic (greedy) actions. An episode's score is the env's ``episode_summary()["score"]``
(the paper's score; per-agent scores are averaged over agents). Statistics over all episodes:
mean, interquartile mean (IQM, the 25 % trimmed mean) and 95 % confidence intervals of both from
rliable's stratified bootstrap (Agarwal et al. 2021, "Deep RL at the edge of the statistical
precipice", NeurIPS; percentile method, 2,000 resamples, seeded — see :func:`_rliable_ci` for the
one fix applied to rliable's sampler). With one env the only stratum is that env, so this is the
percentile bootstrap over episodes.

A submission is one JSON file (:data:`SUBMISSION_SCHEMA`): env id, agent and its config hash,
protocol, per-episode scores, the statistics, package versions, training budget and wall-clock.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from importlib import metadata
from typing import Any

import numpy as np

SCHEMA_VERSION = 1
"""Version of the submission format."""


@dataclass(frozen=True)
class Protocol:
    """How a policy is evaluated for the leaderboard.

    Attributes:
        seeds: evaluation seeds (each seeds the env and the policy's generator).
        episodes_per_seed: consecutive episodes played per seed.
        deterministic: greedy actions (the leaderboard uses True).
        bootstrap_reps: bootstrap resamples for the confidence intervals.
        bootstrap_seed: seed of the bootstrap's generator (CIs are reproducible).
        confidence: confidence level of the intervals.
    """

    seeds: tuple[int, ...] = tuple(range(10))
    episodes_per_seed: int = 5
    deterministic: bool = True
    bootstrap_reps: int = 2000
    bootstrap_seed: int = 0
    confidence: float = 0.95

    def __post_init__(self) -> None:
        seeds = tuple(self.seeds)
        if not seeds or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in seeds):
            raise ValueError(f"seeds: expected a non-empty sequence of non-negative ints, got {self.seeds!r}")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds: expected distinct seeds, got {list(seeds)}")
        object.__setattr__(self, "seeds", tuple(int(s) for s in seeds))
        e = self.episodes_per_seed
        if isinstance(e, bool) or not isinstance(e, (int, np.integer)) or e < 1:
            raise ValueError(f"episodes_per_seed: expected a positive int, got {e!r}")
        if isinstance(self.bootstrap_reps, bool) or not isinstance(self.bootstrap_reps, int) or self.bootstrap_reps < 100:
            raise ValueError(f"bootstrap_reps: expected an int >= 100, got {self.bootstrap_reps!r}")
        if not 0.5 <= self.confidence < 1.0:
            raise ValueError(f"confidence: expected a float in [0.5, 1), got {self.confidence!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in submissions)."""
        return {"seeds": list(self.seeds), "episodes_per_seed": int(self.episodes_per_seed),
                "deterministic": bool(self.deterministic), "score": "episode_summary()['score']",
                "bootstrap": {"method": "rliable stratified bootstrap, percentile",
                              "reps": self.bootstrap_reps, "seed": self.bootstrap_seed,
                              "confidence": self.confidence}}


DEFAULT_PROTOCOL = Protocol()
"""Seeds 0-9, 5 episodes each (50 episodes), greedy actions."""


@dataclass
class EvalResult:
    """Scores of one policy on one env under a :class:`Protocol`.

    Attributes:
        env_id: the env.
        agent: the policy's agent name (``"ppo"``, ``"random"`` ...).
        protocol: the protocol used.
        scores: ``float64 (num_seeds, episodes_per_seed)`` episode scores.
        lengths: ``int64 (num_seeds, episodes_per_seed)`` episode lengths in env steps.
        wins: ``float64 (num_seeds, episodes_per_seed)`` win indicator (fraction of agents winning
            for per-agent wins), or None where the env defines no win.
        stats: see :func:`score_statistics`.
        wall_clock_s: seconds spent playing the episodes.
        policy_info: the policy's :meth:`describe` output.
    """

    env_id: str
    agent: str
    protocol: Protocol
    scores: np.ndarray
    lengths: np.ndarray
    wins: np.ndarray | None
    stats: dict[str, Any]
    wall_clock_s: float
    policy_info: dict[str, Any] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        """Mean episode score."""
        return float(self.stats["mean"])

    @property
    def iqm(self) -> float:
        """Interquartile mean of the episode scores."""
        return float(self.stats["iqm"])

    def line(self) -> str:
        """One-line summary, e.g. ``mean 12.3 [11.0, 13.6]  IQM 12.0 [10.9, 13.4]  (50 episodes)``."""
        s = self.stats
        return (f"mean {s['mean']:.2f} [{s['mean_ci'][0]:.2f}, {s['mean_ci'][1]:.2f}]  "
                f"IQM {s['iqm']:.2f} [{s['iqm_ci'][0]:.2f}, {s['iqm_ci'][1]:.2f}]  ({s['n_episodes']} episodes)")


def score_statistics(scores: np.ndarray, *, reps: int = 2000, seed: int = 0,
                     confidence: float = 0.95) -> dict[str, Any]:
    """Mean, IQM and their bootstrap confidence intervals (rliable).

    Args:
        scores: episode scores, any shape (flattened; each episode is one run of the single task).
        reps: bootstrap resamples.
        seed: seed of the bootstrap generator.
        confidence: confidence level, e.g. 0.95.

    Returns:
        ``{"mean", "iqm", "std", "min", "max", "mean_ci": [lo, hi], "iqm_ci": [lo, hi],
        "n_episodes", "ci_method"}`` (floats; ``std`` is the sample standard deviation).

    Raises:
        ValueError: if ``scores`` is empty or not finite.
    """
    x = np.asarray(scores, dtype=np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError("scores: expected at least one episode score")
    if not np.isfinite(x).all():
        raise ValueError("scores: expected finite values")
    from rliable import metrics

    def both(m: np.ndarray) -> np.ndarray:
        """``[mean, IQM]`` of a ``(runs, tasks)`` score matrix."""
        return np.array([metrics.aggregate_mean(m), metrics.aggregate_iqm(m)])

    matrix = x[:, None]  # (runs = episodes, tasks = 1)
    point = both(matrix)
    method = "rliable stratified bootstrap (percentile)"
    if x.size > 1:
        try:
            ci = _rliable_ci(matrix, both, reps, seed, confidence)
        except _RliableUnavailable:
            # rliable 1.2's bootstrap needs arch < 8 and pandas < 3; otherwise SciPy's bootstrap
            ci = _scipy_percentile_ci(matrix, both, reps, seed, confidence)
            method = "scipy percentile bootstrap (rliable's bootstrap unavailable)"
        mean_ci, iqm_ci = [float(ci[0, 0]), float(ci[1, 0])], [float(ci[0, 1]), float(ci[1, 1])]
    else:
        mean_ci = iqm_ci = [float(x[0]), float(x[0])]
    return {"mean": float(point[0]), "iqm": float(point[1]),
            "std": float(x.std(ddof=1)) if x.size > 1 else 0.0,
            "min": float(x.min()), "max": float(x.max()),
            "mean_ci": mean_ci, "iqm_ci": iqm_ci, "n_episodes": int(x.size), "ci_method": method}


class _RliableUnavailable(RuntimeError):
    """rliable's bootstrap cannot run with the installed arch/pandas."""


def _rliable_ci(matrix: np.ndarray, func, reps: int, seed: int, confidence: float) -> np.ndarray:
    """``(2, num_metrics)`` interval from rliable's ``StratifiedBootstrap`` (percentile method).

    rliable 1.2 draws its resampling indices from NumPy's *global* RNG (``np.random.choice`` in
    ``StratifiedBootstrap.update_indices``), ignoring ``random_state``; this subclass draws them from
    the bootstrap's own seeded generator instead, so the same seed gives the same interval.
    """
    try:
        from rliable.library import StratifiedBootstrap
    except (ImportError, TypeError) as e:  # arch 7 under pandas 3 fails with a TypeError on import
        raise _RliableUnavailable(str(e)) from e

    class SeededStratifiedBootstrap(StratifiedBootstrap):
        """rliable's bootstrap drawing its indices from its own seeded generator."""

        def update_indices(self):
            """Resampling indices: runs with replacement within each task (stratum)."""
            indices = self._generator.integers(0, self._num_items, size=self._args_shape)
            if self._task_bootstrap:  # pragma: no cover - one task here
                tasks = self._generator.integers(0, self._num_tasks, size=self._strata_indices[0].shape)
                return (indices, tasks, *self._strata_indices[1:])
            return (indices, *self._strata_indices)

    try:
        bs = SeededStratifiedBootstrap(matrix, seed=np.random.default_rng(seed))
    except TypeError as e:  # arch 8 rejects the random_state keyword rliable passes
        raise _RliableUnavailable(str(e)) from e
    return np.asarray(bs.conf_int(func, reps=reps, size=confidence, method="percentile"))


def _scipy_percentile_ci(matrix: np.ndarray, func, reps: int, seed: int, confidence: float) -> np.ndarray:
    """``(2, 2)`` percentile-bootstrap intervals ``[[mean_lo, iqm_lo], [mean_hi, iqm_hi]]`` over the
    rows of ``matrix`` with SciPy (``func`` is unused; kept for the rliable call's signature)."""
    from scipy.stats import bootstrap, trim_mean

    x = matrix.reshape(-1)
    out = np.zeros((2, 2))
    stats_ = (lambda a, axis=-1: np.mean(a, axis=axis), lambda a, axis=-1: trim_mean(a, 0.25, axis=axis))
    for k, stat in enumerate(stats_):
        res = bootstrap((x,), stat, n_resamples=reps, confidence_level=confidence, method="percentile",
                        vectorized=True, rng=np.random.default_rng(seed))
        out[:, k] = res.confidence_interval.low, res.confidence_interval.high
    return out


def _scalar(v: Any) -> float:
    return float(np.mean(v)) if isinstance(v, np.ndarray) else float(v)


def play_episode(policy, env, *, seed: int | None, deterministic: bool = True) -> dict[str, Any]:
    """Play one episode of ``env`` (unwrapped qmarl env) with ``policy``.

    Uses the array interface and ``policy.act_batch`` when the policy has one, else the dict API
    and ``policy.act``.

    Args:
        policy: a :class:`~qmarl_agents.base.Policy`.
        env: the qmarl env (``env.unwrapped`` is used).
        seed: reset seed, or None to continue the env's generator.
        deterministic: passed to the policy.

    Returns:
        the env's episode summary with scalar ``score`` (per-agent scores averaged), ``length`` and,
        where defined, ``win`` (a fraction for per-agent wins).
    """
    base = getattr(env, "unwrapped", env)
    if hasattr(policy, "act_batch"):
        obs = base.reset_arrays(seed)
        alive = base.alive_mask()
        while alive.any():
            actions = policy.act_batch(obs, alive, deterministic=deterministic)
            obs = base.step_arrays(np.asarray(actions, dtype=np.int64))[0]
            alive = base.alive_mask()
    else:
        observations, _ = base.reset(seed=seed)
        while base.agents:
            live = {a: observations[a] for a in base.agents}
            observations = base.step(policy.act(live, deterministic=deterministic))[0]
    summary = dict(base.episode_summary() or {})
    out = {"score": _scalar(summary.get("score", float(np.mean(base.returns())))),
           "length": int(summary.get("length", base.grid_state.step))}
    if "win" in summary:
        out["win"] = _scalar(summary["win"])
    return out


def evaluate_policy(policy, env_id: str, protocol: Protocol = DEFAULT_PROTOCOL, *,
                    env_kwargs: dict[str, Any] | None = None, seed: int = 0) -> EvalResult:
    """Evaluate a policy under the leaderboard protocol.

    Args:
        policy: a policy spec (``"random"``, ``"scripted"`` or a checkpoint directory, see
            :func:`qmarl_agents.resolve_policy`) or a policy object. Objects with a ``bind(env)``
            method (scripted policies) are bound to the evaluation env.
        env_id: registered env id.
        protocol: seeds, episodes per seed, deterministic flag, bootstrap settings.
        env_kwargs: env config overrides.
        seed: seed of a random/scripted policy built from a spec (the protocol re-seeds it per
            evaluation seed anyway).

    Returns:
        an :class:`EvalResult`.

    Raises:
        ValueError: unknown env id, a bad spec, or a checkpoint that does not fit the env.
    """
    import qmarl_envs

    env = qmarl_envs.make(env_id, **(env_kwargs or {}))
    if isinstance(policy, str):
        from qmarl_agents.registry import resolve_policy

        policy = resolve_policy(policy, env, seed=seed)
    elif callable(getattr(policy, "bind", None)):
        policy.bind(env)
    if not callable(getattr(policy, "act", None)) and not callable(getattr(policy, "act_batch", None)):
        raise ValueError(f"policy: expected a spec string or an object with act(), got {type(policy).__name__}")
    k = protocol.episodes_per_seed
    scores = np.zeros((len(protocol.seeds), k))
    lengths = np.zeros((len(protocol.seeds), k), dtype=np.int64)
    wins = np.full((len(protocol.seeds), k), np.nan)
    t0 = time.perf_counter()
    for i, s in enumerate(protocol.seeds):
        if callable(getattr(policy, "reset", None)):
            policy.reset(s)
        for j in range(k):
            ep = play_episode(policy, env, seed=s if j == 0 else None, deterministic=protocol.deterministic)
            scores[i, j], lengths[i, j] = ep["score"], ep["length"]
            if "win" in ep:
                wins[i, j] = ep["win"]
    wall = time.perf_counter() - t0
    env.close()
    stats = score_statistics(scores, reps=protocol.bootstrap_reps, seed=protocol.bootstrap_seed,
                             confidence=protocol.confidence)
    info = policy.describe() if callable(getattr(policy, "describe", None)) else {}
    agent = str(info.get("agent") or getattr(policy, "name", type(policy).__name__))
    return EvalResult(env_id=env_id, agent=agent, protocol=protocol, scores=scores, lengths=lengths,
                      wins=None if np.isnan(wins).all() else wins, stats=stats, wall_clock_s=wall,
                      policy_info=info)


# ----------------------------------------------------------------------------------- submissions
RUN_KEYS = ("seed", "agent_steps", "live_agent_steps", "wall_clock_s")
"""Config keys that differ between runs of one configuration; left out of ``config_hash``."""

_VERSIONED = ("qmarl", "numpy", "pettingzoo", "gymnasium", "torch", "stable-baselines3", "supersuit", "rliable",
              "pennylane", "pennylane-lightning", "dwave-samplers", "dwave-neal", "dimod", "openjij", "networkx")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a result depends on (missing ones are left out), plus Python."""
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def json_pointer(path: Sequence[Any]) -> str:
    """RFC 6901 JSON pointer of a path of keys/indices, e.g. ``["summary", "iqm_ci", 0]`` -> ``/summary/iqm_ci/0``
    (``""`` is the whole document, shown as ``/``)."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else "/"


def hardware_info() -> dict[str, Any]:
    """The machine a result was measured on: ``{"machine", "processor", "system", "cpu_count", "torch_threads"}``."""
    threads = None
    try:
        import sys

        if "torch" in sys.modules:
            threads = int(sys.modules["torch"].get_num_threads())
    except Exception:  # pragma: no cover - torch oddities
        threads = None
    return {"machine": platform.machine() or "unknown", "processor": platform.processor() or platform.machine(),
            "system": f"{platform.system()} {platform.release()}", "cpu_count": os.cpu_count(),
            "torch_threads": threads}


def code_info() -> dict[str, Any]:
    """``{"commit", "dirty", "permalink"}`` of the qmarl source tree (git), or nulls outside a checkout.

    ``permalink`` comes from the ``QMARL_CODE_URL`` environment variable (``{commit}`` is filled in)."""
    root = Path(__file__).resolve().parents[2]
    commit = dirty = None
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip() or None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "qmarl_agents",
                                 "qmarl_envs"], cwd=root, capture_output=True, text=True, timeout=10, check=True)
        dirty = bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    url = os.environ.get("QMARL_CODE_URL")
    return {"commit": commit, "dirty": dirty,
            "permalink": url.format(commit=commit) if url and commit else None}


def env_version(env_id: str) -> int:
    """The N of an env id's ``-vN`` suffix.

    Raises:
        ValueError: if ``env_id`` has no version suffix.
    """
    head, sep, tail = env_id.rpartition("-v")
    if not sep or not head or not tail.isdigit():
        raise ValueError(f"env_id: expected an id ending in -vN, got {env_id!r}")
    return int(tail)


def build_submission(result: EvalResult, *, name: str | None = None, agent_config: dict[str, Any] | None = None,
                     training: dict[str, Any] | None = None, env_kwargs: dict[str, Any] | None = None,
                     author: str = "", checkpoint: dict[str, str] | None = None) -> dict[str, Any]:
    """A submission dict (see :data:`SUBMISSION_SCHEMA`) from an evaluation result.

    Args:
        result: the evaluation.
        name: display name (default: the agent name).
        agent_config: the agent's configuration; default ``result.policy_info``. ``config_hash``
            hashes it without the run-specific keys (:data:`RUN_KEYS`), so the seeds of one
            configuration share a hash.
        training: ``{"agent_steps", "live_agent_steps", "wall_clock_s", "seed"}`` of the training
            run, if any (agent-steps count every agent slot per env step, dead slots included).
        env_kwargs: env config overrides used (must be empty for leaderboard entries).
        author: who submits the entry.
        checkpoint: ``{"path", "sha256"}`` of the checkpoint relative to the submission file, or
            None (``qmarl leaderboard add`` fills it in).

    Returns:
        a JSON-ready dict.
    """
    from qmarl_agents.checkpoint import config_hash

    cfg = dict(agent_config if agent_config is not None else result.policy_info)
    train = {"agent_steps": None, "live_agent_steps": None, "wall_clock_s": None, "seed": None}
    train.update(training or {})
    win_rate = None if result.wins is None else float(np.nanmean(result.wins))
    return {
        "schema_version": SCHEMA_VERSION,
        "env_id": result.env_id,
        "env_version": env_version(result.env_id),
        "env_kwargs": dict(env_kwargs or {}),
        "name": name or result.agent,
        "agent": result.agent,
        "agent_version": package_versions().get("qmarl", "unknown"),
        "config": cfg,
        "config_hash": config_hash({k: v for k, v in cfg.items() if k not in RUN_KEYS}),
        "protocol": result.protocol.to_dict(),
        "scores": result.scores.tolist(),
        "lengths": result.lengths.tolist(),
        "win_rate": win_rate,
        "summary": dict(result.stats),
        "training": train,
        "eval_wall_clock_s": round(result.wall_clock_s, 3),
        "versions": package_versions(),
        "hardware": hardware_info(),
        "code": code_info(),
        "author": str(author),
        "checkpoint": checkpoint,
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
    }


SCHEMA_PATH = Path(__file__).resolve().parents[2] / "leaderboard" / "schema.json"
"""The JSON Schema (draft 2020-12) of a submission file, ``leaderboard/schema.json``: the one source of truth."""


def _load_schema() -> dict[str, Any]:
    import json

    return json.loads(SCHEMA_PATH.read_text())


SUBMISSION_SCHEMA: dict[str, Any] = _load_schema()
"""``leaderboard/schema.json`` as loaded at import."""


def validate_submission(submission: dict[str, Any]) -> None:
    """Check a submission against :data:`SUBMISSION_SCHEMA` and for internal consistency.

    Raises:
        ValueError: naming the first offending field (schema violation, score matrix not
            ``len(seeds) x episodes_per_seed``, or a summary that does not match the scores).
    """
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(SUBMISSION_SCHEMA).iter_errors(submission),
                    key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        e = errors[0]
        raise ValueError(f"submission: {json_pointer(e.absolute_path)}: {e.message}")
    proto = submission["protocol"]
    scores = submission["scores"]
    if len(scores) != len(proto["seeds"]) or any(len(r) != proto["episodes_per_seed"] for r in scores):
        raise ValueError(f"submission: scores: expected {len(proto['seeds'])} rows of "
                         f"{proto['episodes_per_seed']} episodes (protocol), got "
                         f"{[len(r) for r in scores]}")
    mean = float(np.mean(scores))
    if not np.isclose(mean, submission["summary"]["mean"], rtol=1e-9, atol=1e-9):
        raise ValueError(f"submission: summary/mean is {submission['summary']['mean']}, the scores give {mean}")


def write_submission(path: str, submission: dict[str, Any]) -> str:
    """Validate and write a submission JSON atomically; returns the path.

    Raises:
        ValueError: if the submission is invalid (nothing is written).
    """
    from qmarl_agents.checkpoint import atomic_write_json

    validate_submission(submission)
    return str(atomic_write_json(path, submission))


def parse_seeds(spec: Sequence[str] | str | None) -> tuple[int, ...] | None:
    """Parse command-line seeds: ``["0", "1", "5-9"]`` or ``"0-9"`` -> ``(0, 1, 5, 6, 7, 8, 9)``.

    Raises:
        ValueError: for a token that is not ``N`` or ``A-B`` with ``0 <= A <= B``.
    """
    if spec is None:
        return None
    tokens = spec.replace(",", " ").split() if isinstance(spec, str) else \
        [t for part in spec for t in str(part).replace(",", " ").split()]
    out: list[int] = []
    for tok in tokens:
        try:
            if "-" in tok:
                a, b = (int(x) for x in tok.split("-", 1))
                if a < 0 or b < a:
                    raise ValueError
                out.extend(range(a, b + 1))
            else:
                v = int(tok)
                if v < 0:
                    raise ValueError
                out.append(v)
        except ValueError:
            raise ValueError(f"--seeds: expected non-negative ints or ranges like 0-9, got {tok!r}") from None
    if not out:
        raise ValueError("--seeds: expected at least one seed")
    return tuple(out)
