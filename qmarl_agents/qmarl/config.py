"""Configuration of the Q-MARL agent: one frozen dataclass, the single source of defaults.

Defaults follow Q-MARL [P] §2 and Algorithm 1 where it speaks (depth 3, 10 RBF centres, L = 2
rounds, Adam at lr 0.01 with a 5% decay after 10 batches without improvement, 100 games per batch);
the research notes (``research/qmarl.md`` §2) list where the paper is silent and what is chosen here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

VARIANTS = ("ac", "pg", "vanilla")
"""``"ac"`` Q-MARL-AC (actor-critic, counterfactual baseline), ``"pg"`` Q-MARL-PG (REINFORCE on the
message-passing network), ``"vanilla"`` Vanilla-PG (REINFORCE on a graph-free MLP, the paper's baseline)."""


@dataclass(frozen=True, kw_only=True)
class QMARLConfig:
    """Hyperparameters of :class:`qmarl_agents.qmarl.agent.QMARLAgent`."""

    variant: str = "ac"
    """Learning rule: one of :data:`VARIANTS`."""
    depth: int = 3
    """Ego sub-graph depth d in hops ([P] Fig. 2: 3rd-degree neighbours)."""
    hidden: int = 32
    """Width of vertex and edge features (not stated in [P]; [C] uses 18 for vertices)."""
    num_rbf: int = 10
    """Radial-basis centres of the distance expansion ([P] §2.3: n_max = 10)."""
    rounds: int = 2
    """Message-passing rounds L, each an edge update then a vertex update ([P] Fig. 3: 2)."""
    lr: float = 0.01
    """Initial Adam learning rate ([P] §3)."""
    lr_decay: float = 0.95
    """Factor applied to the learning rate on a plateau ([P]: "decreased by 5%")."""
    plateau_batches: int = 10
    """Consecutive batches without a better mean score that trigger one decay ([P]: 10)."""
    games_per_batch: int = 100
    """Episodes (games) per update ([P]: a batch is 100 games)."""
    n_envs: int = 100
    """Env copies played at once; a batch is played in ``ceil(games_per_batch / n_envs)`` chunks
    whose gradients are summed before the single Adam step (bounds memory at 10,000 agents)."""
    gamma: float = 0.99
    """Discount factor ([P] silent; [C] 0.99)."""
    gae_lambda: float = 0.0
    """λ of the critic's TD(λ) target and the actor's advantage (Q-MARL-AC only;
    :func:`~qmarl_agents.qmarl.agent.lambda_returns`). 0 is [P] Algorithm 1's one-step TD target."""
    value_coef: float = 0.5
    """Weight of the critic's squared TD error in the loss (Q-MARL-AC only)."""
    entropy_coef: float = 0.01
    """Weight of the policy-entropy bonus (not in [P]; 0 disables it)."""
    terminal_reward_holds: bool = False
    """Train on the score's bookkeeping: a terminated agent's last reward (``-1`` for a death) is
    repeated, discounted, for every remaining step of the game (:func:`~qmarl_agents.qmarl.agent.held_terminal_rewards`;
    [C] keeps a dead agent's reward at ``-1``). False pays it once, as the env does."""
    ensemble: bool = True
    """Ensembling: an agent's policy is the mean of its probabilities over every sub-graph that
    contains it ([P] Algorithm 1 line 9, Thm 3); False uses its own ego sub-graph alone."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip per update (0 disables it; not in [P])."""
    torch_threads: int = 1
    """torch intra-op threads while training and acting."""

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant: expected one of {VARIANTS}, got {self.variant!r}")
        for name in ("depth", "hidden", "num_rbf", "rounds", "plateau_batches", "games_per_batch",
                     "n_envs", "torch_threads"):
            v = getattr(self, name)
            low = 0 if name == "depth" else 1
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{name}: expected an int >= {low}, got {v!r}")
        for name in ("lr", "lr_decay", "gamma", "gae_lambda", "value_coef", "entropy_coef", "max_grad_norm"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ValueError(f"{name}: expected a non-negative number, got {v!r}")
        if self.gae_lambda > 1:
            raise ValueError(f"gae_lambda: expected a number in [0, 1], got {self.gae_lambda!r}")
        if not 0 < self.lr_decay <= 1 or not 0 <= self.gamma <= 1 or self.lr <= 0:
            raise ValueError("lr must be > 0, lr_decay in (0, 1] and gamma in [0, 1]; got "
                             f"lr={self.lr}, lr_decay={self.lr_decay}, gamma={self.gamma}")
        for name in ("ensemble", "terminal_reward_holds"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: expected a bool, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return asdict(self)


def config_from(values: dict[str, Any]) -> QMARLConfig:
    """Build a :class:`QMARLConfig` from keyword values.

    Raises:
        ValueError: for an unknown key (the message lists the allowed ones) or a bad value.
    """
    from qmarl_envs.scenarios.base import config_from_kwargs

    return config_from_kwargs(QMARLConfig, dict(values), what="qmarl")


DEMO_CONFIG: dict[str, Any] = {"variant": "ac", "games_per_batch": 20, "n_envs": 20}
"""Q-MARL settings of ``qmarl demo`` on ``qmarl/Jungle-v0``: Q-MARL-AC with batches of 20 games (more
updates in the demo's budget than the paper's 100). Measured with :data:`DEMO_AGENT_STEPS`: 11-25 s of
training on a loaded 2-core machine; leaderboard IQM 0.29 / 0.24 / 0.24 for seeds 0 / 1 / 2 (scripted
0.66, PPO 0.03-0.10); seed 0 scores 0.155 on another machine (float rounding, README "The main job").
Doubling the budget did not help (IQM -0.03 at 496,000 agent-steps)."""

DEMO_AGENT_STEPS: int = 248_000
"""Demo budget in agent-steps (2,000 games of 4 agents x 31 steps)."""
