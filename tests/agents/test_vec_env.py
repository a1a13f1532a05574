"""AgentVecEnv: shapes, masking of dead agents, truncation flags, seeding; the masked buffers."""

import numpy as np
import pytest

from qmarl_agents.sb3.vec_env import AgentVecEnv

BALL2 = "qmarl/BallCollection-3x3-2Agents-v0"
STAY = 4


def test_shapes_and_spaces():
    venv = AgentVecEnv(BALL2, n_envs=3, seed=0)
    assert venv.num_envs == 6 and venv.agents_per_env == 2
    obs = venv.reset()
    assert obs.shape == (6, 3, 3, 2) and obs.dtype == np.float32
    obs, rew, done, infos = venv.step(np.full(6, STAY))
    assert obs.shape == (6, 3, 3, 2) and rew.shape == (6,) and rew.dtype == np.float32
    assert done.shape == (6,) and done.dtype == bool and len(infos) == 6
    assert venv.get_attr("env_id") == [BALL2] * 6
    assert venv.env_is_wrapped(object) == [False] * 6
    assert len(venv.env_method("alive_mask", indices=[0, 1, 2])) == 3


def _finish_agent0_only(venv):
    """Walk agent 0 of copy 0 to its ball at (0, 0) while agent 1 stays; returns the step results."""
    base = venv.envs[0]
    results = []
    while True:
        r, c = base.positions()[0]
        a0 = 0 if r > 0 else 2  # up, then left
        results.append(venv.step(np.array([a0, STAY])))
        if not venv.live[0]:
            return results


def test_dead_agent_slot_is_masked_until_the_copy_resets():
    venv = AgentVecEnv(BALL2, n_envs=1, env_kwargs={"layout": "0..\n...\n..1", "max_cycles": 30}, seed=0)
    venv.reset()
    base = venv.envs[0]
    base.grid_state.positions[0] = [2, 0]  # far from both balls; agent 1 on (2, 0) is not on a ball
    results = _finish_agent0_only(venv)
    obs, rew, done, infos = results[-1]
    assert done.tolist() == [True, False]
    assert rew[0] == 220.0
    assert "terminal_observation" in infos[0] and "TimeLimit.truncated" not in infos[0]
    assert infos[0]["episode"]["r"] == pytest.approx(base.returns()[0])
    assert (obs[0] == 0).all() and obs[1].any()  # constant (zero) observation in the dead slot
    assert venv.step_valid.tolist() == [True, True]  # the finishing step itself is real experience
    obs, rew, done, infos = venv.step(np.array([1, STAY]))  # the dead slot's action is ignored
    assert venv.step_valid.tolist() == [False, True]
    assert rew[0] == 0.0 and not done[0] and infos[0] == {}
    assert (obs[0] == 0).all()
    assert base.positions()[0].tolist() == [0, 0]


def test_truncation_sets_flags_and_terminal_observation_then_auto_resets():
    venv = AgentVecEnv(BALL2, n_envs=2, env_kwargs={"max_cycles": 3}, seed=4)
    venv.reset()
    for t in range(3):
        obs, rew, done, infos = venv.step(np.full(4, STAY))
    assert done.all()
    for i in range(4):
        assert infos[i]["TimeLimit.truncated"] is True
        term_obs = infos[i]["terminal_observation"]
        assert term_obs.shape == (3, 3, 2)
    # after the auto-reset the returned observation is a fresh episode's, the terminal one is in infos
    assert all(venv.envs[k].grid_state.step == 0 for k in range(2))
    assert venv.live.all() and venv.step_valid.all()
    summaries = venv.pop_episode_summaries()
    assert len(summaries) == 2 and all(s["length"] == 3 for s in summaries)
    assert venv.pop_episode_summaries() == []


def test_seed_determinism_and_copies_differ():
    def rollout(seed):
        venv = AgentVecEnv(BALL2, n_envs=2)
        venv.seed(seed)
        out = [venv.reset()]
        rng = np.random.default_rng(0)
        for _ in range(40):
            out.append(venv.step(rng.integers(0, 5, size=4))[0])
        return np.stack(out)

    a, b, c = rollout(11), rollout(11), rollout(12)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert AgentVecEnv(BALL2, n_envs=2).seed(5) == [5, 5, 6, 6]


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_envs"):
        AgentVecEnv(BALL2, n_envs=0)
    with pytest.raises(ValueError, match="reward_scale"):
        AgentVecEnv(BALL2, reward_scale=0.0)
    venv = AgentVecEnv(BALL2, seed=0)
    venv.reset()
    with pytest.raises(ValueError, match="shape"):
        venv.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="integer"):
        venv.step(np.zeros(2))
    with pytest.raises(RuntimeError, match="step_async"):
        venv.step_wait()
    with pytest.raises(ValueError, match="seed"):
        venv.seed(-3)


def test_rollout_buffer_yields_only_live_transitions():
    from stable_baselines3 import PPO

    from qmarl_agents.sb3.buffers import MaskedRolloutBuffer

    venv = AgentVecEnv(BALL2, n_envs=4, seed=0)
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=64, seed=0, rollout_buffer_class=MaskedRolloutBuffer,
                rollout_buffer_kwargs={"vec_env": venv, "seed": 0})
    model._setup_learn(32 * 8)
    from stable_baselines3.common.callbacks import CallbackList

    cb = CallbackList([])
    cb.init_callback(model)
    model.collect_rollouts(venv, cb, model.rollout_buffer, 32)
    buf = model.rollout_buffer
    n_valid = int(buf.valid.sum())
    assert 0 < n_valid < buf.valid.size  # some agents finished early: their later steps are masked
    zero_obs_valid = (buf.observations.reshape(32, 8, -1)[buf.valid] == 0).all(axis=1).sum()
    assert zero_obs_valid == 0  # no live transition shows the dead-slot placeholder
    sizes = [len(b.actions) for b in buf.get(64)]
    assert sum(sizes) == n_valid and max(sizes) == 64


def test_replay_buffer_never_samples_masked_transitions():
    from gymnasium import spaces

    from qmarl_agents.sb3.buffers import MaskedReplayBuffer

    class Stub:
        step_valid = np.array([True, False, True, False])

    buf = MaskedReplayBuffer(400, spaces.Box(0, 1000, (1,), np.float32), spaces.Discrete(5), device="cpu",
                             n_envs=4, vec_env=Stub(), seed=0)
    for t in range(50):
        obs = (np.arange(4) + 10 * t).astype(np.float32)[:, None]  # value encodes the slot
        buf.add(obs, obs, np.zeros(4, np.int64), np.zeros(4, np.float32), np.zeros(4, bool), [{}] * 4)
    sample = buf.sample(512)
    slots = sample.observations.numpy()[:, 0].astype(int) % 10
    assert set(slots.tolist()) == {0, 2}
    Stub.step_valid = np.array([False, False, False, True])
    buf2 = MaskedReplayBuffer(400, spaces.Box(0, 1000, (1,), np.float32), spaces.Discrete(5), device="cpu",
                              n_envs=4, vec_env=Stub(), seed=0)
    with pytest.raises(RuntimeError, match="no valid"):
        buf2.sample(4)
    buf2.add(np.ones((4, 1), np.float32) * [[0], [1], [2], [3]], np.zeros((4, 1)), np.zeros(4, np.int64),
             np.zeros(4), np.zeros(4, bool), [{}] * 4)
    assert (buf2.sample(64).observations.numpy() == 3).all()  # the sparse (exact) path
