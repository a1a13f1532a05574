"""Torch helpers shared by every torch agent (no SB3 import): threads, module and optimiser state
to and from the flat ``{name: ndarray}`` dicts that :mod:`qmarl_agents.checkpoint` stores in
safetensors, and the architecture check that turns a mismatch into a clear ValueError.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run a block with ``n`` torch intra-op threads, restoring the previous number afterwards.

    Small MLPs train fastest on one thread: with more, OpenMP workers spin-wait against the env's
    NumPy thread (measured: a 64-unit linear layer on a 4-row batch took 9.5 us on 1 thread and
    0.74 ms on 2 on a busy 2-core machine). ``None`` leaves the setting alone.

    Raises:
        ValueError: if ``n`` is not None or a positive int.
    """
    if n is None:
        yield
        return
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"threads: expected None or a positive int, got {n!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def state_dict_to_arrays(module: torch.nn.Module, prefix: str = "") -> dict[str, np.ndarray]:
    """A module's ``state_dict`` as ``{prefix + name: ndarray}`` (CPU copies, dtypes kept)."""
    return {prefix + k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def load_state_dict_arrays(module: torch.nn.Module, arrays: dict[str, np.ndarray], prefix: str = "",
                           where: str = "checkpoint") -> None:
    """Load the arrays under ``prefix`` into ``module`` after checking the architecture.

    Args:
        module: the freshly built module (its config's architecture).
        arrays: ``{name: ndarray}``; only keys starting with ``prefix`` are read.
        prefix: key prefix, e.g. ``"policy/"``.
        where: named in the error (e.g. the checkpoint directory).

    Raises:
        ValueError: listing missing, unexpected and mis-shaped tensors; ``module`` is unchanged.
    """
    want = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    have = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    shaped = sorted(k for k in set(want) & set(have) if tuple(np.shape(have[k])) != want[k])
    if missing or extra or shaped:
        parts = []
        if missing:
            parts.append(f"missing {missing[:3]}")
        if extra:
            parts.append(f"unexpected {extra[:3]}")
        if shaped:
            k = shaped[0]
            parts.append(f"{k} has shape {tuple(np.shape(have[k]))}, the config's architecture needs {want[k]}")
        raise ValueError(f"{where}: weights do not match the architecture in config.json: " + "; ".join(parts))
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in have.items()})


def optimizer_to_arrays(opt: torch.optim.Optimizer, prefix: str = "optim/") -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """An optimiser's state as arrays plus JSON-able parameter-group metadata.

    Returns:
        ``(arrays, meta)``: ``{prefix + "<param index>/<name>": ndarray}`` (e.g. Adam's ``exp_avg``,
        ``step``) and one dict of JSON scalars/lists per parameter group (``lr``, ``betas`` ...).
    """
    sd = opt.state_dict()
    arrays = {}
    for idx, st in sd["state"].items():
        for name, t in st.items():
            arrays[f"{prefix}{idx}/{name}"] = np.asarray(t.detach().cpu().numpy() if hasattr(t, "detach") else t).copy()
    groups = []
    for g in sd["param_groups"]:
        groups.append({k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()
                       if v is None or isinstance(v, (int, float, bool, list, tuple))})
    return arrays, groups


def load_optimizer_arrays(opt: torch.optim.Optimizer, arrays: dict[str, np.ndarray],
                          meta: list[dict[str, Any]], prefix: str = "optim/") -> None:
    """Restore what :func:`optimizer_to_arrays` saved.

    Raises:
        ValueError: if the groups or tensors do not match the optimiser's parameters (the
            optimiser is unchanged).
    """
    state: dict[int, dict[str, Any]] = {}
    for key, v in arrays.items():
        if key.startswith(prefix):
            idx, name = key[len(prefix):].split("/", 1)
            state.setdefault(int(idx), {})[name] = torch.from_numpy(np.array(v))
    current = opt.state_dict()["param_groups"]
    if len(current) != len(meta):
        raise ValueError(f"checkpoint: optimiser has {len(current)} parameter groups, the stored state {len(meta)}")
    merged = [{**cur, **{k: (tuple(v) if k == "betas" else v) for k, v in g.items() if k != "params"}}
              for cur, g in zip(current, meta)]
    n_params = sum(len(g["params"]) for g in current)
    if any(i >= n_params for i in state):
        raise ValueError(f"checkpoint: optimiser state names parameter {max(state)}, the model has {n_params}")
    for i, st in state.items():
        p = [p for g in opt.param_groups for p in g["params"]][i]
        for name, t in st.items():
            if t.dim() > 0 and tuple(t.shape) != tuple(p.shape):
                raise ValueError(f"checkpoint: optimiser state {name} of parameter {i} has shape "
                                 f"{tuple(t.shape)}, the parameter {tuple(p.shape)}")
    try:
        opt.load_state_dict({"state": state, "param_groups": merged})
    except (ValueError, KeyError, RuntimeError) as e:
        raise ValueError(f"checkpoint: optimiser state does not match the architecture ({e})") from None
