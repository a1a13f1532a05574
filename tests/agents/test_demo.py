"""``qmarl demo`` end to end with tiny budgets: PPO and Q-MARL trained, four entries on a built board."""

import json

import imageio.v3 as iio
from rich.console import Console

from qmarl_agents.demo import compare, run_demo
from qmarl_agents.leaderboard.validate import validate_files


def test_demo_builds_a_board_with_every_policy(tmp_path):
    console = Console(record=True, width=200)
    res = run_demo(tmp_path / "demo", agent_steps=2_048, qmarl_agent_steps=2_480, progress=False, console=console)
    text = console.export_text()
    assert set(res.results) == {"ppo", "qmarl", "scripted", "random"}
    assert "IQM 95% CI" in text and "ranking" in text and "files" in text
    board = tmp_path / "demo" / "board"
    subs = sorted((board / "submissions" / "qmarl" / "Jungle-v0").glob("*.json"))
    assert [p.stem for p in subs] == ["ppo-s0", "qmarl-s0", "random", "scripted"]
    assert validate_files(subs) == []
    for name in ("ppo", "qmarl"):
        sub = json.loads((board / "submissions" / "qmarl" / "Jungle-v0" / f"{name}-s0.json").read_text())
        assert sub["agent"] == name and sub["checkpoint"]["path"] == f"{name}-s0"
        frames = iio.imread(res.files[f"{name}_gif"], index=None)
        assert frames.ndim == 4 and frames.shape[0] >= 2 and frames.shape[-1] == 3
    page = res.files["board_html"].read_text()
    assert page.count('class="name"') == 4 and (board / "images" / "qmarl__Jungle-v0.png").is_file()
    results = json.loads(res.files["results"].read_text())
    iqm = {n: r["iqm"] for n, r in results["results"].items()}
    expected = sorted(iqm, key=lambda n: -iqm[n])
    assert [n.removesuffix("-s0") for n in results["ranking"]] == expected
    # scripted beats random on Jungle by a clear margin; each learner is compared with the three others
    assert iqm["scripted"] > iqm["random"] + 0.5
    assert sum(v.startswith("PPO ") for v in res.verdicts) == 3
    assert sum(v.startswith("Q-MARL ") for v in res.verdicts) == 3


def test_compare_wording():
    class R:
        def __init__(self, iqm, lo, hi):
            self.iqm, self.stats = iqm, {"iqm_ci": [lo, hi]}

    lines = compare({"ppo": R(0.1, 0.0, 0.2), "scripted": R(0.6, 0.5, 0.7), "random": R(-0.3, -0.4, -0.2),
                     "close": R(0.15, 0.05, 0.25)})
    assert lines[0].startswith("PPO falls short of scripted")
    assert lines[1].startswith("PPO beats random")
    assert lines[2].startswith("PPO is level with close")
    assert compare({"qmarl": R(1, 0.9, 1.1), "ppo": R(0, -0.1, 0.1)}, "qmarl", "Q-MARL")[0].startswith("Q-MARL beats")
