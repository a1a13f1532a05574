"""Configuration of the QBM agent: one frozen dataclass, the single source of defaults.

The defaults are the method of Müller et al. (ICAART 2022, §3) after Levit et al. (arXiv 1706.00074,
eqs. 4, 7-10) done as the papers describe it. Every way in which the official code (``tm95/QBM_MARL``)
departs from that is a switch here, and :data:`FAITHFUL` sets them all to what the code does
(``../shared/research/qbm.md`` §5 lists them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from qmarl_envs.scenarios.base import config_from_kwargs

SAMPLERS = ("gibbs", "dimod-sa", "openjij-sqa")
"""Sampler names: the in-house vectorised sampler, dwave-samplers' SA, OpenJij's SQA."""


@dataclass(frozen=True)
class QBMConfig:
    """Hyperparameters and switches of :class:`~qmarl_agents.qbm.agent.QBMAgent`."""

    hidden_layers: tuple[int, ...] = (4, 4, 4, 4)
    """Hidden units per layer; consecutive layers are fully coupled (the code's 4 x 4 chain, 16 units).
    Every visible unit (observation and action) couples to every hidden unit."""
    replicas: int = 4
    """Trotter replicas r of the effective Hamiltonian (Levit eq. 9); the code uses 1."""
    reads: int = 8
    """Effective configurations N per Q-value (each one r replicas of all hidden units)."""
    sweeps: int = 10
    """Gibbs / annealing sweeps per sample."""
    beta: float = 2.0
    """Inverse temperature beta of the model (Levit's best: 2.0)."""
    gamma_field: float = 0.5
    """Transverse field Gamma (Levit's best: 0.5); enters through the replica coupling w+."""
    beta_start: float = 0.1
    """Inverse temperature of the first sweep; the schedule is geometric from here to the final one."""
    sample_beta: float | None = None
    """Final inverse temperature of the sampler's schedule; None = ``beta`` (samples are Boltzmann at
    the model's beta). The code's default SA schedule ends near zero temperature (faithful: 50)."""
    log_base: str = "e"
    """Logarithm in w+ and the entropy term: ``"e"`` (the paper) or ``"10"`` (the code)."""
    entropy_sign: int = 1
    """+1: Q = -<H_eff> - (1/beta) sum P log P = -F (the paper); -1: the code's flipped sign."""
    sampler: str = "gibbs"
    """``"gibbs"`` (in-house, vectorised), ``"dimod-sa"`` (dwave-samplers) or ``"openjij-sqa"``."""
    learning_rate: float = 0.005
    """Step size of the TD rule on -F (Levit eq. 7-8; the code's 0.005)."""
    discount: float = 0.8
    """Discount gamma (the code's 0.8)."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this before learning (Q is in scaled units; the code: 1). Q = -F
    has a floor: with weak fields the hidden spins are random and -F is about
    ``H ln(2 cosh beta Gamma) / beta`` (the estimate: the replica-coupling term plus ln N / beta,
    about 14 at the defaults), whatever the weights. Scaled rewards below that floor (0.01 gave
    optimal Q of 1-2) cannot be represented, and learning stalled at half the optimum."""
    q_offset: float = 200.0
    """Q = -F - q_offset (scaled units). -F is bounded below by its value at zero weights (the
    floor above: by Jensen, -F(W) >= -F(0)), so Q values under the floor (the -220 penalty states,
    the first episodes' returns) cannot be represented without an offset; with none, two agents on
    5x3 did not learn (training reward -1,019 after 500 episodes, 378 with 200). 0 = the papers."""
    td_clip: float | None = None
    """TD errors are clipped to [-td_clip, td_clip] (scaled units) before the update; None = no clip
    (the code)."""
    eps_start: float = 1.0
    """Initial epsilon of epsilon-greedy exploration."""
    eps_min: float = 0.1
    """Final epsilon."""
    eps_decay: float = 0.0008
    """Linear epsilon decrease per env step (per agent-step of one agent) after warm-up."""
    replay: bool = True
    """Use an experience replay buffer; False = learn from each new transition at once."""
    buffer_size: int = 20_000
    """Capacity of the (per-model) replay buffer."""
    batch_size: int = 8
    """Transitions per update (per live agent with parameter sharing)."""
    warmup: int = 250
    """Transitions stored before updates start (with replay)."""
    target_net: bool = True
    """Use a separate target network, a real copy synced every ``target_sync`` updates."""
    target_sync: int = 250
    """Updates between target syncs."""
    target_alias: bool = False
    """Code quirk: after the first sync the target *is* the online net (dict aliasing)."""
    terminal_mask: bool = True
    """Do not bootstrap through terminal transitions (the code does)."""
    parameter_sharing: bool = True
    """One shared QBM and one central buffer for all agents; False = independent learners."""
    freeze_eps_others: bool = False
    """Code quirk under parameter sharing: agents other than the first never decay epsilon."""
    obs_encoding: str = "onehot"
    """Ball-collection observation passed to the env (``"signed"`` = the code's {-1, 1, 2} vector)."""
    visible_map: str = "raw"
    """``"raw"``: the observation as is (one-hot 0/1 cells: only occupied cells drive the hidden units;
    the code feeds its {-1, 1, 2} vector raw too); ``"spin"``: 2*obs - 1 (measured not to learn: the
    common -1 background moves every state's Q alike)."""
    action_code: str = "onehot"
    """``"onehot"``: 5 action spins, one +1; ``"code3"``: the code's 3-spin binary code."""
    init_scale: float = 0.5
    """Weights start U(-init_scale, init_scale) (the code: 1.0)."""
    max_batch: int = 256
    """Cap on the update batch (many agents with parameter sharing)."""

    def __post_init__(self) -> None:
        layers = tuple(self.hidden_layers)
        if not layers or any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in layers):
            raise ValueError(f"hidden_layers: expected a non-empty tuple of positive ints, got {self.hidden_layers!r}")
        object.__setattr__(self, "hidden_layers", layers)
        for name, lo in (("replicas", 1), ("reads", 1), ("sweeps", 1), ("buffer_size", 1), ("batch_size", 1),
                         ("target_sync", 1), ("max_batch", 1), ("warmup", 0)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ValueError(f"{name}: expected an int >= {lo}, got {v!r}")
        for name in ("beta", "gamma_field", "beta_start", "learning_rate", "reward_scale", "init_scale"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not v > 0:
                raise ValueError(f"{name}: expected a number > 0, got {v!r}")
        if not isinstance(self.q_offset, (int, float)) or isinstance(self.q_offset, bool) or not np.isfinite(self.q_offset):
            raise ValueError(f"q_offset: expected a finite number, got {self.q_offset!r}")
        if self.sample_beta is not None and not (isinstance(self.sample_beta, (int, float)) and self.sample_beta > 0):
            raise ValueError(f"sample_beta: expected None or a number > 0, got {self.sample_beta!r}")
        if self.td_clip is not None and not (isinstance(self.td_clip, (int, float)) and self.td_clip > 0):
            raise ValueError(f"td_clip: expected None or a number > 0, got {self.td_clip!r}")
        if not 0 <= self.discount <= 1:
            raise ValueError(f"discount: expected a number in [0, 1], got {self.discount!r}")
        for name in ("eps_start", "eps_min", "eps_decay"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise ValueError(f"{name}: expected a number in [0, 1], got {v!r}")
        if self.eps_min > self.eps_start:
            raise ValueError(f"eps_min: must be <= eps_start ({self.eps_start}), got {self.eps_min}")
        choices = {"log_base": ("e", "10"), "sampler": SAMPLERS, "obs_encoding": ("onehot", "signed"),
                   "visible_map": ("spin", "raw"), "action_code": ("onehot", "code3"), "entropy_sign": (1, -1)}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}: expected one of {list(allowed)}, got {getattr(self, name)!r}")

    @property
    def final_beta(self) -> float:
        """Inverse temperature of the sampler's last sweep."""
        return float(self.beta if self.sample_beta is None else self.sample_beta)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        d = dataclasses.asdict(self)
        d["hidden_layers"] = list(self.hidden_layers)
        return d


FAITHFUL: dict[str, Any] = dict(
    replicas=1, reads=10, sample_beta=50.0, log_base="10", entropy_sign=-1, learning_rate=0.005,
    reward_scale=1.0, td_clip=None, q_offset=0.0, target_alias=True, terminal_mask=False, freeze_eps_others=True,
    obs_encoding="signed", visible_map="raw", action_code="code3", init_scale=1.0,
)
"""The ``faithful`` preset: the official code's behaviour (qbm.md §2 and §5), fed to :class:`QBMConfig`."""

PRESETS: dict[str, dict[str, Any]] = {"default": {}, "faithful": FAITHFUL}
"""Named presets: ``QBMConfig(**PRESETS[name])``; ``make_agent("qbm", ..., preset="faithful")``."""


def make_config(preset: str = "default", **overrides: Any) -> QBMConfig:
    """A :class:`QBMConfig` from a preset name plus field overrides.

    Raises:
        ValueError: for an unknown preset or field (listing the allowed ones) or a bad value.
    """
    if preset not in PRESETS:
        raise ValueError(f"preset: expected one of {list(PRESETS)}, got {preset!r}")
    if "hidden_layers" in overrides and isinstance(overrides["hidden_layers"], list):
        overrides["hidden_layers"] = tuple(overrides["hidden_layers"])
    return config_from_kwargs(QBMConfig, {**PRESETS[preset], **overrides}, what="qbm config")
