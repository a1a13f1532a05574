"""The scripted chase rules: ``-v1``'s distance-field chase steps along a shortest path to the
nearest target, around blocked cells, with seeded random tie-breaks; the ``-v0`` ids keep their
dynamics (trajectory digests recorded before the faster code went in)."""

import hashlib

import numpy as np
import pytest

import qmarl_envs
from qmarl_envs.core import kernels
from qmarl_envs.scenarios import battle, common, deception, jungle
from qmarl_envs.scenarios.common import DOWN, LEFT, RIGHT, STAY, UP


def _chase(shape, seeker, targets, walls=None, seed=0):
    g = common.FlatGrid(shape)
    free = np.ones(shape, bool) if walls is None else ~walls
    passable = g.pad_layer(free, False, bool)
    flat = g.flat(np.array([seeker], np.int32))
    act = common.chase_actions(g, flat, g.flat(np.array(targets, np.int32)), np.random.default_rng(seed),
                               passable)
    return int(act[0])


def _path_length(shape, cell, targets, walls=None):
    free = np.ones(shape, bool) if walls is None else ~walls
    src = np.zeros(shape, bool)
    for t in targets:
        src[tuple(t)] = True
    return int(kernels.bfs_distances(free, src)[tuple(cell)])


def _after(cell, act):
    return (cell[0] + int(common.ACTION_ROW[act]), cell[1] + int(common.ACTION_COL[act]))


@pytest.mark.parametrize("seed", range(20))
def test_each_step_brings_the_nearest_target_one_step_closer(seed):
    rng = np.random.default_rng(seed)
    shape = (30, 30)
    targets = [tuple(int(v) for v in rng.integers(0, 30, 2)) for _ in range(int(rng.integers(1, 6)))]
    cell = tuple(int(v) for v in rng.integers(0, 30, 2))
    d = d0 = _path_length(shape, cell, targets)
    for _ in range(2 * d0 + 5):               # walk until a target is reached (near and far range)
        act = _chase(shape, cell, targets, seed=seed)
        if d == 0:
            assert act == STAY
            break
        nxt = _after(cell, act)
        nd = _path_length(shape, nxt, targets)
        if d <= common.FIELD_RADIUS:
            assert nd == d - 1                # exact inside the field
        else:                                 # the block search heads for the nearest 3x3 block
            assert nd <= d + 1
        cell, d = nxt, nd
    assert d == 0


def test_paths_go_around_blocked_cells():
    # within the field radius the path is exact around walls (beyond it the block search, like
    # -v0's, ignores obstacles; Battle has none)
    walls = np.zeros((7, 7), bool)
    walls[3, 3] = True                        # a wall between the seeker and the target
    for seed in range(10):
        cell, target = (3, 2), (3, 4)
        assert _path_length((7, 7), cell, [target], walls) == 4
        for step in range(4):
            act = _chase((7, 7), cell, [target], walls, seed=seed)
            cell = _after(cell, act)
            assert not walls[cell] and _path_length((7, 7), cell, [target], walls) == 3 - step
        assert cell == target
    # at the map edge a seeker never steps off the map
    assert _chase((5, 5), (0, 0), [(0, 3)]) == RIGHT
    assert _chase((5, 5), (4, 4), [(1, 4)]) == UP


def test_ties_are_random_and_seeded():
    # target two cells down and two right: down and right are equally good, up and left never
    picks = [_chase((9, 9), (2, 2), [(4, 4)], seed=s) for s in range(200)]
    assert set(picks) == {DOWN, RIGHT}
    assert 60 < picks.count(DOWN) < 140
    assert picks == [_chase((9, 9), (2, 2), [(4, 4)], seed=s) for s in range(200)]
    # straight line: one best move only
    assert {_chase((9, 9), (2, 2), [(2, 6)], seed=s) for s in range(30)} == {RIGHT}
    assert {_chase((9, 9), (6, 2), [(2, 2)], seed=s) for s in range(30)} == {UP}
    assert {_chase((9, 9), (2, 6), [(2, 0)], seed=s) for s in range(30)} == {LEFT}


def test_no_target_means_stay_and_empty_input_is_fine():
    g = common.FlatGrid((5, 5))
    flat = g.flat(np.array([[1, 1], [3, 3]], np.int32))
    none = np.zeros(0, np.int64)
    rng = np.random.default_rng(0)
    assert common.chase_actions(g, flat, none, rng, g.inside).tolist() == [STAY, STAY]
    assert common.chase_actions(g, none, flat, rng, g.inside).shape == (0,)


def test_distance_field_matches_breadth_first_search():
    rng = np.random.default_rng(0)
    g = common.FlatGrid((25, 31))
    for _ in range(20):
        walls = rng.random((25, 31)) < 0.25
        src = rng.random((25, 31)) < 0.02
        src[0, 0] = True
        field = common.distance_field(g, g.flat(np.argwhere(src)), g.pad_layer(~walls, False, bool), 4)
        ref = kernels.bfs_distances(~walls, src)
        assert np.array_equal(g.unpad(field), np.where((ref < 0) | (ref > 4), 5, ref))


def test_manhattan_distances_equal_breadth_first_search_without_walls():
    rng = np.random.default_rng(1)
    for _ in range(50):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        src = rng.random((h, w)) < rng.random() * 0.1
        assert np.array_equal(kernels.manhattan_distances(src),
                              kernels.bfs_distances(np.ones((h, w), bool), src))


def test_v1_differs_from_v0_only_in_the_chase_and_is_seeded():
    v0, v1 = qmarl_envs.make("qmarl/Battle-100-v0"), qmarl_envs.make("qmarl/Battle-100-v1")
    assert v1.scenario.config.chase == "field" and v0.scenario.config.chase == "rings"
    assert np.array_equal(v0.reset_arrays(seed=4), v1.reset_arrays(seed=4))     # same starts
    acts = np.full(50, STAY)
    outs0 = [v0.step_arrays(acts)[0].copy() for _ in range(5)]
    outs1 = [v1.step_arrays(acts)[0].copy() for _ in range(5)]
    assert any(not np.array_equal(a, b) for a, b in zip(outs0, outs1))          # other blue moves
    twin = qmarl_envs.make("qmarl/Battle-100-v1")
    twin.reset_arrays(seed=4)
    assert all(np.array_equal(twin.step_arrays(acts)[0], o) for o in outs1)
    # self-play has no scripted team: v1 and v0 are the same game
    s0 = qmarl_envs.make("qmarl/Battle-100-v0", opponent=None)
    s1 = qmarl_envs.make("qmarl/Battle-100-v1", opponent=None)
    s0.reset_arrays(seed=1), s1.reset_arrays(seed=1)
    a = np.random.default_rng(0).integers(0, 5, 100)
    assert all(np.array_equal(x, y) for x, y in zip(s0.step_arrays(a), s1.step_arrays(a)))


def test_unknown_chase_is_rejected():
    with pytest.raises(ValueError, match="chase"):
        qmarl_envs.make("qmarl/Battle-v0", chase="teleport")


def test_scripted_blue_closes_in_on_red_in_v1():
    # with red standing still, v1's blue bodies within the field radius all end one step closer
    env = qmarl_envs.make("qmarl/Battle-1k-v1")
    env.reset_arrays(seed=2)
    st, sc = env.grid_state, env.scenario
    n = sc.team_size
    red = st.positions[:n].astype(np.int64)
    src = np.zeros(sc.shape, bool)
    src[red[:, 0], red[:, 1]] = True
    dist = kernels.manhattan_distances(src)
    before = dist[st.positions[n:, 0], st.positions[n:, 1]]
    env.step_arrays(np.full(n, STAY))
    alive = env.grid_state.alive[n:]
    after = dist[env.grid_state.positions[n:, 0], env.grid_state.positions[n:, 1]]
    near = alive & (before >= 1) & (before <= common.FIELD_RADIUS)
    assert near.sum() > 50 and (after[near] == before[near] - 1).all()


# Recorded with the code before the speed work (and before -v1 existed): same seed, same
# observations, rewards, terminations, truncations and positions, for random and scripted actions.
V0_DIGESTS = {
    ("qmarl/Jungle-100-v0", False): "83e3fc0ca5eef797",
    ("qmarl/Jungle-100-v0", True): "da1ba595776c9a80",
    ("qmarl/Battle-v0", False): "d533c389a1a4a322",
    ("qmarl/Battle-v0", True): "565b5a785f32f258",
    ("qmarl/Battle-100-v0", False): "10ee14239b4bb023",
    ("qmarl/Battle-100-v0", True): "b8d3c0d858462cf8",
    ("qmarl/Battle-1k-v0", False): "659691560402c9fa",
    ("qmarl/Battle-1k-v0", True): "7c50b70b2a8687a6",
    ("qmarl/Deception-100-v0", False): "d01c927c536ebf90",
    ("qmarl/Deception-100-v0", True): "8163fc2b49e8a11e",
}
_SCRIPTED = {"jungle": jungle.scripted_actions, "battle": battle.scripted_actions,
             "deception": deception.scripted_actions}


def _digest(env_id: str, seed: int, steps: int, scripted: bool) -> str:
    env = qmarl_envs.make(env_id)
    rng = np.random.default_rng(seed + 1000)
    h = hashlib.sha256()
    env.reset_arrays(seed=seed)
    n = len(env.possible_agents)
    for _ in range(steps):
        if not env.alive_mask().any():
            env.reset_arrays()
        acts = (_SCRIPTED[env.scenario.name](env.scenario, env.grid_state, rng) if scripted
                else rng.integers(0, 5, n))
        for x in (*env.step_arrays(acts), env.grid_state.positions):
            h.update(np.ascontiguousarray(x).tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("key", list(V0_DIGESTS))
def test_v0_dynamics_are_unchanged(key):
    env_id, scripted = key
    assert _digest(env_id, 3, 70, scripted) == V0_DIGESTS[key]


def test_block_search_rings_equal_the_full_distance_transform(monkeypatch):
    # the block search stops its rings once every seeker's block is reached; the actions must be
    # those of the exact transform over the whole block grid (what it falls back to)
    rng = np.random.default_rng(5)
    for trial in range(60):
        h, w = int(rng.integers(1, 70)), int(rng.integers(1, 70))
        g = common.FlatGrid((h, w))
        inside = np.flatnonzero(g.inside)
        targets = rng.choice(inside, 1 + inside.size // int(rng.choice([2, 50, 1000])))
        seekers = rng.choice(inside, int(rng.integers(1, 100)))
        got = []
        for rings in (common._BLOCK_RINGS, 0):
            monkeypatch.setattr(common, "_BLOCK_RINGS", rings)
            got.append(common._coarse_step(g, seekers, targets, np.random.default_rng(trial)))
        assert all(np.array_equal(a, b) for a, b in zip(*got)), trial
