"""The Quantum-Train policy: generated weights run the target policy net functionally.

One :meth:`QTModel.generate` call evaluates the circuit once and gives every tensor of the target
net; :meth:`QTModel.logits` runs the net on those tensors through ``torch.func.functional_call``, so
the gradient of a loss reaches the circuit parameters and the mapping model. The official code
regenerates the weights at every forward call (every env step); here they are generated once per
update (the parameters do not change within an episode, so this is the same policy at far lower cost).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import functional_call

from qmarl_agents.quantum_train.circuit import QuantumCircuit, num_qubits, qnn_param_count
from qmarl_agents.quantum_train.config import QTConfig
from qmarl_agents.quantum_train.mapping import MappingModel, basis_bits, squash


def target_net(obs_dim: int, num_actions: int, hidden: tuple[int, ...]) -> nn.Sequential:
    """The target policy: ``Linear(obs_dim, h1) → ReLU → … → Linear(·, num_actions)`` (logits)."""
    sizes = [obs_dim, *hidden, num_actions]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class QTModel(nn.Module):
    """Target net plus its weight generator (QNN + mapping model, or the net's own weights).

    Args:
        obs_dim: flattened observation size.
        num_actions: number of discrete actions.
        config: the agent's :class:`QTConfig`.
        generator: torch.Generator for every initialisation (seeded by the agent).

    Attributes:
        M: parameters of the target net (the classical count).
        n: qubits (``ceil(log2 M)``); None for ``generator="classical"``.
    """

    def __init__(self, obs_dim: int, num_actions: int, config: QTConfig, generator: torch.Generator):
        super().__init__()
        self.config = config
        self.obs_dim, self.num_actions = int(obs_dim), int(num_actions)
        net = target_net(obs_dim, num_actions, config.hidden)
        for p in net.parameters():  # torch's default Linear init, from our generator
            bound = 1.0 / math.sqrt(p.shape[-1]) if p.ndim == 2 else 1.0 / math.sqrt(max(1, p.shape[0]))
            with torch.no_grad():
                p.copy_((torch.rand(p.shape, generator=generator) * 2 - 1) * bound)
        self.shapes = {k: tuple(v.shape) for k, v in net.named_parameters()}
        self.M = sum(math.prod(s) for s in self.shapes.values())
        self.quantum = config.generator == "quantum"
        if self.quantum:
            for p in net.parameters():
                p.requires_grad_(False)
            self.net = [net]  # not a registered submodule: its weights are generated, never trained
            self.n = num_qubits(self.M)
            self.qnn = QuantumCircuit(self.n, config.depth, config.ansatz, config.device, generator)
            self.mapping = MappingModel(self.n, config.mapping_hidden, config.mapping_activation)
            with torch.no_grad():
                for p in self.mapping.parameters():
                    fan_in = p.shape[-1] if p.ndim == 2 else self.mapping.net[0].in_features
                    p.copy_((torch.rand(p.shape, generator=generator, dtype=torch.float64) * 2 - 1)
                            / math.sqrt(fan_in))
            self.register_buffer("bits", basis_bits(self.n, self.M), persistent=False)
        else:
            self.net = nn.ModuleList([net])
            self.n = None

    @property
    def module(self) -> nn.Sequential:
        """The target net (a template whose own weights are unused when quantum)."""
        return self.net[0]

    def trainable_counts(self) -> dict[str, int]:
        """``{"qnn", "mapping", "total", "classical_M"}`` trainable-parameter counts (critic excluded)."""
        if not self.quantum:
            return {"qnn": 0, "mapping": 0, "total": self.M, "classical_M": self.M}
        qnn = qnn_param_count(self.n, self.config.depth, self.config.ansatz)
        mp = sum(p.numel() for p in self.mapping.parameters())
        return {"qnn": qnn, "mapping": mp, "total": qnn + mp, "classical_M": self.M}

    def generate(self) -> dict[str, torch.Tensor]:
        """The target net's tensors, ``{name: float32 tensor}`` in ``state_dict`` order.

        Quantum: one circuit evaluation; the tensors carry the autograd graph back to the QNN and
        the mapping model. Classical: the net's own parameters.
        """
        if not self.quantum:
            return dict(self.module.named_parameters())
        c = self.config
        p = self.qnn()[: self.M]
        x = squash(p, self.n, c.squash_gamma, c.squash_beta, c.squash_alpha)
        flat = self.mapping(torch.cat([self.bits, x[:, None]], dim=1)).to(torch.float32)
        out, i = {}, 0
        for name, shape in self.shapes.items():
            k = math.prod(shape)
            out[name] = flat[i:i + k].reshape(shape)
            i += k
        return out

    def logits(self, obs: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """``float32 (B, num_actions)`` logits of ``float32 (B, obs_dim)`` observations under ``params``."""
        return functional_call(self.module, params, (obs,))
