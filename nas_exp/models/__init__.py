"""PyTorch networks decoded from search-space architectures (train mode)."""
