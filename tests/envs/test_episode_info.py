"""Per-agent episode info, one rule for boolean actions on every API, config value kinds at make(),
and truncation at exactly ``max_cycles``."""

import dataclasses
import math

import gymnasium
import numpy as np
import pytest

import qmarl_envs
from qmarl_envs.scenarios.base import _field_kinds

IDS = qmarl_envs.list_envs()
SMALL = [i for i in IDS if len(qmarl_envs.make(i).possible_agents) <= 100]


def _play(env, seed):
    """Random dict-API episode; returns {agent: (step it ended, its info episode)} and last infos."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    ended, last, step = {}, None, 0
    while env.agents:
        acts = dict(zip(env.agents, rng.integers(0, 5, len(env.agents)).tolist()))
        _, _, term, trunc, infos = env.step(acts)
        step += 1
        for a in acts:
            assert ("episode" in infos[a]) == (term[a] or trunc[a]), (a, step)
            if "episode" in infos[a]:
                assert a not in ended
                ended[a] = (step, infos[a]["episode"])
        last = infos
    return ended, last, step


@pytest.mark.parametrize("env_id", SMALL)
def test_every_agent_gets_its_own_episode_info_when_it_finishes(env_id):
    env = qmarl_envs.make(env_id)
    early = False
    for seed in range(8):
        ended, last, length = _play(env, seed)
        assert sorted(ended) == sorted(env.possible_agents)
        returns = env.unwrapped.returns()
        summary = env.unwrapped.episode_summary()
        for a, (step, ep) in ended.items():
            i = env.possible_agents.index(a)
            assert ep["return"] == pytest.approx(returns[i]) and ep["length"] == step
            assert ("score" in ep) == (step == length)      # team score only on the last step
            if step == length:
                assert a in last
                s = summary["score"]
                assert ep["score"] == pytest.approx(s[i] if isinstance(s, np.ndarray) else s)
            else:
                early = True
        if early:
            break


def test_gymnasium_view_gets_the_episode_info():
    env = gymnasium.make("qmarl/BallCollection-3x3-v0")
    env.reset(seed=0)
    env.action_space.seed(0)
    done, total = False, 0.0
    while not done:
        _, r, term, trunc, info = env.step(env.action_space.sample())
        total += r
        done = term or trunc
    assert info["episode"]["return"] == pytest.approx(total) and "score" in info["episode"]


@pytest.mark.parametrize("value", [True, False, np.True_])
def test_a_bool_action_is_rejected_on_every_api(value):
    par = qmarl_envs.make("qmarl/BallCollection-3x3-2Agents-v0")
    par.reset(seed=0)
    with pytest.raises(ValueError, match="agent_0.*bool"):
        par.step({"agent_0": value, "agent_1": 1})
    with pytest.raises(ValueError, match="agent_1.*bool"):
        par.step({"agent_0": 1, "agent_1": value})
    with pytest.raises(ValueError, match="bool"):
        par.step_arrays(np.array([value, value]))
    gym = gymnasium.make("qmarl/BallCollection-3x3-v0").unwrapped
    gym.reset(seed=0)
    with pytest.raises(ValueError, match="bool"):
        gym.step(value)
    one = qmarl_envs.make("qmarl/BallCollection-3x3-v0")
    one.reset(seed=0)
    with pytest.raises(ValueError, match="agent_0.*bool"):
        one.step({"agent_0": value})
    aec = qmarl_envs.make("qmarl/BallCollection-3x3-2Agents-v0", api="aec")
    aec.reset(seed=0)
    with pytest.raises(ValueError, match="bool"):
        aec.step(value)
    assert par.unwrapped.grid_state.step == 0 and aec.agent_selection == "agent_0"


def _bad_values(kinds, optional):
    """Values of the wrong kind for a field whose annotation allows ``kinds``."""
    bad = [True, "x"] if str not in kinds else [True, 3, 2.5]
    if float in kinds:
        bad += [math.nan, math.inf, -math.inf]
    if int in kinds and float not in kinds:
        bad += [2.5, math.nan]
    if not optional:
        bad.append(None)
    return bad


@pytest.mark.parametrize("env_id", [i for i in IDS if i.endswith(("3x3-v0", "Jungle-v0", "Battle-v0",
                                                                    "Deception-v0"))])
def test_every_scalar_config_field_rejects_wrong_kinds_at_make(env_id):
    cfg_cls = qmarl_envs.registration.spec(env_id).load("config")
    kinds = _field_kinds(cfg_cls)
    assert {"max_cycles"} <= set(kinds)
    names = {f.name for f in dataclasses.fields(cfg_cls)}
    assert set(kinds) <= names
    for name, (allowed, optional) in kinds.items():
        for value in _bad_values(allowed, optional):
            with pytest.raises(ValueError, match=f"{name}: expected"):
                qmarl_envs.make(env_id, **{name: value})


def test_ball_collection_rejects_the_values_of_the_issue():
    for kw, field in [({"max_cycles": True}, "max_cycles"), ({"ball_reward": "x"}, "ball_reward"),
                      ({"step_reward": math.nan}, "step_reward")]:
        with pytest.raises(ValueError, match=field):
            qmarl_envs.make("qmarl/BallCollection-3x3-v0", **kw)
    env = qmarl_envs.make("qmarl/BallCollection-3x3-v0", step_reward=np.float32(-1), max_cycles=np.int64(5))
    env.reset(seed=0)        # NumPy scalars of the right kind are accepted


def test_layout_error_prints_the_characters_plainly():
    with pytest.raises(ValueError) as err:
        qmarl_envs.make("qmarl/BallCollection-3x3-v0", layout="0.?\n..!\n...")
    msg = str(err.value)
    assert "'!' '?'" in msg and "np.str_" not in msg


@pytest.mark.parametrize("env_id", ["qmarl/BallCollection-3x3-v0", "qmarl/BallCollection-5x3-2Agents-v0",
                                    "qmarl/Jungle-v0", "qmarl/Battle-v0", "qmarl/Deception-v0"])
def test_truncation_happens_at_exactly_max_cycles(env_id):
    # "stay" never collects a ball, so the ball maps run to the limit under a fixed seed
    for max_cycles in (1, 3, 7):
        env = qmarl_envs.make(env_id, max_cycles=max_cycles)
        env.reset(seed=5)
        steps = 0
        while env.agents:
            live = list(env.agents)
            _, _, term, trunc, _ = env.step({a: 4 for a in live})
            steps += 1
            assert steps <= max_cycles
            expect = steps == max_cycles
            assert all(trunc[a] == (expect and not term[a]) for a in live)
        assert steps == max_cycles or env.unwrapped.grid_state.step < max_cycles
