"""``qmarl demo`` end to end with a tiny budget."""

import json

import imageio.v3 as iio
from rich.console import Console

from qmarl_agents.demo import compare, run_demo
from qmarl_agents.leaderboard.protocol import validate_submission


def test_demo_writes_every_file_and_reports_shortfalls(tmp_path):
    console = Console(record=True, width=200)
    res = run_demo(tmp_path / "demo", agent_steps=2_048, progress=False, console=console)
    text = console.export_text()
    for name in ("ppo", "scripted", "random"):
        assert name in res.results
    assert "IQM 95% CI" in text and "files" in text
    sub = json.loads(res.files["submission"].read_text())
    validate_submission(sub)
    assert sub["env_id"] == "qmarl/Jungle-v0" and sub["agent"] == "ppo"
    frames = iio.imread(res.files["rollout_gif"], index=None)
    assert frames.ndim == 4 and frames.shape[0] >= 2 and frames.shape[-1] == 3
    assert res.files["learning_curve"].read_bytes()[:4] == b"\x89PNG"
    results = json.loads(res.files["results"].read_text())
    assert set(results["results"]) == {"ppo", "scripted", "random"}
    # scripted beats random on Jungle by a clear margin; the verdicts name both comparisons
    assert results["results"]["scripted"]["iqm"] > results["results"]["random"]["iqm"] + 0.5
    assert sum("random" in v for v in res.verdicts) == 1 and sum("scripted" in v for v in res.verdicts) == 1


def test_compare_wording():
    class R:
        def __init__(self, iqm, lo, hi):
            self.iqm, self.stats = iqm, {"iqm_ci": [lo, hi]}

    lines = compare({"ppo": R(0.1, 0.0, 0.2), "scripted": R(0.6, 0.5, 0.7), "random": R(-0.3, -0.4, -0.2),
                     "close": R(0.15, 0.05, 0.25)})
    assert lines[0].startswith("PPO falls short of scripted")
    assert lines[1].startswith("PPO beats random")
    assert lines[2].startswith("PPO is level with close")
