"""Samplers of the replica-stacked (effective) Ising model of a clamped QBM, behind one interface.

The effective Hamiltonian (Levit et al., arXiv 1706.00074, eq. 9) of r Trotter replicas
``h_k in {-1, +1}^H`` of the hidden units, for visible units clamped to ``v`` with hidden biases
``b = v @ W_vh`` and hidden couplings ``J = W_hh`` (symmetric, zero diagonal)::

    H_eff(h) = -(1/r) sum_k (b . h_k + 1/2 h_k J h_k) - w+ sum_k h_k . h_{k+1 mod r}     (r >= 2)
    w+ = (1 / 2 beta) log coth(Gamma beta / r)

(for r = 1 the replica term is the constant ``w+ H`` and is left out). A sampler draws ``N`` reads of
the ``r x H`` spins from ``exp(-beta_final H_eff)`` (annealed from ``beta_start``) for ``B`` clamped
models at once and returns ``float32 (B, N, r, H)`` spins in ``{-1, +1}``.

* :class:`GibbsSampler`: the in-house sampler, NumPy, vectorised over every model x read x replica:
  block Gibbs sweeps (hidden layers of one parity and replicas of one parity together).
* :class:`DimodSampler`: any dimod sampler, one ``sample_ising`` call per clamped model; the
  reference is dwave-samplers' ``SimulatedAnnealingSampler`` (what dwave-neal wraps). D-Wave hardware:
  ``DimodSampler(EmbeddingComposite(DWaveSampler()), sampler_kwargs={})`` from dwave-system, with a
  Leap token; hardware samples are not Boltzmann at a known beta, so Levit §3.4 treat beta as a
  fitted parameter (not tested here).
* :class:`OpenJijSQASampler`: OpenJij's path-integral ``SQASampler`` on the single-replica model
  with ``trotter=r`` and transverse field Gamma; r of its reads are stacked as the replicas of one
  effective configuration ("replica stacking", Levit §3.4). Optional extra ``qmarl[quantum]``.
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
    r = h.shape[2]
    h = h.astype(np.float64)
    lin = np.einsum("bnkh,bh->bn", h, b.astype(np.float64))
    if J.shape[0] == 1:
        hj = np.einsum("bnkh,hj->bnkj", h, J[0].astype(np.float64))
    else:
        hj = np.einsum("bnkh,bhj->bnkj", h, J.astype(np.float64))         # (B, N, r, H)
    quad = 0.5 * np.einsum("bnkh,bnkh->bn", hj, h)
    e = -(lin + quad) / r
    if r >= 2:
        e = e - wp * np.einsum("bnkh,bnkh->bn", h, np.roll(h, -1, axis=2))
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

    def sample(self, b: np.ndarray, J: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Reads of the effective model.

        Args:
            b: ``float32 (B, H)`` hidden biases.
            J: ``float32 (B, H, H)`` or ``(1, H, H)`` couplings (symmetric, zero diagonal).
            rng: the caller's generator (no global RNG).

        Returns:
            ``float32 (B, N, r, H)`` spins in {-1, +1}.
        """
        raise NotImplementedError

    def _sample_each(self, b: np.ndarray, J: np.ndarray, read_model) -> np.ndarray:
        """``float32 (B, N, r, H)`` from ``read_model(b_m float64 (H,), J_m float64 (H, H))``, which
        returns the ``(N, r, H)`` spins of model ``m``: the loop of the per-call (dimod, OpenJij)
        samplers, one external call per model."""
        b = np.asarray(b, dtype=np.float64)
        J = np.asarray(J, dtype=np.float64)
        B, H = b.shape
        out = np.empty((B, self.reads, self.replicas, H), dtype=np.float32)
        for m in range(B):
            out[m] = read_model(b[m], J[m if J.shape[0] > 1 else 0])
        return out


class GibbsSampler(Sampler):
    """In-house block-Gibbs annealer, one NumPy pass over all models x reads x replicas.

    Hidden units of layers with the same parity are conditionally independent given the others, and
    so are replicas of the same parity (r even), so a sweep is 4 vectorised block updates (2 r for
    odd r). The local field of spin i of replica k is
    ``f = (b_i + (J h_k)_i) / r + w+ (h_{k-1,i} + h_{k+1,i})`` and ``P(+1) = sigmoid(2 beta f)``.
    """

    name = "gibbs"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        par = self.layer_of % 2
        self.unit_blocks = [np.flatnonzero(par == p) for p in (0, 1) if np.any(par == p)]
        r = self.replicas
        ks = np.arange(r)
        if r == 1 or r % 2 == 0:
            self.rep_blocks = [ks[ks % 2 == p] for p in (0, 1) if np.any(ks % 2 == p)]
        else:
            self.rep_blocks = [np.array([k]) for k in ks]
        self.betas = beta_schedule(self.beta_start, self.beta_final, self.sweeps)

    def sample(self, b, J, rng):
        b = np.asarray(b, dtype=np.float32)
        J = np.asarray(J, dtype=np.float32)
        B, H = b.shape
        r, N = self.replicas, self.reads
        h = np.where(rng.random((B, N, r, H), dtype=np.float32) < 0.5, -1.0, 1.0).astype(np.float32)
        bb = (b / r)[:, None, None, :]
        shared = J.shape[0] == 1
        Jr = (J / r)[0] if shared else J / r                                   # (H, H) or (B, H, H)
        wp = np.float32(self.wp)
        for beta in self.betas:
            two_beta = np.float32(2.0 * beta)
            for ks in self.rep_blocks:
                for units in self.unit_blocks:
                    hk = h[:, :, ks, :]
                    if shared:
                        # einsum, not BLAS matmul: tiny matrices, and BLAS threads thrash a busy CPU
                        f = bb[..., units] + np.einsum("bnkh,hu->bnku", hk, Jr[:, units])
                    else:
                        f = bb[..., units] + np.einsum("bnkh,bhu->bnku", hk, Jr[..., units])
                    if r >= 2:
                        f = f + wp * (h[:, :, (ks - 1) % r][..., units] + h[:, :, (ks + 1) % r][..., units])
                    u = rng.random(f.shape, dtype=np.float32)
                    # P(+1) = 1 / (1 + exp(-2 beta f)), without overflow warnings
                    p = 0.5 * (1.0 + np.tanh(two_beta * 0.5 * f))
                    hk[..., units] = np.where(u < p, np.float32(1.0), np.float32(-1.0))
                    h[:, :, ks, :] = hk
        return h


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

    def sample(self, b, J, rng):
        """Reads of the effective model, one dimod call per model (see :meth:`Sampler.sample`)."""
        r, N = self.replicas, self.reads

        def read_model(bm, Jm):
            H = bm.shape[0]
            lin, quad = ising_model(bm, Jm, r, self.wp)
            ss = self.dimod_sampler.sample_ising(lin, quad, **self._kwargs(rng))
            arr = ss.record.sample[:, [int(ss.variables.index(k)) for k in range(r * H)]]
            return arr.reshape(-1, r, H)[:N]

        return self._sample_each(b, J, read_model)


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

    def sample(self, b, J, rng):  # pragma: no cover - needs the optional extra
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

        return self._sample_each(b, J, read_model)


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
