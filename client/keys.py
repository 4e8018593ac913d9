"""The client's X25519 key pair for secure aggregation, kept in its state directory.

The public key is published once, with the registration; the private key never leaves the
client's disk (the file is created readable by its owner only) and must survive restarts,
since a registered key cannot be changed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from client.state import ClientStateError
from protocol.secure.keys import KeyPair

KEY_FILE = "x25519.key"
_KEY_HEX_LENGTH = 64


def load_or_create_keys(directory: Path) -> KeyPair:
    """The saved key pair, or a new one saved readable by its owner only. A key file others can
    read, or one that is not a key, is ClientStateError (one line saying how to fix it)."""
    path = directory / KEY_FILE
    if path.exists():
        return _load(path)
    keys = KeyPair.generate()
    directory.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{KEY_FILE}.new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(keys.private_bytes().hex() + "\n")
    os.replace(temporary, path)
    return keys


def _load(path: Path) -> KeyPair:
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        raise ClientStateError(f"client key file {path} is not a regular file: move it away")
    if mode & 0o077:
        raise ClientStateError(f"client key file {path} can be read by other users (mode {stat.S_IMODE(mode):o}): "
                               f"run chmod 600 {path} (and consider the key exposed if others could log in)")
    text = path.read_text(errors="replace").strip()
    if len(text) != _KEY_HEX_LENGTH or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise ClientStateError(f"client key file {path} is corrupt (expected {_KEY_HEX_LENGTH} hexadecimal digits): "
                               "restore it from a backup; without it this account cannot take part in secure rounds "
                               "(a new key needs a new account), so move it away only to use a new account")
    return KeyPair.from_private_bytes(bytes.fromhex(text))


def refuse_shared_home(home: Path, own_address: str | None) -> None:
    """ClientStateError when `home` holds a secure-aggregation key of another party, or an
    organization next to a client: whoever runs the other party as this user reads the key files
    (file modes do not separate one user's processes), and with them unmasks the updates. Every
    party of a secure round needs its own home."""
    others = sorted(path.parent.name for path in (home / "clients").glob(f"*/{KEY_FILE}")
                    if own_address is None or path.parent.name.lower() != own_address.lower())
    if others:
        who = "this organization's home" if own_address is None else "this client's home"
        raise ClientStateError(f"{who} {home} holds the secure-aggregation keys of {len(others)} other account(s) "
                               f"({others[0]}…): give every party its own --home, or it can read their keys")
    if own_address is not None and (home / "organization").exists():
        raise ClientStateError(f"this client's home {home} is also the organization's ({home / 'organization'}): "
                               "give every party its own --home, or the organization can read this client's key")
