"""The README's PettingZoo loop runs as written, and its env table matches the registry."""

import re
from pathlib import Path

import qmarl_envs

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_pettingzoo_loop_runs(capsys):
    block = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    assert len(block.strip().splitlines()) <= 12
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "'score'" in out and "'length'" in out
    env = qmarl_envs.make("qmarl/BallCollection-3x3-2Agents-v0")
    printed = [line.split()[0] for line in out.splitlines() if "'return'" in line]
    assert sorted(printed) == sorted(env.possible_agents)   # every agent, also one that ended early


def test_readme_env_table_lists_every_registered_id():
    listed = re.findall(r"^\| `(qmarl/[^`]+)` \| (\d+) \|", README, re.M)
    assert [i for i, _ in listed] == qmarl_envs.list_envs()
    for env_id, agents in listed:
        assert int(agents) == len(qmarl_envs.make(env_id).possible_agents)
