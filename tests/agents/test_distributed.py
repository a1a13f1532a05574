"""distributed: single-process no-ops, rank seeds, and a real 2-rank gloo group (spawned)."""

import numpy as np
import pytest
import torch

from qmarl_agents import distributed as d


def test_single_process_is_a_no_op():
    assert d.init_from_env() is False
    assert (d.rank(), d.world_size(), d.is_main()) == (0, 1, True)
    net = torch.nn.Linear(2, 1)
    net(torch.ones(1, 2)).sum().backward()
    g = net.weight.grad.clone()
    d.allreduce_gradients(net)
    d.broadcast_parameters(net)
    assert torch.equal(net.weight.grad, g)
    assert d.allreduce_mean(3.5) == 3.5
    d.teardown()


def test_rank_seed():
    assert d.rank_seed(5, 0) == 5 and d.rank_seed(None, 3) is None
    s = [d.rank_seed(5, r) for r in range(4)]
    assert len(set(s)) == 4 and s == [d.rank_seed(5, r) for r in range(4)]
    assert d.rank_seed(6, 1) != s[1]
    with pytest.raises(ValueError, match="rank"):
        d.rank_seed(1, -1)


def _worker(r, port, out):
    import os
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(r))
    torch.set_num_threads(1)
    assert d.init_from_env()
    torch.manual_seed(100 + r)  # different initial parameters on each rank
    net = torch.nn.Linear(3, 1)
    d.broadcast_parameters(net)
    x = torch.full((1, 3), float(r + 1))
    net(x).sum().backward()
    d.allreduce_gradients(net)
    m = d.allreduce_mean(float(r))
    out.put((r, net.weight.detach().numpy().copy(), net.weight.grad.numpy().copy(), m, d.is_main()))
    d.teardown()


def test_two_ranks_mean_gradients_and_broadcast():
    import socket
    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(r, port, q)) for r in range(2)]
    for p in procs:
        p.start()
    res = sorted(q.get(timeout=60) for _ in range(2))
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    (_, w0, g0, m0, main0), (_, w1, g1, m1, main1) = res
    np.testing.assert_array_equal(w0, w1)  # rank 0's parameters everywhere
    np.testing.assert_allclose(g0, np.full((1, 3), 1.5))  # mean of inputs 1 and 2
    np.testing.assert_array_equal(g0, g1)
    assert m0 == m1 == 0.5 and (main0, main1) == (True, False)
