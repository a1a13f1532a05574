"""The binding contract: evaluation, ``qmarl play`` and AEC loops hand env-reading policies the env
they step (row matching by agent id is tested with the scripted and Q-MARL policies)."""

import numpy as np

import qmarl_envs
from qmarl_agents import AECAdapter, BatchPolicy
from qmarl_agents.base import STAY, check_batch
from qmarl_agents.leaderboard.protocol import Protocol, evaluate_policy


class DegreePolicy(BatchPolicy):
    """Reads the bound env's neighbour graph: an agent with a neighbour stays, one without moves up.
    Records every (env, step) it acted on, so the test can see which env it read."""

    name = "degree"

    def __init__(self):
        self.env = None
        self.seen: list[tuple[int, int]] = []

    def bind(self, env):
        self.env = env.unwrapped
        return self

    def act_batch(self, obs, alive=None, *, deterministic=True):
        if self.env is None:
            raise RuntimeError("not bound")
        _, mask = check_batch(obs, alive, None)
        n = len(self.env.possible_agents)
        assert mask.shape == (n,), "a bound policy gets one row per possible agent"
        deg = np.bincount(self.env.neighbor_graph()[0], minlength=n)
        self.seen.append((id(self.env), int(self.env.grid_state.step)))
        return np.where(mask, np.where(deg > 0, STAY, 0), STAY).astype(np.int64)

    def act(self, observations, *, deterministic=True):
        keys = list(observations)
        index = {a: i for i, a in enumerate(self.env.possible_agents)}
        n = len(index)
        full = np.zeros((n, *self.env.observation_space(self.env.possible_agents[0]).shape), np.float32)
        alive = np.zeros(n, dtype=bool)
        for k in keys:
            full[index[k]], alive[index[k]] = observations[k], True
        acts = self.act_batch(full, alive)
        return {k: int(acts[index[k]]) for k in keys}


def test_evaluation_binds_the_evaluated_env():
    policy = DegreePolicy()
    res = evaluate_policy(policy, "qmarl/Jungle-v0", Protocol(seeds=(0, 1), episodes_per_seed=1))
    assert res.scores.shape == (2, 1)
    envs = {e for e, _ in policy.seen}
    assert len(envs) == 1 and policy.env is not None and id(policy.env) in envs
    steps = [s for _, s in policy.seen]
    assert max(steps) >= 1 and steps[0] == 0  # it read the env as it was stepped


def test_aec_adapter_binds_the_stepped_env():
    aec = qmarl_envs.make("qmarl/Jungle-v0", api="aec")
    aec.reset(seed=0)
    policy = DegreePolicy()
    adapter = AECAdapter(policy, aec)
    assert policy.env is aec.unwrapped
    n = 0
    for agent in aec.agent_iter():
        obs, _, term, trunc, _ = aec.last()
        aec.step(None if term or trunc else adapter.act(agent, obs))
        n += 1
    assert n > 4 and policy.seen


def test_play_session_binds_its_env():
    from qmarl_envs.render.play import PlaySession

    env = qmarl_envs.make("qmarl/Jungle-v0", render_mode="rgb_array")
    policy = DegreePolicy()
    session = PlaySession(env, policy, seed=0, episodes=1, print_fn=lambda _: None)
    try:
        summaries = session.run()
    finally:
        session.close(keep_recording=False)
    assert policy.env is env.unwrapped and len(summaries) == 1 and policy.seen
