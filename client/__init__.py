"""A client: trains on its own data when a round opens and publishes its update."""
