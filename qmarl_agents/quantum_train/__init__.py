"""Quantum-Train (QT) agent: a PennyLane circuit generates the weights of a classical policy net.

Follows the official Quantum-Train code (Hon-Hai-Quantum-Computing/QuantumTrain, ``QuantumTrain/util.py``
and ``appendix_example/QTRL``): ``n = ceil(log2 M)`` qubits give ``2**n`` basis probabilities, the first
``M`` are squashed and fed, with the basis bits as ±1, to a mapping model that outputs one weight per
index; the weights run the target policy functionally. QTRL trains it with REINFORCE; Dist-QTRL
averages the gradients of K workers (``qmarl train quantum-train --workers K``).
"""

from qmarl_agents.quantum_train.config import QTConfig

__all__ = ["QTConfig"]
