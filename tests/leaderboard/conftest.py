"""Small real submissions for the leaderboard tests (a few seconds of CPU in all)."""

from __future__ import annotations

import copy

import pytest

from qmarl_agents.leaderboard.protocol import Protocol, build_submission, evaluate_policy

ENV = "qmarl/BallCollection-3x3-v0"
SMALL = Protocol(seeds=(0, 1, 2, 3), episodes_per_seed=2, bootstrap_reps=200)


@pytest.fixture(scope="session")
def _random_sub():
    return build_submission(evaluate_policy("random", ENV, SMALL), name="random", author="tester")


@pytest.fixture
def random_sub(_random_sub):
    """A valid submission of the random baseline (a fresh deep copy per test)."""
    return copy.deepcopy(_random_sub)
