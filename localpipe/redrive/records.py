"""The redrive's records: the poison queue and the StateLambda's give-ups.

A poison record that decodes now (or its edited copy, ``--records FILE``) and every record of a range the StateLambda
gave up, read back from its shard, are decided together: the newest version of each trade goes back on the stream
with its partition key when it is newer than the StateTable's (``plan.Decoded.resend``); a record of a range that
does not decode goes back too, unless the poison queue holds it already, so that the StateLambda quarantines it with
its reason. A range no longer in the stream is kept (past retention); a poison record that still does not decode is
kept (undecodable), its copies counted once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from localpipe.redrive.access import RiskStream, Tables
from localpipe.redrive.messages import MalformedMessageError, QueueMessage, batch_info, poison_record
from localpipe.redrive.plan import (
    MALFORMED,
    PAST_RETENTION,
    UNDECODABLE,
    Decoded,
    RedriveReport,
    StreamedRecord,
    copies,
    decode_all,
)


@dataclass
class RecordRedrive:
    stream: RiskStream
    tables: Tables
    dry_run: bool
    edits: Mapping[tuple[str, str], bytes]  # poison records' edited copies

    def __call__(self, poison: list[QueueMessage], state: list[QueueMessage], report: RedriveReport) -> None:
        quarantined = self._quarantined(poison, report)
        ranges = self._state_ranges(state, report)
        decoded = decode_all([r for _, records in ranges for r in records] + [r for _, r in quarantined])
        groups = copies(quarantined)
        self._resend(decoded, set(groups), report)
        report.fates.finish([message for message, _ in ranges], None)
        for key, messages in groups.items():
            report.fates.finish(messages, UNDECODABLE if key in decoded.undecodable_keys else None)

    def _resend(self, decoded: Decoded, quarantined: set[tuple[str, str]], report: RedriveReport) -> None:
        """Put back on the stream what changes the StateTable, and the records of a range that do not decode and
        are not quarantined yet (for the StateLambda to quarantine them, with their reason: each is left,
        undecodable, in the poison queue)."""
        resend = decoded.resend(self.tables.versions(decoded.trades))
        raw = decoded.unquarantined(quarantined)
        if not self.dry_run:
            self.stream.put([r for r, _ in resend] + raw)
        sources = Counter(r.source for r, _ in resend)
        for stage in ("state", "poison"):
            report.add(stage, sources[stage])
        report.fates.finish_unsent(len(raw), UNDECODABLE)

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
