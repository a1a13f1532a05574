"""The message-passing network of Q-MARL ([P] §2.3, Fig. 3), batched over every sub-graph of a step.

Per sub-node ``u`` (an agent inside one ego sub-graph) and sub-graph edge ``u -> w``:

* embedding ``s^0_u = ReLU(W obs_u + b)`` (``ebd``; [P] leaves it undefined);
* radial-basis expansion ``z^0_uw,n = exp(-(d_uw - n Δd)^2 / Δd)``, ``n = 1..n_max``,
  ``n_max Δd = view range`` ([P] eq. rbe; ``d`` is the Euclidean cell distance);
* ``L`` rounds of edge update ``z^l_uw = h_rel([s^l_u, s^l_w, z^{l-1}_uw])`` then vertex update
  ``s^{l+1}_w = s^l_w + h_lin(h_rel(Σ_u h_lin(s^l_u) ⊙ h_rel(z^l_uw)))`` (sum by ``index_add_``;
  the linear map on the source neighbour as in [C]);
* policy head ``h_lin(h_rel(s^L))`` -> 5 logits, critic head -> 5 action values ``q(G, a)``
  (the counterfactual critic of Algorithm 1).

:class:`VanillaNet` is the graph-free baseline of [P] / [C] (``Linear -> ReLU -> Linear``).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def rbf_expand(dist: torch.Tensor, num_rbf: int, view_range: float) -> torch.Tensor:
    """Radial-basis expansion of distances ([P] §2.3).

    Args:
        dist: ``float32 (F,)`` distances in cells.
        num_rbf: number of centres ``n_max``.
        view_range: the largest distance an agent sees (cells); the last centre sits there.

    Returns:
        ``float32 (F, num_rbf)`` with ``exp(-(d - n Δd)^2 / Δd)``, ``Δd = view_range / num_rbf``,
        ``n = 1..num_rbf``.
    """
    delta = float(view_range) / num_rbf
    centres = torch.arange(1, num_rbf + 1, dtype=torch.float32, device=dist.device) * delta
    return torch.exp(-((dist[:, None] - centres[None, :]) ** 2) / delta)


class MessagePassingNet(nn.Module):
    """Shared Q-MARL network over a batch of sub-graphs.

    Args:
        obs_dim: flattened observation size (18 for the 3x3x2 windows).
        hidden: vertex/edge feature width.
        num_rbf: RBF centres.
        rounds: message-passing rounds ``L``.
        view_range: distance of the last RBF centre (cells).
        num_actions: policy outputs (5).
    """

    def __init__(self, obs_dim: int, hidden: int = 32, num_rbf: int = 10, rounds: int = 2,
                 view_range: float = math.sqrt(2.0), num_actions: int = 5):
        super().__init__()
        self.num_rbf, self.view_range = int(num_rbf), float(view_range)
        self.embed = nn.Linear(obs_dim, hidden)
        self.edge = nn.ModuleList(nn.Linear(2 * hidden + (num_rbf if l == 0 else hidden), hidden)
                                  for l in range(rounds))
        self.msg_src = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(rounds))
        self.msg_edge = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(rounds))
        self.update = nn.ModuleList(nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(),
                                                  nn.Linear(hidden, hidden)) for _ in range(rounds))
        self.pi = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, num_actions))
        self.q = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, num_actions))

    def features(self, obs: torch.Tensor, src: torch.Tensor, dst: torch.Tensor,
                 dist: torch.Tensor) -> torch.Tensor:
        """Vertex features after ``L`` rounds.

        Args:
            obs: ``float32 (M, obs_dim)`` one row per sub-node.
            src, dst: ``int64 (F,)`` sub-node indices of the sub-graph edges.
            dist: ``float32 (F,)`` edge lengths in cells.

        Returns:
            ``float32 (M, hidden)``.
        """
        s = torch.relu(self.embed(obs))
        z = rbf_expand(dist, self.num_rbf, self.view_range)
        # rows that receive no message get update(0), a constant: the layers run on edges and on
        # receiving rows only, so isolated agents (most of them in sparse maps) cost one add
        recv, dst_local = torch.unique(dst, return_inverse=True)
        for l in range(len(self.edge)):
            s_src = s[src]
            z = torch.relu(self.edge[l](torch.cat([s_src, s[dst], z], dim=1)))
            m = self.msg_src[l](s_src) * torch.relu(self.msg_edge[l](z))
            agg = torch.zeros(recv.shape[0], s.shape[1], dtype=s.dtype).index_add_(0, dst_local, m)
            const = self.update[l](torch.zeros(1, s.shape[1], dtype=s.dtype))
            s = (s + const).index_add(0, recv, self.update[l](agg) - const)
        return s

    def forward(self, obs, src, dst, dist, critic: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(logits float32 (M, 5), q float32 (M, 5) or None when not critic)`` for every sub-node."""
        s = self.features(obs, src, dst, dist)
        return self.pi(s), (self.q(s) if critic else None)


class VanillaNet(nn.Module):
    """The graph-free Vanilla-PG policy ([C] ``Policy_Gradient``: Linear(obs, hidden) + ReLU -> 5).

    ``forward`` takes and ignores the graph arguments so both networks share one call signature.
    """

    def __init__(self, obs_dim: int, hidden: int = 128, num_actions: int = 5):
        super().__init__()
        self.pi = nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, num_actions))

    def forward(self, obs, src=None, dst=None, dist=None, critic: bool = False) -> tuple[torch.Tensor, None]:
        """``(logits float32 (M, 5), None)``."""
        return self.pi(obs), None
