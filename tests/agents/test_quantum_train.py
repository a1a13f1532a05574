"""Quantum-Train agent: parameter counts, circuit, mapping, weight generation, REINFORCE, checkpoints."""

import math

import numpy as np
import pytest
import torch

from qmarl_agents.quantum_train.agent import (QTAgent, discounted_returns, make_quantum_train,
                                              reinforce_loss)
from qmarl_agents.quantum_train.circuit import QuantumCircuit, num_qubits, qnn_param_count
from qmarl_agents.quantum_train.config import QTConfig
from qmarl_agents.quantum_train.mapping import basis_bits, squash

BALL = "qmarl/BallCollection-3x3-v0"
BALL2 = "qmarl/BallCollection-3x3-2Agents-v0"


def _trainable(agent):
    return sum(p.numel() for p in agent.trainable_module.parameters() if p.requires_grad)


@pytest.mark.parametrize("depth", [1, 3, 5])
def test_parameter_counts_match_formula_cartpole(depth):
    a = make_quantum_train("CartPole-v1", seed=0, depth=depth)
    c = a.parameter_counts()
    M = 4 * 128 + 128 + 128 * 2 + 2
    assert c["classical_M"] == M == 898
    assert c["n"] == num_qubits(M) == math.ceil(math.log2(M)) == 10
    assert c["qnn"] == 6 * 10 * depth
    # mapping 11-10-10-10-1 (official CartPole [10, 10, 10]): 351 parameters
    assert c["mapping"] == 11 * 10 + 10 + 2 * (10 * 10 + 10) + 10 + 1 == 351
    assert c["total"] == _trainable(a) == 6 * 10 * depth + 351
    assert c["total"] < M


def test_parameter_counts_ry_cnot_and_classical():
    a = make_quantum_train(BALL, seed=0, ansatz="ry_cnot", depth=4, hidden=(8,))
    M = 18 * 8 + 8 + 8 * 5 + 5
    assert a.parameter_counts()["qnn"] == qnn_param_count(num_qubits(M), 4, "ry_cnot") == num_qubits(M) * 4
    assert _trainable(a) == a.parameter_counts()["total"]
    b = make_quantum_train(BALL, seed=0, generator="classical", hidden=(8,))
    assert _trainable(b) == b.parameter_counts()["total"] == M


def test_num_qubits_edges():
    assert [num_qubits(m) for m in (1, 2, 3, 4, 5, 1024, 1025)] == [1, 1, 2, 2, 3, 10, 11]
    with pytest.raises(ValueError, match="num_params"):
        num_qubits(0)


@pytest.mark.parametrize("ansatz", ["u3_cu3", "ry_cnot"])
def test_probabilities_sum_to_one(ansatz):
    qc = QuantumCircuit(4, 2, ansatz, generator=torch.Generator().manual_seed(1))
    p = qc()
    assert p.shape == (16,) and torch.all(p >= 0)
    assert float(p.detach().sum()) == pytest.approx(1.0, abs=1e-10)
    assert qc.calls == 1


def test_u3_cu3_at_zero_is_basis_state_zero():
    qc = QuantumCircuit(3, 1, "u3_cu3")
    with torch.no_grad():
        qc.u3.zero_()
        qc.cu3.zero_()
    p = qc()
    assert float(p[0].detach()) == pytest.approx(1.0)


def test_basis_bits_and_squash():
    b = basis_bits(3, 8)
    assert b[1].tolist() == [-1, -1, 1] and b[4].tolist() == [1, -1, -1] and b[7].tolist() == [1, 1, 1]
    p = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    x = squash(p, 3, 0.1, 1.0, 1.0)
    ref = torch.tanh(0.1 * 4 * p)
    assert torch.allclose(x, ref - ref.mean())


def test_gradients_reach_circuit_and_mapping():
    a = make_quantum_train(BALL, seed=0, depth=1, hidden=(4,))
    params = a.model.generate()
    obs = torch.randn(7, 18, generator=torch.Generator().manual_seed(0))
    a.model.logits(obs, params)[:, 0].sum().backward()
    assert a.model.qnn.u3.grad is not None and float(a.model.qnn.u3.grad.abs().sum()) > 0
    assert a.model.qnn.cu3.grad is not None and float(a.model.qnn.cu3.grad.abs().sum()) > 0
    for p in a.model.mapping.parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0
    # the template net's own weights are not trained
    assert all(not p.requires_grad for p in a.model.module.parameters())


def test_weights_generated_once_per_update():
    a = make_quantum_train(BALL, seed=0, depth=1, hidden=(4,))
    a.learn(300)
    assert a.updates > 1
    assert a.model.qnn.calls == a.updates
    obs = np.zeros((3, 3, 3, 2), np.float32)
    a.act_batch(obs)
    a.act_batch(obs)
    assert a.model.qnn.calls == a.updates + 1  # cached between updates


def test_discounted_returns():
    r = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    G = discounted_returns(r, 0.5)
    assert np.allclose(G[:, 0], [1 + 0.5 * 0 + 0.25 * 2, 0 + 0.5 * 2, 2])
    assert np.allclose(G[:, 1], [0.5, 1, 0])


def test_reinforce_gradient_sign():
    logits = torch.zeros(2, 3, requires_grad=True)
    actions = torch.tensor([1, 2])
    w = torch.tensor([1.0, -1.0])
    loss, _ = reinforce_loss(logits, actions, w, torch.ones(2, dtype=torch.bool), 1)
    loss.backward()
    # descent raises the logit of the positively weighted action, lowers the negatively weighted one
    assert logits.grad[0, 1] < 0 and logits.grad[1, 2] > 0
    # masked rows contribute nothing
    logits.grad = None
    loss, _ = reinforce_loss(logits, actions, w, torch.tensor([True, False]), 1)
    loss.backward()
    assert torch.all(logits.grad[1] == 0)


def test_reinforce_update_moves_policy_towards_rewarded_action():
    """A constructed one-step problem: action 1 earns +1, the others 0 (through update())."""
    a = make_quantum_train(BALL, seed=3, depth=2, hidden=(4,), learning_rate=0.05)
    obs1 = np.zeros((1, 18), np.float32)
    state = torch.from_numpy(obs1)

    def prob1():
        with torch.no_grad():
            return float(torch.softmax(a.model.logits(state, a.model.generate()), -1)[0, 1])

    batch = []
    for act in range(5):
        batch.append((obs1[None], np.array([[act]]), np.array([[1.0 if act == 1 else 0.0]], np.float32),
                      np.ones((1, 1), bool), {}))
    before = prob1()
    for _ in range(15):
        a.update(batch)
    after = prob1()
    assert after > before + 0.05


def test_actor_critic_runs_and_trains_critic():
    a = make_quantum_train(BALL, seed=0, depth=1, hidden=(4,), algo="actor_critic")
    w0 = [p.detach().clone() for p in a.critic.parameters()]
    a.learn(200)
    assert a.parameter_counts()["critic"] == _trainable(a) - a.parameter_counts()["total"]
    assert any(not torch.equal(p, q) for p, q in zip(a.critic.parameters(), w0))


def test_config_rejects_unknown_and_bad_values():
    with pytest.raises(ValueError, match="allowed"):
        make_quantum_train(BALL, seed=0, depthh=3)
    with pytest.raises(ValueError, match="ansatz"):
        QTConfig(ansatz="cz")
    with pytest.raises(ValueError, match="depth"):
        QTConfig(depth=0)


def test_save_load_round_trip_and_resume(tmp_path):
    from qmarl_agents.registry import load_agent, load_policy

    a = make_quantum_train(BALL2, seed=1, depth=1, hidden=(4,))
    a.learn(400)
    a.save(str(tmp_path / "ck"))
    obs = np.random.default_rng(0).integers(0, 2, (50, 3, 3, 2)).astype(np.float32)
    p = load_policy(tmp_path / "ck")
    assert np.array_equal(p.act_batch(obs), a.act_batch(obs))
    r = load_agent(tmp_path / "ck")
    assert (r.agent_steps, r.episodes, r.updates) == (a.agent_steps, a.episodes, a.updates)
    sa, sr = a.optimizer.state_dict()["state"], r.optimizer.state_dict()["state"]
    assert sa.keys() == sr.keys() and all(torch.equal(sa[k]["exp_avg"], sr[k]["exp_avg"]) for k in sa)
    # the resumed and the original agent continue identically
    a.learn(800)
    r.learn(800)
    assert np.array_equal(p.act_batch(obs), load_policy(tmp_path / "ck").act_batch(obs))
    for x, y in zip(a.trainable_module.parameters(), r.trainable_module.parameters()):
        assert torch.allclose(x, y)


def test_checkpoint_architecture_mismatch(tmp_path):
    from qmarl_agents.checkpoint import load_checkpoint

    a = make_quantum_train(BALL, seed=0, depth=1, hidden=(4,))
    a.save(str(tmp_path / "ck"))
    cfg, arrays = load_checkpoint(tmp_path / "ck")
    cfg["qt_config"]["depth"] = 2
    with pytest.raises(ValueError, match="mis-shaped"):
        QTAgent.from_checkpoint(cfg, arrays)


def test_act_on_multi_agent_env():
    import qmarl_envs

    a = make_quantum_train(BALL2, seed=0, depth=1, hidden=(4,))
    env = qmarl_envs.make(BALL2)
    obs, _ = env.reset(seed=0)
    acts = a.act(obs)
    assert set(acts) == set(env.agents) and all(0 <= v < 5 for v in acts.values())
    batch = np.stack([obs[k] for k in env.possible_agents])
    out = a.act_batch(batch, np.array([True, False]))
    assert out[1] == 4 and out.dtype == np.int64
    with pytest.raises(ValueError, match="obs"):
        a.act_batch(np.zeros((2, 5), np.float32))


def test_same_seed_same_weights():
    a = make_quantum_train(BALL, seed=5, depth=1, hidden=(4,))
    b = make_quantum_train(BALL, seed=5, depth=1, hidden=(4,))
    a.learn(200)
    b.learn(200)
    for x, y in zip(a.trainable_module.parameters(), b.trainable_module.parameters()):
        assert torch.equal(x, y)


def test_make_agent_takes_gymnasium_ids_and_rejects_bad_ones():
    from qmarl_agents import make_agent
    from qmarl_agents.registry import env_kind

    a = make_agent("quantum-train", env_id="CartPole-v1", seed=0, depth=1, hidden=(4,))
    assert a.env_id == "CartPole-v1" and a.envs.num_agents == 1 and a.obs_shape == (4,)
    assert a.parameter_counts()["classical_M"] == 4 * 4 + 4 + 4 * 2 + 2
    assert env_kind("CartPole-v1", "quantum-train") == "gymnasium"
    assert env_kind(BALL, "quantum-train") == env_kind(BALL, "ppo") == env_kind(BALL) == "qmarl"
    with pytest.raises(ValueError, match="'CartPole-v1'"):  # a typo names the close Gymnasium ids
        make_agent("quantum-train", env_id="CartPol-v1")
    with pytest.raises(ValueError, match="unknown env id 'qmarl/Jungle-v9'"):
        make_agent("quantum-train", env_id="qmarl/Jungle-v9")
    with pytest.raises(ValueError, match="Discrete"):
        make_agent("quantum-train", env_id="Pendulum-v1")
    with pytest.raises(ValueError, match="unknown env id 'CartPole-v1'"):  # agents without gymnasium_envs
        make_agent("ppo", env_id="CartPole-v1")
    with pytest.raises(ValueError, match="env_id"):
        env_kind(3, "quantum-train")


def test_train_on_cartpole_logs_resumes_and_skips_the_leaderboard_evaluation(tmp_path):
    from qmarl_agents.train import train

    cfg = {"depth": 1, "hidden": [4]}
    res = train("quantum-train", "CartPole-v1", episodes=4, out=tmp_path / "run", progress=False,
                tensorboard=False, config=cfg)
    assert res.episodes == 4 and res.evaluation is None and "submission" not in res.files
    assert (tmp_path / "run" / "model.safetensors").is_file() and (tmp_path / "run" / "learning_curve.png").is_file()
    import json

    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["env_id"] == "CartPole-v1" and run["budget_agent_steps"] == 4 * 500  # TimeLimit 500
    steps = res.agent_steps
    more = train("quantum-train", "CartPole-v1", episodes=7, out=tmp_path / "run", resume=True, progress=False,
                 tensorboard=False, config=cfg)
    assert more.episodes == 7 and more.agent_steps > steps
    with open(tmp_path / "run" / "episodes.csv") as f:
        assert sum(1 for _ in f) == 1 + 7
    with pytest.raises(ValueError, match="not a registered Gymnasium id"):
        train("quantum-train", "CartPol-v1", episodes=1, out=tmp_path / "bad", progress=False)
    assert not (tmp_path / "bad").exists()


def test_max_updates_stops_learning_and_score_of_all_workers_is_logged():
    a = make_quantum_train(BALL, seed=0, depth=1, hidden=(4,), max_updates=3)
    logged = []

    class CB:
        def on_steps(self, steps):
            return True

        def on_episode(self, steps, summary):
            logged.append(float(summary["score"]))

        def on_metrics(self, steps, metrics):
            # one process: the mean over all workers is this process's episode score
            assert metrics["score_all_workers"] == metrics["score"] == logged[-1]

    a.learn(10**9, callback=CB())
    assert a.updates == 3 and len(logged) == 3
    with pytest.raises(ValueError, match="max_updates"):
        QTConfig(max_updates=-1)
