"""State kept per chain connection and dropped with it: what one connection learns (its log-range
limit, its gas limits) or is told (its sending policy) is shared by every reader and sender on it."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from web3 import Web3

T = TypeVar("T")


class PerConnection(Generic[T]):
    """One value per `Web3` object, made by `create` on first use; thread-safe."""

    def __init__(self, create: Callable[[], T]) -> None:
        self._values: weakref.WeakKeyDictionary[Web3, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._create = create

    def of(self, web3: Web3) -> T:
        with self._lock:
            if web3 not in self._values:
                self._values[web3] = self._create()
            return self._values[web3]

    def set(self, web3: Web3, value: T) -> None:
        with self._lock:
            self._values[web3] = value
