"""Pure domain of the aggregate stage: from StateTable changes to per-prefix deltas.

A change of trade T from (old value, old hierarchy) to (new value, new hierarchy) adds the new value to
every prefix of the new hierarchy and subtracts the old value from every prefix of the old one, so an
update moves its contribution, also between prefixes. A batch is pre-aggregated in memory: one delta per
prefix, one marker per trade, one ``message_count`` increment, all applied in one transaction (split in
consecutive sub-batches when a batch touches more than a transaction's 100 items).

The "old" side is what the aggregates hold of the trade: what its marker says was applied (``AppliedState``:
the version, its value and hierarchy, its ``AcceptedVersions``). A chain of changes is taken to start from its
first change's OldImage, which is what the marker holds in the common case, and its transaction is conditioned
on that; when the marker holds something else, the chain is rebased on it (``TradeChain.rebase``): the changes
it shows applied are dropped (a redelivery), and the delta of the rest is taken from the marker's state (a gap:
changes the mapping gave up are healed by the trade's next change, exactly once).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
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
class AppliedState:
    """What the aggregates hold of one trade, as its marker says: the version applied, that version's contribution
    and its ``AcceptedVersions`` (how many versions the StateTable had accepted then: what ``message_count``
    counts). ``contribution`` None: a marker that keeps its version only (written before markers kept their state,
    or by lab 3's store): a chain on top of it takes its delta from its first change's OldImage, as it always did.
    ``accepted`` None: not known (an item written before ``AcceptedVersions`` existed)."""

    version: int
    contribution: Contribution | None = None
    accepted: int | None = None

    @classmethod
    def of(cls, marker: object) -> AppliedState | None:
        """A marker as a store reports it (``riskpipe.errors.AlreadyAppliedError``): its state, a version alone
        (an int), or None (no marker)."""
        if marker is None or isinstance(marker, AppliedState):
            return marker
        if isinstance(marker, int) and not isinstance(marker, bool):
            return cls(marker)
        raise TypeError(f"not a marker: {marker!r}")


def state_of(image: Mapping[str, Any] | None) -> AppliedState | None:
    """The state a StateTable image (or a marker item, deserialised) holds: None when it holds no trade state."""
    contribution = contribution_of(image)
    if contribution is None or image is None:
        return None
    accepted = image.get("AcceptedVersions")
    return AppliedState(int(image["Version"]), contribution, None if accepted is None else int(accepted))


@dataclass(frozen=True)
class TradeChange:
    """One StateTable stream record, reduced to what the aggregates need."""

    sequence_number: str
    trade_id: str
    new_version: int | None
    new: Contribution | None
    old: Contribution | None
    timestamp: Decimal | None = None  # the message's Timestamp (epoch seconds): end-to-end latency starts there
    old_version: int | None = None  # the OldImage's Version (given whenever ``old`` is)
    new_accepted: int | None = None  # the images' AcceptedVersions, when they carry it
    old_accepted: int | None = None

    def __post_init__(self) -> None:
        if self.old is not None and self.old_version is None:
            raise ValueError(f"change {self.sequence_number}: an old contribution needs its version")

    @property
    def applies(self) -> bool:
        """Only a change that carries a trade version moves the aggregates (and is counted once)."""
        return self.new is not None and self.new_version is not None

    @property
    def old_state(self) -> AppliedState | None:
        """What the OldImage held: what the trade's marker holds when every change before this one was applied."""
        if self.old is None or self.old_version is None:
            return None
        return AppliedState(self.old_version, self.old, self.old_accepted)

    @property
    def new_state(self) -> AppliedState:
        """What the NewImage holds: what the trade's marker holds once this change is applied."""
        if self.new is None or self.new_version is None:
            raise ValueError(f"change {self.sequence_number} carries no trade state")
        return AppliedState(self.new_version, self.new, self.new_accepted)

    @classmethod
    def between(
        cls,
        sequence_number: str,
        trade_id: str,
        old: AppliedState | None,
        new: AppliedState | None,
        timestamp: Decimal | None = None,
    ) -> TradeChange:
        """The change of a trade from ``old`` to ``new`` (None: no trade state on that side)."""
        change = cls(sequence_number, trade_id, None, None, None, timestamp)
        if new is not None:
            change = replace(change, new_version=new.version, new=new.contribution, new_accepted=new.accepted)
        if old is not None:
            change = replace(change, old_version=old.version, old=old.contribution, old_accepted=old.accepted)
        return change

    @classmethod
    def gap(cls, trade_id: str, marker: AppliedState | None, state: Mapping[str, Any]) -> TradeChange:
        """A change from what the trade's marker holds to what the StateTable holds (``state``, an item as a stream
        image carries it): what the map would apply on the trade's next change, made now (the redrive). Its
        sequence number names the trade and the version; it carries no Timestamp (it measures no latency)."""
        new = state_of(state)
        if new is None:
            raise ValueError(f"the StateTable item of {trade_id} holds no trade state")
        if marker is not None and marker.contribution is None:
            raise ValueError(f"the marker of {trade_id} keeps its version only: what it applied is not known")
        return cls.between(f"gap:{trade_id}:{new.version}", trade_id, marker, new)

    @classmethod
    def from_images(
        cls,
        sequence_number: str,
        event_name: str,
        keys: Mapping[str, Any],
        new_image: Mapping[str, Any] | None,
        old_image: Mapping[str, Any] | None,
    ) -> TradeChange:
        new = state_of(new_image) if event_name in ("INSERT", "MODIFY") else None
        stamp = None if new is None or new_image is None else new_image.get("Timestamp")
        timestamp = None if stamp is None else Decimal(str(stamp))
        return cls.between(sequence_number, str(keys["pk"]), state_of(old_image), new, timestamp)


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
    """The applicable changes of one trade in a sub-batch, in stream order (versions increasing), and what the
    aggregates hold of the trade before them (``base``)."""

    trade_id: str
    changes: list[TradeChange] = field(default_factory=list)
    # What a cancelled transaction found in the trade's marker (None: no marker), once the chain is rebased on it.
    marker: AppliedState | None = None
    rebased: bool = False

    @property
    def first_version(self) -> int:
        return min(c.new_version for c in self.changes if c.new_version is not None)

    @property
    def last_version(self) -> int:
        return max(c.new_version for c in self.changes if c.new_version is not None)

    @property
    def newest(self) -> TradeChange:
        return max(self.changes, key=lambda c: -1 if c.new_version is None else c.new_version)

    @property
    def base(self) -> AppliedState | None:
        """What the aggregates hold of the trade before this chain, and so what its transaction expects the marker
        to hold: its first change's OldImage (the common case: nothing is read), or what a cancelled transaction
        found in the marker once the chain is rebased on it. None: nothing (no marker)."""
        return self.marker if self.rebased else self.changes[0].old_state

    def rebase(self, marker: AppliedState | None) -> TradeChain | None:
        """The chain on top of what the trade's marker holds: the changes it shows applied are dropped (a
        redelivery), and the rest applies against the marker's state (which, past a gap, is not their OldImage).
        None when nothing is left."""
        applied = -1 if marker is None else marker.version
        left = [c for c in self.changes if c.new_version is not None and c.new_version > applied]
        return TradeChain(self.trade_id, left, marker, rebased=True) if left else None

    def _replaced(self) -> Contribution | None:
        """The contribution the chain replaces: its base's. A marker that keeps its version only stands for its
        first change's OldImage, as before markers kept their state."""
        base = self.base
        if base is None:
            return None
        return self.changes[0].old if base.contribution is None else base.contribution

    def deltas(self, order: Sequence[str]) -> dict[str, Decimal]:
        """The newest version's contribution, less the one it replaces: exact, as DynamoDB adds (a delta that needs
        more than 38 digits raises ``decimal.Inexact``)."""
        deltas: dict[str, Decimal] = defaultdict(Decimal)
        newest, replaced = self.newest.new, self._replaced()
        with localcontext(DYNAMODB_ARITHMETIC):
            if newest is not None:
                for prefix in newest.prefixes(order):
                    deltas[prefix] += newest.value
            if replaced is not None:
                for prefix in replaced.prefixes(order):
                    deltas[prefix] -= replaced.value
        return dict(deltas)

    @property
    def message_count(self) -> int:
        """The versions the chain adds to ``message_count``: the StateTable's ``AcceptedVersions`` from its base to
        its newest change (a gap's versions included); its changes when either count is not known."""
        base = self.base
        newest, before = self.newest.new_accepted, 0 if base is None else base.accepted
        if newest is None or before is None:
            return len(self.changes)
        return newest - before

    def prefixes(self, order: Sequence[str]) -> set[str]:
        touched: set[str] = set()
        for contribution in (self.newest.new, self._replaced()):
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
        return sum(chain.message_count for chain in self.chains)

    @property
    def timestamps(self) -> list[Decimal]:
        return [c.timestamp for chain in self.chains for c in chain.changes if c.timestamp is not None]

    def expected_markers(self) -> dict[str, int | None]:
        """Per trade, the version its marker must hold for the transaction to apply (None: no marker)."""
        return {chain.trade_id: None if chain.base is None else chain.base.version for chain in self.chains}

    def deltas(self) -> dict[str, Decimal]:
        total: dict[str, Decimal] = defaultdict(Decimal)
        with localcontext(DYNAMODB_ARITHMETIC):
            for chain in self.chains:
                for prefix, delta in chain.deltas(self.order).items():
                    total[prefix] += delta
        return {prefix: delta for prefix, delta in total.items() if delta != 0}

    def without_applied(self, markers: Mapping[str, object]) -> tuple[SubBatch, list[str]]:
        """The sub-batch rebased on what the markers of some of its trades hold (as a store reports them:
        ``AppliedState.of``): the changes they show applied are dropped, the rest applies against the markers'
        state. Returns the rest and the dropped changes' sequence numbers."""
        kept: list[TradeChain] = []
        dropped: list[str] = []
        for chain in self.chains:
            if chain.trade_id not in markers:
                kept.append(chain)
                continue
            rest = chain.rebase(AppliedState.of(markers[chain.trade_id]))
            dropped.extend(c.sequence_number for c in chain.changes if rest is None or c not in rest.changes)
            if rest is not None:
                kept.append(rest)
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


def plan_sub_batches(
    changes: Sequence[TradeChange], order: Sequence[str], *, max_items: int = TRANSACT_MAX_ITEMS
) -> list[SubBatch]:
    """Group a batch's applicable changes by trade (first appearance order) into transaction-sized sub-batches.

    A trade's chain touches the prefixes of its newest version and of its base only (at most twice the levels of
    a hierarchy), so it always fits one transaction of its own: a trade is never cut across transactions.
    """
    chains: dict[str, TradeChain] = {}
    for change in changes:
        if change.applies:
            chains.setdefault(change.trade_id, TradeChain(change.trade_id)).changes.append(change)
    batches: list[SubBatch] = []
    current: list[TradeChain] = []
    prefixes: set[str] = set()  # of current: items_needed(current) is len(current) + len(prefixes) + 1
    for chain in chains.values():
        touched = chain.prefixes(order)
        if len(touched) + 2 > max_items:  # items_needed([chain]): its marker, its prefixes, message_count
            raise ValueError(f"the changes of trade {chain.trade_id} need more than {max_items} transaction items")
        if current and len(current) + 1 + len(prefixes | touched) + 1 > max_items:
            batches.append(SubBatch(current, order))
            current, prefixes = [], set()
        current.append(chain)
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
