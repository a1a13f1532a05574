"""qmarl leaderboard add / build / verify on a temporary board."""

from __future__ import annotations

import copy
import hashlib
import json
import pickle

import numpy as np
import pytest

from qmarl_agents.leaderboard.add import add_run, add_submission
from qmarl_agents.leaderboard.build import build_board, probability_of_improvement
from qmarl_agents.leaderboard.protocol import score_statistics
from qmarl_agents.leaderboard.verify import fresh_seeds, verify_submission
from qmarl_agents.train import train

from .conftest import ENV

PAYLOAD = '<img src=x onerror="alert(1)"><script>document.title="pwned"</script>'


def _fake(sub, name, value):
    """A copy of ``sub`` claiming every episode scored ``value`` (aggregates recomputed, so it validates)."""
    out = copy.deepcopy(sub)
    out["name"] = name
    out["scores"] = [[float(value)] * len(r) for r in sub["scores"]]
    bs = sub["protocol"]["bootstrap"]
    out["summary"] = score_statistics(out["scores"], reps=bs["reps"], seed=bs["seed"], confidence=bs["confidence"])
    return out


@pytest.fixture(scope="module")
def random_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "rnd"
    train("random", ENV, agent_steps=300, seed=0, out=out, progress=False, tensorboard=False)
    return out


def test_add_run_copies_submission_and_checkpoint(tmp_path, random_run):
    path = add_run(random_run, board=tmp_path, name="rnd", author="me")
    assert path == tmp_path / "submissions" / "qmarl" / "BallCollection-3x3-v0" / "rnd.json"
    sub = json.loads(path.read_text())
    weights = path.parent / "rnd" / "model.safetensors"
    assert sub["name"] == "rnd" and sub["author"] == "me" and sub["checkpoint"]["path"] == "rnd"
    assert sub["checkpoint"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert sub["training"]["agent_steps"] >= 300 and sub["code"]["commit"]
    with pytest.raises(ValueError, match="exists"):
        add_run(random_run, board=tmp_path, name="rnd")
    with pytest.raises(ValueError, match="name"):
        add_run(random_run, board=tmp_path, name="../evil")
    assert sorted(p.name for p in path.parent.iterdir()) == ["rnd", "rnd.json"]


def test_add_rejects_invalid_submission_and_writes_nothing(tmp_path, random_sub):
    random_sub["summary"]["iqm"] = 99.0
    with pytest.raises(ValueError, match="/summary/iqm"):
        add_submission(random_sub, board=tmp_path)
    assert not (tmp_path / "submissions").exists()


def test_build_ranks_escapes_and_plots(tmp_path, random_sub):
    add_submission(random_sub, board=tmp_path, name="random", author=PAYLOAD)
    add_submission(_fake(random_sub, "best", 220), board=tmp_path, author="a")
    add_submission(_fake(random_sub, "middle", 100), board=tmp_path, author="b")
    files = build_board(tmp_path)
    md = files["readme"].read_text()
    rows = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| rank")]
    assert [r.split(" | ")[1] for r in rows] == ["best", "middle", "random"]
    page = files["html"].read_text()
    assert "<script" not in page and "<img src=x" not in page and "onerror=\"alert" not in page
    assert "&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;" in page
    names = [page.index(f'class="name">{n}<') for n in ("best", "middle", "random")]
    assert names == sorted(names)
    png = tmp_path / "images" / "qmarl__BallCollection-3x3-v0.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and 'src="images/qmarl__BallCollection-3x3-v0.png"' in page
    assert 'class="poi"' in page and ">1.00<" in page  # best beats middle on every episode


def test_probability_of_improvement():
    hi, lo = [[2.0, 3.0], [4.0, 5.0]], [[0.0, 1.0], [1.0, 0.0]]
    assert probability_of_improvement(hi, lo) == 1.0 and probability_of_improvement(lo, hi) == 0.0
    assert probability_of_improvement(hi, hi) == pytest.approx(0.5)


def test_verify_reproduces_an_honest_claim_and_flags_a_fabricated_one(tmp_path, random_run):
    path = add_run(random_run, board=tmp_path, name="rnd")
    sub = json.loads(path.read_text())
    same = verify_submission(path, seeds=tuple(sub["protocol"]["seeds"]))
    assert not same["flagged"] and same["fresh"]["iqm"] == pytest.approx(sub["summary"]["iqm"])
    fake = _fake(sub, "fake", 220)
    fake_path = path.parent / "fake.json"
    fake_path.write_text(json.dumps(fake))
    rep = verify_submission(fake_path)
    assert rep["flagged"] and "outside" in rep["reason"]
    assert len(rep["seeds"]) == len(sub["protocol"]["seeds"]) and min(rep["seeds"]) >= 10_000


def test_fresh_seeds_differ_between_calls():
    a, b = fresh_seeds(10), fresh_seeds(10)
    assert len(set(a)) == 10 and a != b


class _Boom:
    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(MARKER[0]),))


MARKER = [""]


def test_pickled_checkpoint_refused_and_never_run(tmp_path, random_run):
    path = add_run(random_run, board=tmp_path, name="rnd")
    MARKER[0] = str(tmp_path / "pwned")
    blob = pickle.dumps(_Boom())
    weights = path.parent / "rnd" / "model.safetensors"
    weights.write_bytes(blob)
    digest = hashlib.sha256(blob).hexdigest()
    cfg_file = path.parent / "rnd" / "config.json"
    cfg_file.write_text(json.dumps(dict(json.loads(cfg_file.read_text()), weights_sha256=digest)))
    sub = json.loads(path.read_text())
    sub["checkpoint"]["sha256"] = digest
    path.write_text(json.dumps(sub))
    with pytest.raises(ValueError, match="not a safetensors file"):
        verify_submission(path)
    assert not (tmp_path / "pwned").exists()
    pickle.loads(blob)  # the payload is live: unpickling it would have left the marker
    assert (tmp_path / "pwned").exists()


def test_verify_cli_writes_report(tmp_path, random_run, capsys):
    from qmarl_agents.cli import main

    path = add_run(random_run, board=tmp_path, name="rnd")
    report = tmp_path / "rep.json"
    assert main(["leaderboard", "verify", str(path), "--n-seeds", "3", "--report", str(report)]) in (0, 1)
    rep = json.loads(report.read_text())
    assert len(rep["seeds"]) == 3 and np.asarray(rep["fresh_scores"]).shape == (3, rep["episodes_per_seed"])
    assert "fresh seeds:" in capsys.readouterr().out
