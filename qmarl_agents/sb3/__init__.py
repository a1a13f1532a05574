"""Stable-Baselines3 baselines: the per-agent VecEnv adapter, masked buffers, PPO/A2C/DQN agents."""
