"""The command line behind run.py: one module per group of commands."""
