"""The docs/agents.md "Write your own agent" example (examples/linear_pg_agent.py) works end to end.

It is registered here the way a package's ``qmarl.agents`` entry point would register it, and
removed again afterwards so the registry of other tests is unchanged.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import qmarl_agents
from qmarl_agents.leaderboard.protocol import Protocol, evaluate_policy
from qmarl_agents.registry import _AGENTS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ENV_ID = "qmarl/BallCollection-3x3-v0"
SMALL = Protocol(seeds=(0, 1, 2, 3), episodes_per_seed=2, bootstrap_reps=100)


@pytest.fixture
def linear_pg(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import linear_pg_agent

    qmarl_agents.register_agent(linear_pg_agent.SPEC)
    try:
        yield linear_pg_agent
    finally:
        _AGENTS.pop("linear-pg", None)


class _Recorder:
    def __init__(self):
        self.steps, self.scores, self.metrics = [], [], []

    def on_steps(self, agent_steps):
        self.steps.append(agent_steps)
        return True

    def on_episode(self, agent_steps, summary):
        self.scores.append(float(summary["score"]))

    def on_metrics(self, agent_steps, metrics):
        self.metrics.append(dict(metrics))


def test_example_is_short():
    lines = (EXAMPLES / "linear_pg_agent.py").read_text().splitlines()
    assert len(lines) < 100


def test_example_registers_learns_saves_and_loads(linear_pg, tmp_path):
    assert "linear-pg" in qmarl_agents.list_agents()
    with pytest.raises(ValueError, match="allowed"):
        qmarl_agents.make_agent("linear-pg", env_id=ENV_ID, seed=0, learning_rate=0.1)
    agent = qmarl_agents.make_agent("linear-pg", env_id=ENV_ID, seed=0)
    before = evaluate_policy(agent, ENV_ID, SMALL).mean
    rec = _Recorder()
    agent.learn(6000, callback=rec)
    after = evaluate_policy(agent, ENV_ID, SMALL).mean
    assert after > before + 100, (before, after)
    # budget rule: slots counted (dead ones included), live ones separately; callbacks saw them all
    assert agent.agent_steps >= 6000 and rec.steps[-1] == agent.agent_steps
    assert 0 < agent.live_agent_steps <= agent.agent_steps
    assert rec.scores and rec.metrics and np.isfinite(rec.metrics[-1]["mean_return"])
    # same seed and same calls (the evaluator re-seeds the sampling generator), same weights
    again = qmarl_agents.make_agent("linear-pg", env_id=ENV_ID, seed=0)
    again.reset(SMALL.seeds[-1])
    again.learn(6000)
    np.testing.assert_array_equal(again.W, agent.W)

    path = agent.save(str(tmp_path / "ckpt"))
    policy = qmarl_agents.load_policy(path, env_id=ENV_ID)
    obs = np.random.default_rng(1).random((12, *agent.obs_shape), dtype=np.float32)
    alive = np.arange(12) % 4 != 0
    np.testing.assert_array_equal(policy.act_batch(obs, alive), agent.act_batch(obs, alive))
    assert (policy.act_batch(obs, alive)[~alive] == 4).all()
    assert qmarl_agents.load_agent(path).agent_steps == agent.agent_steps
    assert json.loads((Path(path) / "config.json").read_text())["config"]["lr"] == agent.config.lr


def test_example_trains_through_qmarl_train(linear_pg, tmp_path):
    from qmarl_agents.train import train

    result = train("linear-pg", ENV_ID, agent_steps=1500, out=tmp_path / "run", protocol=SMALL,
                   progress=False, tensorboard=False)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["agent"] == "linear-pg" and run["agent_steps"] >= 1500
    assert 0 < run["live_agent_steps"] <= run["agent_steps"]
    assert result.evaluation is not None and result.episodes > 0
    assert qmarl_agents.load_policy(result.files["policy"], env_id=ENV_ID).name == "linear-pg"


def test_example_loads_through_an_entry_point(monkeypatch):
    from importlib.metadata import EntryPoint

    from qmarl_agents.registry import ENTRY_POINT_GROUP, load_plugins

    monkeypatch.syspath_prepend(str(EXAMPLES))
    ep = EntryPoint(name="linear-pg", value="linear_pg_agent:SPEC", group=ENTRY_POINT_GROUP)
    try:
        assert load_plugins([ep]) == ["linear-pg"]
        with pytest.warns(RuntimeWarning, match="'linear-pg'.*already registered"):
            assert load_plugins([ep]) == []
    finally:
        _AGENTS.pop("linear-pg", None)
