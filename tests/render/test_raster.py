"""Pixel checks of the rasteriser: team colours, food, balls in their owner's colour, hit points,
windows of the map, adaptive cell size, and bad input. Every registered id is drawn."""

import numpy as np
import pytest

import qmarl_envs
from qmarl_envs.core.state import GridState
from qmarl_envs.render import raster
from qmarl_envs.render.raster import FOOD, FLOOR, PIT, TARGET, TEAM_COLOURS, WALL, LANDMARK

IDS = qmarl_envs.list_envs()


def centres(frame: np.ndarray, cell: int) -> np.ndarray:
    """``uint8 (H, W, 3)``: the centre pixel of every cell."""
    return frame[cell // 2::cell, cell // 2::cell]


def body(frame: np.ndarray, cell: int) -> np.ndarray:
    """``uint8 (H, W, 3)``: a pixel of every cell inside an agent's body but clear of a number label
    (left of the centre on cells large enough for labels, the centre otherwise)."""
    col = int(0.2 * cell) if cell >= raster.LABEL_CELL else cell // 2
    return frame[cell // 2::cell, col::cell]


def synthetic(seed: int = 0, shape=(12, 16), m: int = 20) -> GridState:
    """A state with every layer in use: two teams plus an adversary, walls, pits, food, balls,
    landmarks and a target, on distinct cells."""
    rng = np.random.default_rng(seed)
    h, w = shape
    cells = rng.permutation(h * w)
    take = iter(np.split(cells[: m + 30], np.cumsum([m, 6, 4, 8, 4, 4]))[:6])
    pos = np.stack(np.unravel_index(next(take), shape), axis=1).astype(np.int32)
    st = GridState(shape=shape, positions=pos, alive=np.ones(m, bool),
                   team=(np.arange(m) % 3).astype(np.int8), hp=np.full(m, 4, np.int16))
    for name in ("walls", "pits", "food"):
        getattr(st, name).flat[next(take)] = True
    st.balls.flat[next(take)] = np.array([1, 2, 3, 4], np.int16)
    st.landmarks.flat[next(take)] = np.array([0, 1, 2, 3], np.int16)
    st.target = 2
    return st


@pytest.mark.parametrize("cell", [1, 2, 4, 7, 12, 40])
def test_agent_cells_have_their_team_colour(cell):
    st = synthetic()
    styles = st.team.astype(np.int64)
    frame = raster.rasterize(st, styles, cell=cell)
    assert frame.dtype == np.uint8 and frame.shape == (12 * cell, 16 * cell, 3)
    px = body(frame, cell)[st.positions[:, 0], st.positions[:, 1]]
    np.testing.assert_array_equal(px, TEAM_COLOURS[styles])
    if cell >= raster.LABEL_CELL:  # the map has balls: agents carry their number, in white
        tiles = frame.reshape(12, cell, 16, cell, 3)[st.positions[:, 0], :, st.positions[:, 1]]
        assert ((tiles == 255).all(-1).sum(axis=(1, 2)) >= 5).all()
    # the two teams really differ
    assert not np.array_equal(TEAM_COLOURS[0], TEAM_COLOURS[1])


def test_dead_agents_are_not_drawn():
    st = synthetic()
    st.alive[:5] = False
    frame = raster.rasterize(st, st.team, cell=4)
    px = centres(frame, 4)[st.positions[:5, 0], st.positions[:5, 1]]
    np.testing.assert_array_equal(px, np.broadcast_to(FLOOR, px.shape))


@pytest.mark.parametrize("cell", [1, 3, 8, 32])
def test_food_is_drawn_exactly_where_the_state_has_food(cell):
    rng = np.random.default_rng(1)
    st = GridState(shape=(20, 30), positions=np.zeros((0, 2), np.int32), alive=np.zeros(0, bool),
                   team=np.zeros(0, np.int8), hp=np.zeros(0, np.int16))
    st.food[:] = rng.random((20, 30)) < 0.2
    frame = raster.rasterize(st, np.zeros(0, np.int8), cell=cell)
    is_food = (centres(frame, cell) == FOOD).all(axis=-1)
    np.testing.assert_array_equal(is_food, st.food)


@pytest.mark.parametrize("cell", [2, 16, 64])
def test_ball_has_its_owners_colour(cell):
    st = synthetic()
    styles = np.array([0, 1, 2, 3, 4] + [5] * 15, np.int64)
    frame = raster.rasterize(st, styles, cell=cell, labels=False)
    r, c = np.nonzero(st.balls >= 0)
    owner = st.balls[r, c]
    px = centres(frame, cell)[r, c]
    expected = TEAM_COLOURS[styles[owner]]
    if cell < raster.SHAPE_CELL:  # flat tiles: the owner's colour, lightened towards the floor
        expected = np.round((expected.astype(float) * 2 + FLOOR) / 3).astype(np.uint8)
    np.testing.assert_array_equal(px, expected)
    # different owners, different ball colours
    assert len({tuple(p) for p in px}) == len(set(styles[owner].tolist()))


def test_labelled_ball_keeps_owner_colour_and_shows_the_owner_number():
    st = synthetic()
    styles = st.team.astype(np.int64)
    cell = 48
    plain = raster.rasterize(st, styles, cell=cell, labels=False)
    labelled = raster.rasterize(st, styles, cell=cell, labels=True)
    r, c = np.argwhere(st.balls >= 0)[0]
    tile = labelled[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell]
    owner_rgb = TEAM_COLOURS[styles[st.balls[r, c]]]
    assert (tile == owner_rgb).all(-1).sum() > 0.1 * cell * cell  # mostly the owner's colour
    assert (tile == 255).all(-1).sum() > 20  # a white number on it
    assert not np.array_equal(plain, labelled)


def test_static_layers_colours():
    st = synthetic()
    st.alive[:] = False
    cell = 2  # flat tiles: the whole cell has the layer colour
    px = centres(raster.rasterize(st, st.team, cell=cell), cell)
    np.testing.assert_array_equal(px[st.walls], np.broadcast_to(WALL, px[st.walls].shape))
    np.testing.assert_array_equal(px[st.pits], np.broadcast_to(PIT, px[st.pits].shape))
    target = st.landmarks == st.target
    other = (st.landmarks >= 0) & ~target
    np.testing.assert_array_equal(px[target], np.broadcast_to(TARGET, px[target].shape))
    np.testing.assert_array_equal(px[other], np.broadcast_to(LANDMARK, px[other].shape))
    empty = ~(st.walls | st.pits | st.food | (st.balls >= 0) | (st.landmarks >= 0))
    np.testing.assert_array_equal(px[empty], np.broadcast_to(FLOOR, px[empty].shape))


def test_hp_cue_shade_on_small_cells_and_bar_on_large_cells():
    st = synthetic()
    styles = st.team.astype(np.int64)
    hp = np.ones(st.num_entities, np.float32)
    hp[0] = 0.3
    r, c = st.positions[0]
    small = centres(raster.rasterize(st, styles, hp, cell=4), 4)[r, c].astype(int)
    assert (small < TEAM_COLOURS[styles[0]]).all()  # darker when hurt
    cell = 40
    full = raster.rasterize(st, styles, cell=cell)
    hurt = raster.rasterize(st, styles, hp, cell=cell)
    tile_full = full[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell]
    tile_hurt = hurt[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell]
    changed = np.argwhere((tile_full != tile_hurt).any(-1))
    assert changed.size and changed[:, 0].max() < cell // 3  # a bar along the top only
    np.testing.assert_array_equal(tile_hurt[cell // 2, int(0.2 * cell)], TEAM_COLOURS[styles[0]])
    # the bar's filled part grows with hit points
    hp2 = hp.copy()
    hp2[0] = 0.8
    tile_more = raster.rasterize(st, styles, hp2, cell=cell)[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell]
    bar_row = changed[0, 0] + 1
    dark = np.all(tile_hurt[bar_row] < 60, axis=-1).sum()
    assert np.all(tile_more[bar_row] < 60, axis=-1).sum() < dark
    # others untouched
    np.testing.assert_array_equal(np.delete(full, slice(r * cell, (r + 1) * cell), axis=0),
                                  np.delete(hurt, slice(r * cell, (r + 1) * cell), axis=0))


def test_highlight_draws_a_dark_halo():
    st = synthetic()
    cell = 32
    plain = raster.rasterize(st, st.team, cell=cell)
    hl = raster.rasterize(st, st.team, cell=cell, highlight=[3])
    r, c = st.positions[3]
    diff = (plain != hl).any(-1)
    rows, cols = np.nonzero(diff)
    assert rows.size and rows.min() >= r * cell and rows.max() < (r + 1) * cell
    assert cols.min() >= c * cell and cols.max() < (c + 1) * cell
    np.testing.assert_array_equal(hl[r * cell + cell // 2, c * cell + int(0.2 * cell)], TEAM_COLOURS[st.team[3]])


@pytest.mark.parametrize("cell", [2, 9, 30])
def test_view_is_exactly_a_window_of_the_full_frame(cell):
    st = synthetic(seed=4)
    full = raster.rasterize(st, st.team, cell=cell, labels=False)
    r0, r1, c0, c1 = 3, 10, 5, 13
    part = raster.rasterize(st, st.team, cell=cell, view=(r0, r1, c0, c1), labels=False)
    np.testing.assert_array_equal(part, full[r0 * cell:r1 * cell, c0 * cell:c1 * cell])


def test_cell_size_adapts_to_the_map():
    assert raster.cell_size((3, 3)) == 128
    assert raster.cell_size((3, 5)) == 128
    assert raster.cell_size((100, 100)) == 8
    assert raster.cell_size((500, 500)) == 2
    assert raster.cell_size((5000, 10)) == 2
    env = qmarl_envs.make("qmarl/BallCollection-3x3-v0", render_mode="rgb_array")
    env.reset(seed=0)
    assert env.render().shape == (384, 384, 3)


@pytest.mark.parametrize("env_id", IDS)
def test_every_id_draws_each_live_agent_in_a_colour_of_its_cell(env_id):
    env = qmarl_envs.make(env_id, render_mode="rgb_array")
    env.reset(seed=3)
    rng = np.random.default_rng(3)
    for _ in range(2):
        if env.agents:
            env.step(dict(zip(env.agents, rng.integers(0, 5, size=len(env.agents)).tolist())))
    frame = env.render()
    st, sc = env.grid_state, env.scenario
    cell = raster.cell_size(st.shape)
    assert frame.dtype == np.uint8 and frame.shape == (st.shape[0] * cell, st.shape[1] * cell, 3)
    styles = sc.entity_styles(st).astype(np.int64)
    hp = sc.hp_fraction(st)
    live = np.flatnonzero(st.alive)
    flat = st.positions[:, 0] * st.shape[1] + st.positions[:, 1]
    alone = live[np.bincount(flat[live], minlength=st.shape[0] * st.shape[1])[flat[live]] == 1]
    # damage darkens agents on small cells; from BAR_CELL it shows as a bar and the body keeps its colour
    shown = alone if cell >= raster.BAR_CELL else alone[hp[alone] >= 1.0]
    assert shown.size, "no live, undamaged entity alone on its cell to check"
    px = body(frame, cell)[st.positions[shown, 0], st.positions[shown, 1]]
    np.testing.assert_array_equal(px, TEAM_COLOURS[styles[shown] % len(TEAM_COLOURS)])
    # a cell shared by several entities shows one of them (no blend of colours)
    shared = np.setdiff1d(live, alone)
    if shared.size and cell >= raster.BAR_CELL:
        px = body(frame, cell)[st.positions[shared, 0], st.positions[shared, 1]]
        for rgb, f in zip(px[:200], flat[shared][:200]):
            here = live[flat[live] == f]
            assert any((rgb == TEAM_COLOURS[styles[e] % len(TEAM_COLOURS)]).all() for e in here), env_id
    env.close()


def test_bad_input_is_rejected_with_the_argument_named():
    st = synthetic()
    with pytest.raises(ValueError, match="styles"):
        raster.rasterize(st, np.zeros(3, np.int8))
    with pytest.raises(ValueError, match="hp"):
        raster.rasterize(st, st.team, np.ones(2))
    for bad in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match="cell"):
            raster.rasterize(st, st.team, cell=bad)
    for view in ((0, 13, 0, 4), (5, 5, 0, 4), (-1, 3, 0, 4)):
        with pytest.raises(ValueError, match="view"):
            raster.rasterize(st, st.team, view=view)
    with pytest.raises(ValueError, match="highlight"):
        raster.rasterize(st, st.team, highlight=[st.num_entities])
    with pytest.raises(ValueError, match="shape"):
        raster.cell_size((0, 4))
    env = qmarl_envs.make("qmarl/BallCollection-3x3-2Agents-v0", render_mode="rgb_array")
    with pytest.raises(RuntimeError, match="reset"):
        raster.render_env(env)
    with pytest.raises(ValueError, match="agent_7"):
        raster.agent_entity(env, "agent_7")


def test_ten_thousand_agents_draw_fast():
    """No per-agent Python loop: a 500x500 map with 10,000 agents draws well under a second."""
    import time

    rng = np.random.default_rng(0)
    m = 10_000
    pos = np.stack(np.unravel_index(rng.choice(250_000, m, replace=False), (500, 500)), 1).astype(np.int32)
    st = GridState(shape=(500, 500), positions=pos, alive=np.ones(m, bool),
                   team=(np.arange(m) % 2).astype(np.int8), hp=np.ones(m, np.int16))
    st.food.flat[rng.choice(250_000, 2500, replace=False)] = True
    hp = rng.random(m).astype(np.float32)
    raster.rasterize(st, st.team, hp)
    t = time.perf_counter()
    frame = raster.rasterize(st, st.team, hp)
    assert time.perf_counter() - t < 1.0
    assert frame.shape == (1000, 1000, 3)
