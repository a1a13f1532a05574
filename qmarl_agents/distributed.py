"""Data-parallel training over ``torch.distributed`` (gloo backend), launched by torchrun.

``qmarl train AGENT --workers K`` relaunches itself through torchrun's own launcher
(:mod:`torch.distributed.run`, ``--standalone --nproc-per-node K``; see :func:`launch`). Each rank
runs :func:`qmarl_agents.train.train`, calls :func:`init_from_env`, seeds itself with
:func:`rank_seed`, plays its share of the budget, averages gradients with
:func:`allreduce_gradients` before each optimiser step, and only :func:`is_main` writes files.
Across machines, run torchrun directly on every node with ``--nnodes M --node-rank r
--rdzv-backend c10d --rdzv-endpoint HOST:PORT`` and ``-m qmarl_agents.cli train ...`` (docs/agents.md).

Every helper is a no-op in a single process (world size 1), so agents call them unconditionally.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np


def _dist():
    import torch.distributed as dist

    return dist


def _active() -> bool:
    dist = _dist()
    return dist.is_available() and dist.is_initialized()


def init_from_env(backend: str = "gloo") -> bool:
    """Join the process group described by torchrun's environment (``WORLD_SIZE``, ``RANK``,
    ``MASTER_ADDR``, ``MASTER_PORT``); a no-op without it or when already initialised.

    Returns:
        True if this call (or an earlier one) set up a process group of more than one rank.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return _active()
    if not _active():
        _dist().init_process_group(backend=backend, init_method="env://")
    return True


def rank() -> int:
    """This process's rank (0 in a single process)."""
    return _dist().get_rank() if _active() else 0


def world_size() -> int:
    """Number of ranks (1 in a single process)."""
    return _dist().get_world_size() if _active() else 1


def is_main() -> bool:
    """True on rank 0: the only rank that writes logs, checkpoints and submissions."""
    return rank() == 0


def rank_seed(seed: int | None, rank: int) -> int | None:
    """The seed of one rank: ``seed`` itself on rank 0 (so one worker reproduces a plain run), and
    a ``np.random.SeedSequence(seed, spawn_key=(rank,))`` draw (independent streams) on the others.

    Raises:
        ValueError: for a negative rank or seed.
    """
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 0:
        raise ValueError(f"rank: expected a non-negative int, got {rank!r}")
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected None or a non-negative int, got {seed!r}")
    if rank == 0:
        return int(seed)
    return int(np.random.SeedSequence(int(seed), spawn_key=(int(rank),)).generate_state(1)[0] >> 1)


def allreduce_gradients(module) -> None:
    """Replace each parameter's ``.grad`` by its mean over all ranks (parameters without a gradient
    get a zero one first, so every rank reduces the same tensors). No-op at world size 1."""
    if not _active() or world_size() == 1:
        return
    import torch

    dist, n = _dist(), world_size()
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params]) if params else torch.zeros(0)
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= n
    i = 0
    for p in params:
        k = p.numel()
        p.grad.copy_(flat[i:i + k].view_as(p.grad))
        i += k


def broadcast_parameters(module, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers to every rank. No-op at world size 1."""
    if not _active() or world_size() == 1:
        return
    dist = _dist()
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=src)


def allreduce_mean(x: Any) -> Any:
    """Mean of ``x`` over all ranks: a float/int gives a float, a tensor a tensor, an ndarray an
    ndarray. At world size 1 ``x`` comes back unchanged."""
    if not _active() or world_size() == 1:
        return x
    import torch

    dist = _dist()
    if isinstance(x, torch.Tensor):
        t = x.detach().clone().to(torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return (t / world_size()).to(x.dtype if x.is_floating_point() else torch.float64)
    if isinstance(x, np.ndarray):
        t = torch.from_numpy(np.asarray(x, dtype=np.float64).copy())
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return (t / world_size()).numpy()
    t = torch.tensor(float(x), dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t) / world_size()


def barrier() -> None:
    """Wait for every rank (no-op at world size 1)."""
    if _active() and world_size() > 1:
        _dist().barrier()


def teardown() -> None:
    """Leave the process group (no-op if none)."""
    if _active():
        _dist().destroy_process_group()


def launch(argv: list[str], workers: int, *, module: str = "qmarl_agents.cli") -> int:
    """Run ``python -m module *argv`` as ``workers`` ranks on this machine through torchrun's own
    launcher (``torch.distributed.run --standalone --nproc-per-node workers``).

    Args:
        argv: the command's arguments (without ``--workers``).
        workers: number of ranks (>= 1).
        module: the module torchrun runs.

    Returns:
        the launcher's exit code (0 when every rank succeeded).

    Raises:
        ValueError: if ``workers`` is not a positive int.
    """
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers: expected a positive int, got {workers!r}")
    from torch.distributed import run as torchrun

    args = ["--standalone", f"--nproc-per-node={int(workers)}", "--no-python",
            sys.executable, "-m", module, *argv]
    try:
        torchrun.main(args)
    except SystemExit as e:  # torchrun exits through argparse / sys.exit on some paths
        return int(e.code or 0)
    except Exception as e:  # ChildFailedError: one line, the rank's exit code is in the message
        print(f"qmarl: a worker failed: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}",
              file=sys.stderr)
        return 1
    return 0
