"""From basis probabilities to target-net weights: the squashing and the mapping model M_γ.

Follows ``probs_to_weights`` / ``MappingModel`` of the official code (``QuantumTrain/util.py``,
``appendix_example/QTRL/util.py``):

1. keep the first ``M`` of the ``2**n`` probabilities (no renormalisation);
2. squash ``x = (β·tanh(γ·2^(n−1)·p))^α`` and centre ``x − mean(x)``;
3. row ``i`` of the mapping input is ``concat(b_i, x_i)``, ``b_i`` the n bits of ``i`` as ±1 (most
   significant bit first, as ``torch.cartesian_prod([-1, 1] * n)``);
4. an MLP maps each row to one weight; the outputs are centred by subtracting their mean.

The official mapping model has no activation between its Linear layers (an affine map, though the
comments say ReLU); ``activation="none"`` copies that, ``"relu"`` is the documented alternative.
"""

from __future__ import annotations

import torch
from torch import nn


def basis_bits(n: int, m: int) -> torch.Tensor:
    """``float64 (m, n)``: bits of the indices 0..m−1 as ±1 (−1 for 0), most significant bit first."""
    idx = torch.arange(m, dtype=torch.int64)[:, None]
    shifts = torch.arange(n - 1, -1, -1, dtype=torch.int64)[None, :]
    return ((idx >> shifts) & 1).to(torch.float64) * 2 - 1


def squash(p: torch.Tensor, n: int, gamma: float, beta: float, alpha: float) -> torch.Tensor:
    """``(β·tanh(γ·2^(n−1)·p))^α − mean``, elementwise on ``p`` (any float dtype, shape (M,))."""
    x = (beta * torch.tanh(gamma * 2.0 ** (n - 1) * p)) ** alpha
    return x - x.mean()


class MappingModel(nn.Module):
    """M_γ: ``(n + 1)`` inputs (±1 bits, squashed probability) -> one weight, applied row-wise.

    Args:
        n: qubits.
        hidden: hidden layer sizes.
        activation: ``"none"`` (official: affine) or ``"relu"``.
    """

    def __init__(self, n: int, hidden: tuple[int, ...] = (10, 10, 10), activation: str = "none"):
        super().__init__()
        sizes = [n + 1, *hidden, 1]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b, dtype=torch.float64))
            if activation == "relu" and i < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """``float64 (M, n+1)`` -> centred ``float64 (M,)``."""
        y = self.net(rows).squeeze(-1)
        return y - y.mean()
