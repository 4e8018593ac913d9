"""Ethereum plumbing: backends, compilation, deployment records and the typed contract wrapper."""
