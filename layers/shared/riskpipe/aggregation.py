"""Pure domain of the aggregate stage: from StateTable changes to per-prefix deltas.

A change of trade T from (old value, old hierarchy) to (new value, new hierarchy) adds the new value to
every prefix of the new hierarchy and subtracts the old value from every prefix of the old one, so an
update moves its contribution, also between prefixes. A batch is pre-aggregated in memory: one delta per
prefix, one marker per trade, one ``message_count`` increment, all applied in one transaction (split in
consecutive sub-batches when a batch touches more than a transaction's 100 items).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any

from riskpipe.numbers import DYNAMODB_ARITHMETIC
from riskpipe.versions import newest_per_trade

if TYPE_CHECKING:
    from riskpipe.models import RiskMessage

TRANSACT_MAX_ITEMS = 100  # items of one transaction: DynamoDB's limit


@dataclass(frozen=True)
class Contribution:
    """What one trade adds to the aggregates: its value at its hierarchy."""

    value: Decimal
    hierarchy: Mapping[str, str]

    def prefixes(self, order: Sequence[str]) -> list[str]:
        levels = [self.hierarchy[level] for level in order]
        return [":".join(levels[: depth + 1]) for depth in range(len(levels))]


def contribution_of(image: Mapping[str, Any] | None) -> Contribution | None:
    """The contribution held by a StateTable image, or None when the image holds no trade state.

    DynamoDB Local and moto emit an extra INSERT whose NewImage has only the key: it contributes nothing.
    """
    if not image or "Value" not in image or "Hierarchy" not in image or "Version" not in image:
        return None
    hierarchy = image["Hierarchy"]
    if isinstance(hierarchy, str):
        hierarchy = json.loads(hierarchy)
    return Contribution(value=Decimal(str(image["Value"])), hierarchy=dict(hierarchy))


@dataclass(frozen=True)
class TradeChange:
    """One StateTable stream record, reduced to what the aggregates need."""

    sequence_number: str
    trade_id: str
    new_version: int | None
    new: Contribution | None
    old: Contribution | None
    timestamp: Decimal | None = None  # the message's Timestamp (epoch seconds): end-to-end latency starts there

    @property
    def applies(self) -> bool:
        """Only a change that carries a trade version moves the aggregates (and is counted once)."""
        return self.new is not None and self.new_version is not None

    @classmethod
    def from_images(
        cls,
        sequence_number: str,
        event_name: str,
        keys: Mapping[str, Any],
        new_image: Mapping[str, Any] | None,
        old_image: Mapping[str, Any] | None,
    ) -> TradeChange:
        new = contribution_of(new_image) if event_name in ("INSERT", "MODIFY") else None
        version = int(new_image["Version"]) if new is not None and new_image is not None else None
        stamp = new_image.get("Timestamp") if new is not None and new_image is not None else None
        return cls(
            sequence_number=sequence_number,
            trade_id=str(keys["pk"]),
            new_version=version,
            new=new,
            old=contribution_of(old_image),
            timestamp=None if stamp is None else Decimal(str(stamp)),
        )


@dataclass(frozen=True)
class SetAsideChange:
    """A change that DynamoDB refuses to add to the aggregates (a sum it cannot store): it never will, so it is
    kept aside with its reason instead of blocking its shard, and the totals need a reconcile."""

    reason: str
    sequence_number: str
    trade_id: str
    version: int | None
    new_value: str | None
    new_hierarchy: dict[str, str] | None
    old_value: str | None
    old_hierarchy: dict[str, str] | None

    @classmethod
    def of(cls, change: TradeChange, reason: str) -> SetAsideChange:
        new, old = change.new, change.old
        return cls(
            reason=reason,
            sequence_number=change.sequence_number,
            trade_id=change.trade_id,
            version=change.new_version,
            new_value=None if new is None else str(new.value),
            new_hierarchy=None if new is None else dict(new.hierarchy),
            old_value=None if old is None else str(old.value),
            old_hierarchy=None if old is None else dict(old.hierarchy),
        )


@dataclass
class TradeChain:
    """The applicable changes of one trade in a sub-batch, in stream order (versions increasing)."""

    trade_id: str
    changes: list[TradeChange] = field(default_factory=list)

    @property
    def first_version(self) -> int:
        return min(c.new_version for c in self.changes if c.new_version is not None)

    @property
    def last_version(self) -> int:
        return max(c.new_version for c in self.changes if c.new_version is not None)

    def after(self, applied_version: int) -> TradeChain:
        return TradeChain(self.trade_id, [c for c in self.changes if (c.new_version or 0) > applied_version])

    def deltas(self, order: Sequence[str]) -> dict[str, Decimal]:
        """Exact, as DynamoDB adds: a delta that needs more than 38 digits raises ``decimal.Inexact``."""
        deltas: dict[str, Decimal] = defaultdict(Decimal)
        with localcontext(DYNAMODB_ARITHMETIC):
            for change in self.changes:
                if change.new is not None:
                    for prefix in change.new.prefixes(order):
                        deltas[prefix] += change.new.value
                if change.old is not None:
                    for prefix in change.old.prefixes(order):
                        deltas[prefix] -= change.old.value
        return dict(deltas)

    def prefixes(self, order: Sequence[str]) -> set[str]:
        touched: set[str] = set()
        for change in self.changes:
            for contribution in (change.new, change.old):
                if contribution is not None:
                    touched.update(contribution.prefixes(order))
        return touched


@dataclass
class SubBatch:
    """Consecutive trades whose changes fit one transaction, with their markers."""

    chains: list[TradeChain]
    order: Sequence[str]

    @property
    def sequence_numbers(self) -> list[str]:
        return [c.sequence_number for chain in self.chains for c in chain.changes]

    @property
    def message_count(self) -> int:
        return sum(len(chain.changes) for chain in self.chains)

    @property
    def timestamps(self) -> list[Decimal]:
        return [c.timestamp for chain in self.chains for c in chain.changes if c.timestamp is not None]

    def deltas(self) -> dict[str, Decimal]:
        total: dict[str, Decimal] = defaultdict(Decimal)
        with localcontext(DYNAMODB_ARITHMETIC):
            for chain in self.chains:
                for prefix, delta in chain.deltas(self.order).items():
                    total[prefix] += delta
        return {prefix: delta for prefix, delta in total.items() if delta != 0}

    def without_applied(self, applied: Mapping[str, int]) -> tuple[SubBatch, list[str]]:
        """Drop the changes that the markers show as already applied; return the rest and the dropped ones."""
        kept: list[TradeChain] = []
        dropped: list[str] = []
        for chain in self.chains:
            remaining = chain.after(applied[chain.trade_id]) if chain.trade_id in applied else chain
            dropped.extend(c.sequence_number for c in chain.changes if c not in remaining.changes)
            if remaining.changes:
                kept.append(remaining)
        return SubBatch(kept, self.order), dropped


def items_needed(chains: Iterable[TradeChain], order: Sequence[str]) -> int:
    """Transaction items for these chains: one marker per trade, one per prefix, one message_count."""
    chains = list(chains)
    prefixes: set[str] = set()
    for chain in chains:
        prefixes |= chain.prefixes(order)
    return len(chains) + len(prefixes) + 1


def split_repeats(changes: Sequence[TradeChange]) -> tuple[list[TradeChange], list[TradeChange]]:
    """Separate the changes that repeat one already seen in this batch (same trade, version not newer).

    A trade's versions only grow in the StateTable, so its stream records carry increasing versions: a
    change that is not newer than the last one seen for its trade is the same record delivered again.
    """
    last: dict[str, int] = {}
    unique: list[TradeChange] = []
    repeats: list[TradeChange] = []
    for change in changes:
        if change.applies and change.new_version is not None:
            if change.new_version <= last.get(change.trade_id, -1):
                repeats.append(change)
                continue
            last[change.trade_id] = change.new_version
        unique.append(change)
    return unique, repeats


def _pieces(chain: TradeChain, order: Sequence[str], max_items: int) -> list[TradeChain]:
    """A chain that fits one transaction, or its consecutive pieces that each do (a trade revised many times
    across many hierarchies in one batch). Each piece carries its own marker range, so the pieces apply in
    order and a retried piece is recognised like any other."""
    if items_needed([chain], order) <= max_items:
        return [chain]
    pieces: list[TradeChain] = []
    current = TradeChain(chain.trade_id)
    for change in chain.changes:
        candidate = TradeChain(chain.trade_id, [*current.changes, change])
        if current.changes and items_needed([candidate], order) > max_items:
            pieces.append(current)
            candidate = TradeChain(chain.trade_id, [change])
        if items_needed([candidate], order) > max_items:
            raise ValueError(f"one change of trade {chain.trade_id} needs more than {max_items} transaction items")
        current = candidate
    pieces.append(current)
    return pieces


def _pieces_touching(chain: TradeChain, order: Sequence[str], max_items: int) -> list[tuple[TradeChain, set[str]]]:
    """``_pieces`` of the chain, each with the prefixes it touches (the whole chain's asked only once)."""
    whole = chain.prefixes(order)
    if len(whole) + 2 <= max_items:  # items_needed([chain]): its marker, its prefixes, message_count
        return [(chain, whole)]
    return [(piece, piece.prefixes(order)) for piece in _pieces(chain, order, max_items)]


def plan_sub_batches(
    changes: Sequence[TradeChange], order: Sequence[str], *, max_items: int = TRANSACT_MAX_ITEMS
) -> list[SubBatch]:
    """Group a batch's applicable changes by trade (first appearance order) into transaction-sized sub-batches.

    Two pieces of one trade never share a transaction (one transaction may touch an item only once).
    """
    chains: dict[str, TradeChain] = {}
    for change in changes:
        if change.applies:
            chains.setdefault(change.trade_id, TradeChain(change.trade_id)).changes.append(change)
    batches: list[SubBatch] = []
    current: list[TradeChain] = []
    trades: set[str] = set()  # of current
    prefixes: set[str] = set()  # of current: items_needed(current) is len(current) + len(prefixes) + 1
    for chain in chains.values():
        for piece, touched in _pieces_touching(chain, order, max_items):
            if current and (piece.trade_id in trades or len(current) + 1 + len(prefixes | touched) + 1 > max_items):
                batches.append(SubBatch(current, order))
                current, trades, prefixes = [], set(), set()
            current.append(piece)
            trades.add(piece.trade_id)
            prefixes |= touched
    if current:
        batches.append(SubBatch(current, order))
    return batches


def expected_aggregates(messages: Iterable[RiskMessage], order: Sequence[str]) -> dict[str, Decimal]:
    """What the AggregateTable must hold for these messages: every prefix's sum of latest values (exact, as
    DynamoDB adds: a sum that needs more than 38 digits raises ``decimal.Inexact``)."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    with localcontext(DYNAMODB_ARITHMETIC):
        for message in newest_per_trade(messages).values():
            contribution = Contribution(message.Value, message.Hierarchy.model_dump())
            for prefix in contribution.prefixes(order):
                totals[prefix] += message.Value
    return dict(totals)


def compare_aggregates(
    expected: Mapping[str, Decimal], actual: Mapping[str, Decimal], *, tolerance: Decimal = Decimal(0)
) -> dict[str, tuple[Decimal, Decimal]]:
    """Every identifier whose value differs: identifier -> (expected, actual). Empty means exact."""
    differences = {}
    for identifier in sorted(set(expected) | set(actual)):
        want, got = expected.get(identifier, Decimal(0)), actual.get(identifier, Decimal(0))
        if abs(want - got) > tolerance:
            differences[identifier] = (want, got)
    return differences
