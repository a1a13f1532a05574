"""Dist-QTRL: two gloo workers stay in sync (slow: process start-up is ~20-30 s on 2 cores)."""

import pytest


@pytest.mark.slow
def test_two_workers_average_gradients_and_stay_in_sync():
    from qmarl_agents.quantum_train.dist import run_dist_qtrl

    r = run_dist_qtrl("qmarl/BallCollection-3x3-v0", 2, seed=0, max_episodes=8, config={"depth": 1, "hidden": (4,)})
    assert r["workers"] == 2 and r["updates"] == 4
    assert len(r["episode_scores"]) == 8
    c0, c1 = r["param_checksums"]
    assert c0 == pytest.approx(c1, abs=1e-9)  # same parameters after 4 all-reduced Adam steps
    # the two workers played different episodes (their own seeds)
    one = run_dist_qtrl("qmarl/BallCollection-3x3-v0", 1, seed=0, max_episodes=4, config={"depth": 1, "hidden": (4,)})
    assert one["param_checksums"][0] != pytest.approx(c0, abs=1e-9)


def test_workers_argument_checked():
    from qmarl_agents.quantum_train.dist import run_dist_qtrl

    with pytest.raises(ValueError, match="workers"):
        run_dist_qtrl("qmarl/BallCollection-3x3-v0", 0)
