"""Q-MARL agent: Q-MARL-AC, Q-MARL-PG and Vanilla-PG (Vo & Lin, arXiv 2503.07397, §2, Algorithm 1).

One training batch is ``games_per_batch`` episodes played in chunks of ``n_envs`` env copies at
once through the toolkit's :class:`~qmarl_agents.rollout.RolloutCollector` (``collect_episodes``) (row ``k*N + i`` is agent ``i`` of copy ``k``; the copies form one
graph with offset vertex ids). Every step decomposes the graph into ego sub-graphs
(:func:`~qmarl_agents.qmarl.graph.ego_subgraphs`), runs the shared network on all sub-nodes, and
acts with the ensembled policy (:func:`ensemble_probs`). The update (one Adam step per batch):

* **Q-MARL-AC** (Algorithm 1): for every sub-node ``(i, j)`` (agent ``j`` inside ``G_i``) the
  counterfactual baseline ``v = Σ_a π(a|G_i) q(G_i, a)`` (:func:`counterfactual_baseline`),
  ``δ = R_j + γ v'_j − v`` with ``v'_j`` agent ``j``'s ensembled baseline at the next step
  (0 once its episode ends: fixed-length games, no bootstrap past the horizon), actor loss
  ``−δ log π(A_j|G_i)``, critic loss ``(q(G_i, A_j) − (R_j + γ v'_j))²``. [P] writes the critic
  step with δ; regressing ``q(·, A_j)`` on the same target is the usual form of that step.
* **Q-MARL-PG**: REINFORCE on every sub-node with agent ``j``'s discounted return, minus the batch
  mean return (a variance-reduction baseline, not in [P]).
* **Vanilla-PG**: the same REINFORCE on a graph-free MLP, one row per agent.

Learning rate: Adam at ``lr`` with ``ReduceLROnPlateau`` (×``lr_decay`` after ``plateau_batches``
consecutive batches whose mean episode score did not improve; [P] §3). With ``--workers K``
(``qmarl_agents.distributed``), each rank plays its share of every batch and gradients are averaged
after backward.
"""

from __future__ import annotations

import math
import time
from typing import Any, Mapping

import numpy as np
import torch

from qmarl_agents.base import STAY, Agent, BatchPolicy, TrainingCallback, _check_obs_dict, check_batch
from qmarl_agents.qmarl.config import QMARLConfig, config_from
from qmarl_agents.qmarl.graph import EgoBatch, ego_subgraphs
from qmarl_agents.qmarl.network import MessagePassingNet, VanillaNet
from qmarl_agents.torch_utils import torch_threads as _threads

NAME = "qmarl"


# ----------------------------------------------------------------------------- rules
def ensemble_probs(probs: torch.Tensor, node: torch.Tensor, center: torch.Tensor, num_vertices: int,
                   ensemble: bool) -> torch.Tensor:
    """Each agent's policy from its sub-node outputs ([P] Algorithm 1 line 9, Thm 3).

    With ``ensemble`` the probabilities of agent ``v`` are averaged over every sub-graph that
    contains it (the mean of its sub-nodes' rows); without, its own ego sub-graph's row is used.

    Args:
        probs: ``float32 (M, A)`` action probabilities of every sub-node.
        node: ``int64 (M,)`` the agent of each sub-node.
        center: ``int64 (V,)`` sub-node of ``(v, v)``, -1 for agents without a sub-graph.
        num_vertices: ``V``.
        ensemble: average over sub-graphs (True) or own sub-graph only (False).

    Returns:
        ``float32 (V, A)``; rows of agents in no sub-graph are uniform.
    """
    a = probs.shape[1]
    if ensemble:
        total = torch.zeros(num_vertices, a, dtype=probs.dtype).index_add_(0, node, probs)
        count = torch.zeros(num_vertices, dtype=probs.dtype).index_add_(0, node, torch.ones_like(node, dtype=probs.dtype))
        out = total / count.clamp_min(1)[:, None]
        empty = count == 0
    else:
        out = probs[center.clamp_min(0)]
        empty = center < 0
    return torch.where(empty[:, None], torch.full_like(out, 1.0 / a), out)


def counterfactual_baseline(probs: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """COMA-style baseline of Algorithm 1: ``v = Σ_a π(a|G) q(G, a)``.

    Args:
        probs: ``float32 (M, A)`` policy probabilities.
        q: ``float32 (M, A)`` critic values of each action of the sub-node's agent.

    Returns:
        ``float32 (M,)``.
    """
    return (probs * q).sum(dim=-1)


def held_terminal_rewards(rewards: np.ndarray, terminated: np.ndarray, max_cycles: int,
                          gamma: float) -> np.ndarray:
    """Training rewards in which a terminated agent's last reward stands for the rest of the game.

    The authors' code [C] keeps a dead agent's reward at ``-1`` on every remaining step, and the
    Jungle score (the paper's "mean reward") counts it so; a PettingZoo agent is paid nothing after
    it terminates. This folds the remaining steps into the terminal reward:
    ``r_t (1 + γ + ... + γ^rem)`` with ``rem = max_cycles - 1 - t`` steps left, so dying early costs
    what it costs the score. Rows that are not terminated are unchanged.

    Args:
        rewards: ``float32 (T, R)`` per-step rewards (step ``t`` of the episode is row ``t``).
        terminated: ``bool (T, R)`` True on the step an agent's episode ends by the rules.
        max_cycles: the env's horizon in steps.
        gamma: discount factor.

    Returns:
        ``float32 (T, R)``, a new array.
    """
    t_len = rewards.shape[0]
    rem = np.maximum(max_cycles - 1 - np.arange(t_len), 0).astype(np.float64)
    hold = rem if gamma == 1 else gamma * (1 - gamma ** rem) / (1 - gamma)
    out = rewards.astype(np.float32, copy=True)
    out += np.where(terminated, rewards * hold[:, None].astype(np.float32), 0).astype(np.float32)
    return out


def lambda_returns(rewards: torch.Tensor, values: torch.Tensor, end: torch.Tensor, gamma: float,
                   lam: float) -> torch.Tensor:
    """TD(λ) targets per agent and step: ``G_t = r_t + γ [(1-λ) V_{t+1} + λ G_{t+1}]``, cut at ``end``.

    ``lam = 0`` gives the one-step target ``r_t + γ V_{t+1}`` of [P] Algorithm 1 (the TD error of the
    critic); ``lam = 1`` the Monte-Carlo return. Not in [P]; Sutton & Barto §12.1 (λ-return), the
    form GAE (Schulman et al. 2016) uses for advantages. Vectorised over agents, a loop over steps.

    Args:
        rewards: ``float32 (T, R)`` reward of each row (agent slot) at each step.
        values: ``float32 (T, R)`` critic value ``V(s_t)`` of each row (ignored where ``end``).
        end: ``bool (T, R)`` True on the step a row's episode ends (terminated or truncated).
        gamma: discount factor in ``[0, 1]``.
        lam: λ in ``[0, 1]``.

    Returns:
        ``float32 (T, R)`` targets (no gradient flows through ``values``).
    """
    t_len = rewards.shape[0]
    out = torch.empty_like(rewards)
    acc = torch.zeros_like(rewards[0])
    nxt_v = torch.zeros_like(rewards[0])
    with torch.no_grad():
        for t in range(t_len - 1, -1, -1):
            keep = (~end[t]).to(rewards.dtype)
            acc = rewards[t] + gamma * keep * ((1.0 - lam) * nxt_v + lam * acc)
            out[t] = acc
            nxt_v = values[t]
    return out


def _arrays_of(module: torch.nn.Module, prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}{k}": v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def _load_module(module: torch.nn.Module, arrays: Mapping[str, np.ndarray], prefix: str, where: str) -> None:
    want = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    have = {k[len(prefix):]: tuple(v.shape) for k, v in arrays.items() if k.startswith(prefix)}
    missing = sorted(set(want) - set(have))
    unexpected = sorted(set(have) - set(want))
    shaped = sorted(k for k in set(want) & set(have) if want[k] != have[k])
    if missing or unexpected or shaped:
        raise ValueError(f"{where}: architecture mismatch; missing {missing}, unexpected {unexpected}, "
                         f"mis-shaped {[(k, have[k], want[k]) for k in shaped]}")
    module.load_state_dict({k: torch.from_numpy(np.asarray(arrays[prefix + k])) for k in want})


# ----------------------------------------------------------------------------- policy
class QMARLPolicy(BatchPolicy):
    """The Q-MARL policy, bound to the env it acts in (it reads ``positions()`` and ``neighbor_graph()``).

    Args:
        config: the agent's :class:`QMARLConfig`.
        env_id: env id the policy is for.
        obs_shape: per-agent observation shape.
        view_range: distance (cells) of the last RBF centre: ``view_radius * sqrt(2)``.
        seed: seed of the sampling generator (``deterministic=False``).
    """

    name = NAME

    def __init__(self, config: QMARLConfig, env_id: str | None, obs_shape: tuple[int, ...],
                 view_range: float, *, seed: int | None = 0):
        self.config, self.env_id = config, env_id
        self.obs_shape, self.view_range = tuple(int(x) for x in obs_shape), float(view_range)
        obs_dim = int(np.prod(self.obs_shape))
        gen = torch.Generator().manual_seed(int(seed or 0))
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.set_state(gen.get_state())
            if config.variant == "vanilla":
                self.net = VanillaNet(obs_dim, hidden=128)
            else:
                self.net = MessagePassingNet(obs_dim, config.hidden, config.num_rbf, config.rounds, view_range)
        self.env = None
        self._index: dict[str, int] = {}
        self.reset(seed)

    @property
    def graph(self) -> bool:
        """Whether the policy reads the agents' graph (False for Vanilla-PG)."""
        return self.config.variant != "vanilla"

    def bind(self, env) -> "QMARLPolicy":
        """Bind to a qmarl env (parallel or AEC; ``env.unwrapped`` is used); returns self.

        Raises:
            ValueError: if ``env`` is not a qmarl env, has another id or another observation shape.
        """
        base = getattr(env, "unwrapped", env)
        if not callable(getattr(base, "neighbor_graph", None)):
            raise ValueError(f"env: expected a qmarl env (from qmarl_envs.make), got {type(env).__name__}")
        env_id = getattr(base, "env_id", None)
        if self.env_id is not None and env_id is not None and _family(env_id) != _family(self.env_id):
            raise ValueError(f"env: this Q-MARL policy is for {self.env_id!r}, not {env_id!r}")
        shape = tuple(base.observation_space(base.possible_agents[0]).shape)
        if shape != self.obs_shape:
            raise ValueError(f"env: observation shape {shape} differs from the policy's {self.obs_shape}")
        self.env = base
        self._index = {a: i for i, a in enumerate(base.possible_agents)}
        return self

    def reset(self, seed: int | None = None) -> None:
        """Re-seed the sampling generator (see :meth:`BatchPolicy.reset`)."""
        self._gen = torch.Generator()
        if seed is None:
            self._gen.seed()
        else:
            self._gen.manual_seed(int(seed))

    # the core: probabilities of every agent of a (multi-copy) graph
    def probs(self, obs: np.ndarray, alive: np.ndarray, positions: np.ndarray | None,
              edges: np.ndarray | None) -> tuple[torch.Tensor, EgoBatch | None]:
        """Per-agent action probabilities (ensembled when ``config.ensemble``), without gradients.

        Args:
            obs: ``float32 (V, *obs_shape)``.
            alive: ``bool (V,)``.
            positions: ``int (V, 2)`` cells (graph variants).
            edges: ``int (2, E)`` neighbour edges over the ``V`` rows (graph variants).

        Returns:
            ``(float32 (V, 5) probabilities, the EgoBatch used or None)``.
        """
        v = obs.shape[0]
        flat = torch.from_numpy(np.ascontiguousarray(obs, dtype=np.float32).reshape(v, -1))
        with torch.no_grad(), _threads(self.config.torch_threads):
            if not self.graph:
                return torch.softmax(self.net(flat)[0], dim=-1), None
            batch = ego_subgraphs(edges, v, self.config.depth, alive)
            logits, _ = self.net(*_sub_inputs(batch, flat, positions), critic=False)
            p = ensemble_probs(torch.softmax(logits, -1), torch.from_numpy(batch.node),
                               torch.from_numpy(batch.center), v, self.config.ensemble)
        return p, batch

    def _choose(self, p: torch.Tensor, alive: np.ndarray, deterministic: bool) -> np.ndarray:
        if deterministic:
            a = torch.argmax(p, dim=1)
        else:
            a = torch.multinomial(p, 1, generator=self._gen)[:, 0]
        return np.where(alive, a.numpy().astype(np.int64), STAY)

    def act_batch(self, obs: np.ndarray, alive: np.ndarray | None = None, *,
                  deterministic: bool = True) -> np.ndarray:
        """``int64 (N,)`` actions of all ``N`` agents of the bound env (rows in ``possible_agents``
        order); positions and edges come from the bound env (Vanilla-PG needs no env).

        Raises:
            RuntimeError: graph variant not bound (call ``bind(env)``), or the env was never reset.
            ValueError: wrong ``obs`` / ``alive`` shape, or a row count other than the env's ``N``.
        """
        arr, mask = check_batch(obs, alive, self.obs_shape)
        pos = edges = None
        if self.graph:
            if self.env is None:
                raise RuntimeError("Q-MARL policy is not bound to an env; call policy.bind(env) first")
            n = len(self.env.possible_agents)
            if arr.shape[0] != n:
                raise ValueError(f"obs: expected {n} rows (one per possible agent of {self.env_id}), got {arr.shape[0]}")
            mask = mask & self.env.alive_mask()
            pos, edges = self.env.positions(), self.env.neighbor_graph()
        p, _ = self.probs(arr, mask, pos, edges)
        return self._choose(p, mask, deterministic)

    def act(self, observations: Mapping[str, np.ndarray], *, deterministic: bool = True) -> dict[str, int]:
        """``{agent: action}`` for the keys of ``observations``; when bound the full batch is built in
        ``possible_agents`` order (absent agents count as not live), so rows match by agent id.

        Raises:
            ValueError: for an unknown agent id or a wrong observation shape.
        """
        keys = _check_obs_dict(observations)
        if not keys:
            return {}
        if self.env is None or not self.graph:
            return super().act(observations, deterministic=deterministic)
        try:
            rows = np.fromiter((self._index[k] for k in keys), dtype=np.int64, count=len(keys))
        except KeyError as e:
            raise ValueError(f"observations: unknown agent {e.args[0]!r} for {self.env_id}") from None
        try:
            vals = np.stack([np.asarray(observations[k], dtype=np.float32) for k in keys])
        except ValueError as e:
            raise ValueError(f"observations: values must all have the same shape ({e})") from None
        if vals.shape[1:] != self.obs_shape:
            raise ValueError(f"observations: expected shape {self.obs_shape} per agent, got {vals.shape[1:]}")
        n = len(self._index)
        full = np.zeros((n, *self.obs_shape), dtype=np.float32)
        full[rows] = vals
        alive = np.zeros(n, dtype=bool)
        alive[rows] = True
        acts = self.act_batch(full, alive, deterministic=deterministic)
        return dict(zip(keys, acts[rows].tolist()))

    def describe(self) -> dict[str, Any]:
        """Name, env id and configuration."""
        return {"agent": NAME, "env_id": self.env_id, "qmarl_config": self.config.to_dict()}


def _family(env_id: str) -> str:
    """``qmarl/Jungle-1k-v0`` -> ``qmarl/Jungle``: a policy trained small acts at every scale."""
    base = env_id.rsplit("-v", 1)[0]
    for tag in ("-100", "-1k", "-10k"):
        if base.endswith(tag):
            return base[: -len(tag)]
    return base


def _sub_inputs(batch: EgoBatch, flat_obs: torch.Tensor, positions: np.ndarray):
    node = torch.from_numpy(batch.node)
    pos = np.asarray(positions, dtype=np.float32)
    d = pos[batch.node[batch.src]] - pos[batch.node[batch.dst]]
    dist = torch.from_numpy(np.sqrt((d * d).sum(axis=1)).astype(np.float32))
    return flat_obs[node], torch.from_numpy(batch.src), torch.from_numpy(batch.dst), dist


# ----------------------------------------------------------------------------- agent
class QMARLAgent(Agent, QMARLPolicy):
    """Trainable Q-MARL agent (``make_agent("qmarl", env_id=..., variant="ac"|"pg"|"vanilla")``).

    Args:
        env_id: env to train on (every copy is ``qmarl_envs.make(env_id, **env_kwargs)``).
        seed: seeds the weights, the action sampling and the env episodes.
        config: a :class:`QMARLConfig`.
        env_kwargs: env config overrides (e.g. ``{"num_agents": 8}``).
    """

    name = NAME

    def __init__(self, env_id: str, seed: int | None, config: QMARLConfig,
                 env_kwargs: dict[str, Any] | None = None):
        import qmarl_envs

        self.env_kwargs = dict(env_kwargs or {})
        probe = qmarl_envs.make(env_id, **self.env_kwargs).unwrapped
        obs_shape = tuple(probe.observation_space(probe.possible_agents[0]).shape)
        view_range = float(getattr(probe.scenario, "view_radius", 1)) * math.sqrt(2.0)
        self.seed = None if seed is None else int(seed)
        QMARLPolicy.__init__(self, config, env_id, obs_shape, view_range, seed=self.seed)
        self.agents_per_env = len(probe.possible_agents)
        self.max_cycles = int(probe.scenario.max_cycles)
        self._collectors: dict = {}
        self.agent_steps = 0
        self.live_agent_steps = 0
        self.episodes = 0
        self.batches = 0
        self.wall_clock_s = 0.0
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="max", factor=config.lr_decay, patience=config.plateau_batches - 1,
            threshold=0.0)
        self._train_gen = torch.Generator().manual_seed(int(self.seed or 0) + 1)

    # -------------------------------------------------------------- rollouts
    def _collector(self, k: int):
        from qmarl_agents.rollout import RolloutCollector

        if k not in self._collectors:
            self._collectors[k] = RolloutCollector(self.env_id, k, env_kwargs=self.env_kwargs, graph=self.graph)
        return self._collectors[k]

    def _play(self, k: int, callback: TrainingCallback | None, rank: int) -> tuple[dict, list, bool]:
        """Play one episode in each of ``k`` copies at once (the toolkit's ``collect_episodes``);
        returns (per-step arrays, episode summaries, whether the callback asked to stop)."""
        col = self._collector(k)
        base = (int(self.seed or 0) * 1_000_003 + rank * 100_003 + self.episodes) % (2**31)
        batches: list[EgoBatch | None] = []

        def policy_fn(obs, alive, graph):
            pos = edges = None
            if graph is not None:
                pos, edges = graph.positions, graph.edges
            p, batch = self.probs(obs, alive, pos, edges)
            batches.append(batch)
            act = torch.multinomial(p, 1, generator=self._train_gen)[:, 0].numpy().astype(np.int64)
            return np.where(alive, act, STAY)

        traj = col.collect_episodes(policy_fn, seed=base)
        self.episodes += k
        summaries = list(traj.episodes)
        end = traj.terminated | traj.truncated
        steps = [{"obs": traj.obs[t], "alive": traj.alive[t],
                  "pos": None if traj.positions is None else traj.positions[t], "batch": batches[t],
                  "act": traj.actions[t], "rew": traj.rewards[t], "end": end[t],
                  "term": traj.terminated[t]}
                 for t in range(traj.num_steps)]
        n_per = traj.agent_steps / max(len(summaries), 1)
        for i, summary in enumerate(summaries):
            if callback is not None:
                callback.on_episode(self.agent_steps + int(round(n_per * (i + 1))), summary)
        self.agent_steps += int(traj.agent_steps)
        self.live_agent_steps += int(traj.live_agent_steps)
        stop = callback is not None and callback.on_steps(self.agent_steps) is False
        return {"steps": steps, "k": k}, summaries, stop

    # -------------------------------------------------------------- losses
    def _loss(self, roll: dict) -> tuple[torch.Tensor, dict[str, float]]:
        cfg, steps = self.config, roll["steps"]
        t_len, r = len(steps), steps[0]["alive"].shape[0]
        alive = np.stack([s["alive"] for s in steps])            # (T, R)
        rew = np.stack([s["rew"] for s in steps])                # (T, R)
        end = np.stack([s["end"] for s in steps])                # (T, R)
        act = np.stack([s["act"] for s in steps])                # (T, R)
        if cfg.terminal_reward_holds:
            rew = held_terminal_rewards(rew, np.stack([s["term"] for s in steps]), self.max_cycles, cfg.gamma)
        flat = torch.from_numpy(np.stack([s["obs"] for s in steps]).reshape(t_len * r, -1).astype(np.float32))
        if not self.graph:
            rows = np.nonzero(alive.reshape(-1))[0]
            logits, _ = self.net(flat[torch.from_numpy(rows)])
            vert = rows
            node_of_row = torch.from_numpy(rows)
        else:
            # one big graph: the sub-graphs of every step, sub-node ids offset by step
            egos, nodes, srcs, dsts, pos = [], [], [], [], []
            off_v = off_s = 0
            for s in steps:
                b: EgoBatch = s["batch"]
                egos.append(b.ego + off_v); nodes.append(b.node + off_v)
                srcs.append(b.src + off_s); dsts.append(b.dst + off_s)
                pos.append(s["pos"]); off_v += r; off_s += b.num_subnodes
            big = EgoBatch(np.concatenate(egos), np.concatenate(nodes), np.concatenate(srcs),
                           np.concatenate(dsts), np.zeros(0, np.int64), t_len * r)
            logits, q = self.net(*_sub_inputs(big, flat, np.concatenate(pos)))
            vert = big.node
            node_of_row = torch.from_numpy(vert)
        logp_all = torch.log_softmax(logits, -1)
        probs = logp_all.exp()
        a_t = torch.from_numpy(act.reshape(-1)[vert])
        logp = logp_all.gather(1, a_t[:, None])[:, 0]
        entropy = -(probs * logp_all).sum(-1).mean()
        metrics: dict[str, float] = {}
        if cfg.variant == "ac":
            v_sub = counterfactual_baseline(probs.detach(), q)
            with torch.no_grad():
                v_vert = torch.zeros(t_len * r).index_add_(0, node_of_row, v_sub.detach())
                cnt = torch.zeros(t_len * r).index_add_(0, node_of_row, torch.ones_like(v_sub))
                v_vert = v_vert / cnt.clamp_min(1)
                target = lambda_returns(torch.from_numpy(rew.astype(np.float32)), v_vert.view(t_len, r),
                                        torch.from_numpy(end), cfg.gamma, cfg.gae_lambda).reshape(-1)[node_of_row]
                delta = target - v_sub.detach()
            q_a = q.gather(1, a_t[:, None])[:, 0]
            critic = ((q_a - target) ** 2).mean()
            actor = -(delta * logp).mean()
            loss = actor + cfg.value_coef * critic - cfg.entropy_coef * entropy
            metrics.update({"loss/critic": float(critic.detach()), "td_error_abs": float(delta.abs().mean())})
        else:
            ret = np.zeros_like(rew)
            acc = np.zeros(r, dtype=np.float32)
            for t in range(t_len - 1, -1, -1):     # loop over time only, vectorised over agents
                acc = rew[t] + cfg.gamma * acc * (~end[t])
                ret[t] = acc
            g = torch.from_numpy(ret.reshape(-1)[vert])
            adv = g - g.mean()
            actor = -(adv * logp).mean()
            loss = actor - cfg.entropy_coef * entropy
        metrics.update({"loss/actor": float(actor.detach()), "entropy": float(entropy.detach())})
        return loss, metrics

    # -------------------------------------------------------------- training
    def learn(self, total_agent_steps: int, *, callback: TrainingCallback | None = None) -> "QMARLAgent":
        """Train until ``total_agent_steps`` agent-steps in all (see :meth:`Agent.learn`).

        Raises:
            ValueError: if ``total_agent_steps`` is not a positive int.
        """
        if isinstance(total_agent_steps, bool) or not isinstance(total_agent_steps, (int, np.integer)) \
                or total_agent_steps <= 0:
            raise ValueError(f"total_agent_steps: expected a positive int, got {total_agent_steps!r}")
        dist = _distributed()
        rank, world = (dist.rank(), dist.world_size()) if dist else (0, 1)
        if dist and world > 1:
            dist.broadcast_parameters(self.net, src=0)
        cfg = self.config
        games_rank = max(1, math.ceil(cfg.games_per_batch / world))
        t0 = time.perf_counter()
        stop = False
        with _threads(cfg.torch_threads):
            while not stop and self.agent_steps < total_agent_steps:
                self.optimizer.zero_grad(set_to_none=True)
                scores: list[float] = []
                played = 0
                metrics: dict[str, float] = {}
                chunks = math.ceil(games_rank / cfg.n_envs)
                while played < games_rank and not stop and self.agent_steps < total_agent_steps:
                    k = min(cfg.n_envs, games_rank - played)
                    roll, summaries, stop = self._play(k, callback, rank)
                    played += k
                    scores += [float(s["score"]) for s in summaries]
                    loss, metrics = self._loss(roll)
                    (loss / chunks).backward()
                if played == 0:
                    break
                if dist and world > 1:
                    dist.allreduce_gradients(self.net)
                if cfg.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                mean_score = float(np.mean(scores)) if scores else float("nan")
                if dist and world > 1 and scores:
                    mean_score = float(dist.allreduce_mean(torch.tensor(mean_score)))
                if scores:
                    self.scheduler.step(mean_score)
                self.batches += 1
                if callback is not None:
                    callback.on_metrics(self.agent_steps, {**metrics, "batch/mean_score": mean_score,
                                                           "batch": float(self.batches),
                                                           "lr": float(self.optimizer.param_groups[0]["lr"])})
        self.wall_clock_s += time.perf_counter() - t0
        return self

    # -------------------------------------------------------------- checkpoints
    def checkpoint_config(self) -> dict[str, Any]:
        """The JSON config of a checkpoint (config, shapes, progress, optimiser/scheduler state)."""
        return {"agent": NAME, "env_id": self.env_id, "env_kwargs": self.env_kwargs, "seed": self.seed,
                "agent_steps": int(self.agent_steps), "live_agent_steps": int(self.live_agent_steps),
                "wall_clock_s": round(self.wall_clock_s, 3), "qmarl_config": self.config.to_dict(),
                "obs_shape": list(self.obs_shape), "view_range": self.view_range,
                "resume": {"episodes": self.episodes, "batches": self.batches,
                           "scheduler": {k: ((float(v) if math.isfinite(v) else None) if isinstance(v, float) else v)
                                         for k, v in self.scheduler.state_dict().items()
                                         if k in ("best", "num_bad_epochs", "last_epoch", "cooldown_counter",
                                                  "_last_lr")},
                           "lr": float(self.optimizer.param_groups[0]["lr"]),
                           "optim_steps": {str(i): int(st["step"]) for i, st in
                                           self.optimizer.state_dict()["state"].items()}}}

    def save(self, path: str) -> str:
        """Write weights, Adam moments, the sampling generator's state and config atomically
        (safetensors + JSON); returns ``path``."""
        from qmarl_agents.checkpoint import save_checkpoint

        arrays = _arrays_of(self.net, "model/")
        for i, st in self.optimizer.state_dict()["state"].items():
            arrays[f"optim/{i}/exp_avg"] = st["exp_avg"].numpy().copy()
            arrays[f"optim/{i}/exp_avg_sq"] = st["exp_avg_sq"].numpy().copy()
        arrays["rng/train_generator"] = self._train_gen.get_state().numpy().copy()
        return str(save_checkpoint(path, self.checkpoint_config(), arrays))

    def describe(self) -> dict[str, Any]:
        """Name, env id, seed and hyperparameters."""
        return {"agent": NAME, "env_id": self.env_id, "seed": self.seed,
                "qmarl_config": self.config.to_dict(), "env_kwargs": self.env_kwargs}


def _distributed():
    from qmarl_agents import distributed

    return distributed


# ----------------------------------------------------------------------------- registry hooks
def make_qmarl(env_id: str | None, seed: int | None = 0, **config: Any) -> QMARLAgent:
    """Factory of ``make_agent("qmarl", ...)``: ``**config`` are :class:`QMARLConfig` fields and
    ``env_kwargs``.

    Raises:
        ValueError: missing ``env_id``; unknown key (lists the allowed ones) or bad value.
    """
    if env_id is None:
        raise ValueError("env_id: the qmarl agent needs an env id, e.g. 'qmarl/Jungle-v0'")
    env_kwargs = config.pop("env_kwargs", None)
    if env_kwargs is not None and not isinstance(env_kwargs, Mapping):
        raise ValueError(f"env_kwargs: expected a dict, got {type(env_kwargs).__name__}")
    return QMARLAgent(env_id, seed, config_from(config), dict(env_kwargs or {}))


def _config_of(config: Mapping[str, Any]) -> QMARLConfig:
    if config.get("agent") != NAME:
        raise ValueError(f"checkpoint config: agent {config.get('agent')!r} is not {NAME!r}")
    return config_from(dict(config.get("qmarl_config") or {}))


def load_qmarl_policy(config: dict[str, Any], arrays: dict[str, np.ndarray], env=None) -> QMARLPolicy:
    """Loader: rebuild the policy from a checkpoint, bound to ``env`` if given.

    Raises:
        ValueError: wrong agent, bad config, or weights that do not fit the stored architecture.
    """
    cfg = _config_of(config)
    pol = QMARLPolicy(cfg, config.get("env_id"), tuple(config["obs_shape"]), float(config["view_range"]),
                      seed=config.get("seed"))
    _load_module(pol.net, arrays, "model/", "qmarl checkpoint")
    pol.agent_steps = int(config.get("agent_steps", 0))
    if env is not None:
        pol.bind(env)
    return pol


def resume_qmarl_agent(config: dict[str, Any], arrays: dict[str, np.ndarray]) -> QMARLAgent:
    """Resumer: rebuild a trainable agent (weights, Adam moments, schedule, counters).

    Raises:
        ValueError: as :func:`load_qmarl_policy`.
    """
    agent = QMARLAgent(config["env_id"], config.get("seed"), _config_of(config), config.get("env_kwargs"))
    _load_module(agent.net, arrays, "model/", "qmarl checkpoint")
    res = config.get("resume") or {}
    agent.agent_steps = int(config.get("agent_steps", 0))
    agent.live_agent_steps = int(config.get("live_agent_steps", 0))
    agent.wall_clock_s = float(config.get("wall_clock_s", 0.0))
    agent.episodes, agent.batches = int(res.get("episodes", 0)), int(res.get("batches", 0))
    params = list(agent.net.parameters())
    state = {}
    for i, step in (res.get("optim_steps") or {}).items():
        i = int(i)
        if f"optim/{i}/exp_avg" not in arrays or i >= len(params):
            raise ValueError(f"qmarl checkpoint: optimiser state of parameter {i} is missing")
        state[i] = {"step": torch.tensor(float(step)),
                    "exp_avg": torch.from_numpy(np.asarray(arrays[f"optim/{i}/exp_avg"])).clone(),
                    "exp_avg_sq": torch.from_numpy(np.asarray(arrays[f"optim/{i}/exp_avg_sq"])).clone()}
    sd = agent.optimizer.state_dict()
    sd["state"] = state
    sd["param_groups"][0]["lr"] = float(res.get("lr", agent.config.lr))
    agent.optimizer.load_state_dict(sd)
    if "rng/train_generator" in arrays:
        agent._train_gen.set_state(torch.from_numpy(np.asarray(arrays["rng/train_generator"], dtype=np.uint8).copy()))
    sched = dict(agent.scheduler.state_dict())
    sched.update({k: (float("-inf") if k == "best" and v is None else v)
                  for k, v in (res.get("scheduler") or {}).items()})
    agent.scheduler.load_state_dict(sched)
    return agent
