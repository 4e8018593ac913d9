"""The `--ipfs` option: `embedded`, a daemon API multiaddr, the `http://host:port` Kubo users type,
or `gateway+http://host:port` to read through an HTTP gateway.

Also one probe of a daemon's API (or a gateway), so a wrong port is one clear sentence instead of
an HTTP error dump, and a daemon that is still starting can be waited for.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import requests

from storage.factory import GATEWAY_PREFIX

PROBE_TIMEOUT_SECONDS = 3
_UNKNOWN = ("use 'embedded', a daemon API multiaddr such as /ip4/127.0.0.1/tcp/5001, a URL such as "
            "http://127.0.0.1:5001 or a gateway for reading as gateway+http://127.0.0.1:8080")


class IpfsAddressError(ValueError):
    """An `--ipfs` value that is neither `embedded`, a multiaddr, an http(s) URL nor a gateway URL."""


def gateway_url(spec: str) -> str | None:
    """The gateway's `http(s)://HOST:PORT` for `gateway+http(s)://HOST:PORT`; None for other values."""
    if not spec.startswith(GATEWAY_PREFIX):
        return None
    url = spec.removeprefix(GATEWAY_PREFIX)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise IpfsAddressError(f"--ipfs {spec!r}: give a gateway as {GATEWAY_PREFIX}http://HOST:PORT, e.g. "
                               f"{GATEWAY_PREFIX}http://127.0.0.1:8080")
    return url.rstrip("/")


def daemon_multiaddr(spec: str) -> str | None:
    """The API multiaddr for `spec`, or None for the embedded store.

    `http://127.0.0.1:5001` becomes `/ip4/127.0.0.1/tcp/5001/http`; multiaddrs pass unchanged.
    """
    if spec == "embedded":
        return None
    if spec.startswith(GATEWAY_PREFIX):
        raise IpfsAddressError(f"--ipfs {spec!r} is a gateway, which can only read: this needs an IPFS daemon's "
                               "API (http://HOST:PORT) or embedded")
    if spec.startswith("/"):
        return spec
    if spec.startswith(("http://", "https://")):
        parts = urlsplit(spec)
        if not parts.hostname or not parts.port or parts.path not in ("", "/"):
            raise IpfsAddressError(f"--ipfs {spec!r}: give the daemon's API as http://HOST:PORT, e.g. "
                                   "http://127.0.0.1:5001")
        return f"/{_host_protocol(parts.hostname)}/{parts.hostname}/tcp/{parts.port}/{parts.scheme}"
    raise IpfsAddressError(f"unknown IPFS store {spec!r}: {_UNKNOWN}")


def _host_protocol(host: str) -> str:
    try:
        return "ip6" if ipaddress.ip_address(host).version == 6 else "ip4"
    except ValueError:
        return "dns"


def api_url(multiaddr: str) -> str:
    """`/ip4/H/tcp/P[/http|/https]` (or dns/dns4/dns6/ip6) as `http(s)://H:P`, for probing."""
    parts = [part for part in multiaddr.split("/") if part]
    if len(parts) < 4 or parts[0] not in ("ip4", "ip6", "dns", "dns4", "dns6") or parts[2] != "tcp":
        raise IpfsAddressError(f"--ipfs {multiaddr!r} is not an API multiaddr like /ip4/127.0.0.1/tcp/5001")
    scheme = "https" if parts[4:5] == ["https"] else "http"
    host = f"[{parts[1]}]" if parts[0] == "ip6" else parts[1]
    return f"{scheme}://{host}:{parts[3]}"


def daemon_problem(multiaddr: str) -> tuple[bool, str | None]:
    """(reachable, problem): whether anything answers, and why it is not a usable IPFS API if not."""
    url = api_url(multiaddr)
    try:
        response = requests.post(f"{url}/api/v0/version", timeout=PROBE_TIMEOUT_SECONDS)
    except requests.RequestException:
        return False, f"no IPFS daemon answers at {url} (start one with `run.py ipfs daemon`)"
    try:
        version = response.json().get("Version") if response.ok else None
    except ValueError:
        version = None
    if not version:
        return True, (f"{url} answers (HTTP {response.status_code}) but is not an IPFS daemon's RPC API: "
                      "check the port (Kubo's API is usually 5001, its gateway 8080 is not it)")
    return True, None


def gateway_problem(url: str) -> tuple[bool, str | None]:
    """(reachable, problem) for a gateway: anything answering HTTP there will do, unless it is a
    daemon's RPC API (which answers /api/v0/version and serves no /ipfs/ paths)."""
    try:
        response = requests.post(f"{url}/api/v0/version", timeout=PROBE_TIMEOUT_SECONDS)
    except requests.RequestException:
        return False, f"no IPFS gateway answers at {url}"
    try:
        is_api = bool(response.ok and response.json().get("Version"))
    except ValueError:
        is_api = False
    if is_api:
        return True, (f"{url} is an IPFS daemon's RPC API, not its gateway: use --ipfs {url} for the API, or "
                      f"the gateway's port with {GATEWAY_PREFIX}")
    return True, None
