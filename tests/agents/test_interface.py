"""The policy interface: dict form in PettingZoo loops, batched form, AEC adapter, the registry."""

import numpy as np
import pytest

import qmarl_envs
from qmarl_agents import AECAdapter, BatchPolicy, Policy, list_agents, make_agent, resolve_policy
from qmarl_agents.baselines import RandomPolicy, ScriptedPolicy, ball_collection_actions
from qmarl_agents.registry import AgentSpec, register_agent

BALL1 = "qmarl/BallCollection-3x3-v0"
BALL2 = "qmarl/BallCollection-3x3-2Agents-v0"


def run_parallel(env, policy, seed):
    """The documented PettingZoo loop; returns the episode summary and the number of steps."""
    observations, infos = env.reset(seed=seed)
    steps = 0
    while env.agents:
        actions = policy.act({a: observations[a] for a in env.agents})
        assert set(actions) == set(env.agents)
        assert all(isinstance(v, int) and 0 <= v < 5 for v in actions.values())
        observations, rewards, terminations, truncations, infos = env.step(actions)
        steps += 1
    return env.unwrapped.episode_summary(), steps


@pytest.mark.parametrize("spec", ["random", "scripted"])
def test_builtin_policies_run_in_a_pettingzoo_loop(spec):
    env = qmarl_envs.make(BALL2)
    policy = resolve_policy(spec, env, seed=3)
    assert isinstance(policy, Policy) and isinstance(policy, BatchPolicy)
    summary, steps = run_parallel(env, policy, seed=0)
    assert 1 <= steps <= env.unwrapped.scenario.max_cycles
    assert summary["length"] == steps


def test_scripted_reaches_the_optimum_on_3x3():
    """One agent, no walls: the optimum from a start at Manhattan distance d is 220 - 10 (d - 1)."""
    from qmarl_envs.scenarios.ball_collection import optimal_returns

    env = qmarl_envs.make(BALL1)
    opt = optimal_returns(env.unwrapped.scenario.config)
    policy = ScriptedPolicy(env)
    seen = set()
    for seed in range(40):
        env.reset(seed=seed)
        r, c = env.unwrapped.positions()[0]
        summary, steps = run_parallel(env, policy, seed=seed)
        assert steps == r + c
        assert summary["score"] == 220 - 10 * (r + c - 1)
        assert opt["min"] <= summary["score"] <= opt["max"]
        seen.add((int(r), int(c)))
    assert len(seen) == 8  # every start cell was tried


def test_scripted_beats_random_on_ball_collection():
    for env_id in (BALL2, "qmarl/BallCollection-5x3-2Agents-v0"):
        env = qmarl_envs.make(env_id)
        scores = {}
        for spec in ("random", "scripted"):
            policy = resolve_policy(spec, env, seed=0)
            scores[spec] = np.mean([run_parallel(env, policy, s)[0]["score"] for s in range(15)])
        assert scores["scripted"] > scores["random"] + 300, scores


def test_scripted_avoids_penalty_cells():
    # ball of agent 0 at (0, 0), ball of agent 1 at (0, 1)
    env = qmarl_envs.make(BALL2, layout="01.\n...\n...")
    base = env.unwrapped
    env.reset(seed=0)
    base.grid_state.positions[:] = [[1, 0], [1, 2]]
    acts = ball_collection_actions(base.scenario, base.grid_state)
    assert acts[0] == 0  # up onto its own ball
    assert acts[1] == 0  # two shortest paths (via (0, 2) or (1, 1)); ties go to the lowest action id
    base.grid_state.positions[:] = [[0, 2], [2, 1]]
    acts = ball_collection_actions(base.scenario, base.grid_state)
    assert acts[0] == 1  # (0,1) holds agent 1's ball: go down instead of left into the penalty
    assert acts[1] == 0


def test_act_batch_matches_act_and_respects_alive():
    env = qmarl_envs.make(BALL2)
    base = env.unwrapped
    obs = base.reset_arrays(seed=1)
    scripted = ScriptedPolicy(env)
    batch = scripted.act_batch(obs)
    assert batch.dtype == np.int64 and batch.shape == (2,)
    as_dict = scripted.act(dict(zip(base.possible_agents, obs)))
    assert [as_dict[a] for a in base.possible_agents] == batch.tolist()
    masked = scripted.act_batch(obs, np.array([False, True]))
    assert masked[0] == 4 and masked[1] == batch[1]
    rnd = RandomPolicy(seed=0)
    out = rnd.act_batch(np.zeros((10_000, 3, 3, 2), np.float32), np.arange(10_000) % 2 == 0)
    assert out.shape == (10_000,) and (out[1::2] == 4).all()
    assert set(np.unique(out[::2])) == {0, 1, 2, 3, 4}
    with pytest.raises(ValueError, match="alive"):
        rnd.act_batch(np.zeros((3, 2)), np.ones(4, bool))
    with pytest.raises(ValueError, match="rows"):
        scripted.act_batch(np.zeros((3, 3, 3, 2)))


def test_batched_loop_over_the_array_api():
    env = qmarl_envs.make(BALL2).unwrapped
    policy = ScriptedPolicy(env)
    obs = env.reset_arrays(seed=2)
    while env.alive_mask().any():
        obs, *_ = env.step_arrays(policy.act_batch(obs, env.alive_mask()))
    assert env.episode_summary()["score"] > 300


def test_random_policy_is_seeded():
    a, b = RandomPolicy(seed=7), RandomPolicy(seed=7)
    obs = {f"agent_{i}": np.zeros(3) for i in range(50)}
    assert a.act(obs) == b.act(obs)
    assert a.act(obs) != RandomPolicy(seed=8).act(obs)
    a.reset(1)
    b.reset(1)
    assert (a.act_batch(np.zeros((20, 1))) == b.act_batch(np.zeros((20, 1)))).all()
    with pytest.raises(ValueError, match="seed"):
        RandomPolicy(seed=-1)


def test_aec_adapter_plays_an_episode():
    env = qmarl_envs.make(BALL2, api="aec")
    env.reset(seed=0)
    adapter = AECAdapter(ScriptedPolicy(env))
    total = {a: 0.0 for a in env.possible_agents}
    for agent in env.agent_iter():
        obs, reward, term, trunc, info = env.last()
        total[agent] += reward
        env.step(None if term or trunc else adapter.act(agent, obs))
    # scripted collects both balls: each agent ends with +220 after a few -10 steps
    assert all(100 < v <= 220 for v in total.values()), total
    with pytest.raises(ValueError, match="act"):
        AECAdapter(object())


def test_aec_and_parallel_give_the_same_scripted_episode():
    par = qmarl_envs.make(BALL2)
    summary, _ = run_parallel(par, ScriptedPolicy(par), seed=5)
    aec = qmarl_envs.make(BALL2, api="aec")
    aec.reset(seed=5)
    adapter = AECAdapter(ScriptedPolicy(aec))
    for agent in aec.agent_iter():
        obs, _, term, trunc, _ = aec.last()
        aec.step(None if term or trunc else adapter(agent, obs))
    assert aec.unwrapped.episode_summary()["score"] == summary["score"]


def test_scripted_needs_binding():
    policy = make_agent("scripted", env_id=BALL2)
    with pytest.raises(RuntimeError, match="bind"):
        policy.act({"agent_0": np.zeros((3, 3, 2))})
    with pytest.raises(ValueError, match="not 'qmarl/BallCollection-3x3-v0'|is for"):
        policy.bind(qmarl_envs.make(BALL1))
    env = qmarl_envs.make(BALL2)
    policy.bind(env)
    with pytest.raises(RuntimeError, match="reset"):
        policy.act({"agent_0": np.zeros((3, 3, 2))})
    env.reset(seed=0)
    with pytest.raises(ValueError, match="unknown agent"):
        policy.act({"agent_9": np.zeros((3, 3, 2))})
    with pytest.raises(ValueError, match="qmarl env"):
        ScriptedPolicy(object())


def test_make_agent_errors_name_the_choices():
    with pytest.raises(ValueError, match="available: .*ppo.*a2c.*dqn.*random.*scripted"):
        make_agent("qbm-typo", env_id=BALL1)
    with pytest.raises(ValueError, match="env_id"):
        make_agent("ppo")
    with pytest.raises(ValueError, match="unknown env id"):
        make_agent("ppo", env_id="qmarl/Nope-v0")
    with pytest.raises(ValueError, match="allowed"):
        make_agent("random", env_id=BALL1, learning_rate=1.0)
    assert list_agents()[:5] == ["ppo", "a2c", "dqn", "random", "scripted"]


def test_register_agent_rejects_duplicates_and_bad_paths():
    with pytest.raises(ValueError, match="already registered"):
        register_agent(AgentSpec("ppo", "a:b", "a:b"))
    with pytest.raises(ValueError, match="module:attr"):
        register_agent(AgentSpec("new-agent", "no_colon", "a:b"))
    assert "new-agent" not in list_agents()


def test_resolve_policy_rejects_unknown_specs(tmp_path):
    env = qmarl_envs.make(BALL1)
    with pytest.raises(ValueError, match="neither"):
        resolve_policy("greedy", env)
    with pytest.raises(ValueError, match="checkpoint dir"):
        resolve_policy(3, env)
    with pytest.raises(FileNotFoundError):
        resolve_policy(str(tmp_path), env)


def test_act_rejects_non_dicts():
    with pytest.raises(ValueError, match="observations"):
        RandomPolicy(seed=0).act([np.zeros(3)])


def test_importing_agents_and_the_cli_stays_light():
    """``import qmarl_agents`` and building the ``qmarl`` parser load neither torch nor SB3."""
    import subprocess
    import sys

    code = ("import sys, qmarl_agents, qmarl_agents.cli; qmarl_agents.cli.build_parser();"
            "print(sorted(m for m in ('torch', 'stable_baselines3', 'supersuit') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
