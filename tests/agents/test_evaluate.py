"""Evaluation statistics and the leaderboard protocol."""

import numpy as np
import pytest
from scipy.stats import trim_mean

from qmarl_agents.baselines import RandomPolicy
from qmarl_agents.leaderboard.protocol import (Protocol, _scipy_percentile_ci, build_submission, evaluate_policy,
                                               parse_seeds, score_statistics, validate_submission)

BALL2 = "qmarl/BallCollection-3x3-2Agents-v0"


def test_statistics_of_known_scores():
    x = np.arange(1.0, 21.0)  # 1..20
    s = score_statistics(x, reps=500)
    assert s["mean"] == pytest.approx(10.5)
    assert s["iqm"] == pytest.approx(trim_mean(x, 0.25)) == pytest.approx(10.5)
    assert s["n_episodes"] == 20 and s["min"] == 1 and s["max"] == 20
    assert s["mean_ci"][0] < 10.5 < s["mean_ci"][1]
    # outliers move the mean, not the IQM
    y = np.concatenate([x, [1000.0]])
    t = score_statistics(y, reps=500)
    assert t["mean"] > 50 and t["iqm"] < 15


def test_intervals_are_reproducible_and_shrink_with_more_episodes():
    rng = np.random.default_rng(0)
    small, big = rng.normal(size=20), rng.normal(size=2000)
    a, b = score_statistics(small, seed=3), score_statistics(small, seed=3)
    assert a == b
    assert score_statistics(small, seed=4)["mean_ci"] != a["mean_ci"]
    width = lambda s: s["mean_ci"][1] - s["mean_ci"][0]  # noqa: E731
    assert width(score_statistics(big)) < width(a) / 5
    const = score_statistics(np.full(10, 2.5))
    assert const["mean_ci"] == [2.5, 2.5] and const["iqm_ci"] == [2.5, 2.5]


def test_scipy_fallback_agrees_with_rliable():
    x = np.random.default_rng(1).normal(size=(200, 1))
    s = score_statistics(x)
    assert s["ci_method"].startswith("rliable")
    ci = _scipy_percentile_ci(x, None, 2000, 0, 0.95)
    assert np.allclose(ci[:, 0], s["mean_ci"], atol=0.05)
    assert np.allclose(ci[:, 1], s["iqm_ci"], atol=0.05)


def test_statistics_reject_bad_scores():
    with pytest.raises(ValueError, match="at least one"):
        score_statistics([])
    with pytest.raises(ValueError, match="finite"):
        score_statistics([1.0, np.nan])


def test_protocol_validation():
    with pytest.raises(ValueError, match="seeds"):
        Protocol(seeds=())
    with pytest.raises(ValueError, match="distinct"):
        Protocol(seeds=(1, 1))
    with pytest.raises(ValueError, match="episodes_per_seed"):
        Protocol(episodes_per_seed=0)
    assert parse_seeds(["0-2", "7"]) == (0, 1, 2, 7)
    assert parse_seeds("3,4") == (3, 4)
    with pytest.raises(ValueError, match="--seeds"):
        parse_seeds(["x"])


def test_evaluation_is_deterministic_and_follows_the_protocol():
    proto = Protocol(seeds=(0, 1, 2), episodes_per_seed=3, bootstrap_reps=200)
    a = evaluate_policy("random", BALL2, proto)
    b = evaluate_policy(RandomPolicy(seed=99), BALL2, proto)  # the protocol re-seeds per eval seed
    assert a.scores.shape == (3, 3) and a.lengths.shape == (3, 3)
    assert np.array_equal(a.scores, b.scores)
    assert len(np.unique(a.scores)) > 1  # consecutive episodes of a seed differ
    c = evaluate_policy("random", BALL2, Protocol(seeds=(5, 6, 7), episodes_per_seed=3, bootstrap_reps=200))
    assert not np.array_equal(a.scores, c.scores)
    s = evaluate_policy("scripted", BALL2, proto)
    assert s.mean > a.mean and (s.scores >= 350).all()
    assert s.stats["mean"] == pytest.approx(s.scores.mean())


def test_dict_only_policies_are_evaluated_through_the_dict_api():
    class Stay:
        name = "stay"

        def act(self, observations, *, deterministic=True):
            return {a: 4 for a in observations}

    r = evaluate_policy(Stay(), BALL2, Protocol(seeds=(0,), episodes_per_seed=1, bootstrap_reps=200))
    assert r.scores[0, 0] == -2000.0 and r.lengths[0, 0] == 100  # two agents x 100 steps x -10
    assert r.agent == "stay"
    with pytest.raises(ValueError, match="act"):
        evaluate_policy(object(), BALL2)


def test_submission_schema_catches_tampering():
    r = evaluate_policy("scripted", BALL2, Protocol(seeds=(0, 1), episodes_per_seed=2, bootstrap_reps=200))
    sub = build_submission(r, training={"agent_steps": 0, "seed": 0})
    validate_submission(sub)
    assert len(sub["config_hash"]) == 12 and sub["versions"]["numpy"]
    bad = dict(sub, summary=dict(sub["summary"], mean=sub["summary"]["mean"] + 1))
    with pytest.raises(ValueError, match="summary/mean"):
        validate_submission(bad)
    with pytest.raises(ValueError, match="scores"):
        validate_submission(dict(sub, scores=[[1.0]]))
    with pytest.raises(ValueError, match="env_id"):
        validate_submission(dict(sub, env_id="BallCollection"))


def test_config_hash_ignores_run_specific_keys():
    r = evaluate_policy("random", BALL2, Protocol(seeds=(0,), episodes_per_seed=2, bootstrap_reps=200))
    h = [build_submission(r, agent_config={"lr": 1e-3, "seed": s, "agent_steps": 10 * s})["config_hash"]
         for s in (0, 1)]
    assert h[0] == h[1]
    assert build_submission(r, agent_config={"lr": 3e-4, "seed": 0})["config_hash"] != h[0]


def test_falls_back_to_scipy_when_rliable_cannot_run(monkeypatch):
    from qmarl_agents.leaderboard import protocol

    def unavailable(*args, **kwargs):
        raise protocol._RliableUnavailable("arch 8 rejects random_state")

    monkeypatch.setattr(protocol, "_rliable_ci", unavailable)
    s = score_statistics(np.arange(30.0))
    assert s["ci_method"].startswith("scipy")
    assert s["mean_ci"][0] < 14.5 < s["mean_ci"][1]
