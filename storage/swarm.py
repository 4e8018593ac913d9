"""An IPFS daemon's peer-to-peer side, through its RPC API: its own swarm addresses, its peers,
and connecting it to another node. Kubo and js-ipfs both answer these calls (js-ipfs lists no
addresses in `id`, hence `swarm/addrs/local`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import requests

from storage.bounded_http import Late, ServerSaid, TooLarge, capped_download
from storage.store import StorageError, StoreUnavailableError

ANSWER_LIMIT = 1 << 20  # bytes of a swarm answer we read at most
ANSWER_SECONDS = 10.0
CONNECT_SECONDS = 30.0  # a dial to an unreachable node fails after about 10 s in js-ipfs
MAX_MULTIADDR = 1000  # characters


class SwarmError(StorageError):
    """The daemon refused or failed a swarm request; the message is the daemon's, on one line."""


def local_addresses(api_url: str) -> list[str]:
    """The multiaddrs (each ending in /p2p/ID) other nodes can use to connect to this one."""
    return [str(address) for address in _rpc(api_url, "swarm/addrs/local", {"id": "true"}).get("Strings") or []]


def connected_peers(api_url: str) -> list[str]:
    """The nodes this daemon is connected to, as `ADDRESS/p2p/ID` (the address as the daemon saw it)."""
    peers = _rpc(api_url, "swarm/peers", {}).get("Peers") or []
    return [_with_peer_id(str(peer.get("Addr", "")), str(peer.get("Peer", ""))) for peer in peers
            if isinstance(peer, dict)]


def peer_id(multiaddr: str) -> str:
    """The `/p2p/ID` part of a node's multiaddr (what swarm connect needs to know whom it reaches)."""
    parts = multiaddr.rstrip("/").split("/")
    if len(multiaddr) > MAX_MULTIADDR or "p2p" not in parts[:-1] or not multiaddr.startswith("/"):
        raise SwarmError(f"{multiaddr[:100]!r} is not a node's multiaddr like /ip4/10.0.0.2/tcp/4001/p2p/12D3KooW... "
                         "(`run.py ipfs peers` on that node prints it)")
    return parts[parts.index("p2p") + 1]


def connect(api_url: str, multiaddr: str) -> None:
    """Connect the daemon to the node at `multiaddr` (SwarmError when the node cannot be reached)."""
    peer_id(multiaddr)
    _rpc(api_url, "swarm/connect", {"arg": multiaddr}, seconds=CONNECT_SECONDS,
         refused=f"cannot connect to {multiaddr} (is that node up and reachable from here?): the IPFS daemon at "
                 f"{api_url} says")


def reconnect(api_url: str, wanted: Sequence[str]) -> dict[str, str | None]:
    """Connect to each of the `wanted` nodes the daemon is not connected to: for each, None when
    it is connected, else why not (a node that is not up yet is tried again on the next call)."""
    connected = {peer_id(address) for address in connected_peers(api_url)}
    outcome: dict[str, str | None] = {}
    for address in wanted:
        outcome[address] = None
        if peer_id(address) not in connected:
            try:
                connect(api_url, address)
            except SwarmError as error:
                outcome[address] = str(error)
    return outcome


def _with_peer_id(address: str, peer: str) -> str:
    return address if address.endswith(f"/p2p/{peer}") else f"{address}/p2p/{peer}"


def _rpc(api_url: str, command: str, params: dict[str, str], seconds: float = ANSWER_SECONDS,
         refused: str | None = None) -> dict[str, Any]:
    """POST /api/v0/`command`: its JSON answer, at most ANSWER_LIMIT bytes of it; an error answer
    is SwarmError("`refused` MESSAGE")."""
    try:
        body = capped_download("POST", f"{api_url}/api/v0/{command}", params, ANSWER_LIMIT, seconds, seconds)
    except requests.ConnectionError:
        raise StoreUnavailableError(f"no IPFS daemon answers at {api_url}: is it running?") from None
    except Late:
        raise SwarmError(f"the IPFS daemon at {api_url} did not answer {command} within {seconds:g}s") from None
    except ServerSaid as said:
        raise SwarmError(f"{refused or f'the IPFS daemon at {api_url} refused {command}:'} {said}") from None
    except (TooLarge, requests.RequestException, OSError) as error:  # too long, or a body that broke off
        raise SwarmError(f"the IPFS daemon at {api_url} gave no usable answer to {command}: {error!r}") from None
    try:
        answer = json.loads(body)
    except ValueError:
        raise SwarmError(f"the IPFS daemon at {api_url} answered {command} with something other than JSON") from None
    if not isinstance(answer, dict):
        raise SwarmError(f"the IPFS daemon at {api_url} answered {command} with {type(answer).__name__}, not an object")
    return answer
