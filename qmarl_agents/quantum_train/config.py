"""The configuration of the Quantum-Train agent (the single source of its defaults)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

ANSATZE: tuple[str, ...] = ("u3_cu3", "ry_cnot")
"""Circuit ansatz names: the official U3 layer + CU3 ring (6nL parameters), or RY + CNOT ring (nL)."""

GENERATORS: tuple[str, ...] = ("quantum", "classical")
"""``quantum``: weights from the circuit and mapping model; ``classical``: the same net trained directly."""

ALGOS: tuple[str, ...] = ("reinforce", "actor_critic")

DEVICES: tuple[str, ...] = ("default.qubit", "lightning.qubit")


@dataclass(frozen=True)
class QTConfig:
    """Hyperparameters of QTRL (defaults: the official CartPole notebook, ``appendix_example/QTRL``)."""

    hidden: tuple[int, ...] = (128,)
    """Hidden layer sizes of the target policy net (ReLU between layers; official CartPole: 4-128-2)."""
    depth: int = 5
    """QNN depth L: number of (U3 layer, CU3 ring) blocks (official CartPole: 5, MiniGrid: 13)."""
    ansatz: str = "u3_cu3"
    """``"u3_cu3"`` (official TorchQuantum ansatz, 6·n·L parameters) or ``"ry_cnot"`` (n·L)."""
    mapping_hidden: tuple[int, ...] = (10, 10, 10)
    """Hidden sizes of the mapping model (official CartPole: [10, 10, 10])."""
    mapping_activation: str = "none"
    """Activation between mapping-model layers: ``"none"`` (the official code: an affine map) or ``"relu"``."""
    squash_gamma: float = 0.1
    """γ of the squashing ``(β·tanh(γ·2^(n−1)·p))^α`` (QTRL: 0.1)."""
    squash_beta: float = 1.0
    """β of the squashing (QTRL: 1)."""
    squash_alpha: float = 1.0
    """α of the squashing (QTRL: 1)."""
    generator: str = "quantum"
    """``"quantum"`` (QT) or ``"classical"`` (the same target net trained directly, the baseline)."""
    algo: str = "reinforce"
    """``"reinforce"`` (official QTRL) or ``"actor_critic"`` (REINFORCE with a classical value baseline)."""
    learning_rate: float = 1e-3
    """Adam learning rate for all trainable parameters (official CartPole: 1e-3)."""
    gamma: float = 0.99
    """Discount factor of the returns."""
    entropy_coef: float = 0.0
    """Entropy bonus weight (official MiniGrid: 0.05; CartPole: 0)."""
    max_grad_norm: float = 0.0
    """Gradient-norm clip; 0 disables it (official MiniGrid: 10)."""
    episodes_per_update: int = 1
    """Episodes per worker and update (official: 1). With K workers one update sees K·this episodes."""
    max_updates: int = 0
    """Stop ``learn`` after this many updates (rounds: one per ``episodes_per_update`` episodes per
    worker), whatever budget is left; 0: the agent-step budget alone. The Dist-QTRL sweeps use it to
    give every K the same number of rounds."""
    critic_hidden: tuple[int, ...] = (64,)
    """Hidden sizes of the classical value net of ``actor_critic``."""
    device: str = "default.qubit"
    """PennyLane device; ``default.qubit`` (backprop) was fastest for n = 8–14 here (benchmarks/quantum_train.py)."""
    torch_threads: int = 1
    """torch intra-op threads while training (one per worker on a small machine)."""
    env_kwargs: tuple[tuple[str, Any], ...] = ()
    """Env config overrides as ``(key, value)`` pairs (``make_agent(..., env_kwargs={...})`` accepts a dict)."""

    def __post_init__(self):
        def _ints(name, v, allow_empty):
            if not isinstance(v, (tuple, list)) or (not v and not allow_empty) or \
                    not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in v):
                raise ValueError(f"{name}: expected a tuple of positive ints, got {v!r}")
            object.__setattr__(self, name, tuple(int(h) for h in v))

        _ints("hidden", self.hidden, True)
        _ints("mapping_hidden", self.mapping_hidden, True)
        _ints("critic_hidden", self.critic_hidden, True)
        for name, allowed in (("ansatz", ANSATZE), ("generator", GENERATORS), ("algo", ALGOS),
                              ("device", DEVICES), ("mapping_activation", ("none", "relu"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}: expected one of {allowed}, got {getattr(self, name)!r}")
        for name in ("depth", "episodes_per_update", "torch_threads"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: expected a positive int, got {v!r}")
        if isinstance(self.max_updates, bool) or not isinstance(self.max_updates, int) or self.max_updates < 0:
            raise ValueError(f"max_updates: expected a non-negative int, got {self.max_updates!r}")
        for name in ("learning_rate", "squash_gamma", "squash_beta", "squash_alpha"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name}: expected a positive float, got {getattr(self, name)!r}")
        if not 0.0 <= float(self.gamma) <= 1.0:
            raise ValueError(f"gamma: expected a float in [0, 1], got {self.gamma!r}")
        for name in ("entropy_coef", "max_grad_norm"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"{name}: expected a non-negative float, got {getattr(self, name)!r}")
        if isinstance(self.env_kwargs, dict):
            object.__setattr__(self, "env_kwargs", tuple(sorted(self.env_kwargs.items())))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples as lists, env_kwargs as a dict)."""
        d = dataclasses.asdict(self)
        d["env_kwargs"] = dict(self.env_kwargs)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, what: str = "quantum-train") -> "QTConfig":
        """Inverse of :meth:`to_dict`; unknown keys are a ValueError listing the allowed ones."""
        from qmarl_envs.scenarios.base import config_from_kwargs

        d = dict(d)
        for k in ("hidden", "mapping_hidden", "critic_hidden"):
            if isinstance(d.get(k), list):
                d[k] = tuple(d[k])
        return config_from_kwargs(cls, d, what=what)
