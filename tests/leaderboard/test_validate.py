"""qmarl leaderboard validate: schema, recomputed aggregates, NaN, env ids, duplicates, checkpoint hashes."""

from __future__ import annotations

import json

from qmarl_agents.cli import main
from qmarl_agents.leaderboard.protocol import score_statistics
from qmarl_agents.leaderboard.validate import check_file, committed_files, validate_files


def _write(tmp_path, sub, name="a.json"):
    p = tmp_path / name
    p.write_text(json.dumps(sub))
    return p


def _pointers(problems):
    return [p.pointer for p in problems]


def test_valid_submission_passes(tmp_path, random_sub):
    assert validate_files([_write(tmp_path, random_sub)]) == []


def test_tampered_aggregates_rejected_with_pointer(tmp_path, random_sub):
    sub = json.loads(json.dumps(random_sub))
    sub["summary"]["iqm"] += 1.0
    sub["summary"]["mean_ci"][1] += 0.5
    problems = validate_files([_write(tmp_path, sub)])
    assert _pointers(problems) == ["/summary/iqm", "/summary/mean_ci/1"]
    assert str(tmp_path / "a.json") in str(problems[0]) and "the scores give" in problems[0].message


def test_scores_changed_under_unchanged_aggregates_rejected(tmp_path, random_sub):
    random_sub["scores"][0][0] += 500.0
    assert "/summary/mean" in _pointers(validate_files([_write(tmp_path, random_sub)]))


def test_nan_and_infinity_rejected(tmp_path, random_sub):
    for const in ("NaN", "Infinity", "-Infinity"):
        text = json.dumps(random_sub).replace("\"scores\": [[", f"\"scores\": [[{const}, ", 1)
        p = tmp_path / "nan.json"
        p.write_text(text)
        _, problems = check_file(p)
        assert len(problems) == 1 and const.lstrip("-") in problems[0].message, problems


def test_malformed_json_rejected_with_field_pointer(tmp_path, random_sub):
    bad = json.loads(json.dumps(random_sub))
    bad["summary"]["mean"] = "high"
    bad["scores"][1][1] = "x"
    del bad["training"]["agent_steps"]
    ptrs = _pointers(validate_files([_write(tmp_path, bad)]))
    assert ptrs == ["/scores/1/1", "/summary/mean", "/training"], ptrs
    p = tmp_path / "broken.json"
    p.write_text(json.dumps(random_sub)[:-5])
    (prob,) = validate_files([p])
    assert prob.pointer == "/" and "line 1 column" in prob.message
    p.write_text(json.dumps(random_sub)[:-1] + ', "name": "again"}')
    (prob,) = validate_files([p])
    assert "appears twice" in prob.message


def test_unknown_env_id_or_version_rejected(tmp_path, random_sub):
    sub = json.loads(json.dumps(random_sub))
    sub["env_id"], sub["env_version"] = "qmarl/BallCollection-3x3-v7", 7
    (prob,) = validate_files([_write(tmp_path, sub)])
    assert prob.pointer == "/env_id" and "qmarl/BallCollection-3x3-v0" in prob.message
    sub["env_id"], sub["env_version"] = "qmarl/Nowhere-v0", 0
    (prob,) = validate_files([_write(tmp_path, sub)])
    assert "no env of that name" in prob.message
    sub["env_id"], sub["env_version"] = "qmarl/BallCollection-3x3-v0", 1
    assert _pointers(validate_files([_write(tmp_path, sub)])) == ["/env_version"]


def test_env_kwargs_not_allowed_on_board(tmp_path, random_sub):
    random_sub["env_kwargs"] = {"max_cycles": 5}
    assert _pointers(validate_files([_write(tmp_path, random_sub)])) == ["/env_kwargs"]
    assert validate_files([_write(tmp_path, random_sub)], committed=False) == []


def test_duplicates_rejected(tmp_path, random_sub):
    a = _write(tmp_path, random_sub, "a.json")
    b = _write(tmp_path, random_sub, "b.json")
    problems = validate_files([a, b])
    assert _pointers(problems) == ["/name", "/scores"] and all(p.file == str(b) for p in problems)
    renamed = dict(random_sub, name="other")
    assert _pointers(validate_files([a, _write(tmp_path, renamed, "c.json")])) == ["/scores"]


def test_checkpoint_hash_mismatch_rejected(tmp_path, random_sub):
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "model.safetensors").write_bytes(b"weights")
    import hashlib

    random_sub["checkpoint"] = {"path": "ck", "sha256": hashlib.sha256(b"weights").hexdigest()}
    p = _write(tmp_path, random_sub)
    assert validate_files([p]) == []
    (tmp_path / "ck" / "model.safetensors").write_bytes(b"weightz")
    assert _pointers(validate_files([p])) == ["/checkpoint/sha256"]
    random_sub["checkpoint"]["path"] = "../ck"
    assert _pointers(validate_files([_write(tmp_path, random_sub)])) == ["/checkpoint/path"]


def test_recomputation_matches_score_statistics(random_sub):
    bs = random_sub["protocol"]["bootstrap"]
    stats = score_statistics(random_sub["scores"], reps=bs["reps"], seed=bs["seed"], confidence=bs["confidence"])
    assert stats["iqm_ci"] == random_sub["summary"]["iqm_ci"]


def test_cli_exit_status_and_message(tmp_path, random_sub, capsys):
    good = _write(tmp_path, random_sub, "good.json")
    assert main(["leaderboard", "validate", str(good)]) == 0
    random_sub["summary"]["mean"] = 1e9
    bad = _write(tmp_path, random_sub, "bad.json")
    assert main(["leaderboard", "validate", str(bad)]) == 1
    assert f"{bad}: /summary/mean:" in capsys.readouterr().out


def test_every_committed_submission_is_valid():
    """CI gate: ``qmarl leaderboard validate`` over the committed board."""
    assert committed_files(), "the committed board has no submissions"
    assert [str(p) for p in validate_files()] == []
