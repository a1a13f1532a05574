"""``qmarl bench``: suites, argument forwarding and bad input."""

from __future__ import annotations

import json

import pytest

from qmarl_agents import bench, cli


def test_list_prints_every_script_of_a_suite_and_runs_none(capsys, tmp_path):
    assert cli.main(["bench", "agents", "--list"]) == 0
    lines = capsys.readouterr().out.split()
    scripts = [w for w in lines if w.endswith(".py")]
    assert scripts == [f"benchmarks/{n}.py" for n in bench.SUITES["agents"]]


def test_commands_forward_script_arguments_to_one_script():
    (cmd,) = bench.bench_commands("envs", ["render_speed"], ["--repeats", "1"])
    assert cmd[1].endswith("benchmarks/render_speed.py") and cmd[2:] == ["--repeats", "1"]
    assert bench.benchmarks_dir().joinpath("env_throughput.py").is_file()


@pytest.mark.parametrize("suite, only, extra, word", [
    ("games", None, None, "suite"),
    ("envs", ["qbm_sampler"], None, "--only"),
    ("envs", None, ["--repeats", "1"], "one script"),
])
def test_bad_input_is_a_value_error(suite, only, extra, word):
    with pytest.raises(ValueError, match=word):
        bench.bench_commands(suite, only, extra)


def test_cli_rejects_unknown_arguments_of_other_verbs(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["list", "--bogus"])
    assert e.value.code == 2 and "--bogus" in capsys.readouterr().err
    assert cli.main(["bench", "envs", "--only", "nope"]) == 2


def test_runs_a_script_with_forwarded_arguments(tmp_path, capsys):
    out = tmp_path / "render.json"
    rc = cli.main(["bench", "envs", "--only", "render_speed", "--",
                   "--ids", "qmarl/Jungle-v0", "--repeats", "1", "--out", str(out)])
    assert rc == 0
    rows = json.loads(out.read_text())
    assert "qmarl/Jungle-v0" in json.dumps(rows)
