"""The round protocol shared by the organization, the clients and verifiers: files, plans, recomputation."""
