"""Package layering: the environments import without torch, and pygame only when a window opens."""

import ast
import subprocess
import sys
from pathlib import Path


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_envs_import_and_run_without_torch_or_pygame():
    mods = _modules_after(
        "import qmarl_envs\n"
        "env = qmarl_envs.make('qmarl/BallCollection-3x3-2Agents-v0', render_mode='rgb_array')\n"
        "env.reset(seed=0); env.step({a: 0 for a in env.agents}); env.render()"
    )
    assert "qmarl_envs" in mods
    assert "torch" not in mods
    assert "pygame" not in mods


def _our_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n.startswith("qmarl") or n in ("torch", "pygame")}


PKG = Path(__file__).resolve().parents[2] / "qmarl_envs"


def test_core_imports_nothing_of_ours_and_scenarios_only_core():
    for f in (PKG / "core").glob("*.py"):
        assert {n for n in _our_imports(f) if not n.startswith("qmarl_envs.core")} == set(), f.name
    for f in (PKG / "scenarios").glob("*.py"):
        bad = {n for n in _our_imports(f) if not n.startswith(("qmarl_envs.core", "qmarl_envs.scenarios"))}
        assert bad == set(), f.name


def test_only_render_imports_pygame_and_nothing_imports_torch():
    for f in PKG.rglob("*.py"):
        imports = _our_imports(f)
        assert "torch" not in imports, f
        if "render" not in f.parts:
            assert "pygame" not in imports, f
