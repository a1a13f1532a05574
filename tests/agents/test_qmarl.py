"""Q-MARL agent: ego graphs against networkx, RBF, equivariance, ensembling, baseline, act(), checkpoints."""

import json

import networkx as nx
import numpy as np
import pytest
import torch

import qmarl_envs
from qmarl_agents import load_policy, make_agent
from qmarl_agents.cli import main
from qmarl_agents.qmarl.agent import counterfactual_baseline, ensemble_probs, held_terminal_rewards, lambda_returns
from qmarl_agents.qmarl.graph import ego_subgraphs, offset_edges
from qmarl_agents.qmarl.network import MessagePassingNet, rbf_expand
from qmarl_agents.registry import load_agent

JUNGLE = "qmarl/Jungle-v0"


def _both_ways(g: nx.Graph) -> np.ndarray:
    e = np.array(list(g.edges()), dtype=np.int64).reshape(-1, 2).T
    return np.concatenate([e, e[::-1]], axis=1)


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_ego_subgraphs_equal_networkx_on_random_multi_copy_graphs(depth):
    rng = np.random.default_rng(depth)
    graphs = [nx.gnp_random_graph(int(rng.integers(1, 25)), 0.12, seed=int(rng.integers(1 << 30)))
              for _ in range(4)]
    sizes = [g.number_of_nodes() for g in graphs]
    edges = offset_edges([_both_ways(g) for g in graphs], sizes)
    whole = nx.disjoint_union_all(graphs)  # relabels consecutively, the same offsets
    b = ego_subgraphs(edges, sum(sizes), depth)
    for i in range(sum(sizes)):
        ref = nx.ego_graph(whole, i, radius=depth)
        sel = b.ego == i
        assert sorted(b.node[sel]) == sorted(ref.nodes())
        assert b.node[b.center[i]] == i and b.ego[b.center[i]] == i
        mine = {(int(b.node[s]), int(b.node[d])) for s, d in zip(b.src, b.dst) if b.ego[s] == i}
        assert all(b.ego[d] == i for s, d in zip(b.src, b.dst) if b.ego[s] == i)
        assert mine == {(u, v) for u, v in ref.edges()} | {(v, u) for u, v in ref.edges()}


def test_ego_subgraphs_mask_drops_dead_vertices_and_rejects_bad_input():
    g = nx.path_graph(5)
    mask = np.array([True, True, False, True, True])
    b = ego_subgraphs(_both_ways(g), 5, 3, mask)
    assert b.center[2] == -1 and 2 not in b.node
    assert sorted(b.node[b.ego == 0]) == [0, 1]  # the path is cut at the dead vertex
    with pytest.raises(ValueError, match="edges"):
        ego_subgraphs(np.zeros((3, 2), np.int64), 5, 1)
    with pytest.raises(ValueError, match="edges"):
        ego_subgraphs(np.array([[0], [9]]), 5, 1)
    with pytest.raises(ValueError, match="depth"):
        ego_subgraphs(np.zeros((2, 0), np.int64), 5, -1)


def test_rbf_shape_and_peak():
    d = torch.tensor([0.0, 0.7, 1.4142])
    z = rbf_expand(d, 10, 1.4142)
    assert z.shape == (3, 10)
    assert int(z[2].argmax()) == 9 and int(z[1].argmax()) == 4  # centres n * view_range / 10
    assert float(z.max()) <= 1.0 + 1e-6


def test_message_passing_is_permutation_equivariant():
    gen = torch.Generator().manual_seed(0)
    net = MessagePassingNet(18, hidden=16)
    m = 9
    obs = torch.randn(m, 18, generator=gen)
    src = torch.tensor([0, 1, 1, 2, 3, 4, 5, 6, 7, 8])
    dst = torch.tensor([1, 0, 2, 1, 4, 3, 6, 5, 8, 7])
    dist = torch.rand(src.shape[0], generator=gen) * 1.4
    logits, q = net(obs, src, dst, dist)
    perm = torch.randperm(m, generator=gen)
    inv = torch.argsort(perm)  # new index of old row
    logits_p, q_p = net(obs[perm], inv[src], inv[dst], dist)
    assert torch.allclose(logits_p, logits[perm], atol=1e-5)
    assert torch.allclose(q_p, q[perm], atol=1e-5)
    # and messages matter: cutting the edges changes the output
    cut, _ = net(obs, src[:0], dst[:0], dist[:0])
    assert not torch.allclose(cut, logits, atol=1e-4)


def test_ensembling_rule_and_off_switch():
    # agent 0 is in sub-graphs 0 and 1, agent 1 in sub-graph 1 only, agent 2 has none
    probs = torch.tensor([[1.0, 0, 0, 0, 0],     # (ego 0, agent 0)
                          [0, 1.0, 0, 0, 0],     # (ego 1, agent 0)
                          [0, 0, 1.0, 0, 0]])    # (ego 1, agent 1)
    node = torch.tensor([0, 0, 1])
    center = torch.tensor([0, 2, -1])
    on = ensemble_probs(probs, node, center, 3, True)
    assert torch.allclose(on[0], torch.tensor([0.5, 0.5, 0, 0, 0]))
    assert torch.allclose(on[1], probs[2]) and torch.allclose(on[2], torch.full((5,), 0.2))
    off = ensemble_probs(probs, node, center, 3, False)
    assert torch.allclose(off[0], probs[0]) and torch.allclose(off[1], probs[2])


def test_counterfactual_baseline_formula():
    gen = torch.Generator().manual_seed(1)
    p = torch.softmax(torch.randn(6, 5, generator=gen), -1)
    q = torch.randn(6, 5, generator=gen)
    v = counterfactual_baseline(p, q)
    for i in range(6):
        assert abs(float(v[i]) - sum(float(p[i, a] * q[i, a]) for a in range(5))) < 1e-6


def test_lambda_returns_span_one_step_td_to_monte_carlo():
    gen = torch.Generator().manual_seed(3)
    rew = torch.randn(5, 3, generator=gen)
    val = torch.randn(5, 3, generator=gen)
    end = torch.zeros(5, 3, dtype=torch.bool)
    end[2, 1] = end[4, :] = True                    # row 1 ends at t=2 (and its slot then idles)
    g0 = lambda_returns(rew, val, end, 0.9, 0.0)
    nxt = torch.cat([val[1:], torch.zeros(1, 3)]) * (~end)
    assert torch.allclose(g0, rew + 0.9 * nxt)       # [P]'s one-step target
    g1 = lambda_returns(rew, val, end, 0.9, 1.0)
    assert abs(float(g1[0, 1]) - float(rew[0, 1] + 0.9 * rew[1, 1] + 0.81 * rew[2, 1])) < 1e-6
    assert abs(float(g1[0, 0]) - sum(0.9 ** k * float(rew[k, 0]) for k in range(5))) < 1e-5
    gh = lambda_returns(rew, val, end, 0.9, 0.5)
    assert abs(float(gh[3, 0]) - float(rew[3, 0] + 0.9 * (0.5 * val[4, 0] + 0.5 * gh[4, 0]))) < 1e-6
    with pytest.raises(ValueError, match="gae_lambda"):
        make_agent("qmarl", env_id=JUNGLE, gae_lambda=1.5)


@pytest.mark.parametrize("gamma", [1.0, 0.9])
def test_held_terminal_rewards_repeat_the_last_reward_for_the_remaining_steps(gamma):
    rew = np.array([[0, 1, 0], [-1, 1, 0], [0, 0, 2], [0, 0, 0]], dtype=np.float32)   # (T=4, R=3)
    term = np.zeros((4, 3), dtype=bool)
    term[1, 0] = term[2, 2] = True                      # agent 0 dies at t=1, agent 2 ends at t=2
    out = held_terminal_rewards(rew, term, max_cycles=6, gamma=gamma)
    expect = rew.copy()
    expect[1, 0] = -sum(gamma ** k for k in range(5))   # t=1 of 6: itself + 4 remaining steps
    expect[2, 2] = 2 * sum(gamma ** k for k in range(4))
    assert np.allclose(out, expect)
    assert np.array_equal(rew[1], [-1, 1, 0])           # input untouched
    last = np.zeros((6, 1), np.float32); last[5, 0] = -1
    assert held_terminal_rewards(last, last < 0, 6, gamma)[5, 0] == -1   # nothing left to hold


def test_ensembling_switch_changes_actions_of_a_trained_policy():
    env = qmarl_envs.make(JUNGLE, num_agents=10, map_size=5).unwrapped
    on = make_agent("qmarl", env_id=JUNGLE, seed=3)
    off = make_agent("qmarl", env_id=JUNGLE, seed=3, ensemble=False)
    obs = env.reset_arrays(seed=0)
    on.bind(env), off.bind(env)
    p_on, b = on.probs(obs, env.alive_mask(), env.positions(), env.neighbor_graph())
    p_off, _ = off.probs(obs, env.alive_mask(), env.positions(), env.neighbor_graph())
    shared = np.bincount(b.node, minlength=obs.shape[0]) > 1
    assert shared.any()
    assert torch.allclose(p_on[~torch.from_numpy(shared)], p_off[~torch.from_numpy(shared)], atol=1e-6)
    assert not torch.allclose(p_on[torch.from_numpy(shared)], p_off[torch.from_numpy(shared)], atol=1e-6)


def test_act_matches_rows_by_agent_id_when_agents_die():
    env = qmarl_envs.make(JUNGLE, num_agents=8, map_size=5)
    agent = make_agent("qmarl", env_id=JUNGLE, seed=0)
    agent.bind(env)
    base = env.unwrapped
    observations, _ = env.reset(seed=4)
    died = False
    while env.agents:
        observations = {k: observations[k] for k in env.agents}
        acts = agent.act(observations)
        assert set(acts) == set(observations)
        full = np.zeros((len(base.possible_agents), *base.observation_space("agent_0").shape), np.float32)
        alive = np.zeros(len(base.possible_agents), bool)
        for k, o in observations.items():
            full[base.possible_agents.index(k)] = o
            alive[base.possible_agents.index(k)] = True
        ref = agent.act_batch(full, alive)
        assert all(acts[k] == ref[base.possible_agents.index(k)] for k in acts)
        # reversed key order gives the same answer: rows are matched by id, not by position
        assert agent.act(dict(reversed(list(observations.items())))) == acts
        died |= len(env.agents) < 8
        observations, *_ = env.step(acts)
    assert died  # 8 agents on 5x5 crowd and die
    with pytest.raises(ValueError, match="unknown agent"):
        env.reset(seed=0)
        agent.act({"nobody": np.zeros((3, 3, 2), np.float32)})


def test_unbound_graph_policy_raises_and_bad_config_is_rejected():
    agent = make_agent("qmarl", env_id=JUNGLE, seed=0)
    with pytest.raises(RuntimeError, match="bind"):
        agent.act_batch(np.zeros((4, 3, 3, 2), np.float32))
    with pytest.raises(ValueError, match="allowed"):
        make_agent("qmarl", env_id=JUNGLE, nope=1)
    with pytest.raises(ValueError, match="variant"):
        make_agent("qmarl", env_id=JUNGLE, variant="dqn")


@pytest.mark.parametrize("variant", ["ac", "pg", "vanilla"])
def test_learn_save_load_resume_and_same_seed_same_weights(tmp_path, variant):
    cfg = dict(variant=variant, games_per_batch=4, n_envs=4)
    a = make_agent("qmarl", env_id=JUNGLE, seed=5, **cfg).learn(1000)
    b = make_agent("qmarl", env_id=JUNGLE, seed=5, **cfg).learn(1000)
    assert a.agent_steps >= 1000 and a.batches >= 2
    for (k, x), y in zip(a.net.state_dict().items(), b.net.state_dict().values()):
        assert torch.equal(x, y), k
    a.save(str(tmp_path / "ck"))
    cfg_json = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert cfg_json["agent"] == "qmarl" and cfg_json["qmarl_config"]["variant"] == variant
    env = qmarl_envs.make(JUNGLE)
    pol = load_policy(tmp_path / "ck", env)
    obs, _ = env.reset(seed=1)
    assert pol.act(obs) == a.bind(env).act(obs)
    # resume continues with the same optimiser state as an uninterrupted run
    r = load_agent(tmp_path / "ck")
    r.learn(2000), a.learn(2000)
    for (k, x), y in zip(a.net.state_dict().items(), r.net.state_dict().values()):
        assert torch.allclose(x, y, atol=1e-6), k


def test_load_rejects_mismatched_architecture(tmp_path):
    a = make_agent("qmarl", env_id=JUNGLE, seed=0)
    a.save(str(tmp_path / "ck"))
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    cfg["qmarl_config"]["hidden"] = 8
    (tmp_path / "ck" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="architecture"):
        load_policy(tmp_path / "ck")


def test_qmarl_train_command(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "qmarl", "--env", JUNGLE, "--agent-steps", "2000", "--out", str(out), "--no-progress",
            "--config", "games_per_batch=8", "--config", "n_envs=8",
            "--eval-episodes", "1", "--eval-seeds", "0-1"]
    assert main(args) == 0
    assert "evaluation: mean" in capsys.readouterr().out
    for name in ("config.json", "model.safetensors", "episodes.csv", "submission.json"):
        assert (out / name).is_file(), name
    sub = json.loads((out / "submission.json").read_text())
    assert sub["agent"] == "qmarl"
    resume = [x if x != "2000" else "4000" for x in args] + ["--resume"]
    assert main(resume) == 0
    assert json.loads((out / "config.json").read_text())["agent_steps"] >= 4000


@pytest.mark.slow
def test_quick_reproduction_writes_its_files_and_no_partial(tmp_path):
    assert main(["reproduce", "qmarl", "--quick", "--out", str(tmp_path)]) in (0, None)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["learning_curves.png", "results.json", "results.md"]
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["jungle_local_view_deterministic"] < res["jungle_local_view_reference"] < res["jungle_score_ceiling"]
    assert (tmp_path / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reproduction_run_scores_and_table_formatting():
    import dataclasses

    from qmarl_agents.leaderboard.protocol import DEFAULT_PROTOCOL
    from qmarl_agents.qmarl import reproduce

    tiny = dataclasses.replace(DEFAULT_PROTOCOL, seeds=(0,), episodes_per_seed=1, bootstrap_reps=100)
    r = reproduce._train_and_score(JUNGLE, {"num_agents": 8}, "ac", 0, 20, (tiny, tiny, tiny), True)
    assert len(r["curve"]) >= 1 and -1 <= r["iqm"] <= 1
    assert set(r["generalisation"]) == {"N", "2N", "1k"} and r["ensembling"]["on"] == r["iqm"]
    v = reproduce._train_and_score(JUNGLE, {"num_agents": 8}, "vanilla", 0, 20, (tiny, tiny, tiny), True)
    assert "generalisation" not in v
    assert reproduce._cell({"iqm": 0.25, "iqm_per_seed": [0.1, 0.4]}) == "0.250 (0.10, 0.40)"
    assert reproduce._cell({"iqm": 0.25, "iqm_per_seed": [0.25]}) == "0.250"
    row = {label: {"iqm": 0.1, "iqm_per_seed": [0.1], "iqm_sampled": 0.2, "best_batch_mean": 0.3}
           for label in reproduce.VARIANTS}
    md = reproduce._markdown({"table": {"Jungle": row}, "generalisation": {"Jungle": r["generalisation"]},
                              "ensembling": {"Jungle": r["ensembling"]}, "jungle_local_view_reference": 0.22,
                              "jungle_local_view_deterministic": 0.11, "jungle_score_ceiling": 0.85,
                              "settings": {"games_per_run": 20, "games_per_batch": 20, "seeds": [0], "quick": True}})
    assert "| Jungle | 0.100 | 0.100 | 0.100 | 0.91 | 0.656 |" in md and "IQM 0.220, 0.110 with ties" in md
    assert "above IQM 0.850" in md
    assert "| Jungle | 0.300 | 0.300 | 0.300 | 0.91 |" in md        # the peak-batch table


def test_local_view_actions_feed_approach_and_avoid():
    from qmarl_agents.qmarl.reproduce import local_view_actions, local_view_reference

    obs = np.zeros((4, 3, 3, 2), np.float32)
    obs[:, 1, 1, 1] = 1                      # every agent counts itself
    obs[0, 0, 1, 0] = 1                      # food right above: fed, stays
    obs[1, 0, 0, 0] = 1                      # food up-left: up and left are both feeding cells
    obs[1, 1, 0, 1] = 1                      # ... but an agent stands on the left one -> up
    obs[2, 1, 0, 1] = 1                      # an agent on the left, no food: steps away from it
    alive = np.array([True, True, True, False])
    for seed in range(5):
        acts = local_view_actions(obs, alive, np.random.default_rng(seed))
        assert acts[[0, 1, 3]].tolist() == [4, 0, 4] and acts[2] in (0, 1, 3)
    obs[3, 1, 2, 0] = -1                     # the map edge on the right blocks that move
    obs[3, 0:3, 2, :] = -1
    acts = local_view_actions(obs, np.ones(4, bool), np.random.default_rng(0))
    assert acts[3] in (0, 1, 2)
    with pytest.raises(ValueError, match="env_id"):
        local_view_reference("qmarl/Battle-v0", episodes=1)


def test_local_view_noise_only_breaks_ties_and_zero_noise_is_deterministic():
    from qmarl_agents.qmarl.reproduce import local_view_actions

    obs = np.zeros((200, 3, 3, 2), np.float32)
    obs[:, 1, 1, 1] = 1                      # nothing in view but the agent itself
    alive = np.ones(200, bool)
    acts = local_view_actions(obs, alive, np.random.default_rng(0))
    assert set(acts.tolist()) == {0, 1, 2, 3}           # the four tied moves, at random
    zero = [local_view_actions(obs, alive, np.random.default_rng(s), noise=0.0) for s in range(3)]
    assert all(a.tolist() == [0] * 200 for a in zero)  # ties by action order, whatever the rng
    obs[:, 0, 1, 0] = 1                      # food right above: every agent stays, noise or not
    assert local_view_actions(obs, alive, np.random.default_rng(1)).tolist() == [4] * 200
    with pytest.raises(ValueError, match="noise"):
        local_view_actions(obs, alive, np.random.default_rng(0), noise=-1.0)


def _bound_by_enumeration(env) -> float:
    """jungle_score_bound's formula with the matchings found by trying every assignment."""
    import itertools

    food = env.state()[..., 0] > 0
    s = food.shape[0]
    cells = {(r + dr, c + dc) for r, c in np.argwhere(food) for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
             if 0 <= r + dr < s and 0 <= c + dc < s and not food[r + dr, c + dc]}
    pos = [tuple(p) for p in env.positions()]
    n, steps, hp = len(pos), env.scenario.config.max_cycles, env.scenario.config.hp
    fed = 0
    for t in range(1, steps + 1):
        fed += max(sum(c is not None and abs(p[0] - c[0]) + abs(p[1] - c[1]) <= t for p, c in zip(pos, pick))
                   for pick in itertools.permutations(sorted(cells) + [None] * n, n))
    return min(1.0, (fed + (hp - 1) * n) / (n * steps))


def test_jungle_score_bound_matches_enumeration_and_no_policy_beats_it():
    from qmarl_agents.qmarl import reproduce
    from qmarl_envs.scenarios import jungle

    env = qmarl_envs.make(JUNGLE).unwrapped
    rng = np.random.default_rng(0)
    bounds = []
    for seed in range(12):
        env.reset_arrays(seed)
        bound = reproduce.jungle_score_bound(env)
        assert bound == pytest.approx(_bound_by_enumeration(env))
        bounds.append(bound)
        scripted = seed % 2 == 0
        while env.alive_mask().any():
            a = (jungle.scripted_actions(env.scenario, env.grid_state, rng) if scripted
                 else rng.integers(0, 5, size=len(env.possible_agents)))
            env.step_arrays(a)
        assert np.mean(env.episode_summary()["score"]) <= bound + 1e-12
        with pytest.raises(RuntimeError, match="right after reset"):
            reproduce.jungle_score_bound(env)
    assert 0.5 < min(bounds) and max(bounds) <= 1.0 and len(set(bounds)) > 1
    assert reproduce.jungle_score_ceiling(JUNGLE, episodes=12) == pytest.approx(reproduce.scipy_trim_mean(bounds))
    with pytest.raises(ValueError, match="Jungle"):
        reproduce.jungle_score_bound(qmarl_envs.make("qmarl/Battle-v0").unwrapped)
    with pytest.raises(RuntimeError, match="reset"):
        reproduce.jungle_score_bound(qmarl_envs.make(JUNGLE).unwrapped)


def test_mean_curve_averages_runs_of_different_lengths_over_their_common_batches():
    from qmarl_agents.qmarl.reproduce import mean_curve

    assert mean_curve([[0.0, 1.0, 2.0], [2.0, 3.0]]) == [1.0, 2.0]
    assert mean_curve([[0.5, -0.5]]) == [0.5, -0.5]
    assert mean_curve([]) == []
    assert mean_curve([[1.0], []]) == []


def test_generalisation_configs_double_the_learning_agents():
    import qmarl_envs
    from qmarl_agents.qmarl.reproduce import SCENARIOS

    for scen, (env_id, double) in SCENARIOS.items():
        n = len(qmarl_envs.make(env_id).unwrapped.possible_agents)
        n2 = len(qmarl_envs.make(env_id, **double).unwrapped.possible_agents)
        assert n2 == 2 * n, scen
