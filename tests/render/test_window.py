"""Human mode under SDL's dummy video driver: the window opens lazily, shows frames with a status
line, pans and zooms on posted key events, and ``close()`` frees it. Also: importing the packages
does not import pygame, and pettingzoo's ``render_test`` passes for every registered id."""

import os
import subprocess
import sys
import warnings

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402
from pettingzoo.test import render_test  # noqa: E402

import qmarl_envs  # noqa: E402
from qmarl_envs.render.window import HumanWindow  # noqa: E402

IDS = qmarl_envs.list_envs()


def _key(key, mod=0):
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=mod, unicode=""))


def test_human_mode_smoke():
    env = qmarl_envs.make("qmarl/BallCollection-5x3-2Agents-v0", render_mode="human")
    env.metadata["render_fps"] = 1000  # nobody watches the dummy display
    assert env._renderer is None  # nothing opened before the first render
    env.reset(seed=0)
    win = env._renderer
    assert isinstance(win, HumanWindow) and pygame.display.get_init()
    surf = pygame.display.get_surface()
    assert surf.get_size() == (640, 384 + HumanWindow.STATUS_PX)  # the 5x3 map at 128 px per cell
    for _ in range(3):
        if env.agents:
            assert env.step({a: 4 for a in env.agents})[0] is not None
    assert env.render() is None
    # the map area shows the frame: the agent's cell has its team colour on screen
    pos = env.grid_state.positions[0]
    screen = pygame.surfarray.array3d(surf).swapaxes(0, 1)
    y, x = pos[0] * 128 + 64, pos[1] * 128 + int(0.2 * 128)
    if env.grid_state.alive[0]:
        assert tuple(screen[y, x]) == tuple(qmarl_envs.render.raster.TEAM_COLOURS[0])
    # the status bar is drawn in its own colour below the map
    assert tuple(screen[384 + 2, 300]) == (30, 31, 36)
    env.close()
    assert env._renderer is None and not pygame.display.get_init()
    env.close()  # twice is fine


def test_window_pans_and_zooms_large_frames():
    win = HumanWindow(title="test", fps=1000, max_size=(300, 200))
    frame = np.zeros((800, 1200, 3), np.uint8)
    frame[:, :, 0] = np.arange(1200) % 256  # x coordinate in the red channel
    frame[:, :, 1] = np.arange(800)[:, None] % 256  # y in green
    win.show(frame, "status")
    fit = win.scale
    assert fit == pytest.approx(0.25)  # the whole frame fits: 1200 x 800 in 300 x 200
    _key(pygame.K_PLUS)
    win.show(frame, "status")
    assert win.scale == 0.5
    _key(pygame.K_EQUALS, pygame.KMOD_SHIFT)
    _key(pygame.K_KP_PLUS)
    win.show(frame, "status")
    assert win.scale == 2.0
    x0, y0, x1, y1 = win.visible()
    assert (x1 - x0, y1 - y0) == (150, 100)  # 300 x 200 screen pixels at 2x
    _key(pygame.K_RIGHT)
    _key(pygame.K_DOWN)
    win.show(frame, "status")
    nx0, ny0, _, _ = win.visible()
    assert nx0 > x0 and ny0 > y0  # panned right and down
    screen = pygame.surfarray.array3d(pygame.display.get_surface()).swapaxes(0, 1)
    assert screen[0, 0, 0] == int(nx0) % 256 and screen[0, 0, 1] == int(ny0) % 256
    for _ in range(60):  # panning stops at the frame's edge
        _key(pygame.K_RIGHT)
    win.show(frame, "status")
    assert win.visible()[2] == 1200
    _key(pygame.K_MINUS)
    win.show(frame, "status")
    assert win.scale == 1.0
    _key(pygame.K_0)
    _key(pygame.K_p)  # not a window key: queued for the caller
    win.show(frame, "status")
    assert win.scale == pytest.approx(fit)
    assert win.poll() == ["p"]
    win.close()
    assert not pygame.display.get_init()


def test_steering_mode_leaves_arrows_to_the_caller_but_shift_arrows_pan():
    win = HumanWindow(title="test", fps=1000, max_size=(200, 200))
    win.arrows_pan = False
    frame = np.zeros((1000, 1000, 3), np.uint8)
    win.show(frame, "")
    _key(pygame.K_PLUS)
    _key(pygame.K_PLUS)
    win.show(frame, "")
    before = win.visible()
    _key(pygame.K_LEFT)
    _key(pygame.K_UP, pygame.KMOD_SHIFT)
    keys = win.poll()
    assert keys == ["left"]
    assert win.visible()[1] < before[1] and win.visible()[0] == before[0]
    win.close()


def test_bad_window_arguments():
    with pytest.raises(ValueError, match="fps"):
        HumanWindow(fps=0)
    with pytest.raises(ValueError, match="max_size"):
        HumanWindow(max_size=(0, 10))
    win = HumanWindow(fps=1000)
    with pytest.raises(ValueError, match="frame"):
        win.show(np.zeros((4, 4), np.uint8))
    win.close()


def test_imports_do_not_load_pygame():
    code = ("import sys, qmarl_envs, qmarl_agents.cli; "
            "import qmarl_envs.render.raster, qmarl_envs.render.record, qmarl_envs.render.play, "
            "qmarl_envs.render.window, qmarl_envs.render.hud; "
            "env = qmarl_envs.make('qmarl/BallCollection-3x3-v0', render_mode='rgb_array'); env.reset(seed=0); "
            "env.render(); qmarl_agents.cli.build_parser(); "
            "assert 'pygame' not in sys.modules, 'pygame imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def _render_env_fn(env_id):
    def make(render_mode=None):
        env = qmarl_envs.make(env_id, api="aec", render_mode=render_mode)
        env.unwrapped.metadata["render_fps"] = 1000  # no pacing on the dummy display
        return env

    return make


@pytest.mark.parametrize("env_id", IDS)
def test_pettingzoo_render_test(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        render_test(_render_env_fn(env_id))
    assert not pygame.display.get_init()  # close() freed the window
