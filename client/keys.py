"""The client's X25519 key pair for secure aggregation, kept in its state directory.

The public key is published once, with the registration; the private key never leaves the
client's disk (the file is created readable by its owner only) and must survive restarts,
since a registered key cannot be changed.
"""

from __future__ import annotations

import os
from pathlib import Path

from protocol.secure.keys import KeyPair

KEY_FILE = "x25519.key"


def load_or_create_keys(directory: Path) -> KeyPair:
    path = directory / KEY_FILE
    if path.exists():
        return KeyPair.from_private_bytes(bytes.fromhex(path.read_text().strip()))
    keys = KeyPair.generate()
    directory.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{KEY_FILE}.new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(keys.private_bytes().hex() + "\n")
    os.replace(temporary, path)
    return keys
