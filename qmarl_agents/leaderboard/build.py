"""``qmarl leaderboard build``: regenerate ``leaderboard/README.md`` and ``leaderboard/index.html``.

One table per env, ranked by IQM (ties: the lower bound of the IQM interval, then the name), with
the 95% interval, the mean, the training budget in agent-steps (and live agent-steps), the agent,
the author and a link to the submission file. The HTML page is static and offline (no script, no
remote asset): per env a PNG plot of every entry's IQM with its interval (matplotlib) and rliable's
probability of improvement ``P(X > Y)`` between the top entries (Agarwal et al. 2021, §4.3; episodes
are the runs of the single task). Every submitted string is HTML-escaped
(:func:`html.escape`, quotes included); in Markdown, ``|``, ``<``, ``>`` and ``&`` are escaped.
"""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from qmarl_agents.checkpoint import atomic_write_bytes
from qmarl_agents.leaderboard.validate import LEADERBOARD_DIR, check_file, committed_files

TOP_K = 3
"""Probability of improvement is shown between each pair of the top ``TOP_K`` entries."""


def load_entries(board: str | Path = LEADERBOARD_DIR) -> dict[str, list[dict[str, Any]]]:
    """Valid submissions of a board grouped by env id, each list ranked best first.

    Raises:
        ValueError: if any submission is invalid (run ``qmarl leaderboard validate``), naming it.
    """
    board = Path(board)
    out: dict[str, list[dict[str, Any]]] = {}
    for path in committed_files(board):
        sub, problems = check_file(path)
        if problems:
            raise ValueError(f"invalid submission, fix or remove it first: {problems[0]}")
        sub["_file"] = path.relative_to(board).as_posix()
        out.setdefault(sub["env_id"], []).append(sub)
    for subs in out.values():
        subs.sort(key=lambda s: (-s["summary"]["iqm"], -s["summary"]["iqm_ci"][0], s["name"]))
    return dict(sorted(out.items()))


def _md(text: Any) -> str:
    s = html.escape(str(text), quote=False)
    return s.replace("|", "\\|").replace("\n", " ").replace("`", "\\`").replace("[", "\\[").replace("]", "\\]")


def _num(x: float | None) -> str:
    if x is None:
        return "–"
    ax = abs(x)
    return f"{x:.0f}" if ax >= 1000 else f"{x:.1f}" if ax >= 100 else f"{x:.3g}" if ax >= 1 else f"{x:.3f}"


def _steps(n: int | None) -> str:
    if n is None:
        return "–"
    for div, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= div:
            return f"{n / div:.3g}{suffix}"
    return str(n)


def _budget(s: dict[str, Any]) -> str:
    t = s["training"]
    if t.get("agent_steps") in (None, 0):
        return "–"
    live = t.get("live_agent_steps")
    return _steps(t["agent_steps"]) + (f" ({_steps(live)} live)" if live is not None else "")


def env_note(env_id: str) -> str:
    """One line on the env: its description, agents, episode length and what the score is."""
    import qmarl_envs

    d = qmarl_envs.describe(env_id)
    score = ("summed return of all agents" if "BallCollection" in env_id else
             "the paper's score in [-1, 1] (per-agent scores averaged)")
    n = d["agents"]
    return (f"{d['description']}. {n} agent{'s' if n != 1 else ''}, at most {d['max_cycles']} steps per episode; "
            f"episode score: {score}.")


def env_slug(env_id: str) -> str:
    """File-name form of an env id: ``qmarl/Jungle-v0`` -> ``qmarl__Jungle-v0``."""
    return env_id.replace("/", "__")


def probability_of_improvement(x: list[list[float]], y: list[list[float]]) -> float:
    """rliable's ``P(X > Y)`` over episode scores (one task; ties count half)."""
    from rliable import metrics

    a = np.asarray(x, dtype=np.float64).reshape(-1, 1)
    b = np.asarray(y, dtype=np.float64).reshape(-1, 1)
    return float(metrics.probability_of_improvement(a, b))


def plot_env(env_id: str, subs: list[dict[str, Any]]) -> bytes:
    """PNG bytes: every entry's IQM (dot) with its 95% interval (bar), best at the top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(subs)
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.42 * n), dpi=100)
    ys = np.arange(n)[::-1]
    iqm = np.array([s["summary"]["iqm"] for s in subs])
    lo = np.array([s["summary"]["iqm_ci"][0] for s in subs])
    hi = np.array([s["summary"]["iqm_ci"][1] for s in subs])
    ax.errorbar(iqm, ys, xerr=[iqm - lo, hi - iqm], fmt="o", color="#1f5f8b", ecolor="#7aa6c8",
                elinewidth=3, capsize=4)
    ax.set_yticks(ys, [s["name"] for s in subs])
    ax.set_xlabel("IQM of the episode score (95% stratified-bootstrap CI)")
    ax.set_title(env_id)
    ax.grid(axis="x", alpha=0.3)
    ax.set_ylim(-0.6, n - 0.4)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def render_markdown(entries: dict[str, list[dict[str, Any]]]) -> str:
    """``leaderboard/README.md``: protocol, one ranked table per env."""
    lines = ["# qmarl leaderboard", "",
             "Generated by `qmarl leaderboard build` from `submissions/`; do not edit by hand. "
             "[index.html](index.html) has the plots and probabilities of improvement.", "",
             "**Protocol** (every env): the policy and the env are reset with each public seed 0–9 and play 5 "
             "consecutive episodes per seed (50 episodes) with deterministic (greedy) actions and the "
             "registered env defaults; the metric is the env's episode score (`episode_summary()['score']`). "
             "Ranked by the interquartile mean (IQM) with its 95% stratified-bootstrap interval (rliable, "
             "2,000 resamples, seed 0). Budget: training agent-steps (one agent slot per env step, dead slots "
             "included; live agent-steps in brackets). Schema: [schema.json](schema.json); add an entry with "
             "`qmarl leaderboard add RUN_DIR`, check with `qmarl leaderboard validate`, re-run one on fresh "
             "seeds with `qmarl leaderboard verify FILE`.", ""]
    for env_id, subs in entries.items():
        lines += [f"## {_md(env_id)}", "", f"{_md(env_note(env_id))}", "", "| rank | name | agent | IQM [95% CI] | mean | win | budget (agent-steps) "
                  "| author | file |", "|---|---|---|---|---|---|---|---|---|"]
        for i, s in enumerate(subs, 1):
            sm = s["summary"]
            win = "–" if s.get("win_rate") is None else f"{100 * s['win_rate']:.0f}%"
            lines.append(f"| {i} | {_md(s['name'])} | {_md(s['agent'])} | {_num(sm['iqm'])} "
                         f"[{_num(sm['iqm_ci'][0])}, {_num(sm['iqm_ci'][1])}] | {_num(sm['mean'])} | {win} | "
                         f"{_budget(s)} | {_md(s['author']) or '–'} | [json]({s['_file']}) |")
        lines.append("")
    if not entries:
        lines += ["No submissions yet.", ""]
    return "\n".join(lines)


_CSS = """body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:0.5rem 0 1rem}th,td{border:1px solid #ccc;padding:0.25rem 0.6rem;text-align:left}
th{background:#eef3f7}td.num{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%}
section{margin-bottom:2.5rem}code{background:#f3f3f3;padding:0 0.2rem}"""


def render_html(entries: dict[str, list[dict[str, Any]]], images: dict[str, str]) -> str:
    """``leaderboard/index.html``: static, offline, every submitted string escaped."""
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src \'self\'; '
             'style-src \'unsafe-inline\'">',
             "<title>qmarl leaderboard</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>qmarl leaderboard</h1>",
             "<p>Each entry: 50 episodes (public seeds 0–9 × 5 episodes), greedy actions, registered env defaults; "
             "metric: the env's episode score. Ranked by IQM with its 95% stratified-bootstrap interval (rliable). "
             "Budget in training agent-steps (dead agents' slots included; live agent-steps in brackets).</p>"]
    for env_id, subs in entries.items():
        sid = e(env_slug(env_id))
        parts.append(f'<section class="env" id="{sid}" data-env="{e(env_id)}"><h2>{e(env_id)}</h2>'
                     f"<p>{e(env_note(env_id))}</p>")
        parts.append('<table class="ranking"><thead><tr><th>rank</th><th>name</th><th>agent</th><th>IQM</th>'
                     "<th>95% CI</th><th>mean</th><th>win</th><th>budget (agent-steps)</th><th>author</th>"
                     "<th>submission</th></tr></thead><tbody>")
        for i, s in enumerate(subs, 1):
            sm = s["summary"]
            win = "–" if s.get("win_rate") is None else f"{100 * s['win_rate']:.0f}%"
            parts.append(
                f'<tr data-iqm="{sm["iqm"]!r}"><td class="num">{i}</td><td class="name">{e(s["name"])}</td>'
                f'<td>{e(s["agent"])}</td><td class="num iqm">{e(_num(sm["iqm"]))}</td>'
                f'<td class="num">[{e(_num(sm["iqm_ci"][0]))}, {e(_num(sm["iqm_ci"][1]))}]</td>'
                f'<td class="num">{e(_num(sm["mean"]))}</td><td class="num">{e(win)}</td>'
                f'<td class="num">{e(_budget(s))}</td><td class="author">{e(s["author"]) or "–"}</td>'
                f'<td><a href="{e(s["_file"])}">json</a></td></tr>')
        parts.append("</tbody></table>")
        parts.append(f'<img class="plot" src="{e(images[env_id])}" alt="IQM with 95% CI per entry on {e(env_id)}">')
        top = subs[:TOP_K]
        if len(top) >= 2:
            parts.append("<p>Probability of improvement P(row &gt; column) between the top entries (rliable, "
                         "over episodes):</p><table class=\"poi\"><tr><th></th>"
                         + "".join(f"<th>{e(s['name'])}</th>" for s in top) + "</tr>")
            for a in top:
                cells = "".join("<td>–</td>" if a is b else
                                f'<td class="num">{probability_of_improvement(a["scores"], b["scores"]):.2f}</td>'
                                for b in top)
                parts.append(f"<tr><th>{e(a['name'])}</th>{cells}</tr>")
            parts.append("</table>")
        parts.append("</section>")
    if not entries:
        parts.append("<p>No submissions yet.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def build_board(board: str | Path = LEADERBOARD_DIR) -> dict[str, Path]:
    """Regenerate a board's ``README.md``, ``index.html`` and ``images/<env>.png`` (written atomically).

    Returns:
        ``{"readme", "html", "images"}`` paths.

    Raises:
        ValueError: if a submission is invalid.
    """
    board = Path(board)
    entries = load_entries(board)
    images = {}
    for env_id, subs in entries.items():
        rel = f"images/{env_slug(env_id)}.png"
        atomic_write_bytes(board / rel, plot_env(env_id, subs))
        images[env_id] = rel
    readme = atomic_write_bytes(board / "README.md", render_markdown(entries).encode())
    page = atomic_write_bytes(board / "index.html", render_html(entries, images).encode())
    return {"readme": readme, "html": page, "images": board / "images"}
