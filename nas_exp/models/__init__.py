"""PyTorch networks decoded from search-space configurations (train mode)."""

from nas_exp.models.network import NB201Network, count_parameters_mb, seeded_network

__all__ = ["NB201Network", "count_parameters_mb", "seeded_network"]
