"""Engine kernels against brute-force references on small random states."""

import itertools

import numpy as np
import pytest

from qmarl_envs.core import kernels


def test_move_blocks_walls_and_edges_and_lets_agents_stack():
    blocked = np.zeros((3, 3), bool)
    blocked[1, 1] = True
    pos = np.array([[0, 0], [0, 1], [2, 2], [1, 0], [1, 0]], np.int32)
    act = np.array([0, 1, 3, 3, 1])  # up off-map, down into wall, right off-map, right into wall, down
    new = kernels.move(pos, act, blocked)
    assert new.tolist() == [[0, 0], [0, 1], [2, 2], [1, 0], [2, 0]]
    # two agents may enter the same cell
    new = kernels.move(np.array([[0, 0], [0, 2]], np.int32), np.array([3, 2]), np.zeros((3, 3), bool))
    assert new.tolist() == [[0, 1], [0, 1]]


def test_move_dead_agents_stay_and_bad_actions_raise():
    pos = np.array([[1, 1], [1, 1]], np.int32)
    new = kernels.move(pos, np.array([0, 0]), np.zeros((3, 3), bool), alive=np.array([True, False]))
    assert new.tolist() == [[0, 1], [1, 1]]
    with pytest.raises(ValueError, match="actions"):
        kernels.move(pos, np.array([0, 5]), np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match="actions: expected shape"):
        kernels.move(pos, np.array([0]), np.zeros((3, 3), bool))


def test_occupancy_counts_live_agents():
    pos = np.array([[0, 0], [0, 0], [2, 1], [2, 1]], np.int32)
    occ = kernels.occupancy(pos, (3, 2), alive=np.array([True, True, True, False]))
    expect = np.zeros((3, 2), int)
    expect[0, 0] = 2
    expect[2, 1] = 1
    assert np.array_equal(occ, expect)
    assert kernels.occupancy(pos, (3, 2), pad=1).shape == (5, 4)


def test_local_view_matches_slicing_and_marks_off_map():
    rng = np.random.default_rng(0)
    layers = rng.integers(0, 5, size=(6, 7, 3)).astype(np.float32)
    padded = kernels.pad_layers(layers, 2)
    pos = np.array([[0, 0], [3, 4], [5, 6]], np.int32)
    view = kernels.local_view(padded, pos, 2)
    assert view.shape == (3, 5, 5, 3)
    for k, (r, c) in enumerate(pos):
        for dr, dc in itertools.product(range(-2, 3), repeat=2):
            rr, cc = r + dr, c + dc
            expect = layers[rr, cc] if 0 <= rr < 6 and 0 <= cc < 7 else np.full(3, kernels.OFF_MAP)
            assert np.array_equal(view[k, dr + 2, dc + 2], expect)


def _brute_edges(pos, alive, r):
    out = set()
    for i, j in itertools.permutations(range(len(pos)), 2):
        if alive[i] and alive[j] and np.abs(pos[i] - pos[j]).max() <= r:
            out.add((i, j))
    return out


@pytest.mark.parametrize("radius", [0, 1, 2])
def test_neighbor_edges_equal_brute_force(radius):
    rng = np.random.default_rng(radius)
    pos = rng.integers(0, 8, size=(60, 2)).astype(np.int32)  # dense: many shared cells
    alive = rng.random(60) > 0.2
    edges = kernels.neighbor_edges(pos, (8, 8), radius, alive)
    assert edges.shape[0] == 2 and edges.dtype == np.int64
    got = set(map(tuple, edges.T.tolist()))
    assert len(got) == edges.shape[1]  # no duplicates
    assert got == _brute_edges(pos, alive, radius)


def test_neighbor_edges_rejects_negative_radius():
    with pytest.raises(ValueError, match="radius"):
        kernels.neighbor_edges(np.zeros((1, 2), np.int32), (2, 2), -1)


def test_bfs_distances_go_around_walls():
    passable = np.ones((3, 3), bool)
    passable[0, 1] = passable[1, 1] = False
    src = np.zeros((3, 3), bool)
    src[0, 0] = True
    d = kernels.bfs_distances(passable, src)
    assert d[0, 2] == 6  # down, down, right, right, up, up
    passable[2, 1] = False
    assert kernels.bfs_distances(passable, src)[0, 2] == -1


def test_sample_free_cells_distinct_and_seeded():
    free = np.ones((4, 4), bool)
    free[0] = False
    a = kernels.sample_free_cells(np.random.default_rng(3), free, 12)
    b = kernels.sample_free_cells(np.random.default_rng(3), free, 12)
    assert np.array_equal(a, b)
    assert len({tuple(p) for p in a.tolist()}) == 12 and (a[:, 0] > 0).all()
    with pytest.raises(ValueError, match="13 agents on 12 free cells"):
        kernels.sample_free_cells(np.random.default_rng(0), free, 13)


def test_sample_cells_except_draws_what_choice_over_the_free_list_draws():
    # the fast sampler (ranks mapped to cells by binary search) = rng.choice over flatnonzero(free)
    gen = np.random.default_rng(1)
    for t in range(60):
        h, w = (int(x) for x in gen.integers(1, 25, 2))
        free = gen.random((h, w)) < gen.random()
        n = int(gen.integers(0, free.sum() + 1))
        a, b = np.random.default_rng(t), np.random.default_rng(t)
        got = kernels.sample_cells_except(a, (h, w), n, np.flatnonzero(~free.ravel()))
        flat = np.flatnonzero(free.ravel())
        ref = b.choice(flat, n, replace=False) if n else flat[:0]
        assert got.dtype == np.int32 and got.shape == (n, 2)
        assert np.array_equal(got[:, 0].astype(np.int64) * w + got[:, 1], ref)
        assert a.random() == b.random()                    # the generators advanced alike
        assert np.array_equal(kernels.sample_free_cells(np.random.default_rng(t), free, n), got)


def test_nth_free_skips_the_excluded_cells():
    exclude = np.array([0, 2, 3, 7], dtype=np.int64)
    free = np.setdiff1d(np.arange(12), exclude)
    k = np.array([4, 0, 7, 1, 3])
    assert np.array_equal(kernels.nth_free(k, exclude), free[k])
    assert np.array_equal(kernels.nth_free(k, exclude[:0]), k)
    assert np.array_equal(kernels.nth_free(k, exclude, count=free.size), free[k])


@pytest.mark.parametrize("size,m,k", [(1000, 10, 900), (1000, 500, 400), (50_000, 40_000, 9_000),
                                      (300, 1, 299), (300, 299, 1)])
def test_nth_free_table_and_binary_search_agree(size, m, k):
    rng = np.random.default_rng(size + m)
    exclude = np.sort(rng.choice(size, m, replace=False)).astype(np.int64)
    free = np.setdiff1d(np.arange(size), exclude)
    ranks = rng.choice(free.size, k, replace=False)
    for count in (None, free.size):
        assert np.array_equal(kernels.nth_free(ranks, exclude, count), free[ranks])
