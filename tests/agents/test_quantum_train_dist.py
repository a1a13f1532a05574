"""Dist-QTRL through torchrun: ``qmarl train quantum-train --workers K`` and the sweep helper."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

ENV = "qmarl/BallCollection-3x3-v0"
CFG = {"depth": 1, "hidden": (4,)}


def test_two_workers_through_the_cli_write_one_run(tmp_path):
    from qmarl_agents.quantum_train.dist import read_run, run_workers

    r = run_workers(ENV, 2, seed=0, config=CFG, agent_steps=300, out=tmp_path / "run")
    run = read_run(tmp_path / "run")["run"]
    assert run["agent_steps"] >= 300 and r["agent_steps"] == run["agent_steps"]
    # rank 0 alone logs: one row per round, and each round holds K episodes' agent-steps
    assert r["rounds"] == run["episodes"] == len(r["scores"]) >= 1 and r["episodes"] == 2 * r["rounds"]
    assert (tmp_path / "run" / "model.safetensors").is_file() and not (tmp_path / "run" / "submission.json").exists()
    cut = run_workers(ENV, 2, seed=0, config=CFG, agent_steps=300, out=tmp_path / "run", max_rounds=2)
    assert cut["rounds"] == 2 and cut["scores"] == r["scores"][:2]  # same seed, same run; cut-off at 2 rounds


def test_max_rounds_stops_every_rank_and_reuse_skips_a_finished_run(tmp_path, monkeypatch):
    from qmarl_agents import distributed
    from qmarl_agents.quantum_train.dist import run_workers

    r = run_workers(ENV, 2, seed=0, config=CFG, agent_steps=10**6, out=tmp_path / "run", max_rounds=3)
    assert r["rounds"] == 3 == len(r["scores_all_workers"]) and r["agent_steps"] < 10**6
    monkeypatch.setattr(distributed, "launch", lambda *a, **k: pytest.fail("relaunched a finished run"))
    again = run_workers(ENV, 2, seed=0, config=CFG, agent_steps=10**6, out=tmp_path / "run", max_rounds=3, reuse=True)
    assert again["scores"] == r["scores"] and again["scores_all_workers"] == r["scores_all_workers"]
    calls = []
    monkeypatch.setattr(distributed, "launch", lambda argv, k: calls.append(argv) or 1)
    with pytest.raises(RuntimeError, match="failed"):  # another seed is another run: launched
        run_workers(ENV, 2, seed=1, config=CFG, agent_steps=10**6, out=tmp_path / "run", max_rounds=3, reuse=True)
    assert calls and "--seed" in calls[0] and calls[0][calls[0].index("--seed") + 1] == "1"


def test_arguments_checked(tmp_path):
    from qmarl_agents.quantum_train.dist import read_run, run_workers

    with pytest.raises(ValueError, match="workers"):
        run_workers(ENV, 0, agent_steps=10, out=tmp_path)
    with pytest.raises(ValueError, match="agent_steps"):
        run_workers(ENV, 2, agent_steps=0, out=tmp_path)
    with pytest.raises(ValueError, match="episodes_per_update"):
        run_workers(ENV, 2, agent_steps=10, out=tmp_path, config={"episodes_per_update": 2})
    with pytest.raises(ValueError, match="no finished"):
        read_run(tmp_path)


# each rank runs train() (what `qmarl train --workers K` runs on a rank) and records, per update,
# the episodes it trained on and its parameters after the Adam step
_RANK_SCRIPT = textwrap.dedent("""
    import os, sys
    import numpy as np
    from qmarl_agents.quantum_train import agent as qa
    from qmarl_agents.train import train

    rec = {}
    orig = qa.QTAgent.update

    def update(self, batch, params=None):
        m = orig(self, batch, params)
        u = self.updates - 1
        for i, (o, a, r, al, info) in enumerate(batch):
            rec.update({f"u{u}_e{i}_obs": o, f"u{u}_e{i}_act": a, f"u{u}_e{i}_rew": r, f"u{u}_e{i}_alive": al,
                        f"u{u}_e{i}_score": np.float64(info["score"])})
        rec[f"u{u}_params"] = np.concatenate([p.detach().double().reshape(-1).numpy()
                                              for p in self.trainable_module.parameters()])
        return m

    qa.QTAgent.update = update
    out = sys.argv[1]
    train("quantum-train", "%s", agent_steps=int(sys.argv[2]), seed=0, out=out, protocol=None,
          progress=False, tensorboard=False, config=%r)
    np.savez(f"{out}/rank{os.environ['RANK']}.npz", **rec)
""")


def test_ranks_stay_in_sync_and_match_one_process_on_the_same_data(tmp_path, monkeypatch):
    """A torchrun start of two ranks plus the replay: ~10 s on 2 cores (not marked slow: under 20 s)."""
    import torch

    from qmarl_agents.quantum_train import agent as qa

    script = tmp_path / "rank.py"
    script.write_text(_RANK_SCRIPT % (ENV, CFG))
    out = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                    str(script), str(out), "300"], check=True, timeout=600)
    r0, r1 = (dict(np.load(out / f"rank{k}.npz", allow_pickle=False)) for k in (0, 1))
    updates = sum(1 for k in r0 if k.endswith("_params"))
    assert updates >= 2 and updates == sum(1 for k in r1 if k.endswith("_params"))
    for u in range(updates):  # identical parameters on both ranks after every step
        np.testing.assert_array_equal(r0[f"u{u}_params"], r1[f"u{u}_params"])
    assert not np.array_equal(r0["u0_e0_act"], r1["u0_e0_act"]) or not np.array_equal(r0["u0_e0_obs"], r1["u0_e0_obs"])
    # rank 0 logs, per update, the mean score of both ranks' episodes (an all-reduce in learn)
    from qmarl_agents.quantum_train.dist import read_run

    both = read_run(out)["scores_all_workers"]
    assert len(both) == updates
    np.testing.assert_allclose(both, [(r0[f"u{u}_e0_score"] + r1[f"u{u}_e0_score"]) / 2 for u in range(updates)],
                               rtol=1e-6)

    # one process, same data: per update, each rank's gradient at the shared parameters, averaged,
    # then one Adam step -- what the all-reduce should have given
    def batch(rec, u):
        return [(rec[f"u{u}_e0_obs"], rec[f"u{u}_e0_act"], rec[f"u{u}_e0_rew"], rec[f"u{u}_e0_alive"], {})]

    class Capture:
        grads = None

        def allreduce_gradients(self, module):
            Capture.grads = [p.grad.detach().clone() for p in module.parameters()]

    class Mean:
        def __init__(self, grads):
            self.grads = grads

        def allreduce_gradients(self, module):
            for p, g in zip(module.parameters(), self.grads):
                p.grad.copy_(g)

    single = qa.make_quantum_train(ENV, seed=0, **CFG)
    probe = qa.make_quantum_train(ENV, seed=0, **CFG)
    for u in range(updates):
        grads = []
        for rec in (r0, r1):
            probe.trainable_module.load_state_dict(single.trainable_module.state_dict())
            monkeypatch.setattr(qa, "_dist", Capture)
            probe.update(batch(rec, u))
            grads.append(Capture.grads)
        monkeypatch.setattr(qa, "_dist", lambda g=[(a + b) / 2 for a, b in zip(*grads)]: Mean(g))
        single.update(batch(r0, u))
        flat = torch.cat([p.detach().double().reshape(-1) for p in single.trainable_module.parameters()]).numpy()
        np.testing.assert_allclose(flat, r0[f"u{u}_params"], rtol=0, atol=1e-6)
    # and the averaging mattered: rank 0's data alone gives other parameters
    alone = qa.make_quantum_train(ENV, seed=0, **CFG)
    monkeypatch.setattr(qa, "_dist", Capture)
    for u in range(updates):
        alone.update(batch(r0, u))
    flat = torch.cat([p.detach().double().reshape(-1) for p in alone.trainable_module.parameters()]).numpy()
    assert np.abs(flat - r0[f"u{updates - 1}_params"]).max() > 1e-5
