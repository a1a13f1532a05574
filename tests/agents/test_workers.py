"""``qmarl train AGENT --workers K``: torchrun-launched ranks, rank 0 alone writes the run."""

import json

import pytest

from qmarl_agents.cli import main


def test_agent_without_workers_support_is_rejected(tmp_path, capsys):
    rc = main(["train", "ppo", "--env", "qmarl/Jungle-v0", "--workers", "2", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "does not support --workers" in err and "quantum-train" in err
    assert not (tmp_path / "r").exists()


def test_workers_reject_an_episode_budget(tmp_path, capsys):
    rc = main(["train", "qmarl", "--env", "qmarl/Jungle-v0", "--workers", "2", "--episodes", "3",
               "--out", str(tmp_path / "r")])
    assert rc == 2 and "--agent-steps" in capsys.readouterr().err


def test_two_workers_train_and_rank0_writes_one_run(tmp_path):
    out = tmp_path / "run"
    rc = main(["train", "qmarl", "--env", "qmarl/Jungle-v0", "--agent-steps", "1500", "--workers", "2",
               "--out", str(out), "--no-progress", "--eval-seeds", "0", "--eval-episodes", "1"])
    assert rc == 0
    run = json.loads((out / "run.json").read_text())
    assert run["agent"] == "qmarl" and run["agent_steps"] >= 1500
    rows = (out / "episodes.csv").read_text().splitlines()
    assert rows[0].startswith("agent_steps") and sum(r.startswith("agent_steps") for r in rows) == 1
    assert (out / "submission.json").is_file()
