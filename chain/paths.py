"""Where the repository keeps its contracts, compiled artifacts, migrations and Node tools."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = REPO_ROOT / "contracts"
ARTIFACTS_DIR = CONTRACTS_DIR / "build"
MIGRATIONS_DIR = REPO_ROOT / "migrations"
NODE_MODULES = REPO_ROOT / "node_modules"
NODE_BIN = NODE_MODULES / ".bin"
