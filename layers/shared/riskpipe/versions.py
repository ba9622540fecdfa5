"""Versions of a trade: the highest one is the truth. No dependencies, so that every stage can use it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class Versioned(Protocol):
    @property
    def TradeID(self) -> str: ...

    @property
    def Version(self) -> int: ...


def newest_per_trade[V: Versioned](messages: Iterable[V]) -> dict[str, V]:
    """The highest version of every trade among these messages (the first copy wins among equal versions)."""
    newest: dict[str, V] = {}
    for message in messages:
        current = newest.get(message.TradeID)
        if current is None or message.Version > current.Version:
            newest[message.TradeID] = message
    return newest
