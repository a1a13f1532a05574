"""The flat-grid helpers of the step: narrow-integer observation tables give exactly the float32
windows, moves and position updates match their plain definitions, and the cell memo notices
changed positions."""

import numpy as np
import pytest

from qmarl_envs.core import kernels
from qmarl_envs.scenarios import common


@pytest.mark.parametrize("n, expected", [(0, np.int8), (127, np.int8), (128, np.int16),
                                         (32_767, np.int16), (32_768, np.int32)])
def test_count_dtype_is_the_narrowest_that_holds_n(n, expected):
    assert common.count_dtype(n) == np.dtype(expected)


@pytest.mark.parametrize("bad", [-1, 2**31])
def test_count_dtype_rejects_counts_out_of_range(bad):
    with pytest.raises(ValueError, match="n: expected a count"):
        common.count_dtype(bad)


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
def test_integer_table_gathers_the_float32_windows(dtype):
    rng = np.random.default_rng(0)
    g = common.FlatGrid((23, 17))
    food = rng.random((23, 17)) < 0.1
    tables = [common.WindowTable(g, [food], dynamic=1, dtype=dt) for dt in (np.float32, dtype)]
    for _ in range(5):
        bodies = g.flat(rng.integers(0, [23, 17], size=(60, 2)))   # stacked bodies included
        for t in tables:
            t.set_bodies([bodies])
        ref, win = tables[0].gather(bodies), tables[1].windows(bodies)
        assert win.dtype == np.dtype(dtype) and ref.dtype == np.float32
        np.testing.assert_array_equal(tables[1].gather(bodies), ref)
        assert ref.min() == kernels.OFF_MAP and ref[..., 1].max() >= 1
        gone = bodies[:7]
        for t, w in ((tables[0], ref), (tables[1], win)):
            t.remove(gone, 0)
            t.refresh(w, bodies, gone)
        np.testing.assert_array_equal(common.as_float32(win), ref)
        np.testing.assert_array_equal(ref, tables[0].gather(bodies))   # refresh == a new gather


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.float32])
def test_box_sums_are_the_window_sums(dtype):
    rng = np.random.default_rng(2)
    g = common.FlatGrid((11, 14))
    table = common.WindowTable(g, [rng.random((11, 14)) < 0.2], dynamic=2, dtype=dtype)
    cells = g.flat(np.argwhere(np.ones((11, 14), dtype=bool)))     # every map cell
    for _ in range(3):
        table.set_bodies([g.flat(rng.integers(0, [11, 14], size=(m, 2))) for m in (40, 9)])
        want = table.windows(cells).sum(axis=(1, 2), dtype=np.int64)
        np.testing.assert_array_equal(table.box_sums()[cells], want)


def test_move_flat_and_moved_positions_match_their_definitions():
    rng = np.random.default_rng(1)
    g = common.FlatGrid((9, 13))
    blocked = ~g.inside
    blocked[g.flat(rng.integers(0, [9, 13], size=(20, 2)))] = True
    pos = rng.integers(0, [9, 13], size=(300, 2)).astype(np.int32)
    flat = g.flat(pos)
    acts = rng.integers(0, 5, 300)
    movable = rng.random(300) < 0.8
    for mask in (None, movable):
        target = flat + g.action_delta[acts]
        ok = ~blocked[target] if mask is None else ~blocked[target] & mask
        after = common.move_flat(g, flat, acts, blocked, mask)
        np.testing.assert_array_equal(after, np.where(ok, target, flat))
        moved = g.moved_positions(pos, flat, after)
        assert moved.dtype == np.int32
        np.testing.assert_array_equal(moved, g.positions(after))
    assert (common.move_flat(g, flat, acts, blocked) != flat).any()


def test_cell_memo_returns_fresh_cells_for_changed_positions():
    g = common.FlatGrid((8, 8))
    memo = common.CellMemo(g)
    pos = np.array([[0, 0], [3, 4], [7, 7]], dtype=np.int32)
    flat = g.flat(pos)
    memo.keep(pos, flat)
    assert memo.flat(pos) is flat
    pos[1] = [5, 5]                      # changed in place after keep(): noticed by value
    np.testing.assert_array_equal(memo.flat(pos), g.flat(pos))
    assert memo.flat(pos) is not flat
    after = common.move_flat(g, g.flat(pos), np.array([1, 3, 4]), ~g.inside)
    moved = memo.moved(pos, g.flat(pos), after)       # the new cells, kept for the next flat()
    np.testing.assert_array_equal(moved, g.positions(after))
    assert memo.flat(moved) is after
