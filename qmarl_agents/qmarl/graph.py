"""Ego sub-graphs of every agent of every env copy of a step, built at once (Q-MARL [P] §2.2).

The env's graph has one vertex per agent and an edge between agents that see each other
(``env.neighbor_graph()``, Chebyshev distance <= view radius). Agent ``i``'s ego sub-graph ``G_i``
is the sub-graph induced by the vertices within ``depth`` hops of ``i`` (what
``networkx.ego_graph(G, i, radius=depth)`` returns). Sub-graphs overlap; all of a step form one
mini-batch of *sub-nodes*: one sub-node per (ego, member) pair.

Construction is sparse-matrix algebra (SciPy CSR): the reach matrix ``(A + I)^d`` (booleanised
after every product, i.e. a frontier expansion), its non-zeros are the sub-nodes, and the induced
edges are found by joining each member's out-edges with the reach matrix through a sorted-key
search. Cost is linear in the number of sub-nodes and sub-graph edges; no Python loop over agents.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class EgoBatch:
    """All ego sub-graphs of one or more graphs, flattened into sub-nodes.

    Attributes:
        ego: ``int64 (M,)`` the ego vertex (sub-graph id) of each sub-node, sorted ascending.
        node: ``int64 (M,)`` the graph vertex each sub-node stands for.
        src: ``int64 (F,)`` sub-node index of each sub-graph edge's source.
        dst: ``int64 (F,)`` sub-node index of its destination (both in the same sub-graph).
        center: ``int64 (V,)`` sub-node index of ``(v, v)`` for every vertex ``v`` (-1 if ``v`` has
            no sub-graph, i.e. is masked out).
        num_vertices: ``V``, the number of graph vertices.
    """

    ego: np.ndarray
    node: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    center: np.ndarray
    num_vertices: int

    @property
    def num_subnodes(self) -> int:
        """``M``, the number of (ego, member) pairs."""
        return int(self.ego.shape[0])


def _check_edges(edges: np.ndarray, num_vertices: int) -> np.ndarray:
    e = np.asarray(edges)
    if e.ndim != 2 or e.shape[0] != 2:
        raise ValueError(f"edges: expected an int array of shape (2, E), got shape {e.shape}")
    if e.size and e.dtype.kind not in "iu":
        raise ValueError(f"edges: expected an integer dtype, got {e.dtype}")
    e = e.astype(np.int64, copy=False)
    if e.size and (e.min() < 0 or e.max() >= num_vertices):
        raise ValueError(f"edges: vertex ids must lie in [0, {num_vertices}), got [{e.min()}, {e.max()}]")
    return e


def ego_subgraphs(edges: np.ndarray, num_vertices: int, depth: int,
                  mask: np.ndarray | None = None) -> EgoBatch:
    """Every vertex's ego sub-graph of radius ``depth`` hops, vectorised over all vertices.

    Args:
        edges: ``int (2, E)`` directed edges (list both directions for an undirected graph, as
            ``neighbor_graph()`` does); several env copies are one graph with offset vertex ids.
        num_vertices: ``V``, number of vertices (rows of the batch).
        depth: hops ``d >= 0``.
        mask: optional ``bool (V,)``; vertices with False (dead agents) get no sub-graph and are in
            none. Edges touching them are dropped.

    Returns:
        an :class:`EgoBatch`; sub-graph edges are the graph edges with both ends inside the ego's
        sub-graph (the induced sub-graph), in both directions when the input lists both.

    Raises:
        ValueError: for a bad ``edges`` shape/dtype/range, ``depth < 0`` or a bad ``mask``.
    """
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 0:
        raise ValueError(f"depth: expected an int >= 0, got {depth!r}")
    v = int(num_vertices)
    e = _check_edges(edges, v)
    if mask is None:
        live = np.ones(v, dtype=bool)
    else:
        live = np.asarray(mask)
        if live.shape != (v,) or live.dtype != bool:
            raise ValueError(f"mask: expected a bool array of shape ({v},), got {live.dtype} {live.shape}")
    if e.size:
        keep = live[e[0]] & live[e[1]] & (e[0] != e[1])
        e = e[:, keep]
    adj = sp.csr_matrix((np.ones(e.shape[1], dtype=np.int8), (e[0], e[1])), shape=(v, v))
    adj.sum_duplicates()
    adj.data[:] = 1
    diag = sp.diags(live.astype(np.int8), format="csr", dtype=np.int8)
    reach = diag
    step = (adj + diag).tocsr()
    for _ in range(int(depth)):  # frontier expansion: d sparse products, booleanised
        nxt = (reach @ step).tocsr()
        nxt.data[:] = 1
        if nxt.nnz == reach.nnz:
            break
        reach = nxt
    reach.sort_indices()
    counts = np.diff(reach.indptr)
    ego = np.repeat(np.arange(v, dtype=np.int64), counts)
    node = reach.indices.astype(np.int64)
    keys = ego * v + node  # sorted: CSR rows ascending, columns sorted within rows
    # induced edges: every member's out-edges, kept when the other end is in the same sub-graph
    out_deg = np.diff(adj.indptr)[node]
    sub_src = np.repeat(np.arange(node.shape[0], dtype=np.int64), out_deg)
    starts = np.repeat(adj.indptr[node].astype(np.int64) - np.cumsum(out_deg) + out_deg, out_deg)
    nbr = adj.indices.astype(np.int64)[starts + np.arange(sub_src.shape[0], dtype=np.int64)] \
        if sub_src.size else np.zeros(0, np.int64)
    want = ego[sub_src] * v + nbr
    pos = np.searchsorted(keys, want)
    pos_c = np.minimum(pos, max(keys.shape[0] - 1, 0))
    hit = (keys[pos_c] == want) if keys.size else np.zeros(0, bool)
    center = np.full(v, -1, dtype=np.int64)
    is_center = ego == node
    center[ego[is_center]] = np.nonzero(is_center)[0]
    return EgoBatch(ego=ego, node=node, src=sub_src[hit], dst=pos_c[hit], center=center, num_vertices=v)


def offset_edges(edge_lists: list[np.ndarray], sizes: list[int] | np.ndarray) -> np.ndarray:
    """Concatenate per-copy edge lists into one graph, offsetting copy ``k`` by ``sum(sizes[:k])``.

    Args:
        edge_lists: ``int (2, E_k)`` edges of each copy, vertex ids local to the copy.
        sizes: number of vertices of each copy.

    Returns:
        ``int64 (2, sum E_k)``.
    """
    offs = np.concatenate([[0], np.cumsum(np.asarray(sizes, dtype=np.int64))[:-1]])
    parts = [np.asarray(e, dtype=np.int64).reshape(2, -1) + o for e, o in zip(edge_lists, offs)]
    return np.concatenate(parts, axis=1) if parts else np.zeros((2, 0), np.int64)
