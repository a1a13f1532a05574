"""Resets: the fast spacing sampler draws exactly what the plain repair sampler draws, and reused
per-episode tables give the same observations as fresh ones (so the ids keep their -v0)."""

import numpy as np
import pytest

import qmarl_envs
from qmarl_envs.core import kernels
from qmarl_envs.scenarios import common


def _reference_spaced_cells(rng, free, n, spacing, rounds=64, restarts=32):
    """The plain algorithm: every cell checked every round, the exclusion map rebuilt each round."""
    h, w = free.shape
    for s in range(max(int(spacing), 1), 1, -1):
        r = s - 1
        d = np.arange(-r, r + 1)
        rr, cc = np.meshgrid(d, d, indexing="ij")
        ring = (np.abs(rr) + np.abs(cc) <= r) & ((rr != 0) | (cc != 0))
        g = common.FlatGrid((h, w), pad=r)
        offs = (rr[ring] * g.wp + cc[ring]).astype(np.int64)
        free_p = g.pad_layer(free, False, bool)
        for _ in range(restarts):
            cells = g.flat(kernels.sample_free_cells(rng, free, n))
            for _ in range(rounds):
                owner = np.full(g.size, n, dtype=np.int64)
                owner[cells] = np.arange(n)
                bad = owner[cells[:, None] + offs[None, :]].min(axis=1) < np.arange(n)
                if not bad.any():
                    return g.positions(cells), s
                blocked = ~free_p.copy()
                blocked[(cells[~bad][:, None] + np.append(offs, 0)[None, :]).ravel()] = True
                allowed = np.flatnonzero(~blocked)
                if allowed.size < int(bad.sum()):
                    break
                cells = cells.copy()
                cells[bad] = rng.choice(allowed, size=int(bad.sum()), replace=False)
    return kernels.sample_free_cells(rng, free, n), 1


@pytest.mark.parametrize("side,n,spacing,free_share", [(160, 1000, 4, 0.99), (5, 8, 4, 0.9),
                                                        (40, 150, 6, 0.7), (60, 400, 3, 0.5)])
def test_spaced_cells_draws_what_the_plain_sampler_draws(side, n, spacing, free_share):
    for seed in range(3):
        free = np.random.default_rng(100 + seed).random((side, side)) < free_share
        r1, r2 = np.random.default_rng(seed), np.random.default_rng(seed)
        got, s_got = common.spaced_cells(r1, free, n, spacing)
        ref, s_ref = _reference_spaced_cells(r2, free, n, spacing)
        assert s_got == s_ref and np.array_equal(got, ref)
        assert r1.random() == r2.random()          # the generators advanced alike
        p = got.astype(np.int64)
        dist = np.abs(p[:, None, :] - p[None, :, :]).sum(-1) + np.eye(n, dtype=np.int64) * 10**6
        assert dist.min() >= s_got and free[p[:, 0], p[:, 1]].all()


@pytest.mark.parametrize("env_id", ["qmarl/Jungle-1k-v0", "qmarl/Deception-1k-v0", "qmarl/Battle-1k-v0"])
def test_an_env_that_reset_before_matches_a_fresh_one(env_id):
    used, fresh = qmarl_envs.make(env_id), qmarl_envs.make(env_id)
    n = len(used.possible_agents)
    rng = np.random.default_rng(0)
    for seed in (11, 12):                 # episodes whose tables the next reset takes over
        used.reset_arrays(seed=seed)
        for _ in range(3):
            used.step_arrays(rng.integers(0, 5, n))
    a, b = used.reset_arrays(seed=5), fresh.reset_arrays(seed=5)
    assert np.array_equal(a, b) and np.array_equal(used.state(), fresh.state())
    for _ in range(4):
        acts = rng.integers(0, 5, n)
        out_a, out_b = used.step_arrays(acts), fresh.step_arrays(acts.copy())
        assert all(np.array_equal(x, y) for x, y in zip(out_a, out_b))


def test_unused_layers_are_shared_and_read_only():
    env = qmarl_envs.make("qmarl/Battle-100-v0")
    env.reset_arrays(seed=0)
    first = env.grid_state.walls
    env.reset_arrays(seed=1)
    assert env.grid_state.walls is first and not first.flags.writeable and not first.any()
    with pytest.raises(ValueError):
        first[0, 0] = True
    assert env.grid_state.copy().walls.flags.writeable            # copies are the caller's own
    with pytest.raises(ValueError, match="names"):
        from qmarl_envs.core.state import blank_layers
        blank_layers((3, 3), "lava")


def test_open_cell_ranks_match_flatnonzero():
    rng = np.random.default_rng(0)
    for share in (0.0, 0.3, 0.9, 0.999, 1.0):
        buf = rng.random(64 * 37) < share
        ref = np.flatnonzero(~buf)
        cells = common._OpenCells(buf)
        assert cells.count == ref.size
        assert np.array_equal(cells.select(np.arange(ref.size)), ref)
        if ref.size:
            k = rng.choice(ref.size, min(5, ref.size), replace=False)     # few ranks: binary search
            assert np.array_equal(cells.select(k), ref[k])
