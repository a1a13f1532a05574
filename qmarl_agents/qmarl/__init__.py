"""Q-MARL (Vo & Lin, arXiv 2503.07397): ego-graph decomposition, message passing, actor-critic
with a counterfactual baseline, and test-time ensembling over overlapping sub-graphs.

Modules: :mod:`.config` (``QMARLConfig``, demo settings), :mod:`.graph` (vectorised ego
sub-graphs), :mod:`.network` (message-passing network), :mod:`.agent` (training, policy, checkpoints).
"""

from qmarl_agents.qmarl.config import DEMO_AGENT_STEPS, DEMO_CONFIG, QMARLConfig

__all__ = ["QMARLConfig", "DEMO_CONFIG", "DEMO_AGENT_STEPS"]
