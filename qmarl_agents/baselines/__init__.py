"""Baseline policies that need no training: uniform random and scripted heuristics."""

from qmarl_agents.baselines.random_policy import RandomPolicy
from qmarl_agents.baselines.scripted import ScriptedPolicy, ball_collection_actions, scripted_heuristic

__all__ = ["RandomPolicy", "ScriptedPolicy", "ball_collection_actions", "scripted_heuristic"]
