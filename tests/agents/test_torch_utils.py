"""torch_utils: threads, state_dict / optimiser state round trips, architecture checks."""

import numpy as np
import pytest
import torch

from qmarl_agents.torch_utils import (load_optimizer_arrays, load_state_dict_arrays, optimizer_to_arrays,
                                      state_dict_to_arrays, torch_threads)


def _net(h=4):
    g = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, h), torch.nn.ReLU(), torch.nn.Linear(h, 2))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return net


def test_threads_restored_and_checked():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        with torch_threads(0):
            pass


def test_state_dict_round_trip_and_architecture_errors():
    a, b = _net(), torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    arrays = state_dict_to_arrays(a, "policy/")
    assert set(arrays) == {"policy/0.weight", "policy/0.bias", "policy/2.weight", "policy/2.bias"}
    load_state_dict_arrays(b, arrays, "policy/")
    x = torch.ones(1, 3)
    assert torch.equal(a(x), b(x))
    wide = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    before = state_dict_to_arrays(wide)
    with pytest.raises(ValueError, match=r"run/x: .*0.bias has shape \(4,\).*needs \(8,\)"):
        load_state_dict_arrays(wide, arrays, "policy/", where="run/x")
    assert all(np.array_equal(before[k], v) for k, v in state_dict_to_arrays(wide).items())
    with pytest.raises(ValueError, match="missing.*unexpected"):
        load_state_dict_arrays(b, {"policy/0.weight": arrays["policy/0.weight"], "policy/zz": np.zeros(1)},
                               "policy/")


def test_optimizer_round_trip_continues_identically():
    def train(net, opt, n):
        for _ in range(n):
            opt.zero_grad()
            net(torch.ones(2, 3)).pow(2).sum().backward()
            opt.step()

    a = _net()
    oa = torch.optim.Adam(a.parameters(), lr=0.01)
    train(a, oa, 3)
    arrays, meta = optimizer_to_arrays(oa)
    assert any(k.endswith("/exp_avg") for k in arrays) and meta[0]["lr"] == 0.01
    b = _net()
    load_state_dict_arrays(b, state_dict_to_arrays(a))
    ob = torch.optim.Adam(b.parameters(), lr=0.5)
    load_optimizer_arrays(ob, arrays, meta)
    train(a, oa, 2)
    train(b, ob, 2)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    c = _net(h=8)
    with pytest.raises(ValueError, match="optimiser state"):
        load_optimizer_arrays(torch.optim.Adam(c.parameters()), arrays, meta)
