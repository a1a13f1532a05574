"""``qmarl train`` / ``qmarl evaluate`` smoke runs with tiny budgets, resume, and their errors."""

import csv
import json

import pytest

from qmarl_agents.cli import main
from qmarl_agents.leaderboard.protocol import validate_submission
from qmarl_agents.train import latest_checkpoint, read_episodes

BALL1 = "qmarl/BallCollection-3x3-v0"
BALL2 = "qmarl/BallCollection-3x3-2Agents-v0"
TINY_EVAL = ["--eval-episodes", "1", "--eval-seeds", "0-2"]


def test_train_ppo_writes_every_artifact_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "ppo", "--env", BALL2, "--agent-steps", "1024", "--out", str(out), "--no-progress",
            "--config", "n_envs=2", "--config", "n_steps=64", "--config", "batch_size=64", *TINY_EVAL]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "trained ppo" in printed and "evaluation: mean" in printed
    for name in ("config.json", "model.safetensors", "episodes.csv", "metrics.csv", "learning_curve.png",
                 "submission.json", "run.json"):
        assert (out / name).is_file(), name
    assert any((out / "tb").iterdir())
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    steps, scores = read_episodes(out / "episodes.csv")
    assert len(steps) > 0 and (steps[1:] >= steps[:-1]).all()
    with open(out / "metrics.csv") as f:
        keys = {row["key"] for row in csv.DictReader(f)}
    assert "train/value_loss" in keys
    sub = json.loads((out / "submission.json").read_text())
    validate_submission(sub)
    assert sub["agent"] == "ppo" and sub["training"]["agent_steps"] == 1024
    assert len(sub["scores"]) == 3 and sub["protocol"]["seeds"] == [0, 1, 2]
    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert len(ckpts) >= 5  # every fifth of the budget, plus the final one
    # a second run into the same directory needs --resume or --overwrite
    assert main(args) == 2
    assert "already holds a run" in capsys.readouterr().err
    # resume up to a larger budget: steps and logged episodes continue
    n_episodes = len(steps)
    resume = [a if a != "1024" else "2048" for a in args] + ["--resume"]
    assert main(resume) == 0
    assert json.loads((out / "config.json").read_text())["agent_steps"] == 2048
    steps2, _ = read_episodes(out / "episodes.csv")
    assert len(steps2) > n_episodes and steps2[n_episodes] >= steps[-1]
    assert latest_checkpoint(out).name == "step_000000002048"
    run = json.loads((out / "run.json").read_text())
    assert run["agent_steps"] == 2048 and run["training_wall_clock_s"] > 0


@pytest.mark.parametrize("agent", ["random", "scripted"])
def test_train_works_for_baselines(tmp_path, agent):
    out = tmp_path / agent
    assert main(["train", agent, "--env", BALL2, "--agent-steps", "10", "--out", str(out), "--no-progress",
                 *TINY_EVAL]) == 0
    sub = json.loads((out / "submission.json").read_text())
    assert sub["agent"] == agent
    if agent == "scripted":
        assert sub["summary"]["mean"] > 350


def test_train_by_episodes_stops_after_that_many(tmp_path):
    out = tmp_path / "ep"
    assert main(["train", "a2c", "--env", BALL1, "--episodes", "30", "--out", str(out), "--no-progress",
                 "--no-eval", "--config", "n_envs=2"]) == 0
    steps, _ = read_episodes(out / "episodes.csv")
    assert 30 <= len(steps) < 40
    assert not (out / "submission.json").exists()


def test_train_errors(tmp_path, capsys):
    assert main(["train", "ppo", "--env", "qmarl/Nope-v0", "--out", str(tmp_path / "x")]) == 2
    assert "unknown env id" in capsys.readouterr().err
    assert main(["train", "ppo", "--env", BALL1, "--resume", "--out", str(tmp_path / "y")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert main(["train", "ppo", "--env", BALL1, "--agent-steps", "0", "--out", str(tmp_path / "z")]) == 2
    assert "agent_steps" in capsys.readouterr().err
    assert main(["train", "ppo", "--env", BALL1, "--config", "lr=1", "--out", str(tmp_path / "w")]) == 2
    assert "allowed" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()
    with pytest.raises(SystemExit):
        main(["train", "nosuch", "--env", BALL1])


def test_evaluate_prints_statistics_and_writes_a_submission(tmp_path, capsys):
    sub_path = tmp_path / "sub.json"
    assert main(["evaluate", "--env", BALL2, "--policy", "scripted", "--episodes", "2", "--seeds", "0-3",
                 "--submission", str(sub_path), "--author", "Ada <i>L</i>"]) == 0
    out = capsys.readouterr().out
    assert "IQM score" in out and "95% CI" in out and "mean score" in out
    sub = json.loads(sub_path.read_text())
    validate_submission(sub)
    assert sub["protocol"]["seeds"] == [0, 1, 2, 3] and len(sub["scores"][0]) == 2
    assert sub["author"] == "Ada <i>L</i>"
    assert main(["evaluate", "--env", BALL2, "--policy", "nowhere"]) == 2
    assert "neither" in capsys.readouterr().err
    assert main(["evaluate", "--env", BALL2, "--policy", "random", "--seeds", "3-1"]) == 2
    assert "--seeds" in capsys.readouterr().err


def test_cli_errors_are_one_line_and_exit_2(tmp_path, capsys):
    from qmarl_agents.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = [
        ["evaluate", "--env", "qmarl/Nope-v0", "--policy", "random"],                 # unknown env
        ["evaluate", "--env", "qmarl/Jungle-v0", "--policy", str(tmp_path / "none")],  # no checkpoint
        ["train", "random", "--env", "qmarl/Jungle-v0", "--agent-steps", "10", "--no-eval",
         "--out", str(blocker / "sub")],                                               # unwritable out
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"qmarl {argv[0]}: error:") and "Traceback" not in err and len(err.splitlines()) == 1


def test_run_and_submission_report_both_budget_counts(tmp_path):
    """The budget rule: agent-steps count every slot, live agent-steps only live agents (Jungle agents die)."""
    from qmarl_agents.leaderboard.protocol import Protocol
    from qmarl_agents.train import train

    res = train("qmarl", "qmarl/Jungle-v0", agent_steps=1500, out=tmp_path / "r", progress=False,
                protocol=Protocol(seeds=(0,), episodes_per_seed=1), tensorboard=False)
    run = json.loads((tmp_path / "r" / "run.json").read_text())
    sub = json.loads((tmp_path / "r" / "submission.json").read_text())
    assert run["agent_steps"] == res.agent_steps >= 1500
    assert 0 < run["live_agent_steps"] < run["agent_steps"]
    assert sub["training"]["live_agent_steps"] == run["live_agent_steps"]
