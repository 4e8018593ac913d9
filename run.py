#!/usr/bin/env python3
"""The one entry point of the platform: `python run.py --help` lists the commands."""

from cli.exiting import exit_without_teardown
from cli.main import main

if __name__ == "__main__":
    exit_without_teardown(main())
