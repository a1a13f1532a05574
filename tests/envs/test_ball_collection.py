"""Rules, observations, layouts and optimal returns of the ball-collection family (QBM §4.1)."""

import numpy as np
import pytest

import qmarl_envs
from qmarl_envs.scenarios.ball_collection import (
    LAYOUTS,
    BallCollectionConfig,
    optimal_returns,
    parse_layout,
)

UP, DOWN, LEFT, RIGHT, STAY = range(5)


def _env(layout, **kw):
    env = qmarl_envs.make("qmarl/BallCollection-3x3-v0", layout=layout, **kw)
    env.reset(seed=0)
    return env


def _place(env, *cells):
    env.grid_state.positions[:] = np.array(cells, np.int32)


def test_collecting_own_ball_pays_220_and_terminates():
    env = _env("0..\n...\n...")
    _place(env, (0, 1))
    obs, rew, term, trunc, info = env.step({"agent_0": LEFT})
    assert rew == {"agent_0": 220.0} and term == {"agent_0": True} and trunc == {"agent_0": False}
    assert env.agents == []
    assert info["agent_0"]["episode"]["score"] == 220.0
    assert info["agent_0"]["episode"]["length"] == 1


def test_step_cost_and_pit_penalty_every_step_there():
    env = _env("0.X\n...\n...")
    _place(env, (1, 2))
    _, rew, *_ = env.step({"agent_0": DOWN})
    assert rew["agent_0"] == -10.0
    _, rew, *_ = env.step({"agent_0": UP})
    _, rew, *_ = env.step({"agent_0": UP})
    assert rew["agent_0"] == -220.0
    _, rew, term, *_ = env.step({"agent_0": STAY})
    assert rew["agent_0"] == -220.0 and term["agent_0"] is False


def test_other_agents_uncollected_ball_is_a_penalty_until_collected():
    env = _env("0..\n...\n..1")
    _place(env, (2, 1), (1, 2))
    _, rew, term, *_ = env.step({"agent_0": RIGHT, "agent_1": DOWN})
    # both step onto (2, 2): agent_1 collects its own ball, agent_0 pays the penalty on the same step
    assert rew == {"agent_0": -220.0, "agent_1": 220.0}
    assert term == {"agent_0": False, "agent_1": True}
    assert env.agents == ["agent_0"]
    _, rew, *_ = env.step({"agent_0": STAY})
    assert rew["agent_0"] == -10.0  # the ball is gone now


def test_walls_block_and_custom_rewards_apply():
    env = _env("0#.\n...\n...", step_reward=-1.0, ball_reward=5.0)
    _place(env, (0, 2))
    _, rew, *_ = env.step({"agent_0": LEFT})
    assert env.positions().tolist() == [[0, 2]] and rew["agent_0"] == -1.0
    _place(env, (1, 0))
    _, rew, *_ = env.step({"agent_0": UP})
    assert rew["agent_0"] == 5.0


def test_agent_with_two_balls_terminates_after_both():
    env = _env("00.\n...\n...")
    _place(env, (1, 0))
    _, rew, term, *_ = env.step({"agent_0": UP})
    assert rew["agent_0"] == 220.0 and term["agent_0"] is False
    _, rew, term, *_ = env.step({"agent_0": RIGHT})
    assert rew["agent_0"] == 220.0 and term["agent_0"] is True


def test_truncation_at_max_cycles():
    env = _env("0..\n...\n...", max_cycles=3)
    _place(env, (2, 2))
    for _ in range(2):
        _, _, term, trunc, _ = env.step({"agent_0": STAY})
        assert trunc["agent_0"] is False
    _, _, term, trunc, info = env.step({"agent_0": STAY})
    assert trunc["agent_0"] is True and term["agent_0"] is False
    assert info["agent_0"]["episode"]["score"] == -30.0
    with pytest.raises(RuntimeError, match="reset"):
        env.step({"agent_0": STAY})


def test_onehot_observation_layers():
    env = _env("0..\n...\n..1")
    _place(env, (1, 1), (2, 0))
    obs = env.scenario.observe(env.grid_state)
    assert obs.shape == (2, 3, 3, 2) and obs.dtype == np.float32
    own, other = obs[0, ..., 0], obs[0, ..., 1]
    assert own[1, 1] == 1 and own[0, 0] == 1 and own.sum() == 2
    assert other[2, 0] == 1 and other[2, 2] == 1 and other.sum() == 2
    assert obs[1, ..., 0][2, 0] == 1 and obs[1, ..., 0][2, 2] == 1
    assert obs[1, ..., 1][1, 1] == 1 and obs[1, ..., 1][0, 0] == 1


def test_signed_observation_matches_official_encoding():
    env = _env("0..\n...\n..1", obs_encoding="signed")
    _place(env, (1, 1), (0, 0))  # agent_1 stands on agent_0's ball
    obs = env.scenario.observe(env.grid_state)
    assert obs.shape == (2, 9)
    expect0 = np.full(9, -1.0)
    expect0[[4, 0]] = 1.0  # own cell, own ball (own wins over agent_1 standing there)
    expect0[8] = 2.0  # agent_1's ball
    assert obs[0].tolist() == expect0.tolist()
    assert set(np.unique(obs)) <= {-1.0, 1.0, 2.0}
    assert env.observation_space("agent_0").contains(obs[0])


def test_starts_are_distinct_free_cells():
    env = qmarl_envs.make("qmarl/BallCollection-5x3-2Agents-v0")
    lay = parse_layout(LAYOUTS["5x3-2agents"])
    for seed in range(30):
        env.reset(seed=seed)
        p = env.positions()
        assert tuple(p[0]) != tuple(p[1])
        assert lay.free[p[:, 0], p[:, 1]].all()


@pytest.mark.parametrize("layout, message", [
    ("...\n...", "no agents"),
    ("01\n#.", "2 agents but only 1 free"),
    ("0.#.\n..#.\n..#.", "cannot be reached"),
    ("0.\n...", "same width"),
    ("0?.", "unknown character"),
    ("0.2", "no ball is marked for \\[1\\]"),
])
def test_impossible_layouts_are_rejected(layout, message):
    with pytest.raises(ValueError, match=message):
        qmarl_envs.make("qmarl/BallCollection-3x3-v0", layout=layout)


def test_bad_config_values():
    with pytest.raises(ValueError, match="obs_encoding"):
        BallCollectionConfig(obs_encoding="pixels")
    with pytest.raises(ValueError, match="max_cycles"):
        BallCollectionConfig(max_cycles=0)


def _single_agent_reference(layout):
    """R = 220 - 10 (d - 1) over uniform starts, d the shortest path (pits are never worth entering)."""
    from qmarl_envs.core.kernels import bfs_distances

    lay = parse_layout(layout)
    d = bfs_distances(~lay.walls & ~lay.pits | (lay.balls >= 0), lay.balls >= 0)
    r = 220 - 10 * (d[lay.free] - 1)
    return r.min(), r.mean(), r.max()


@pytest.mark.parametrize("name", ["3x3", "5x3"])
def test_optimal_returns_single_agent_match_shortest_paths(name):
    opt = optimal_returns(BallCollectionConfig(layout=LAYOUTS[name]))
    lo, mean, hi = _single_agent_reference(LAYOUTS[name])
    assert (opt["min"], opt["max"]) == (lo, hi)
    assert opt["mean"] == pytest.approx(mean)


def test_optimal_returns_two_agents_bound_the_sum_of_single_agent_optima():
    opt = optimal_returns(BallCollectionConfig(layout=LAYOUTS["3x3-2agents"]))
    # each agent alone needs 1..4 steps: 190..220 each; jointly the best is 440, the worst 400
    assert opt["max"] == 440.0 and opt["min"] == 400.0 and 400 < opt["mean"] < 440
