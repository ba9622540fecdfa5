"""One redrive: every queue read, what each message stands for brought back, exactly once, and safe while the event
source mappings run; then the aggregates reconciled with the StateTable.

In this order:

1. **records** (the poison queue and the StateLambda's give-ups): a poison record that decodes now (or its edited
   copy, ``--records FILE``) and every record of a range the StateLambda gave up, read back from its shard, are
   decided together: the newest version of each trade goes back on the stream with its partition key when it is
   newer than the StateTable's (``plan.Decoded.resend``); a record of a range that does not decode goes back too,
   unless the poison queue holds it already, so that the StateLambda quarantines it with its reason. A range no
   longer in the stream is kept (past retention); a poison record that still does not decode is kept
   (undecodable), its copies counted once;
2. **the combining lanes** (their give-ups, and the partials set aside that wait in the PartialTable; with the
   combining level only): the partials of the ranges still in the PartialTable (every partial there when a range is
   gone) are combined by the combine's own service into the ReduceTable, each deleted under its condition: one
   combined meanwhile is skipped; the combined partials it writes are the reduce's next;
3. **the reduce** (its give-ups, the partials set aside that wait in the ReduceTable, and what step 2 combined): the
   partials of the ranges still in the ReduceTable (every partial there when a range is gone) are applied by the
   reduce's own service, each deleted under its condition: one applied meanwhile is skipped;
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
    batch_info,
    poison_record,
    set_aside,
)
from localpipe.redrive.plan import (
    MALFORMED,
    PAST_RETENTION,
    SET_ASIDE,
    UNDECODABLE,
    Decoded,
    Ranges,
    RedriveReport,
    StreamedRecord,
    copies,
    decode_all,
    gaps,
    partial_ids,
    reason,
    trades_of,
    union,
    why,
)
from localpipe.redrive.stack import STAGES, RedriveStack
from riskpipe.aggregation import SetAsideChange, TradeChange
from riskpipe.partials import Partial, SetAsidePartial


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
        report = RedriveReport(dry_run=self.dry_run)
        received = {
            stage: self.queues.receive(stage) if stage in stages and self.queues.has(stage) else [] for stage in STAGES
        }
        try:
            self._records(received["poison"], received["state"], report)
            changes, partials = self._set_aside(received["set aside"], report)
            combined = self._combine(received["combine"], partials, report)
            left = {p.partial_id: p for p in self.tables.reduce_partials()}
            self._redrive_partials("reduce", received["reduce"], left, partials, combined, report)
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

    # ------------------------------------------------------------------ records: poison and the StateLambda's

    def _records(self, poison: list[QueueMessage], state: list[QueueMessage], report: RedriveReport) -> None:
        quarantined = self._quarantined(poison, report)
        ranges = self._state_ranges(state, report)
        decoded = decode_all([r for _, records in ranges for r in records] + [r for _, r in quarantined])
        groups = copies(quarantined)
        self._resend(decoded, set(groups), report)
        report.fates.finish([message for message, _ in ranges], None)
        undecodable = {r.key for r, _ in decoded.undecodable}
        for key, messages in groups.items():
            report.fates.finish(messages, UNDECODABLE if key in undecodable else None)

    def _resend(self, decoded: Decoded, quarantined: set[tuple[str, str]], report: RedriveReport) -> None:
        """Put back on the stream what changes the StateTable, and the records of a range that do not decode and
        are not quarantined yet (for the StateLambda to quarantine them, with their reason)."""
        resend = decoded.resend(self.tables.versions(decoded.trades))
        raw = [r for r, _ in decoded.undecodable if r.source == "state" and r.key not in quarantined]
        if not self.dry_run:
            self.stream.put([r for r, _ in resend] + raw)
        for stage in ("state", "poison"):
            report.add(stage, sum(1 for r, _ in resend if r.source == stage))
        for _ in raw:  # each will be in the poison queue, with its reason: left, undecodable
            report.fates.finish([], UNDECODABLE)

    def _state_ranges(
        self, messages: list[QueueMessage], report: RedriveReport
    ) -> list[tuple[QueueMessage, list[StreamedRecord]]]:
        """Each range the StateLambda gave up, read back from its shard (a range no longer there stays)."""
        ranges = []
        for message in messages:
            try:
                records = self.stream.read(batch_info(message))
            except MalformedMessageError:
                report.fates.finish([message], MALFORMED)
                continue
            if records is None:
                report.fates.finish([message], PAST_RETENTION)
                continue
            ranges.append((message, [self._edited(r) for r in records]))
        return ranges

    def _quarantined(
        self, poison: list[QueueMessage], report: RedriveReport
    ) -> list[tuple[QueueMessage, StreamedRecord]]:
        found = []
        for message in poison:
            try:
                record = poison_record(message)
            except MalformedMessageError:
                report.fates.finish([message], MALFORMED)
                continue
            streamed = StreamedRecord(
                "poison", record.shard_id, record.sequence_number, record.partition_key, record.data
            )
            found.append((message, self._edited(streamed)))
        return found

    def _edited(self, record: StreamedRecord) -> StreamedRecord:
        data = self.edits.get(record.key)
        return (
            record
            if data is None
            else StreamedRecord(record.source, record.shard_id, record.sequence_number, record.partition_key, data)
        )

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

    def _ranges(self, messages: list[QueueMessage], holds: Any, report: RedriveReport) -> Ranges:
        """Each on-failure message with the keys its range holds (``holds(records)``), None when the range is gone."""
        ranges: Ranges = []
        for message in messages:
            try:
                records = self.table_streams.read(batch_info(message))
            except MalformedMessageError:
                report.fates.finish([message], MALFORMED)
                continue
            ranges.append((message, None if records is None else holds(records)))
        return ranges

    # ------------------------------------------------------------------ the combining lanes and the reduce

    def _combine(
        self, messages: list[QueueMessage], set_aside: dict[str, list[QueueMessage]], report: RedriveReport
    ) -> set[str]:
        """The combining lanes' give-ups and the set-aside partials waiting in the PartialTable, combined into the
        ReduceTable (their messages finished here, taken out of ``set_aside``); the keys of the combined partials
        written, for the reduce."""
        left = {p.partial_id: p for p in self.tables.combine_partials()}
        mine = {pid: set_aside.pop(pid) for pid in sorted(set(set_aside) & set(left))}
        before = {p.partial_id for p in self.tables.reduce_partials()} if left else set()
        self._redrive_partials("combine", messages, left, mine, set(), report)
        return ({p.partial_id for p in self.tables.reduce_partials()} - before) if left else set()

    def _redrive_partials(
        self,
        stage: str,
        messages: list[QueueMessage],
        left: dict[str, Partial],
        set_aside: dict[str, list[QueueMessage]],
        more: set[str],
        report: RedriveReport,
    ) -> None:
        """The partials ``left`` in the stage's table that its messages' ranges put there (every one when a range is
        gone), the set-aside ones and ``more``, applied by the stage's own service; each message finished."""
        ranges = self._ranges(messages, partial_ids, report)
        wanted = set(left) if any(ids is None for _, ids in ranges) else union(ranges) | set(set_aside) | more
        chosen = [left[pid] for pid in sorted(wanted & set(left))]
        failed = self._apply_partials(stage, chosen, set(set_aside) & set(left), report)
        for message, ids in ranges:
            report.fates.finish([message], reason(failed, sorted(left if ids is None else ids)))
        for pid, copies_of in set_aside.items():
            report.fates.finish(copies_of, failed.get(pid))

    def _apply_partials(
        self, stage: str, chosen: list[Partial], set_aside: set[str], report: RedriveReport
    ) -> dict[str, str]:
        """Apply the partials with the stage's service (the combine's or the reduce's); the ones that failed, with
        why."""
        if self.dry_run:  # whether DynamoDB still refuses a partial it set aside is not known without trying
            report.add(stage, len(chosen))
            return dict.fromkeys(set_aside, SET_ASIDE)
        if not chosen:
            return {}
        service = self.tables.combine_service() if stage == "combine" else self.tables.reduce_service()
        outcome = service.apply(chosen)
        report.add(stage, len(outcome.applied))
        return {pid: why(error) for pid, error in outcome.failed.items()}

    # ------------------------------------------------------------------ the map

    def _map(
        self,
        messages: list[QueueMessage],
        set_aside: dict[str, list[tuple[QueueMessage, SetAsideChange]]],
        report: RedriveReport,
    ) -> None:
        ranges = self._ranges(messages, trades_of, report)
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
