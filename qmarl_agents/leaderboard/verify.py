"""``qmarl leaderboard verify SUBMISSION``: re-run an entry on fresh seeds and flag an implausible claim.

The entry's policy is rebuilt from its checkpoint (safetensors weights + JSON config, checked
against the recorded SHA-256; loading never unpickles) or, for the ``random`` and ``scripted``
baselines, from the registry. It is evaluated under the entry's protocol (episodes per seed,
greedy actions, bootstrap settings) on seeds drawn fresh from OS entropy at verify time (recorded
in the report). The claim is flagged when the claimed IQM lies outside the fresh 95% IQM interval.
A fair entry is still flagged now and then (the claim is itself a noisy estimate), so a flag asks
for a closer look; re-run with ``--seeds`` to reproduce a report.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from qmarl_agents.leaderboard.validate import check_file

BASELINES = ("random", "scripted")


def fresh_seeds(n: int) -> tuple[int, ...]:
    """``n`` distinct evaluation seeds in ``[10_000, 2**31)`` drawn from OS entropy (never the public 0-9)."""
    rng = np.random.default_rng(np.random.SeedSequence().entropy)
    return tuple(int(s) + 10_000 for s in rng.choice(2**31 - 10_000, size=n, replace=False))


def verify_submission(path: str | Path, *, seeds: tuple[int, ...] | None = None,
                      n_seeds: int | None = None) -> dict[str, Any]:
    """Re-evaluate a submission on fresh seeds.

    Args:
        path: the submission JSON.
        seeds: evaluation seeds (default: drawn fresh, as many as the entry's protocol has).
        n_seeds: number of fresh seeds to draw (default: as many as the entry's protocol).

    Returns:
        ``{"file", "env_id", "name", "seeds", "claimed": {"iqm", "iqm_ci", "mean"}, "fresh": {...stats},
        "flagged": bool, "reason": str}``.

    Raises:
        ValueError: the file is invalid, or the entry has neither a checkpoint nor a baseline agent.
    """
    from qmarl_agents.leaderboard.protocol import Protocol, evaluate_policy

    sub, problems = check_file(path, committed=False)
    if problems:
        raise ValueError("invalid submission: " + "; ".join(str(p) for p in problems))
    import qmarl_envs

    env = qmarl_envs.make(sub["env_id"], **sub["env_kwargs"])
    if sub.get("checkpoint"):
        from qmarl_agents.registry import load_policy

        ckpt = Path(path).parent / sub["checkpoint"]["path"]
        policy = load_policy(str(ckpt), env)
        what = f"checkpoint {ckpt} (sha256 {hashlib.sha256((ckpt / 'model.safetensors').read_bytes()).hexdigest()[:12]})"
    elif sub["agent"] in BASELINES:
        policy = sub["agent"]
        what = f"baseline {sub['agent']!r}"
    else:
        raise ValueError(f"{path}: /checkpoint: agent {sub['agent']!r} needs a checkpoint to be verified")
    proto = sub["protocol"]
    seeds = tuple(seeds) if seeds else fresh_seeds(n_seeds or len(proto["seeds"]))
    protocol = Protocol(seeds=seeds, episodes_per_seed=proto["episodes_per_seed"], deterministic=True,
                        bootstrap_reps=proto["bootstrap"]["reps"], bootstrap_seed=proto["bootstrap"]["seed"],
                        confidence=proto["bootstrap"]["confidence"])
    res = evaluate_policy(policy, sub["env_id"], protocol, env_kwargs=sub["env_kwargs"])
    env.close()
    claimed = sub["summary"]
    lo, hi = res.stats["iqm_ci"]
    flagged = not (lo - 1e-9 <= claimed["iqm"] <= hi + 1e-9)
    reason = (f"claimed IQM {claimed['iqm']:.4g} is outside the fresh {protocol.confidence:.0%} interval "
              f"[{lo:.4g}, {hi:.4g}]" if flagged else
              f"claimed IQM {claimed['iqm']:.4g} lies inside the fresh interval [{lo:.4g}, {hi:.4g}]")
    return {"file": str(path), "env_id": sub["env_id"], "name": sub["name"], "policy": what,
            "seeds": list(seeds), "episodes_per_seed": protocol.episodes_per_seed,
            "claimed": {"mean": claimed["mean"], "iqm": claimed["iqm"], "iqm_ci": claimed["iqm_ci"]},
            "fresh": res.stats, "fresh_scores": res.scores.tolist(), "flagged": flagged, "reason": reason}
