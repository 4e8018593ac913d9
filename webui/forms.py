"""Read and validate inputs from a form post or a JSON body, with messages naming the field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import request
from web3 import Web3

from webui.errors import InvalidInput


def inputs() -> dict[str, Any]:
    """The posted values: the JSON body when there is one, else the form fields."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else request.form.to_dict()


def number(values: dict[str, Any], name: str, kind: type[int] | type[float], low: float, high: float,
           default: float | None = None) -> Any:
    """`values[name]` as an int or float within [low, high]; blank means `default` when one is given."""
    raw = values.get(name)
    if raw is None or str(raw).strip() == "":
        if default is None:
            raise InvalidInput(f"{name} is required")
        return default
    try:
        value = kind(str(raw).strip())
    except ValueError:
        raise InvalidInput(f"{name} must be {'an integer' if kind is int else 'a number'}, got {raw!r}") from None
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low:g} and {high:g}, got {value:g}")
    return value


def optional_number(values: dict[str, Any], name: str, low: float, high: float) -> float | None:
    """A float in [low, high], or None when left blank."""
    if str(values.get(name) or "").strip() == "":
        return None
    return number(values, name, float, low, high)


def choice(values: dict[str, Any], name: str, allowed: Sequence[str], default: str | None = None) -> str:
    value = str(values.get(name) or default or "").strip()
    if value not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def switch(values: dict[str, Any], name: str) -> bool:
    """A checkbox or JSON boolean: true, "true", "on" or "1" switch it on."""
    value = values.get(name, False)
    return value is True or str(value).lower() in ("true", "on", "1")


def address(values: dict[str, Any], name: str) -> str:
    """An Ethereum address (any case), checksummed."""
    raw = str(values.get(name) or "").strip()
    if not Web3.is_address(raw):
        raise InvalidInput(f"{name} must be an Ethereum address (0x and 40 hex digits), got {raw!r}")
    return Web3.to_checksum_address(raw)
