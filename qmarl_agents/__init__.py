"""Agents for qmarl environments: random, scripted, SB3 baselines and the quantum-inspired agents."""
