"""QBM agent: free-energy Q-learning with a (quantum) Boltzmann machine (Müller et al. 2022)."""
