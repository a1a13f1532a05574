"""Checkpoints: round trip, mismatch errors, atomic writes, and no code execution on load."""

import hashlib
import json
import os
import pickle

import numpy as np
import pytest

import qmarl_envs
from qmarl_agents import load_agent, load_policy, make_agent, resolve_policy
from qmarl_agents.checkpoint import CONFIG_FILE, WEIGHTS_FILE, atomic_write_bytes, load_checkpoint, save_checkpoint

BALL1 = "qmarl/BallCollection-3x3-v0"
BALL2 = "qmarl/BallCollection-3x3-2Agents-v0"


@pytest.fixture(scope="module")
def ppo_dir(tmp_path_factory):
    agent = make_agent("ppo", env_id=BALL2, seed=0, n_envs=2, n_steps=32, batch_size=64, net_arch=[32, 16])
    agent.learn(128)
    path = tmp_path_factory.mktemp("ckpt") / "ppo"
    agent.save(str(path))
    return path, agent


def _obs(n=64, seed=0):
    return np.random.default_rng(seed).integers(0, 2, size=(n, 3, 3, 2)).astype(np.float32)


def test_round_trip_gives_the_same_actions(ppo_dir):
    path, agent = ppo_dir
    policy = load_policy(path)
    obs = _obs()
    assert np.array_equal(policy.act_batch(obs), agent.act_batch(obs))
    assert policy.env_id == BALL2 and policy.name == "ppo"
    env = qmarl_envs.make(BALL2)
    o, _ = env.reset(seed=0)
    assert policy.act(o) == agent.act(o)
    assert resolve_policy(str(path), env).act(o) == agent.act(o)


@pytest.mark.parametrize("algo", ["a2c", "dqn"])
def test_round_trip_other_algorithms(tmp_path, algo):
    agent = make_agent(algo, env_id=BALL1, seed=0, n_envs=1)
    agent.save(str(tmp_path / algo))
    policy = load_policy(tmp_path / algo)
    obs = _obs()
    assert np.array_equal(policy.act_batch(obs), agent.act_batch(obs))


@pytest.mark.parametrize("name", ["random", "scripted"])
def test_round_trip_baselines(tmp_path, name):
    make_agent(name, env_id=BALL2, seed=4).save(str(tmp_path / name))
    env = qmarl_envs.make(BALL2)
    policy = load_policy(tmp_path / name, env)
    assert policy.name == name and policy.seed == 4
    o, _ = env.reset(seed=0)
    assert set(policy.act(o)) == set(o)
    if name == "scripted":
        with pytest.raises(RuntimeError, match="bind"):
            load_policy(tmp_path / name).act(o)


def test_resume_restores_weights_optimizer_and_steps(ppo_dir):
    path, agent = ppo_dir
    again = load_agent(path)
    assert again.agent_steps == agent.agent_steps
    for (k, a), (_, b) in zip(agent.model.policy.state_dict().items(), again.model.policy.state_dict().items()):
        assert np.array_equal(a.numpy(), b.numpy()), k
    s1 = agent.model.policy.optimizer.state_dict()["state"]
    s2 = again.model.policy.optimizer.state_dict()["state"]
    assert s1.keys() == s2.keys() and len(s1) > 0
    assert all(np.array_equal(s1[i]["exp_avg"].numpy(), s2[i]["exp_avg"].numpy()) for i in s1)
    again.learn(again.agent_steps + 64)
    assert again.agent_steps > agent.agent_steps


def test_env_mismatch_is_a_clear_error(ppo_dir):
    path, _ = ppo_dir
    with pytest.raises(ValueError, match="made for env 'qmarl/BallCollection-3x3-2Agents-v0', not"):
        load_policy(path, qmarl_envs.make(BALL1))
    with pytest.raises(ValueError, match="made for env"):
        load_policy(path, env_id="qmarl/BallCollection-5x3-2Agents-v0")


def _edit_config(path, edit):
    cfg = json.loads((path / CONFIG_FILE).read_text())
    edit(cfg)
    (path / CONFIG_FILE).write_text(json.dumps(cfg))


def _copy(src, dst):
    dst.mkdir()
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_architecture_mismatch_is_a_clear_error(ppo_dir, tmp_path):
    path, _ = ppo_dir
    bad = _copy(path, tmp_path / "bad")
    _edit_config(bad, lambda c: c["algo_config"].__setitem__("net_arch", [64, 64]))
    with pytest.raises(ValueError, match="do not match the architecture"):
        load_policy(bad)
    bad2 = _copy(path, tmp_path / "bad2")
    _edit_config(bad2, lambda c: c["observation_space"].__setitem__("shape", [5, 3, 2]))
    with pytest.raises(ValueError, match="architecture|shape"):
        load_policy(bad2)
    bad3 = _copy(path, tmp_path / "bad3")
    _edit_config(bad3, lambda c: c["algo_config"].__setitem__("activation", "os.system"))
    with pytest.raises(ValueError, match="activation"):
        load_policy(bad3)


def test_corrupt_or_foreign_files_are_rejected(ppo_dir, tmp_path):
    path, _ = ppo_dir
    torn = _copy(path, tmp_path / "torn")
    blob = (torn / WEIGHTS_FILE).read_bytes()
    (torn / WEIGHTS_FILE).write_bytes(blob[:-8])
    with pytest.raises(ValueError, match="SHA-256"):
        load_policy(torn)
    other = _copy(path, tmp_path / "other")
    _edit_config(other, lambda c: c.__setitem__("format", "something-else"))
    with pytest.raises(ValueError, match="not a qmarl checkpoint"):
        load_policy(other)
    newer = _copy(path, tmp_path / "newer")
    _edit_config(newer, lambda c: c.__setitem__("format_version", 99))
    with pytest.raises(ValueError, match="format_version"):
        load_policy(newer)
    (tmp_path / "half").mkdir()
    with pytest.raises(FileNotFoundError):
        load_policy(tmp_path / "half")


class _Boom:
    def __reduce__(self):
        return (os.system, (f"touch {_Boom.marker}",))


def test_loading_never_executes_code(tmp_path):
    """A pickle payload in place of the weights (with a matching hash) is refused, and never runs."""
    marker = tmp_path / "executed"
    _Boom.marker = marker
    payload = pickle.dumps({"policy/w": _Boom()})
    ckpt = tmp_path / "evil"
    save_checkpoint(ckpt, {"agent": "ppo", "env_id": BALL1}, {})
    (ckpt / WEIGHTS_FILE).write_bytes(payload)
    _edit_config(ckpt, lambda c: c.__setitem__("weights_sha256", hashlib.sha256(payload).hexdigest()))
    with pytest.raises(ValueError, match="not a safetensors file"):
        load_policy(ckpt)
    assert not marker.exists()
    # the same payload as a torch file: also refused (no torch.load anywhere)
    import torch

    torch.save({"x": torch.zeros(1)}, ckpt / WEIGHTS_FILE)
    blob = (ckpt / WEIGHTS_FILE).read_bytes()
    _edit_config(ckpt, lambda c: c.__setitem__("weights_sha256", hashlib.sha256(blob).hexdigest()))
    with pytest.raises(ValueError, match="not a safetensors file"):
        load_checkpoint(ckpt)


def test_atomic_write_keeps_the_old_checkpoint_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "ck"
    save_checkpoint(path, {"agent": "random", "env_id": BALL1, "seed": 1}, {})
    before = {n: (path / n).read_bytes() for n in (CONFIG_FILE, WEIGHTS_FILE)}

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"agent": "random", "env_id": BALL1, "seed": 2}, {"x": np.ones(3)})
    monkeypatch.undo()
    assert {n: (path / n).read_bytes() for n in (CONFIG_FILE, WEIGHTS_FILE)} == before
    assert sorted(p.name for p in path.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]  # no temp files left
    assert load_policy(path).seed == 1


def test_save_rejects_bad_input_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="env_id"):
        save_checkpoint(tmp_path / "a", {"agent": "x"}, {})
    with pytest.raises(ValueError, match="numeric"):
        save_checkpoint(tmp_path / "b", {"agent": "x", "env_id": BALL1}, {"w": np.array(["a"])})
    with pytest.raises(ValueError, match="JSON"):
        save_checkpoint(tmp_path / "c", {"agent": "x", "env_id": BALL1, "bad": object()}, {})
    assert not any(tmp_path.iterdir())
    atomic_write_bytes(tmp_path / "d" / "f.bin", b"123")
    assert (tmp_path / "d" / "f.bin").read_bytes() == b"123"


def test_zero_dim_arrays_keep_their_shape(tmp_path):
    """Optimiser scalars such as Adam's ``step`` are 0-d; a round trip must not turn them into (1,)."""
    from qmarl_agents.checkpoint import load_checkpoint, save_checkpoint

    save_checkpoint(tmp_path / "c", {"agent": "random", "env_id": "qmarl/Jungle-v0"},
                    {"step": np.array(7.0, dtype=np.float32), "w": np.ones((2, 3), dtype=np.float32)})
    _, arrays = load_checkpoint(tmp_path / "c")
    assert arrays["step"].shape == () and float(arrays["step"]) == 7.0
    assert arrays["w"].shape == (2, 3)


@pytest.mark.parametrize("name", ["random", "scripted"])
def test_baselines_saved_without_env_id_load_with_an_env(tmp_path, name):
    agent = make_agent(name, seed=1) if name == "random" else make_agent(name, env_id="qmarl/Jungle-v0", seed=1)
    if name == "scripted":
        agent.env_id = None  # a scripted policy saved before it was bound to an env
    agent.save(str(tmp_path / name))
    env = qmarl_envs.make("qmarl/Jungle-v0")
    policy = load_policy(tmp_path / name, env)
    obs, _ = env.reset(seed=0)
    actions = policy.act(obs)
    assert set(actions) == set(env.agents) and all(0 <= a < 5 for a in actions.values())


def test_submission_versions_name_the_quantum_packages():
    from qmarl_agents.leaderboard.protocol import package_versions

    versions = package_versions()
    for pkg in ("pennylane", "dimod", "networkx", "dwave-samplers"):
        assert pkg in versions  # all installed with the agents extra
