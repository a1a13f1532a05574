"""Regenerate the scenario screenshots in ``docs/`` (PNG, from the numpy rasteriser; no display).

Each shot resets a registered env with a fixed seed, plays a few steps with a seeded uniform random
policy (so agents spread out and some take damage), and saves the frame with a caption strip
(env id, step, live agents, running score). Ids that are not registered are skipped with a note.

Usage::

    python benchmarks/screenshots.py [--out docs]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import qmarl_envs
from qmarl_envs.render.hud import CaptionRenderer, status_line
from qmarl_envs.render.raster import render_env

DOCS = Path(__file__).resolve().parents[1] / "docs"


@dataclass(frozen=True)
class Shot:
    """One screenshot."""

    file: str
    """PNG file name under the output folder."""
    env_id: str
    """Registered env id."""
    steps: int
    """Random-policy steps before the picture."""
    seed: int = 0
    """Reset and policy seed."""
    cell: int | None = None
    """Pixels per cell; ``None`` adapts to the map."""
    view: tuple[int, int, int, int] | None = None
    """``(row0, row1, col0, col1)`` window of cells, or ``None`` for the whole map."""


SHOTS = (
    Shot("ballcollection.png", "qmarl/BallCollection-5x3-2Agents-v0", steps=1, seed=4),
    Shot("jungle.png", "qmarl/Jungle-100-v0", steps=6, seed=0),
    Shot("battle.png", "qmarl/Battle-100-v0", steps=10, seed=0),
    Shot("deception.png", "qmarl/Deception-100-v0", steps=12, seed=0),
    Shot("deception-small.png", "qmarl/Deception-v0", steps=3, seed=0),
    Shot("jungle-10k.png", "qmarl/Jungle-10k-v0", steps=4, seed=0),
    Shot("jungle-10k-zoom.png", "qmarl/Jungle-10k-v0", steps=4, seed=0, cell=24, view=(235, 265, 230, 270)),
)


def take(shot: Shot, caption: CaptionRenderer) -> np.ndarray:
    """``uint8 (H, W, 3)``: the captioned frame of ``shot``."""
    env = qmarl_envs.make(shot.env_id, render_mode="rgb_array")
    env.reset(seed=shot.seed)
    rng = np.random.default_rng(shot.seed)
    for _ in range(shot.steps):
        if not env.agents:
            break
        env.step(dict(zip(env.agents, rng.integers(0, 5, size=len(env.agents)).tolist())))
    frame = render_env(env, cell=shot.cell, view=shot.view)
    where = "" if shot.view is None else f" (cells {shot.view[0]}-{shot.view[1]} x {shot.view[2]}-{shot.view[3]})"
    out = caption.captioned(frame, f"{shot.env_id}{where} · {status_line(env)}")
    env.close()
    return out


def save_png(path: Path, image: np.ndarray) -> None:
    """Write ``image`` (``uint8 (H, W, 3)``) as PNG atomically (temporary file, then rename)."""
    import imageio.v3 as iio

    from qmarl_envs.fileio import atomic_path

    with atomic_path(path) as tmp:
        iio.imwrite(tmp, image)


def main(argv: list[str] | None = None) -> list[Path]:
    """Write every registered shot; returns the written paths."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS, help="output folder (default: docs/)")
    args = parser.parse_args(argv)
    caption = CaptionRenderer()
    known = set(qmarl_envs.list_envs())
    written = []
    for shot in SHOTS:
        if shot.env_id not in known:
            print(f"skip {shot.file}: {shot.env_id} is not registered")
            continue
        image = take(shot, caption)
        save_png(args.out / shot.file, image)
        written.append(args.out / shot.file)
        print(f"wrote {args.out / shot.file} ({image.shape[1]}x{image.shape[0]})")
    return written


if __name__ == "__main__":
    main()
