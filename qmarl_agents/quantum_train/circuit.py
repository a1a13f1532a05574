"""The Quantum-Train circuit: a parametrised state on n qubits and its 2^n basis probabilities.

Official ansatz (``QuantumTrain/util.py``, TorchQuantum ``Op1QAllLayer(U3)`` + ``Op2QAllLayer(CU3,
circular=True)``): from |0…0⟩, L blocks of a U3(θ, φ, λ) on every qubit, then a CU3 on the ring pairs
(0, 1), (1, 2), …, (n−1, 0) with the control on the first wire: 6·n·L parameters, initialised
uniform(−π, π) (TorchQuantum's default). The alternative ``ry_cnot`` ansatz is L blocks of RY on every
qubit then a CNOT ring: n·L parameters. Wire 0 is the most significant bit of a basis index in both
PennyLane and TorchQuantum.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def num_qubits(num_params: int) -> int:
    """``n = ceil(log2 M)`` qubits for a target net of ``M`` parameters (at least 1).

    Raises:
        ValueError: if ``num_params`` is not a positive int.
    """
    if isinstance(num_params, bool) or not isinstance(num_params, int) or num_params < 1:
        raise ValueError(f"num_params: expected a positive int, got {num_params!r}")
    return max(1, math.ceil(math.log2(num_params)))


def qnn_param_count(n: int, depth: int, ansatz: str = "u3_cu3") -> int:
    """Trainable circuit parameters: ``6·n·L`` (u3_cu3) or ``n·L`` (ry_cnot)."""
    return (6 if ansatz == "u3_cu3" else 1) * n * depth


DIFF_METHODS: dict[str, str] = {"default.qubit": "backprop", "lightning.qubit": "adjoint"}
"""Gradient method per PennyLane device."""


class QuantumCircuit(nn.Module):
    """The QNN of Quantum-Train as a torch module without inputs.

    Args:
        n: qubits.
        depth: blocks L.
        ansatz: ``"u3_cu3"`` or ``"ry_cnot"``.
        device: PennyLane device name (``default.qubit`` with backprop, ``lightning.qubit`` with adjoint).
        generator: torch.Generator for the uniform(−π, π) initialisation.

    Attributes:
        calls: number of forward evaluations so far (one per weight generation).

    Raises:
        ValueError: bad ``n``, ``depth``, ``ansatz`` or ``device``.
    """

    def __init__(self, n: int, depth: int, ansatz: str = "u3_cu3", device: str = "default.qubit",
                 generator: torch.Generator | None = None):
        super().__init__()
        import pennylane as qml

        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n: expected a positive int, got {n!r}")
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth: expected a positive int, got {depth!r}")
        if ansatz not in ("u3_cu3", "ry_cnot"):
            raise ValueError(f"ansatz: expected 'u3_cu3' or 'ry_cnot', got {ansatz!r}")
        if device not in DIFF_METHODS:
            raise ValueError(f"device: expected one of {list(DIFF_METHODS)}, got {device!r}")
        self.n, self.depth, self.ansatz, self.device_name = n, depth, ansatz, device
        self.calls = 0
        shape = (depth, n, 3) if ansatz == "u3_cu3" else (depth, n)

        def init(shape):
            return nn.Parameter((torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1) * math.pi)

        if ansatz == "u3_cu3":
            self.u3 = init(shape)
            self.cu3 = init(shape)
        else:
            self.ry = init(shape)
        dev = qml.device(device, wires=n)
        wires = list(range(n))

        def circuit(*weights):
            for layer in range(depth):
                if ansatz == "u3_cu3":
                    u, v = weights
                    for i in wires:
                        qml.U3(u[layer, i, 0], u[layer, i, 1], u[layer, i, 2], wires=i)
                    if n > 1:
                        for i in wires:
                            qml.ctrl(qml.U3, control=i)(v[layer, i, 0], v[layer, i, 1], v[layer, i, 2],
                                                        wires=(i + 1) % n)
                else:
                    (r,) = weights
                    for i in wires:
                        qml.RY(r[layer, i], wires=i)
                    if n > 1:
                        for i in wires:
                            qml.CNOT(wires=[i, (i + 1) % n])
            return qml.probs(wires=wires)

        self._qnode = qml.QNode(circuit, dev, interface="torch", diff_method=DIFF_METHODS[device])

    def forward(self) -> torch.Tensor:
        """The ``float64 (2**n,)`` basis probabilities (they sum to 1); index bit 0 = wire n−1."""
        self.calls += 1
        weights = (self.u3, self.cu3) if self.ansatz == "u3_cu3" else (self.ry,)
        return self._qnode(*weights).reshape(-1)
