"""``qmarl play``: keyboard control driven by posted pygame events, pause/step/restart/quit keys,
episode summaries, headless recording, policy resolution and bad input."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import imageio.v3 as iio  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

import qmarl_agents  # noqa: E402
import qmarl_envs  # noqa: E402
from qmarl_agents.cli import main  # noqa: E402
from qmarl_envs.render import play as play_mod  # noqa: E402
from qmarl_envs.render.play import PlaySession, UniformRandomPolicy, play  # noqa: E402
from qmarl_envs.render.window import HumanWindow  # noqa: E402

TWO = "qmarl/BallCollection-5x3-2Agents-v0"


def _press(*keys):
    for k in keys:
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, unicode=""))


@pytest.fixture
def window():
    win = HumanWindow(title="test", fps=1000, max_size=(640, 480))
    yield win
    win.close()


class StayPolicy:
    """Every agent stays (so only the human's agent moves)."""

    def __init__(self):
        self.calls = []

    def act(self, observations, *, deterministic=True):
        self.calls.append(sorted(observations))
        return {a: 4 for a in observations}


def test_human_agent_moves_as_the_keys_say(window):
    env = qmarl_envs.make(TWO, render_mode="rgb_array")
    policy = StayPolicy()
    session = PlaySession(env, policy, human="agent_0", window=window, seed=5)
    assert session.tick(now=0.0)
    assert env.grid_state.step == 0  # the world waits for the human's move
    h, w = env.grid_state.shape
    moves = []
    for _ in range(4):  # seed 5: agent_0 does not reach its ball in these moves
        r, c = (int(v) for v in env.grid_state.positions[0])
        key, delta = ((pygame.K_RIGHT, (0, 1)) if c < w - 1 else (pygame.K_LEFT, (0, -1)))
        if len(moves) % 2:
            key, delta = ((pygame.K_DOWN, (1, 0)) if r < h - 1 else (pygame.K_UP, (-1, 0)))
        step = env.grid_state.step
        _press(key)
        assert session.tick(now=0.0)
        assert env.grid_state.step == step + 1
        assert tuple(env.grid_state.positions[0]) == (r + delta[0], c + delta[1])
        moves.append(key)
    assert "agent_0" in env.agents and len(set(moves)) >= 2
    # the policy acted for everyone but the human's agent
    assert policy.calls and all("agent_0" not in call for call in policy.calls)
    pos = tuple(env.grid_state.positions[0])
    step = env.grid_state.step
    _press(pygame.K_SPACE)  # space: stay
    session.tick(now=0.0)
    assert env.grid_state.step == step + 1 and tuple(env.grid_state.positions[0]) == pos
    # the steered agent is drawn with its dark halo on screen (the 5x3 map at 128 px per cell)
    session.draw()
    screen = pygame.surfarray.array3d(pygame.display.get_surface()).swapaxes(0, 1)
    r, c = env.grid_state.positions[0]
    assert tuple(screen[r * 128 + 64, c * 128 + 64 - 54]) == tuple(qmarl_envs.render.raster.HIGHLIGHT)
    r1, c1 = env.grid_state.positions[1]
    assert tuple(screen[r1 * 128 + 64, c1 * 128 + 64 - 54]) != tuple(qmarl_envs.render.raster.HIGHLIGHT)
    session.close()


def test_pause_step_restart_and_quit_keys(window):
    env = qmarl_envs.make("qmarl/Jungle-v0", render_mode="rgb_array")
    session = PlaySession(env, UniformRandomPolicy(0), window=window, seed=0, fps=1.0)
    assert session.tick(now=100.0) and env.grid_state.step == 1  # due: steps
    assert session.tick(now=100.5) and env.grid_state.step == 1  # not due yet at 1 step/s
    _press(pygame.K_p)
    assert session.tick(now=200.0) and session.paused and env.grid_state.step == 1
    _press(pygame.K_n)
    assert session.tick(now=200.0) and env.grid_state.step == 2 and session.paused
    assert session.tick(now=300.0) and env.grid_state.step == 2
    _press(pygame.K_r)
    assert session.tick(now=300.0) and env.grid_state.step == 0
    _press(pygame.K_p)
    assert session.tick(now=400.0) and not session.paused and env.grid_state.step == 1
    _press(pygame.K_q)
    assert session.tick(now=500.0) is False and session.finished
    session.close()
    assert not pygame.display.get_init()


def test_episode_summaries_are_printed_and_recorded_headless(tmp_path):
    lines = []
    out = tmp_path / "roll.gif"
    summaries = play("qmarl/Jungle-v0", record=str(out), seed=2, episodes=2, max_steps=6, print_fn=lines.append)
    assert not pygame.display.get_init()  # recording without --human is headless
    assert len(summaries) == 2 and all("score" in s for s in summaries)
    assert [ln.split(":")[0] for ln in lines if ln.startswith("episode")] == ["episode 1/2", "episode 2/2"]
    assert "score" in lines[0] and "length" in lines[0]
    frames = iio.imread(out, index=None)
    assert frames.shape[0] == sum(s["length"] + 1 for s in summaries)  # reset + every step
    assert lines[-1].startswith(f"wrote {out}")


def test_cli_play_records_mp4_and_prints_the_summary(tmp_path, capsys):
    out = tmp_path / "sub" / "roll.mp4"
    assert main(["play", TWO, "--record", str(out), "--max-steps", "5", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert "episode 1/1:" in printed and "score" in printed
    import imageio.v2 as iio2

    length = int(printed.split("length ")[1].split()[0])
    assert iio2.get_reader(out).count_frames() == length + 1
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp file left


def test_unknown_human_agent_is_a_clear_error(capsys):
    with pytest.raises(ValueError, match=r"human: unknown agent 'agent_9'.*agent_0, agent_1"):
        play(TWO, human="agent_9")
    assert main(["play", TWO, "--human", "nobody"]) == 2
    err = capsys.readouterr().err
    assert "human" in err and "nobody" in err
    assert not pygame.display.get_init()


@pytest.mark.parametrize("kwargs, match", [
    ({"human": "agent_0", "headless": True}, "human"),
    ({"record": "out.avi"}, "record"),
    ({"episodes": 0}, "episodes"),
    ({"max_steps": 0}, "max_steps"),
    ({"seed": -1}, "seed"),
    ({"fps": 0}, "fps"),
    ({"policy": ""}, "policy"),
])
def test_bad_play_arguments(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        play(TWO, **kwargs)
    assert not list(tmp_path.iterdir())


def test_unknown_env_id_names_close_ids():
    with pytest.raises(ValueError, match="BallCollection"):
        play("qmarl/BallColection-3x3-v0")


def test_real_policy_resolver_comes_first(monkeypatch):
    env = qmarl_envs.make(TWO)
    seen = {}

    def resolver(spec, env_):
        seen["args"] = (spec, env_)
        return StayPolicy()

    monkeypatch.setattr(qmarl_agents, "resolve_policy", resolver, raising=False)
    pol = play_mod.resolve_policy("scripted", env)
    assert isinstance(pol, StayPolicy) and seen["args"] == ("scripted", env)

    def seeded(spec, env_, *, seed=0):
        seen["seed"] = seed
        return StayPolicy()

    monkeypatch.setattr(qmarl_agents, "resolve_policy", seeded, raising=False)
    play_mod.resolve_policy("random", env, seed=7)
    assert seen["seed"] == 7
    monkeypatch.setattr(qmarl_agents, "resolve_policy", lambda s, e: object(), raising=False)
    with pytest.raises(ValueError, match="act"):
        play_mod.resolve_policy("random", env)


def test_play_runs_the_agents_packages_policies(tmp_path):
    if getattr(qmarl_agents, "resolve_policy", None) is None:
        pytest.skip("qmarl_agents.resolve_policy is not available")
    for spec in ("random", "scripted"):
        out = tmp_path / f"{spec}.gif"
        summaries = play("qmarl/Jungle-v0", policy=spec, record=str(out), max_steps=4, print_fn=lambda s: None)
        assert len(summaries) == 1 and out.exists()


def test_fallback_random_policy_when_the_resolver_is_missing(monkeypatch):
    monkeypatch.delattr(qmarl_agents, "resolve_policy", raising=False)
    env = qmarl_envs.make(TWO)
    pol = play_mod.resolve_policy("random", env, seed=4)
    assert isinstance(pol, UniformRandomPolicy)
    with pytest.raises(ValueError, match="resolve_policy"):
        play_mod.resolve_policy("scripted", env)
    obs = {f"agent_{i}": None for i in range(2000)}
    a = pol.act(obs)
    b = UniformRandomPolicy(4).act(obs)
    assert a == b and set(a) == set(obs)
    assert set(a.values()) == {0, 1, 2, 3, 4}
    assert UniformRandomPolicy(5).act(obs) != a


def test_zoomed_scene_is_redrawn_sharp_at_the_new_cell_size(window):
    env = qmarl_envs.make("qmarl/Jungle-1k-v0", render_mode="rgb_array")
    session = PlaySession(env, UniformRandomPolicy(0), window=window, seed=0)
    session.paused = True
    session.tick(now=0.0)
    fit = window.scale
    assert fit < 5  # a 159 x 159 map fitted into 640 x 480
    _press(*[pygame.K_PLUS] * 3)
    session.tick(now=0.0)
    assert window.scale > fit and float(window.scale).is_integer()
    scale = int(window.scale)
    x0, y0, x1, y1 = window.visible()
    vw, vh = window.view_size
    assert (x1 - x0) * scale == pytest.approx(vw) and (y1 - y0) * scale == pytest.approx(vh)
    # every live agent in view is drawn in its team colour at its place on screen
    screen = pygame.surfarray.array3d(pygame.display.get_surface()).swapaxes(0, 1)
    st = env.grid_state
    hp = env.scenario.hp_fraction(st)
    rows, cols = st.positions[:, 0], st.positions[:, 1]
    seen = np.flatnonzero(st.alive & (hp == 1) & (cols >= np.ceil(x0)) & (cols + 1 <= np.floor(x1))
                          & (rows >= np.ceil(y0)) & (rows + 1 <= np.floor(y1)))
    assert seen.size > 3
    sx = np.floor((cols[seen] + 0.5 - x0) * scale).astype(int)
    sy = np.floor((rows[seen] + 0.5 - y0) * scale).astype(int)
    styles = env.scenario.entity_styles(st)[seen]
    np.testing.assert_array_equal(screen[sy, sx], qmarl_envs.render.raster.TEAM_COLOURS[styles])
    # redrawn at the zoomed cell size, not blown-up pixels: the grid lines of large cells are there
    assert scale >= qmarl_envs.render.raster.SHAPE_CELL
    assert (screen == qmarl_envs.render.raster.GRID).all(-1).sum() > 2 * vw
    session.close()


def test_steering_on_a_big_map_starts_zoomed_in_around_the_agent(window):
    env = qmarl_envs.make("qmarl/Jungle-1k-v0", render_mode="rgb_array")
    session = PlaySession(env, StayPolicy(), human="agent_7", window=window, seed=0)
    session.tick(now=0.0)
    assert window.scale == 24 and not window.arrows_pan
    r, c = env.grid_state.positions[7]
    x0, y0, x1, y1 = window.visible()
    assert x0 <= c < x1 and y0 <= r < y1
    _press(pygame.K_UP)  # steers the agent; the camera follows
    session.tick(now=0.0)
    assert env.grid_state.step == 1
    r2, c2 = env.grid_state.positions[7]
    x0, y0, x1, y1 = window.visible()
    assert x0 <= c2 < x1 and y0 <= r2 < y1
    _press(pygame.K_RIGHT)
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RIGHT, mod=pygame.KMOD_SHIFT, unicode=""))
    session.tick(now=0.0)
    assert env.grid_state.step == 2 and window.visible()[0] > x0  # right steered, Shift+right panned
    session.close()
