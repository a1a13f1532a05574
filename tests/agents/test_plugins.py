"""Agents from other packages: the ``qmarl.agents`` entry-point group."""

import json
import subprocess
import sys
import textwrap

PLUGIN = textwrap.dedent('''
    from qmarl_agents.registry import AgentSpec, _load_random, _make_random

    def make(env_id, seed, **config):
        agent = _make_random(env_id, seed, **config)
        agent.name = "plug-random"
        return agent

    def load(config, arrays, env):
        policy = _load_random(config, arrays, env)
        policy.name = "plug-random"
        return policy

    SPEC = AgentSpec("plug-random", factory="qmarl_test_plugin:make", loader="qmarl_test_plugin:load",
                     description="a plugin agent", needs_env_id=False)
    NOT_SPEC = {"name": "nope"}
    DUPLICATE = AgentSpec("random", factory="qmarl_agents.registry:_make_random",
                          loader="qmarl_agents.registry:_load_random")
''')
ENTRY_POINTS = textwrap.dedent('''
    [qmarl.agents]
    plug-random = qmarl_test_plugin:SPEC
    broken = qmarl_missing_module:SPEC
    not-a-spec = qmarl_test_plugin:NOT_SPEC
    duplicate = qmarl_test_plugin:DUPLICATE
''')
PROBE = textwrap.dedent('''
    import json, sys, warnings
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        import qmarl_agents
    from qmarl_agents import list_agents, make_agent, load_policy
    from qmarl_agents.cli import main
    agent = make_agent("plug-random", env_id="qmarl/Jungle-v0", seed=0)
    rc = main(["train", "plug-random", "--env", "qmarl/Jungle-v0", "--agent-steps", "100", "--out", sys.argv[1],
               "--no-progress", "--eval-seeds", "0", "--eval-episodes", "1"])
    rc2 = main(["evaluate", "--env", "qmarl/Jungle-v0", "--policy", sys.argv[1], "--seeds", "0", "--episodes", "1"])
    print(json.dumps({"agents": list_agents(), "warnings": [str(x.message) for x in w], "rc": rc, "rc2": rc2,
                      "loaded": load_policy(sys.argv[1]).name, "torch": "torch" in sys.modules}))
''')


def _install_fake_plugin(root):
    (root / "qmarl_test_plugin.py").write_text(PLUGIN)
    dist = root / "qmarl_test_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: qmarl-test-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)


def test_entry_point_agents_work_and_broken_ones_only_warn(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install_fake_plugin(site)
    env = {"PYTHONPATH": str(site), "SDL_VIDEODRIVER": "dummy", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "run")], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "plug-random" in out["agents"]
    assert out["agents"][:5] == ["ppo", "a2c", "dqn", "random", "scripted"]  # built-ins untouched
    warned = "\n".join(out["warnings"])
    for name in ("broken", "not-a-spec", "duplicate"):
        assert f"entry point '{name}'" in warned
    assert "plug-random" not in warned
    assert out["rc"] == 0 and out["rc2"] == 0 and out["loaded"] == "plug-random"
    assert (tmp_path / "run" / "submission.json").is_file()


def test_import_stays_torch_free_with_a_plugin(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install_fake_plugin(site)
    code = "import sys, qmarl_agents; print('plug-random' in qmarl_agents.list_agents(), 'torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert proc.stdout.split() == ["True", "False"], proc.stderr
