"""Samplers of the replica-stacked (effective) Ising model of a clamped QBM, behind one interface.

The effective Hamiltonian (Levit et al., arXiv 1706.00074, eq. 9) of r Trotter replicas
``h_k in {-1, +1}^H`` of the hidden units, for visible units clamped to ``v`` with hidden biases
``b = v @ W_vh`` and hidden couplings ``J = W_hh`` (symmetric, zero diagonal)::

    H_eff(h) = -(1/r) sum_k (b . h_k + 1/2 h_k J h_k) - w+ sum_k h_k . h_{k+1 mod r}     (r >= 2)
    w+ = (1 / 2 beta) log coth(Gamma beta / r)

(for r = 1 the replica term is the constant ``w+ H`` and is left out). A sampler draws ``N`` reads of
the ``r x H`` spins from ``exp(-beta_final H_eff)`` (annealed from ``beta_start``) for ``B`` clamped
models at once and returns ``float32 (B, N, r, H)`` spins in ``{-1, +1}``.

* :class:`GibbsSampler`: the in-house sampler, NumPy float32, vectorised over every model x read x
  replica x spin: exact block-Gibbs sweeps over a 2-colouring of (hidden layer, Trotter replica), one
  matrix product per colour, several weight sets (online and target net) in one call.
* :class:`DimodSampler`: any dimod sampler, one ``sample_ising`` call per clamped model; the
  reference is dwave-samplers' ``SimulatedAnnealingSampler`` (what dwave-neal wraps). D-Wave hardware:
  ``DimodSampler(EmbeddingComposite(DWaveSampler()), sampler_kwargs={})`` from dwave-system, with a
  Leap token; hardware samples are not Boltzmann at a known beta, so Levit §3.4 treat beta as a
  fitted parameter (not tested here).
* :class:`OpenJijSQASampler`: OpenJij's path-integral ``SQASampler`` on the single-replica model
  with ``trotter=r`` and transverse field Gamma; r of its reads are stacked as the replicas of one
  effective configuration ("replica stacking", Levit §3.4). Optional extra ``qmarl[quantum]``.
  Measured with OpenJij 0.12.2: its default schedule anneals the transverse field to zero, and the
  reads of one seeded call are identical, so it returns annealed (near-ground) states, not
  Boltzmann samples at beta (docs/qbm.md).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def w_plus(beta: float, gamma_field: float, replicas: int, log_base: str = "e") -> float:
    """Ferromagnetic coupling between neighbouring Trotter replicas (Levit eq. 9).

    Args:
        beta: inverse temperature (> 0).
        gamma_field: transverse field Gamma (> 0).
        replicas: number of replicas r (>= 1).
        log_base: ``"e"`` (the paper) or ``"10"`` (the official code).

    Returns:
        ``w+ = log(coth(Gamma beta / r)) / (2 beta)`` in energy units.
    """
    x = gamma_field * beta / replicas
    val = math.log(1.0 / math.tanh(x))
    if log_base == "10":
        val /= math.log(10.0)
    return val / (2.0 * beta)


def beta_schedule(beta_start: float, beta_final: float, sweeps: int) -> np.ndarray:
    """``float64 (sweeps,)`` inverse temperatures: geometric from ``beta_start`` to ``beta_final``
    over the first half of the sweeps, then held at ``beta_final`` (so the reads equilibrate at the
    model's beta instead of lagging behind a schedule that only reaches it on the last sweep)."""
    n_anneal = sweeps // 2
    lo = min(beta_start, beta_final)
    ramp = np.geomspace(lo, beta_final, n_anneal) if n_anneal > 1 else np.empty(0)
    return np.concatenate([ramp, np.full(sweeps - ramp.size, float(beta_final))])


def effective_energy(h: np.ndarray, b: np.ndarray, J: np.ndarray, wp: float) -> np.ndarray:
    """``H_eff`` of each read (see the module docstring).

    Args:
        h: ``(B, N, r, H)`` spins in {-1, +1}.
        b: ``(B, H)`` hidden biases ``v @ W_vh``.
        J: ``(B, H, H)`` or ``(1, H, H)`` symmetric couplings with zero diagonal.
        wp: replica coupling w+.

    Returns:
        ``float64 (B, N)``.
    """
    B, N, r, H = h.shape
    h = np.asarray(h, np.float32)
    b = np.asarray(b, np.float32)
    J = np.asarray(J, np.float32)
    lin = (h.sum(axis=2) @ b[:, :, None])[..., 0] if B else np.zeros((0, N), np.float32)   # (B, N)
    flat = h.reshape(B, N * r, H)
    hj = (flat.reshape(-1, H) @ J[0]).reshape(flat.shape) if J.shape[0] == 1 else np.matmul(flat, J)  # (B, N r, H)
    quad = 0.5 * (hj * flat).reshape(B, N, r * H).sum(axis=2)
    e = -(lin.astype(np.float64) + quad) / r
    if r >= 2:
        e = e - wp * (h * np.roll(h, -1, axis=2)).reshape(B, N, r * H).sum(axis=2)
    return e


class Sampler:
    """Interface: draw reads of the effective model for ``B`` clamped models at once.

    Args:
        layers: hidden units per layer (consecutive layers are coupled).
        replicas: r >= 1.
        reads: N >= 1 effective configurations per model.
        sweeps: annealing sweeps.
        beta_start: first inverse temperature of the schedule.
        beta_final: last one (the model's beta for Boltzmann samples).
        wp: replica coupling w+.
    """

    name = "sampler"

    def __init__(self, layers, replicas: int, reads: int, sweeps: int, beta_start: float, beta_final: float,
                 wp: float):
        for n, v in (("replicas", replicas), ("reads", reads), ("sweeps", sweeps)):
            if int(v) < 1:
                raise ValueError(f"{n}: expected an int >= 1, got {v!r}")
        self.layers = tuple(int(n) for n in layers)
        self.num_hidden = sum(self.layers)
        self.replicas, self.reads, self.sweeps = int(replicas), int(reads), int(sweeps)
        self.beta_start, self.beta_final, self.wp = float(beta_start), float(beta_final), float(wp)
        self.layer_of = np.repeat(np.arange(len(self.layers)), self.layers)

    def sample(self, b: np.ndarray, J: np.ndarray, rng: np.random.Generator,
               groups: np.ndarray | None = None) -> np.ndarray:
        """Reads of the effective model of ``B`` clamped models.

        Args:
            b: ``float32 (B, H)`` hidden biases (``v @ W_vh`` of each row).
            J: ``float32 (M, H, H)`` couplings of ``M`` weight sets (symmetric, zero diagonal).
            rng: the caller's generator (no global RNG).
            groups: ``int (B,)`` weight set of each row, in ``[0, M)``; None: all rows use set 0
                when ``M == 1``, row ``m`` uses set ``m`` when ``M == B``.

        Returns:
            ``float32 (B, N, r, H)`` spins in {-1, +1}.

        Raises:
            ValueError: shapes that do not fit, or ``groups`` out of range.
        """
        raise NotImplementedError

    def sample_with_energy(self, b: np.ndarray, J: np.ndarray, rng: np.random.Generator,
                           groups: np.ndarray | None = None, unit_order: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`sample` plus ``H_eff`` of every read, ``float64 (B, N)`` (:func:`effective_energy`).

        With ``unit_order=False`` a sampler may return the spins as ``(B, N, r*H)`` in any fixed
        order of the ``r*H`` spins (enough to tell configurations apart, for the entropy term)."""
        h = self.sample(b, J, rng, groups)
        g = self._groups(np.asarray(b), np.asarray(J), groups)
        Jr = np.asarray(J)[:1] if np.asarray(J).shape[0] == 1 else np.asarray(J)[g]
        return h, effective_energy(h, b, Jr, self.wp)

    def _groups(self, b: np.ndarray, J: np.ndarray, groups) -> np.ndarray:
        if b.ndim != 2 or b.shape[1] != self.num_hidden:
            raise ValueError(f"b: expected shape (B, {self.num_hidden}), got {b.shape}")
        H = self.num_hidden
        if J.ndim != 3 or J.shape[1:] != (H, H):
            raise ValueError(f"J: expected shape (M, {H}, {H}), got {J.shape}")
        B, M = b.shape[0], J.shape[0]
        if groups is None:
            if M == 1:
                return np.zeros(B, np.int64)
            if M == B:
                return np.arange(B)
            raise ValueError(f"groups: needed when J holds {M} weight sets for {B} rows")
        groups = np.asarray(groups, dtype=np.int64)
        if groups.shape != (B,) or (B and (groups.min() < 0 or groups.max() >= M)):
            raise ValueError(f"groups: expected {B} ints in [0, {M}), got shape {groups.shape}")
        return groups

    def _sample_each(self, b: np.ndarray, J: np.ndarray, groups, read_model) -> np.ndarray:
        """``float32 (B, N, r, H)`` from ``read_model(b_m float64 (H,), J_m float64 (H, H))``, which
        returns the ``(N, r, H)`` spins of model ``m``: the loop of the per-call (dimod, OpenJij)
        samplers, one external call per model."""
        b = np.asarray(b, dtype=np.float64)
        J = np.asarray(J, dtype=np.float64)
        groups = self._groups(b, J, groups)
        B, H = b.shape
        out = np.empty((B, self.reads, self.replicas, H), dtype=np.float32)
        for m in range(B):
            out[m] = read_model(b[m], J[groups[m]])
        return out


class GibbsSampler(Sampler):
    """In-house block-Gibbs annealer: one NumPy pass over all models x reads x replicas x spins.

    The ``r x H`` spins of the effective model are coloured so that no two spins of one colour
    interact: ``(layer parity + replica) mod 2`` for even r (hidden layers are coupled only to the
    neighbouring layers, replicas only to the neighbouring replicas), layer parity for r = 1, and
    ``(layer parity + c_k) mod 3`` with a proper 3-colouring ``c_k`` of the replica ring for odd
    r >= 3. Spins are stored ordered by colour, so a sweep is 2 (or 3) exact block updates, each one
    matrix product of all ``B x N`` chains with the effective coupling matrix ``K`` and one
    ``tanh``: the local field of spin ``s`` is ``f_s = c_s + sum_t K_st h_t`` with ``c = b / r``
    (every replica), ``K = J / r`` inside a replica and ``w+`` between neighbouring replicas (``2 w+``
    for r = 2), and ``P(h_s = +1) = sigmoid(2 beta f_s) = (1 + tanh(beta f_s)) / 2``.
    """

    name = "gibbs"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        r, H = self.replicas, self.num_hidden
        par = self.layer_of % 2                                                # (H,)
        ks = np.arange(r)
        if r == 1:
            colour = par[None, :]
        elif r % 2 == 0:
            colour = (par[None, :] + ks[:, None]) % 2
        else:
            ring = np.where(ks == r - 1, 2, ks % 2)                            # proper colouring of an odd ring
            colour = (par[None, :] + ring[:, None]) % 3
        colour = colour.reshape(-1)                                            # spin k*H + i
        self.perm = np.argsort(colour, kind="stable")                          # stored position -> spin
        self.inv_perm = np.argsort(self.perm)
        counts = np.bincount(colour)
        ends = np.cumsum(counts)
        self.blocks = [slice(int(e - c), int(e)) for c, e in zip(counts, ends) if c]
        ring_k = np.zeros((r, r), np.float32)
        if r >= 2:
            for k in range(r):
                ring_k[k, (k + 1) % r] += 1.0
                ring_k[(k + 1) % r, k] += 1.0
        self._ring = ring_k
        self.betas = beta_schedule(self.beta_start, self.beta_final, self.sweeps).astype(np.float32)

    def coupling_matrix(self, J: np.ndarray) -> np.ndarray:
        """``float32 (M, rH, rH)`` effective couplings ``K`` of ``M`` models, in the stored (colour)
        order of the spins (see the class docstring)."""
        J = np.asarray(J, dtype=np.float32)
        r, H = self.replicas, self.num_hidden
        K = np.einsum("kl,mij->mkilj", np.eye(r, dtype=np.float32), J / r)
        K += np.float32(self.wp) * np.einsum("kl,ij->kilj", self._ring, np.eye(H, dtype=np.float32))[None]
        K = K.reshape(-1, r * H, r * H)
        return np.ascontiguousarray(K[:, self.perm][:, :, self.perm])

    def _sources(self, j: int) -> list[int]:
        """The colours other than ``j`` (the only spins that couple to colour ``j``)."""
        return [i for i in range(len(self.blocks)) if i != j]

    def sample(self, b, J, rng, groups=None):
        return self._run(b, J, rng, groups)[0]

    def sample_with_energy(self, b, J, rng, groups=None, unit_order=True):
        """:meth:`sample` plus ``H_eff`` of every read, ``float64 (B, N)``. With two colours this is
        ``-c_0 . h_0 - h_1 . g_1`` with ``g_1 = c_1 + K_10 h_0`` the local fields the last block
        update computed anyway (no extra matrix product); with ``unit_order=False`` the spins come
        back as ``(B, N, r*H)`` in the sampler's colour order (no reordering pass)."""
        h, E = self._run(b, J, rng, groups, unit_order)
        if E is None:
            return h, self._energy(h, b, J, groups)
        return h, E

    def _energy(self, h, b, J, groups):
        g = self._groups(np.asarray(b), np.asarray(J), groups)
        J = np.asarray(J)
        return effective_energy(h, b, J[:1] if J.shape[0] == 1 else J[g], self.wp)

    def _run(self, b, J, rng, groups, unit_order=True):
        b = np.asarray(b, dtype=np.float32)
        J = np.asarray(J, dtype=np.float32)
        groups = self._groups(b, J, groups)
        B, H = b.shape
        r, N = self.replicas, self.reads
        S = r * H
        order = np.argsort(groups, kind="stable")
        g_sorted = groups[order]
        models = np.unique(g_sorted)
        spans = [(int(m), int(lo), int(hi)) for m, lo, hi in
                 zip(models, np.searchsorted(g_sorted, models, "left"), np.searchsorted(g_sorted, models, "right"))]
        K = self.coupling_matrix(J)                                            # (M, S, S)
        c_h = np.tile(b[order] / r, (1, r))[:, self.perm]                      # (B, S), stored order
        # spins are kept as bits x = (h + 1) / 2, one contiguous float32 array per colour:
        # f = c + K h = (c - K 1) + (2 K) x
        c = c_h - K.sum(axis=2)[g_sorted]
        two = len(self.blocks) == 2
        last = len(self.blocks) - 1
        g_last = np.empty((B * N, self.blocks[-1].stop - self.blocks[-1].start), np.float32) if two else None
        K2 = 2.0 * K
        src = [self._sources(j) for j in range(len(self.blocks))]
        Kblocks = [np.ascontiguousarray(K2[:, np.r_[tuple(self.blocks[i] for i in s_)], sl])
                   for s_, sl in zip(src, self.blocks)]                          # (M, S - n_c, n_c)
        n_max = max(sl.stop - sl.start for sl in self.blocks)
        # every random number of the call in one draw of 16-bit ints k in [-32768, 32767]
        # (an SFC64 stream seeded from the caller's generator):
        # P(k < 32768 tanh(beta f)) = (1 + tanh(beta f)) / 2 = sigmoid(2 beta f), exact to 2^-16
        n_u = (self.sweeps * len(self.blocks) + 1) * B * N * n_max
        fast = np.random.SFC64(int(rng.integers(2**63 - 1)))
        u = fast.random_raw(-(-n_u // 4)).view(np.int16)[:n_u].reshape(-1, B * N, n_max)
        xs = [np.ascontiguousarray(u[-1, :, : sl.stop - sl.start] < 0, dtype=np.float32)
              for sl in self.blocks]                                           # uniform start
        c_blocks = [np.ascontiguousarray(c[:, sl]) for sl in self.blocks]       # (B, n_c) each
        fbuf = np.empty(B * N * n_max, np.float32)
        scaled: dict = {}
        for t, beta in enumerate(self.betas):
            if beta not in scaled:   # the schedule holds the final beta for its second half
                scaled = {beta: ([Kc * beta for Kc in Kblocks], [cc * beta for cc in c_blocks])}
            Kbs, cbs = scaled[beta]
            for j, (s_, sl) in enumerate(zip(src, self.blocks)):
                n_c = sl.stop - sl.start
                ut = u[t * len(self.blocks) + j, :, :n_c]
                x_src = xs[s_[0]] if len(s_) == 1 else np.concatenate([xs[i] for i in s_], axis=1)
                xj, Kb, cb = xs[j], Kbs[j], cbs[j]
                for m, lo, hi in spans:
                    rows = slice(lo * N, hi * N)
                    f = fbuf[: (hi - lo) * N * n_c].reshape(-1, n_c)               # contiguous
                    np.matmul(x_src[rows], Kb[m], out=f)                       # beta (K h)_s, colour c
                    fv = f.reshape(hi - lo, N, n_c)
                    fv += cb[lo:hi, None, :]
                    if two and j == last and t == len(self.betas) - 1:
                        g_last[rows] = f                                       # beta g_1, for H_eff
                    np.tanh(f, out=f)
                    f *= 32768.0
                    np.less(ut[rows], f, out=xj[rows], casting="unsafe")
        E = None
        if two:
            sl0 = self.blocks[0]
            h0 = (2.0 * xs[0] - 1.0).reshape(B, N, -1)
            h1 = (2.0 * xs[1] - 1.0).reshape(B, N, -1)
            E = -(h0 * c_h[:, None, sl0]).sum(axis=2, dtype=np.float64) \
                - (h1 * g_last.reshape(B, N, -1)).sum(axis=2, dtype=np.float64) / float(self.betas[-1])
        if E is not None and not unit_order:
            h = np.concatenate([h0, h1], axis=2)                               # (B, N, S), colour order
        else:
            h = np.empty((B * N, S), np.float32)
            for sl, xj in zip(self.blocks, xs):
                h[:, self.perm[sl]] = xj
            h *= 2.0
            h -= 1.0
            h = h.reshape(B, N, r, H)
        if np.any(order != np.arange(B)):
            out = np.empty_like(h)
            out[order] = h
            h = out
            if E is not None:
                E2 = np.empty_like(E)
                E2[order] = E
                E = E2
        return h, E


def ising_model(b: np.ndarray, J: np.ndarray, replicas: int, wp: float) -> tuple[dict, dict]:
    """dimod ``(h, J)`` of the effective model of one clamped QBM (spin ``k*H + i`` = unit i, replica k).

    dimod samples ``exp(-beta E)`` with ``E = sum h s + sum J s s``, so the biases are
    ``-b_i / r``, the intra-replica couplings ``-J_ij / r`` and the inter-replica ones ``-w+``
    (ferromagnetic; for r = 2 the two cyclic terms add up to ``-2 w+``).

    Args:
        b: ``(H,)`` hidden biases; J: ``(H, H)`` symmetric couplings; replicas: r; wp: w+.
    """
    H = b.shape[0]
    r = replicas
    lin = {k * H + i: -float(b[i]) / r for k in range(r) for i in range(H)}
    quad: dict[tuple[int, int], float] = {}
    iu, ju = np.nonzero(np.triu(J, 1))
    for k in range(r):
        for i, j in zip(iu.tolist(), ju.tolist()):
            quad[(k * H + i, k * H + j)] = -float(J[i, j]) / r
    if r >= 2:
        for k in range(r):
            k2 = (k + 1) % r
            for i in range(H):
                key = (min(k, k2) * H + i, max(k, k2) * H + i)
                quad[key] = quad.get(key, 0.0) - wp
    return lin, quad


class DimodSampler(Sampler):
    """Any dimod sampler, one ``sample_ising`` call per clamped model (the reference).

    Args:
        *args: as :class:`Sampler`.
        dimod_sampler: a dimod sampler; default dwave-samplers' ``SimulatedAnnealingSampler``.
        sampler_kwargs: keyword arguments of ``sample_ising``; default ``num_reads=N``,
            the schedule of :func:`beta_schedule` (``beta_schedule_type='custom'``), and a
            seed drawn from ``rng``.
    """

    name = "dimod-sa"

    def __init__(self, *args, dimod_sampler: Any = None, sampler_kwargs: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if dimod_sampler is None:
            from dwave.samplers import SimulatedAnnealingSampler

            dimod_sampler = SimulatedAnnealingSampler()
        self.dimod_sampler = dimod_sampler
        self.sampler_kwargs = sampler_kwargs

    def _kwargs(self, rng):
        if self.sampler_kwargs is not None:
            return dict(self.sampler_kwargs)
        return dict(num_reads=self.reads, beta_schedule_type="custom",
                    beta_schedule=beta_schedule(self.beta_start, self.beta_final, self.sweeps),
                    seed=int(rng.integers(2**31 - 1)))

    def sample(self, b, J, rng, groups=None):
        """Reads of the effective model, one dimod call per model (see :meth:`Sampler.sample`)."""
        r, N = self.replicas, self.reads

        def read_model(bm, Jm):
            H = bm.shape[0]
            lin, quad = ising_model(bm, Jm, r, self.wp)
            ss = self.dimod_sampler.sample_ising(lin, quad, **self._kwargs(rng))
            arr = ss.record.sample[:, [int(ss.variables.index(k)) for k in range(r * H)]]
            return arr.reshape(-1, r, H)[:N]

        return self._sample_each(b, J, groups, read_model)


class OpenJijSQASampler(Sampler):
    """OpenJij's simulated quantum annealer (``pip install "qmarl[quantum]"``).

    It anneals the single-replica model ``E = -b.h - 1/2 h J h`` with ``trotter=r`` slices at
    ``beta_final`` and transverse field Gamma and returns one classical slice per read; ``N * r``
    reads are stacked r at a time into ``N`` effective configurations (Levit §3.4).
    """

    name = "openjij-sqa"

    def __init__(self, *args, gamma_field: float = 0.5, **kwargs):
        super().__init__(*args, **kwargs)
        try:
            import openjij
        except ImportError as e:  # pragma: no cover - optional extra
            raise ValueError('sampler: "openjij-sqa" needs OpenJij: pip install "qmarl[quantum]"') from e
        self._sampler = openjij.SQASampler()
        self.gamma_field = float(gamma_field)

    def sample(self, b, J, rng, groups=None):
        """Reads of the model, one OpenJij call per model (see :meth:`Sampler.sample`)."""
        r, N = self.replicas, self.reads

        def read_model(bm, Jm):
            H = bm.shape[0]
            lin = {i: -float(bm[i]) for i in range(H)}
            iu, ju = np.nonzero(np.triu(Jm, 1))
            quad = {(int(i), int(j)): -float(Jm[i, j]) for i, j in zip(iu, ju)}
            ss = self._sampler.sample_ising(lin, quad, beta=self.beta_final, gamma=self.gamma_field,
                                            trotter=max(r, 2), num_sweeps=self.sweeps, num_reads=N * r,
                                            seed=int(rng.integers(2**31 - 1)))
            arr = ss.record.sample[:, [int(ss.variables.index(k)) for k in range(H)]]
            return arr.reshape(N, r, H)

        return self._sample_each(b, J, groups, read_model)


def make_sampler(name: str, layers, *, replicas: int, reads: int, sweeps: int, beta_start: float,
                 beta_final: float, wp: float, gamma_field: float = 0.5) -> Sampler:
    """The sampler called ``name`` (``"gibbs"``, ``"dimod-sa"``, ``"openjij-sqa"``).

    Raises:
        ValueError: for an unknown name, or OpenJij missing.
    """
    args = (layers, replicas, reads, sweeps, beta_start, beta_final, wp)
    if name == "gibbs":
        return GibbsSampler(*args)
    if name == "dimod-sa":
        return DimodSampler(*args)
    if name == "openjij-sqa":
        return OpenJijSQASampler(*args, gamma_field=gamma_field)
    raise ValueError(f"sampler: expected 'gibbs', 'dimod-sa' or 'openjij-sqa', got {name!r}")
