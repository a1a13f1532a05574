"""RolloutCollector: row layout, masking, auto-reset, episodes, graph offsets, budget counts, seeding."""

import numpy as np
import pytest

import qmarl_envs
from qmarl_agents.rollout import RolloutCollector

BALL2 = "qmarl/BallCollection-3x3-2Agents-v0"
JUNGLE = "qmarl/Jungle-v0"


def _random(seed):
    rng = np.random.default_rng(seed)
    return lambda obs, alive, graph: rng.integers(0, 5, size=alive.shape[0])


def test_shapes_and_counts_with_auto_reset():
    c = RolloutCollector(BALL2, n_envs=3, env_kwargs={"max_cycles": 4}, seed=0)
    assert (c.num_rows, c.agents_per_env, c.obs_shape, c.num_actions) == (6, 2, (3, 3, 2), 5)
    tr = c.collect(_random(0), 10)
    assert tr.obs.shape == (10, 6, 3, 3, 2) and tr.obs.dtype == np.float32
    assert tr.actions.shape == (10, 6) and tr.actions.dtype == np.int64
    assert tr.rewards.dtype == np.float32 and tr.alive.dtype == bool
    assert tr.agent_steps == 60 == c.agent_steps  # every slot of every copy, dead ones included
    assert tr.live_agent_steps == int(tr.alive.sum()) == c.live_agent_steps
    # max_cycles 4: every copy ends at least twice in 10 steps, each end is one summary
    assert len(tr.episodes) >= 6 and all({"score", "length"} <= set(e) for e in tr.episodes)
    # a row that ended is either dead next step or restarted with the copy
    ends = tr.terminated | tr.truncated
    assert not (ends & ~tr.alive).any()
    for t in range(10):
        rows = tr.final_rows[t]
        assert sorted(rows.tolist()) == np.flatnonzero(ends[t]).tolist()
        assert tr.final_obs[t].shape == (rows.size, 3, 3, 2)


def test_rows_match_env_and_dead_rows_are_zero():
    kw = {"layout": "0..\n...\n..1", "max_cycles": 30}
    c = RolloutCollector(BALL2, n_envs=2, env_kwargs=kw, seed=0)
    obs = c.reset()
    ref = qmarl_envs.make(BALL2, **kw).unwrapped
    np.testing.assert_array_equal(obs[2:], ref.reset_arrays(1))  # copy 1 seeded seed + 1
    env0 = c.envs[0]
    env0.grid_state.positions[0] = [0, 1]  # agent 0 one step right of its ball
    res = c.step(np.array([2, 4, 4, 4]))  # left
    assert res.terminated.tolist() == [True, False, False, False]
    assert res.rewards[0] == 220.0 and res.ended_rows.tolist() == [0]
    assert res.ended_returns[0] == pytest.approx(env0.returns()[0])
    assert res.alive.all() and res.next_alive.tolist() == [False, True, True, True]
    assert (res.obs[0] == 0).all() and res.obs[1].any()
    res = c.step(np.array([1, 4, 4, 4]))  # dead row's action is ignored
    assert not res.alive[0] and res.rewards[0] == 0 and not res.terminated[0]
    assert env0.positions()[0].tolist() == [0, 0]


def test_bad_actions_change_nothing():
    c = RolloutCollector(BALL2, n_envs=2, seed=0)
    with pytest.raises(RuntimeError, match="reset"):
        c.step(np.zeros(4, dtype=np.int64))
    c.reset()
    before = [e.positions() for e in c.envs]
    with pytest.raises(ValueError, match=r"actions\[3\]"):
        c.step(np.array([0, 0, 0, 7]))
    with pytest.raises(ValueError, match="shape"):
        c.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="dtype"):
        c.step(np.zeros(4))
    assert all((a == e.positions()).all() for a, e in zip(before, c.envs)) and c.agent_steps == 0
    with pytest.raises(ValueError, match="n_envs"):
        RolloutCollector(BALL2, n_envs=0)
    with pytest.raises(ValueError, match="num_steps"):
        c.collect(_random(0), 0)


def test_collect_episodes_stops_each_copy_at_its_end():
    c = RolloutCollector(JUNGLE, n_envs=3, seed=5)
    tr = c.collect_episodes(_random(1))
    assert len(tr.episodes) == 3 and tr.num_steps == max(e["length"] for e in tr.episodes)
    assert not tr.next_alive.any()
    n = c.agents_per_env
    lengths = sorted(e["length"] for e in tr.episodes)
    live_copy = tr.alive.reshape(tr.num_steps, 3, n).any(axis=2).sum(axis=0)
    assert sorted(live_copy.tolist()) == lengths
    assert tr.agent_steps == sum(lengths) * n


def test_same_seed_same_trajectory_and_continuing_generators():
    def run(seed):
        c = RolloutCollector(JUNGLE, n_envs=2, seed=seed)
        a = c.collect(_random(3), 40)  # crosses episode ends: auto-resets continue each copy's generator
        return a.obs, a.rewards

    (o1, r1), (o2, r2), (o3, _) = run(7), run(7), run(8)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(r1, r2)
    assert not np.array_equal(o1, o3)


def test_graph_batch_offsets_edges_per_copy():
    seen, ref = [], []
    rng = np.random.default_rng(0)

    def policy(obs, alive, graph):
        seen.append(graph)
        ref.append([e.neighbor_graph() for e in c.envs])
        return rng.integers(0, 5, size=alive.shape[0])

    c = RolloutCollector("qmarl/Jungle-100-v0", n_envs=2, seed=0, graph=True)
    tr = c.collect(policy, 4)
    assert tr.positions.shape == (4, 200, 2) and tr.positions.dtype == np.int32 and len(tr.edges) == 4
    for g, (e0, e1) in zip(seen, ref):
        assert g.positions.shape == (200, 2) and g.edges.dtype == np.int64 and g.edges.shape[0] == 2
        assert ((g.edges[0] < 100) == (g.edges[1] < 100)).all()  # no edge crosses copies
        np.testing.assert_array_equal(g.edges[:, g.edges[0] < 100], e0)
        np.testing.assert_array_equal(g.edges[:, g.edges[0] >= 100] - 100, e1)  # copy 1 offset by N
    assert sum(g.edges.shape[1] for g in seen) > 0
    np.testing.assert_array_equal(tr.positions[-1], seen[-1].positions)
