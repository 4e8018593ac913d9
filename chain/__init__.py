"""Ethereum plumbing: chain transports (backends), local node processes (nodes), compilation, deployment records
and the typed contract wrapper."""
