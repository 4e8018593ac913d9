#!/usr/bin/env python3
"""The one entry point of the platform: `python run.py --help` lists the commands."""

import sys

from cli.main import main

if __name__ == "__main__":
    sys.exit(main())
