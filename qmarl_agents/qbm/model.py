"""The clamped (quantum) Boltzmann machine: weights, free energy and Q = -F.

Follows Levit et al. (arXiv 1706.00074) eqs. 4 and 7-10 as used by Müller et al. (ICAART 2022, §3):
the visible units are the observation and the action, clamped; the hidden units are sampled
(:mod:`qmarl_agents.qbm.samplers`) and ::

    F(s, a) = <H_eff> + (1/beta) sum_c P(c | s, a) log P(c | s, a),      Q(s, a) = -F(s, a)

where ``c`` ranges over whole r-replica configurations, ``P`` is their empirical frequency among the
N reads and ``<H_eff>`` the mean over the reads. The TD rule (eqs. 7-8) uses
``dQ/dW_vh = v <h>`` and ``dQ/dW_hh' = <h h'>``, averaged over reads and replicas.
"""

from __future__ import annotations

import numpy as np

from qmarl_agents.qbm.config import QBMConfig
from qmarl_agents.qbm.samplers import Sampler, make_sampler, w_plus

CODE3 = np.array([[-1, -1, -1], [-1, -1, 1], [-1, 1, -1], [-1, 1, 1], [1, -1, -1]], dtype=np.float32)
"""The official code's 3-spin action code (row = action id)."""


def coupling_mask(layers: tuple[int, ...]) -> np.ndarray:
    """``bool (H, H)`` symmetric mask of the hidden couplings: consecutive layers, fully."""
    idx = np.repeat(np.arange(len(layers)), layers)
    return np.abs(idx[:, None] - idx[None, :]) == 1


def action_spins(code: str, num_actions: int) -> np.ndarray:
    """``float32 (num_actions, A)`` visible spins of each action (``"onehot"`` or ``"code3"``)."""
    if code == "code3":
        if num_actions > len(CODE3):
            raise ValueError(f"action_code: 'code3' encodes {len(CODE3)} actions, env has {num_actions}")
        return CODE3[:num_actions].copy()
    return (2.0 * np.eye(num_actions, dtype=np.float32) - 1.0)


def entropy_term(h: np.ndarray, log_base: str = "e") -> np.ndarray:
    """``sum_c P(c) log P(c)`` over the empirical distribution of whole configurations.

    Args:
        h: ``(B, N, ...)`` spins in {-1, +1} (``(B, N, r, H)``, or the r*H spins in any fixed order:
            only whole configurations are compared).
        log_base: ``"e"`` or ``"10"``.

    Returns:
        ``float64 (B,)`` (<= 0; ``-log N`` when all reads differ). Configurations are compared
        exactly, as their bits packed into 64-bit words.
    """
    B, N = h.shape[:2]
    packed = np.packbits(h.reshape(B, N, -1) > 0, axis=2)                 # (B, N, bytes)
    pad = -packed.shape[2] % 8
    if pad:
        packed = np.concatenate([packed, np.zeros((B, N, pad), np.uint8)], axis=2)
    words = np.ascontiguousarray(packed).view(np.uint64)                  # (B, N, W)
    same = words[:, :, None, 0] == words[:, None, :, 0]
    for w in range(1, words.shape[2]):
        same &= words[:, :, None, w] == words[:, None, :, w]
    counts = same.sum(axis=2)                                           # n_c of each read's config
    val = np.log(counts / N).mean(axis=1)                               # sum_c P log P = mean_i log P(c_i)
    if log_base == "10":
        val = val / np.log(10.0)
    return val


class QBMModel:
    """``M`` QBMs (one shared, or one per agent) over the same visible layout.

    Args:
        cfg: the agent config.
        obs_dim: flattened observation size.
        num_actions: number of actions.
        num_models: M (1 with parameter sharing).
        rng: generator for the initial weights and the samplers.

    Attributes:
        W_vh: ``float32 (M, V, H)`` visible-hidden weights (V = obs_dim + action spins).
        W_hh: ``float32 (M, H, H)`` symmetric hidden-hidden weights, zero off :func:`coupling_mask`.
    """

    def __init__(self, cfg: QBMConfig, obs_dim: int, num_actions: int, num_models: int,
                 rng: np.random.Generator, sampler: Sampler | None = None):
        self.cfg = cfg
        self.obs_dim, self.num_actions, self.num_models = int(obs_dim), int(num_actions), int(num_models)
        self.actions = action_spins(cfg.action_code, num_actions)
        self.num_visible = self.obs_dim + self.actions.shape[1]
        self.num_hidden = sum(cfg.hidden_layers)
        self.mask = coupling_mask(cfg.hidden_layers)
        s = cfg.init_scale
        H, V, M = self.num_hidden, self.num_visible, self.num_models
        self.W_vh = rng.uniform(-s, s, (M, V, H)).astype(np.float32)
        w = np.triu(rng.uniform(-s, s, (M, H, H)).astype(np.float32) * self.mask, 1)
        self.W_hh = w + np.transpose(w, (0, 2, 1))
        self.wp = w_plus(cfg.beta, cfg.gamma_field, cfg.replicas, cfg.log_base)
        self.sampler = sampler or make_sampler(
            cfg.sampler, cfg.hidden_layers, replicas=cfg.replicas, reads=cfg.reads, sweeps=cfg.sweeps,
            beta_start=cfg.beta_start, beta_final=cfg.final_beta, wp=self.wp, gamma_field=cfg.gamma_field)

    def copy_weights_from(self, other: "QBMModel") -> None:
        """Make this model's weights a real copy of ``other``'s (target-net sync)."""
        self.W_vh = other.W_vh.copy()
        self.W_hh = other.W_hh.copy()

    def visible(self, obs_flat: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """``float32 (B, V)`` clamped visible units of ``B`` (observation, action) pairs.

        Args:
            obs_flat: ``float32 (B, obs_dim)`` observations already mapped (see the agent).
            actions: ``int64 (B,)`` action ids.
        """
        return np.concatenate([obs_flat, self.actions[actions]], axis=1)

    def evaluate(self, vis: np.ndarray, model_ids: np.ndarray | None, rng: np.random.Generator,
                 weights: tuple[np.ndarray, np.ndarray] | None = None, stats_from: int | None = 0):
        """Sample and return ``(Q (B,), <h> (B, H), <hh'> (B, H, H))``, one sampler call.

        Args:
            vis: ``float32 (B, V)`` clamped visible units.
            model_ids: ``int64 (B,)`` which weight set scores each row (None: set 0).
            rng: the sampler's generator.
            weights: ``(W_vh (M', V, H), W_hh (M', H, H))`` to use instead of this model's own
                (the agent stacks the target's and the online weights to score both in one call).
            stats_from: the spin means are returned for rows ``stats_from:`` only (None: no means).

        Returns:
            ``Q = -<H_eff> - entropy_sign (1/beta) sum P log P`` as ``float64 (B,)``; spin means over
            reads and replicas ``float32 (B', H)``; pair means ``float32 (B', H, H)`` (``B' = B -
            stats_from``; both None if ``stats_from`` is None).
        """
        cfg = self.cfg
        W_vh, W_hh = (self.W_vh, self.W_hh) if weights is None else weights
        B = vis.shape[0]
        ids = np.zeros(B, np.int64) if model_ids is None or W_vh.shape[0] == 1 else np.asarray(model_ids, np.int64)
        if W_vh.shape[0] == 1:
            b = vis @ W_vh[0]
        else:
            b = np.einsum("bv,bvh->bh", vis, W_vh[ids])
        # (B, N, r, H) spins (any order of the r*H when only Q is wanted), (B, N) energies
        h, E = self.sampler.sample_with_energy(b, W_hh, rng, ids, unit_order=stats_from is not None)
        e = E.mean(axis=1)
        ent = entropy_term(h, cfg.log_base)
        q = -e - cfg.entropy_sign * ent / cfg.beta - cfg.q_offset
        if stats_from is None:
            return q, None, None
        flat = h[stats_from:].reshape(B - stats_from, -1, self.num_hidden)   # (B', N r, H)
        mean_h = flat.mean(axis=1)
        mean_hh = np.matmul(flat.transpose(0, 2, 1), flat) / np.float32(flat.shape[1])
        return q, mean_h, mean_hh

    def q_all_actions(self, obs_flat: np.ndarray, model_ids: np.ndarray | None, rng) -> np.ndarray:
        """``float64 (n, num_actions)`` Q of every action for ``n`` mapped observations, one sampler call."""
        n = obs_flat.shape[0]
        A = self.num_actions
        vis = self.visible(np.repeat(obs_flat, A, axis=0), np.tile(np.arange(A), n))
        mids = None if model_ids is None else np.repeat(model_ids, A)
        q, _, _ = self.evaluate(vis, mids, rng, stats_from=None)
        return q.reshape(n, A)

    def td_update(self, vis: np.ndarray, model_ids: np.ndarray | None, delta: np.ndarray,
                  mean_h: np.ndarray, mean_hh: np.ndarray, lr: float, denom: float) -> None:
        """Gradient ascent on Q along the TD error (Levit eqs. 7-8), batched.

        ``W_vh += lr sum_b delta_b v_b <h>_b / denom``, ``W_hh += lr sum_b delta_b <hh'>_b / denom``
        (masked to the coupling graph), each row into its own model.
        """
        d = (lr * delta / denom).astype(np.float32)
        gv = np.einsum("b,bv,bh->bvh", d, vis, mean_h)
        gh = np.einsum("b,bhk->bhk", d, mean_hh) * self.mask
        if model_ids is None or self.num_models == 1:
            self.W_vh[0] += gv.sum(0)
            self.W_hh[0] += gh.sum(0)
        else:
            np.add.at(self.W_vh, model_ids, gv)
            np.add.at(self.W_hh, model_ids, gh)
