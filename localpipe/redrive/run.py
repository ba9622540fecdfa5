"""One redrive: every queue read, what each message stands for brought back, exactly once, and safe while the event
source mappings run; then the aggregates reconciled with the StateTable.

In this order:

1. **records** (the poison queue and the StateLambda's give-ups): ``records.RecordRedrive``;
2. **the combining lanes** (their give-ups, and the partials set aside that wait in the PartialTable; with the
   combining level only): ``partials.PartialRedrive.combine``;
3. **the reduce** (its give-ups, the partials set aside that wait in the ReduceTable, and what step 2 combined):
   ``partials.PartialRedrive.reduce``;
4. **the map** (its give-ups, and the changes set aside): each trade of the ranges (every trade when a range is
   gone) whose marker is below the StateTable's version gets the change from its marker's state to the
   StateTable's item, applied by the map's own service under the marker's condition (a gap, as the trade's next
   change would heal it): a trade the mapping moved meanwhile is rebased or dropped, as in the map itself.

A message is deleted once what it stands for is applied or re-sent; the others are made visible again, with their
reason. ``dry_run``: everything is read and decided, nothing is written or deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from decimal import DecimalException
from typing import Any

from localpipe.redrive.access import Queues, RiskStream, Tables, TableStreams
from localpipe.redrive.drift import reconcile
from localpipe.redrive.messages import (
    MalformedMessageError,
    QueueMessage,
    set_aside,
)
from localpipe.redrive.partials import PartialRedrive
from localpipe.redrive.plan import (
    MALFORMED,
    SET_ASIDE,
    RedriveReport,
    gaps,
    reason,
    trades_of,
    union,
    why,
)
from localpipe.redrive.records import RecordRedrive
from localpipe.redrive.stack import STAGES, RedriveStack
from riskpipe.aggregation import SetAsideChange, TradeChange
from riskpipe.partials import SetAsidePartial


@dataclass
class Redrive:
    queues: Queues
    stream: RiskStream
    table_streams: TableStreams
    tables: Tables
    _: KW_ONLY
    dry_run: bool = False
    edits: Mapping[tuple[str, str], bytes] = field(default_factory=dict)  # poison records' edited copies

    @classmethod
    def on(cls, stack: RedriveStack, client: Callable[[str], Any], *, wait_seconds: int = 1, **options: Any) -> Redrive:
        """A redrive of ``stack``, its clients made by ``client(service)``; ``wait_seconds``: the queues' long
        polling (0 on a local AWS, whose queues answer at once)."""
        return cls(
            Queues(client("sqs"), stack.queues, wait_seconds=wait_seconds),
            RiskStream(client("kinesis"), stack.stream_name),
            TableStreams(client("dynamodbstreams")),
            Tables(client("dynamodb"), stack.tables),
            **options,
        )

    def run(self, stages: Sequence[str] = STAGES) -> RedriveReport:
        report = RedriveReport(dry_run=self.dry_run, combining=self.queues.has("combine"))
        received = {
            stage: self.queues.receive(stage) if stage in stages and self.queues.has(stage) else [] for stage in STAGES
        }
        try:
            records = RecordRedrive(self.stream, self.tables, self.dry_run, self.edits)
            records(received["poison"], received["state"], report)
            changes, partials = self._set_aside(received["set aside"], report)
            lanes = PartialRedrive(self.table_streams, self.tables, self.dry_run)
            lanes.reduce(received["reduce"], partials, lanes.combine(received["combine"], partials, report), report)
            self._map(received["map"], changes, report)
        finally:
            self._settle([m for messages in received.values() for m in messages], report)
        report.exact = exact(self.tables)
        return report

    def _settle(self, received: list[QueueMessage], report: RedriveReport) -> None:
        done = {(m.queue, m.message_id) for m in report.fates.done}
        if not self.dry_run:
            self.queues.delete(report.fates.done)
        self.queues.release([m for m in received if self.dry_run or (m.queue, m.message_id) not in done])

    # ------------------------------------------------------------------ set aside: the map's and the reduce's

    def _set_aside(
        self, messages: list[QueueMessage], report: RedriveReport
    ) -> tuple[dict[str, list[tuple[QueueMessage, SetAsideChange]]], dict[str, list[QueueMessage]]]:
        changes: dict[str, list[tuple[QueueMessage, SetAsideChange]]] = {}
        partials: dict[str, list[QueueMessage]] = {}
        for message in messages:
            try:
                item = set_aside(message)
            except MalformedMessageError:
                report.fates.finish([message], MALFORMED)
                continue
            if isinstance(item, SetAsidePartial):
                partials.setdefault(item.partial_id, []).append(message)
            else:
                changes.setdefault(item.trade_id, []).append((message, item))
        return changes, partials

    # ------------------------------------------------------------------ the map

    def _map(
        self,
        messages: list[QueueMessage],
        set_aside: dict[str, list[tuple[QueueMessage, SetAsideChange]]],
        report: RedriveReport,
    ) -> None:
        ranges, malformed = self.table_streams.ranges(messages, trades_of)
        report.fates.finish_each(malformed, MALFORMED)
        sweep = any(trades is None for _, trades in ranges)
        state = self.tables.state(None if sweep else union(ranges) | set(set_aside))
        changes, failed = gaps(state, self.tables.markers(state))
        failed |= self._apply_gaps(changes, set(set_aside), report)
        for message, trades in ranges:
            report.fates.finish([message], reason(failed, sorted(state if trades is None else trades)))
        for trade, items in set_aside.items():
            report.fates.finish([message for message, _ in items], failed.get(trade))

    def _apply_gaps(self, changes: list[TradeChange], set_aside: set[str], report: RedriveReport) -> dict[str, str]:
        """Apply the gaps with the map's service; the trades that failed, with why."""
        if self.dry_run:  # whether DynamoDB still refuses a change it set aside is not known without trying
            report.add("map", len(changes))
            return dict.fromkeys({c.trade_id for c in changes} & set_aside, SET_ASIDE)
        if not changes:
            return {}
        outcome = self.tables.map_service().apply(changes)
        report.add("map", len(outcome.applied))
        return {
            c.trade_id: why(outcome.failed[c.sequence_number]) for c in changes if c.sequence_number in outcome.failed
        }


def exact(tables: Tables) -> bool:
    """Whether the aggregates (and the partials waiting) equal what the StateTable says; not when the StateTable's
    own totals are more than DynamoDB can store (a trade written around the numeric domain: correct it)."""
    try:
        return reconcile(tables.client, tables.names).exact
    except DecimalException:
        return False
