"""The redrive's partials: the combining lanes' give-ups and the reduce's.

With the combining level, the partials of the ranges the combining lanes gave up that are still in the PartialTable
(every partial there when a range is gone), and the set-aside ones waiting there, are combined by the combine's own
service into the ReduceTable, each deleted under its condition: one combined meanwhile is skipped; the combined
partials it writes are the reduce's next. Then the partials of the ranges the reduce gave up that are still in the
ReduceTable (every partial there when a range is gone), the set-aside ones waiting there and what was just combined
are applied by the reduce's own service, each deleted under its condition: one applied meanwhile is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from localpipe.redrive.access import Tables, TableStreams
from localpipe.redrive.messages import QueueMessage
from localpipe.redrive.plan import MALFORMED, SET_ASIDE, RedriveReport, partial_ids, reason, union, why
from riskpipe.partials import Partial


@dataclass
class PartialRedrive:
    table_streams: TableStreams
    tables: Tables
    dry_run: bool

    def combine(
        self, messages: list[QueueMessage], set_aside: dict[str, list[QueueMessage]], report: RedriveReport
    ) -> set[str]:
        """The combining lanes' give-ups and the set-aside partials waiting in the PartialTable, combined into the
        ReduceTable (their messages finished here, taken out of ``set_aside``); the keys of the combined partials
        written, for the reduce."""
        left = {p.partial_id: p for p in self.tables.combine_partials()}
        mine = {pid: set_aside.pop(pid) for pid in sorted(set(set_aside) & set(left))}
        before = self._waiting_for_reduce(left)
        self.redrive("combine", messages, left, mine, set(), report)
        return self._waiting_for_reduce(left) - before

    def _waiting_for_reduce(self, left: dict[str, Partial]) -> set[str]:
        """The keys of the partials in the ReduceTable (not read when nothing waits to be combined)."""
        return {p.partial_id for p in self.tables.reduce_partials()} if left else set()

    def reduce(
        self,
        messages: list[QueueMessage],
        set_aside: dict[str, list[QueueMessage]],
        combined: set[str],
        report: RedriveReport,
    ) -> None:
        """The reduce's give-ups, the set-aside partials waiting in the ReduceTable and what was ``combined``."""
        left = {p.partial_id: p for p in self.tables.reduce_partials()}
        self.redrive("reduce", messages, left, set_aside, combined, report)

    def redrive(
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
        ranges, malformed = self.table_streams.ranges(messages, partial_ids)
        report.fates.finish_each(malformed, MALFORMED)
        wanted = set(left) if any(ids is None for _, ids in ranges) else union(ranges) | set(set_aside) | more
        chosen = [left[pid] for pid in sorted(wanted & set(left))]
        failed = self._apply(stage, chosen, set(set_aside) & set(left), report)
        for message, ids in ranges:
            report.fates.finish([message], reason(failed, sorted(left if ids is None else ids)))
        for pid, copies_of in set_aside.items():
            report.fates.finish(copies_of, failed.get(pid))

    def _apply(self, stage: str, chosen: list[Partial], set_aside: set[str], report: RedriveReport) -> dict[str, str]:
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
