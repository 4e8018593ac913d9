"""Content-addressed storage of models and updates: CIDs, stores and model files."""
