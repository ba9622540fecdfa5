"""The traffic the model is fed with: the workshop generator's own calls (``riskpipe.producer.workshop_calls``: calls
of 40 records plus 5 copies, about 3% revisions with a new value and hierarchy), each record keyed by the SHA-256 of
the whole message as the workshop's generator keys it, and placed on a shard as Kinesis does (MD5 of the
partition key into the 128-bit hash key space, split evenly between the shards)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from riskpipe.aggregation import Contribution
from riskpipe.models import RiskMessage
from riskpipe.producer import workshop_calls

HASH_SPACE = 2**128
EPOCH = 1_700_000_000.0  # the messages' Timestamps start here: epoch seconds, as sizes on the wire and in partials


class KnownContribution(Contribution):
    """A contribution that remembers its prefixes: the planning code asks for them once per trade and sub-batch
    it tries, and the answer never changes (the contribution is frozen)."""

    def prefixes(self, order: Sequence[str]) -> list[str]:
        cached = self.__dict__.get("_prefixes")
        if cached is None or cached[0] != order:
            cached = self.__dict__["_prefixes"] = (order, super().prefixes(order))
        return cached[1]


@dataclass(frozen=True, slots=True)
class Record:
    """One record as the model carries it: what the state stage decides on (``TradeID``, ``Version``, so that
    ``riskpipe.versions.newest_per_trade`` takes it) and what the aggregates get (its contribution)."""

    TradeID: str
    Version: int
    contribution: Contribution
    hash_key: int  # Kinesis hash key of the record's partition key
    size: int  # bytes on the stream
    timestamp: Decimal  # the message's Timestamp (epoch seconds): the partials carry it (their sizes)

    def shard(self, shards: int) -> int:
        return self.hash_key * shards // HASH_SPACE


def record_of(message: RiskMessage, trade_id: str | None = None) -> Record:
    wire = message.to_wire()
    partition_key = hashlib.sha256(wire).hexdigest()
    return Record(
        TradeID=trade_id or message.TradeID,
        Version=message.Version,
        contribution=KnownContribution(Decimal(message.Value), message.Hierarchy.model_dump()),
        hash_key=int.from_bytes(hashlib.md5(partition_key.encode(), usedforsecurity=False).digest()),
        size=len(wire) + len(partition_key),
        timestamp=message.Timestamp,
    )


class WorkshopTraffic:
    """The workshop generator's calls, generated once and replayed; a replay past the end renames the trades
    (``<trade>/<lap>``) so that every lap is new trades with the same shape."""

    def __init__(self, calls: int = 300, seed: int = 16, messages: Sequence[Sequence[RiskMessage]] | None = None):
        source = messages if messages is not None else workshop_calls(seed=seed, calls=calls, now=EPOCH)
        self._calls = [[record_of(m) for m in call] for call in source]

    @property
    def record_bytes(self) -> float:
        """Mean bytes a record takes on the stream (data and partition key)."""
        sizes = [r.size for call in self._calls for r in call]
        return sum(sizes) / len(sizes) if sizes else 0.0

    @property
    def records_per_call(self) -> float:
        return sum(len(c) for c in self._calls) / len(self._calls)

    def calls(self) -> Iterator[list[Record]]:
        lap = 0
        while True:
            for call in self._calls:
                if lap == 0:
                    yield call
                else:
                    yield [
                        Record(
                            f"{r.TradeID}/{lap}",
                            r.Version,
                            r.contribution,
                            (r.hash_key * 7919 + lap) % HASH_SPACE,
                            r.size,
                            r.timestamp,
                        )
                        for r in call
                    ]
            lap += 1
