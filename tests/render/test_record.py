"""RecordVideo / VideoWriter: GIF and MP4 written atomically and read back with the right frame count."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import imageio.v2 as iio2  # noqa: E402
import imageio.v3 as iio  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import qmarl_envs  # noqa: E402
from qmarl_envs.render import raster  # noqa: E402
from qmarl_envs.render.record import RecordVideo, VideoWriter  # noqa: E402


def _rollout(env, seed: int) -> int:
    """Play one seeded random episode; returns its number of steps."""
    env.reset(seed=seed)
    for i, a in enumerate(env.possible_agents):
        env.action_space(a).seed(seed + i)
    steps = 0
    while env.agents:
        env.step({a: env.action_space(a).sample() for a in env.agents})
        steps += 1
    return steps


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_gif_has_one_frame_per_reset_and_step(tmp_path):
    path = tmp_path / "jungle.gif"
    env = RecordVideo(qmarl_envs.make("qmarl/Jungle-v0", max_cycles=12), path, fps=10)
    steps = _rollout(env, seed=0) + _rollout(env, seed=1)  # two episodes, one file
    assert not path.exists()  # nothing under the real name until close()
    env.close()
    frames = iio.imread(path, index=None)
    assert frames.shape[0] == steps + 2 == env.writer.frames
    map_h, map_w, _ = raster.render_env(env.unwrapped).shape
    assert frames.shape[1] > map_h and frames.shape[2] == map_w  # map plus the caption strip
    assert iio.immeta(path)["duration"] == 100  # 10 fps
    assert _leftovers(tmp_path) == []


def test_gif_frame_matches_the_rasteriser(tmp_path):
    path = tmp_path / "ball.gif"
    with RecordVideo(qmarl_envs.make("qmarl/BallCollection-3x3-v0"), path, caption=False) as env:
        env.reset(seed=0)
        first = raster.render_env(env.unwrapped)
    frame = iio.imread(path, index=0)[..., :3]
    assert frame.shape == first.shape
    # GIF palettes are lossy: the picture is the same up to small colour errors
    assert np.abs(frame.astype(int) - first).mean() < 3


def test_mp4_frame_count(tmp_path):
    path = tmp_path / "clip.mp4"
    env = RecordVideo(qmarl_envs.make("qmarl/BallCollection-5x3-2Agents-v0", max_cycles=9), path, fps=5)
    steps = _rollout(env, seed=3)
    env.close()
    assert iio2.get_reader(path).count_frames() == steps + 1
    assert _leftovers(tmp_path) == []


def test_exception_inside_the_recording_leaves_no_file(tmp_path):
    path = tmp_path / "broken.gif"
    with pytest.raises(ValueError, match="agent"):
        with RecordVideo(qmarl_envs.make("qmarl/Jungle-v0"), path) as env:
            env.reset(seed=0)
            env.step({"agent_0": 99})
    assert not path.exists() and _leftovers(tmp_path) == []


def test_existing_file_is_replaced_only_on_success(tmp_path):
    path = tmp_path / "keep.gif"
    path.write_bytes(b"old")
    w = VideoWriter(path, fps=5)
    w.append(np.zeros((8, 8, 3), np.uint8))
    assert path.read_bytes() == b"old"
    w.abort()
    assert path.read_bytes() == b"old" and _leftovers(tmp_path) == []
    with VideoWriter(path, fps=5) as w:
        w.append(np.zeros((8, 8, 3), np.uint8))
        w.append(np.full((8, 8, 3), 200, np.uint8))
    assert iio.imread(path, index=None).shape[0] == 2


def test_odd_sized_mp4_frames_are_padded(tmp_path):
    with VideoWriter(tmp_path / "odd.mp4", fps=5) as w:
        for i in range(3):
            w.append(np.full((33, 45, 3), 60 * i, np.uint8))
    r = iio2.get_reader(tmp_path / "odd.mp4")
    assert r.count_frames() == 3 and r.get_data(0).shape == (34, 46, 3)


def test_bad_recording_input(tmp_path):
    with pytest.raises(ValueError, match="path"):
        VideoWriter(tmp_path / "x.avi")
    with pytest.raises(ValueError, match="path"):
        VideoWriter(tmp_path)
    for fps in (0, -1, "5", True):
        with pytest.raises(ValueError, match="fps"):
            VideoWriter(tmp_path / "x.gif", fps=fps)
    w = VideoWriter(tmp_path / "x.gif")
    with pytest.raises(ValueError, match="frame"):
        w.append(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="frame"):
        w.append(np.zeros((8, 8, 3), np.float32))
    w.append(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        w.append(np.zeros((9, 8, 3), np.uint8))
    w.close()
    with pytest.raises(RuntimeError, match="close"):
        w.append(np.zeros((8, 8, 3), np.uint8))
    empty = VideoWriter(tmp_path / "empty.gif")
    with pytest.raises(RuntimeError, match="no frame"):
        empty.close()
    assert not (tmp_path / "empty.gif").exists()
    with pytest.raises(ValueError, match="env"):
        RecordVideo(object(), tmp_path / "y.gif")
