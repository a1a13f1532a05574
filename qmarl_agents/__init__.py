"""Agents for qmarl environments: random, scripted, SB3 baselines and the quantum-inspired agents.

::

    from qmarl_agents import make_agent, load_policy
    agent = make_agent("ppo", env_id="qmarl/Jungle-v0", seed=0)
    agent.learn(total_agent_steps=200_000)
    agent.save("runs/jungle")                     # safetensors + JSON config, atomic
    policy = load_policy("runs/jungle")           # never unpickles code
    actions = policy.act(observations)            # dict in, dict out: any PettingZoo loop

Importing this package is light (no torch); agents import their dependencies when built.
"""

from qmarl_agents.base import AECAdapter, Agent, BatchPolicy, Policy, TrainingCallback
from qmarl_agents.registry import (AgentSpec, agent_spec, list_agents, load_agent, load_policy, make_agent,
                                   register_agent, resolve_policy)

__all__ = ["AECAdapter", "Agent", "AgentSpec", "BatchPolicy", "Policy", "TrainingCallback", "agent_spec",
           "list_agents", "load_agent", "load_policy", "make_agent", "register_agent", "resolve_policy"]
