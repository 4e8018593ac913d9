"""The learning core: data, partitions, models, local training (FedProx/EWC/FedCurv), validation,
aggregation and evaluation. Interchange format is ``dict[str, np.ndarray]`` (float32 state dicts)
so this package never depends on storage or chain code."""
