"""PettingZoo/Gymnasium compliance, full-trajectory determinism and bad-input handling, for every id.

Parametrised over the registry (``qmarl_envs.list_envs()``), so a newly registered id is covered
without editing this file.
"""

import hashlib
import subprocess
import sys
import types
import warnings
from pathlib import Path

import gymnasium
import numpy as np
import pettingzoo
import pytest
from pettingzoo.test import api_test, max_cycles_test, parallel_api_test, state_test

import qmarl_envs

IDS = qmarl_envs.list_envs()
ROOT = Path(__file__).resolve().parents[2]


def _num_agents(env_id: str) -> int:
    return len(qmarl_envs.make(env_id).possible_agents)


def _light(ids=IDS, limit: int = 1000):
    """``ids`` as pytest params, with ids of more than ``limit`` agents marked slow.

    PettingZoo's AEC ``api_test``, ``state_test`` and ``max_cycles_test`` check every agent turn
    against every agent or the whole map, so they cost O(N^2) at 10,000 agents (minutes each); they
    run in ``make test-slow``. The default run covers those ids with the same code paths through
    :func:`test_large_maps_state_and_aec_cycle`.
    """
    return [pytest.param(i, marks=pytest.mark.slow) if _num_agents(i) > limit else i for i in ids]


def _cycles(env_id: str, budget: int) -> int:
    """API-test cycles: the full count on small maps, fewer on 1k/10k-agent maps (same code path)."""
    return int(np.clip(budget // _num_agents(env_id), 2, 300))


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("env_id", IDS)
def test_parallel_api(env_id):
    parallel_api_test(qmarl_envs.make(env_id), num_cycles=_cycles(env_id, 20_000))


@pytest.mark.parametrize("env_id", _light())
def test_aec_api(env_id):
    env = qmarl_envs.make(env_id, api="aec")
    assert isinstance(env, pettingzoo.AECEnv)
    api_test(env, num_cycles=_cycles(env_id, 5_000))


@pytest.mark.parametrize("env_id", IDS)
def test_pettingzoo_registry_builds_both_apis(env_id):
    par = pettingzoo.make("parallel", env_id)
    aec = pettingzoo.make("aec", env_id, max_cycles=7)
    assert isinstance(par, pettingzoo.ParallelEnv) and isinstance(aec, pettingzoo.AECEnv)
    assert aec.unwrapped.scenario.max_cycles == 7
    assert par.metadata["is_parallelizable"] and par.metadata["render_modes"] == ["human", "rgb_array"]


def _seeded_module(env_id: str, seed: int) -> types.SimpleNamespace:
    """max_cycles_test resets without a seed and samples actions from unseeded spaces; pin both so the
    test is reproducible (with a seed that leaves agents alive for its 4 steps, as the test requires)."""

    def build(api, **kw):
        env = qmarl_envs.make(env_id, api=api, **kw)
        env.reset(seed=seed)
        for i, a in enumerate(env.possible_agents):
            env.action_space(a).seed(seed + i)
        return env

    return types.SimpleNamespace(parallel_env=lambda **kw: build("parallel", **kw),
                                 env=lambda **kw: build("aec", **kw))


@pytest.mark.parametrize("env_id", _light())
def test_max_cycles(env_id):
    # PettingZoo's max_cycles_test is flaky on the ball maps by its own assumption, not by a bug: it
    # plays 4 random steps and expects the agents to be still there, but on a 3x3 map an agent can
    # collect its ball (and terminate) within 4 steps. So it runs under a few pinned seeds here, and
    # test_truncation_happens_at_exactly_max_cycles (test_episode_info.py) checks the rule itself
    # under a fixed seed. A truncation bug fails every seed.
    errors = []
    for seed in range(10):
        try:
            max_cycles_test(_seeded_module(env_id, seed=seed))
            return
        except AssertionError as e:
            errors.append(e)
    raise errors[-1]


@pytest.mark.parametrize("env_id", _light())
def test_state(env_id):
    state_test(qmarl_envs.make(env_id, api="aec"), qmarl_envs.make(env_id))


# ---------------------------------------------------------------- determinism
def trajectory_digest(env_id: str, seed: int, steps: int = 200) -> str:
    """SHA-256 of observations, rewards, terminations and truncations over ``steps`` dict-API steps
    (episodes restart with ``reset()`` without a seed, which continues the seeded generator)."""
    env = qmarl_envs.make(env_id)
    rng = np.random.default_rng(seed + 1000)
    h = hashlib.sha256()
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        if not env.agents:
            obs, _ = env.reset()
        acts = rng.integers(0, 5, size=len(env.agents))
        obs, rew, term, trunc, _ = env.step(dict(zip(env.agents, acts.tolist())))
        for a in sorted(obs):
            h.update(a.encode())
            h.update(np.ascontiguousarray(obs[a]).tobytes())
            h.update(np.float64(rew[a]).tobytes())
            h.update(bytes([term[a], trunc[a]]))
    return h.hexdigest()


def _steps(env_id: str) -> int:
    return 200 if _num_agents(env_id) <= 1000 else 40


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_same_trajectory_in_process_and_in_a_fresh_process(env_id):
    n = _steps(env_id)
    a = trajectory_digest(env_id, 5, n)
    assert a == trajectory_digest(env_id, 5, n)
    assert a != trajectory_digest(env_id, 6, n)
    code = ("import sys; from tests.envs.test_compliance import trajectory_digest; "
            f"print(trajectory_digest({env_id!r}, 5, {n}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == a


@pytest.mark.parametrize("env_id", IDS)
def test_different_seeds_give_different_starts(env_id):
    env = qmarl_envs.make(env_id)
    starts = set()
    for seed in range(6):
        env.reset(seed=seed)
        starts.add(env.positions().tobytes())
    assert len(starts) > 1


# ---------------------------------------------------------------- bad input
def _snapshot(env):
    return (env.state().copy(), env.positions().copy(), list(env.agents), env.returns().copy(),
            env.grid_state.step)


def _assert_same(a, b):
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[2] == b[2] and np.array_equal(a[3], b[3]) and a[4] == b[4]


def _valid(env):
    return {a: 4 for a in env.agents}


BAD_VALUES = [(5, "expected an int"), (-1, "expected an int"), (2.5, "dtype"), ("up", "dtype"),
              (np.array([1, 2]), "shape"), (None, "None"), (True, "bool"), (np.False_, "bool")]


@pytest.mark.parametrize("env_id", IDS)
def test_bad_actions_are_rejected_and_change_nothing(env_id):
    env, twin = qmarl_envs.make(env_id), qmarl_envs.make(env_id)
    with pytest.raises(RuntimeError, match="reset"):
        env.step({a: 0 for a in env.possible_agents})
    env.reset(seed=3)
    twin.reset(seed=3)
    before = _snapshot(env)
    victim = env.agents[-1]
    for value, message in BAD_VALUES:
        acts = _valid(env)
        acts[victim] = value
        with pytest.raises(ValueError, match=f"{victim}.*{message}|{message}.*{victim}"):
            env.step(acts)
        _assert_same(before, _snapshot(env))
    for acts, message in [
        ({**_valid(env), "ghost_0": 1}, "unknown agent 'ghost_0'"),
        ({a: 4 for a in env.agents if a != victim}, f"no action for live agent '{victim}'"),
        ([4] * len(env.agents), "actions: expected a dict"),
    ]:
        with pytest.raises(ValueError, match=message):
            env.step(acts)
        _assert_same(before, _snapshot(env))
    # the rejected calls consumed no randomness and changed no state: the next step matches a twin's
    out, ref = env.step(_valid(env)), twin.step(_valid(twin))
    assert out[1] == ref[1] and out[2] == ref[2]
    assert all(np.array_equal(out[0][a], ref[0][a]) for a in ref[0])


@pytest.mark.parametrize("env_id", IDS)
def test_array_api_rejects_bad_actions(env_id):
    env = qmarl_envs.make(env_id)
    with pytest.raises(RuntimeError, match="reset"):
        env.step_arrays(np.zeros(len(env.possible_agents), np.int64))
    env.reset_arrays(seed=0)
    n = len(env.possible_agents)
    before = _snapshot(env)
    for acts, message in [(np.zeros(n + 1, np.int64), "shape"), (np.zeros(n), "integer dtype"),
                          (np.ones(n, bool), "integer dtype, got bool"),
                          (np.full(n, 7), env.possible_agents[0])]:
        with pytest.raises(ValueError, match=message):
            env.step_arrays(acts)
        _assert_same(before, _snapshot(env))


@pytest.mark.parametrize("env_id", _light())
def test_action_for_a_finished_agent_is_rejected(env_id):
    env = qmarl_envs.make(env_id)
    rng = np.random.default_rng(0)
    for seed in range(20):
        env.reset(seed=seed)
        while env.agents and len(env.agents) == len(env.possible_agents):
            env.step(dict(zip(env.agents, rng.integers(0, 5, len(env.agents)).tolist())))
        if env.agents:
            break
    else:
        pytest.skip(f"{env_id}: no episode in 20 seeds where some agents finish before the others")
    gone = next(a for a in env.possible_agents if a not in env.agents)
    before = _snapshot(env)
    with pytest.raises(ValueError, match=f"'{gone}'.*already terminated"):
        env.step({**_valid(env), gone: 0})
    _assert_same(before, _snapshot(env))


@pytest.mark.parametrize("env_id", IDS[:4])
def test_aec_bad_input(env_id):
    env = qmarl_envs.make(env_id, api="aec")
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    agent = env.agent_selection
    for value, message in BAD_VALUES:
        with pytest.raises(ValueError, match=message):
            env.step(value)
        assert env.agent_selection == agent
    env.step(4)


def test_unknown_id_names_the_closest_ids():
    with pytest.raises(ValueError, match="BallCollection-3x3-v0"):
        qmarl_envs.make("qmarl/BallColection-3x3-v0")
    with pytest.raises(ValueError, match="api"):
        qmarl_envs.make("qmarl/BallCollection-3x3-v0", api="vector")


def test_unknown_kwarg_names_the_allowed_ones():
    with pytest.raises(ValueError, match=r"unknown keyword argument\(s\) \['n_agents'\].*max_cycles"):
        qmarl_envs.make("qmarl/BallCollection-3x3-v0", n_agents=3)
    with pytest.raises(ValueError, match="unknown keyword"):
        pettingzoo.make("parallel", "qmarl/BallCollection-3x3-v0", colour="red")


def test_registry_and_list_agree():
    assert qmarl_envs.list_envs() == list(qmarl_envs.registry)
    for env_id in ["qmarl/BallCollection-3x3-v0", "qmarl/BallCollection-5x3-v0",
                   "qmarl/BallCollection-3x3-2Agents-v0", "qmarl/BallCollection-5x3-2Agents-v0"]:
        assert env_id in qmarl_envs.registry


SINGLE = [i for i in IDS if _num_agents(i) == 1]


@pytest.mark.parametrize("env_id", SINGLE)
def test_gymnasium_single_agent_view_passes_check_env(env_id):
    from gymnasium.utils.env_checker import check_env

    env = gymnasium.make(env_id)
    assert isinstance(env.unwrapped, gymnasium.Env)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    with pytest.raises(ValueError, match="agent_0"):
        env.unwrapped.step(9)


def test_multi_agent_ids_are_not_in_gymnasium():
    with pytest.raises(gymnasium.error.Error):
        gymnasium.make("qmarl/BallCollection-3x3-2Agents-v0")
    assert "qmarl/BallCollection-3x3-v0" in gymnasium.registry


def test_cli_list_prints_every_id(capsys):
    from qmarl_agents.cli import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for env_id in IDS:
        assert env_id in out


@pytest.mark.parametrize("env_id", [i for i in IDS if _num_agents(i) <= 1000])
def test_array_and_dict_api_can_be_mixed(env_id):
    env = qmarl_envs.make(env_id)
    env.reset(seed=2)
    rng = np.random.default_rng(2)
    for t in range(60):
        if not env.agents:
            env.reset()
        if t % 2:
            env.step_arrays(rng.integers(0, 5, len(env.possible_agents)))
        else:
            env.step(dict(zip(env.agents, rng.integers(0, 5, len(env.agents)).tolist())))
        assert env.agents == [a for a, live in zip(env.possible_agents, env.alive_mask()) if live]


def test_state_is_cached_per_step_and_read_only():
    env = qmarl_envs.make("qmarl/BallCollection-3x3-2Agents-v0")
    env.reset(seed=0)
    s = env.state()
    assert env.state() is s and not s.flags.writeable
    assert env.state_space.contains(s) and np.isfinite(env.state_space.high).all()
    env.step({a: 1 for a in env.agents})
    assert env.state() is not s


@pytest.mark.parametrize("env_id", [i for i in IDS if _num_agents(i) > 1000])
def test_large_maps_state_and_aec_cycle(env_id):
    par = qmarl_envs.make(env_id)
    par.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        assert par.state_space.contains(par.state())
        par.step_arrays(rng.integers(0, 5, len(par.possible_agents)))
    aec = qmarl_envs.make(env_id, api="aec")
    aec.reset(seed=0)
    n = len(aec.agents)
    space = aec.observation_space(aec.agents[0])
    for k, agent in enumerate(aec.agent_iter(2 * n)):
        obs, rew, term, trunc, info = aec.last()
        if k % 997 == 0:
            assert space.contains(obs) and agent in aec.agents
        aec.step(None if term or trunc else int(rng.integers(0, 5)))
    assert aec.unwrapped.grid_state.step == 2
    assert aec.state_space.contains(aec.state())
