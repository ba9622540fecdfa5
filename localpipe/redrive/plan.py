"""The redrive's decisions, pure: which records to put on the stream again, which trades the map must bring up to
the StateTable, what each queue message becomes, and how the whole run is counted.

Every record the redrive could put back (a record of a range the StateLambda gave up, read back from the stream; a
poison record that decodes now) is decided here against the StateTable's versions: only the newest version of a
trade, and only when it is newer than what the StateTable holds, is put on the stream again (the conditional
versioned write would refuse the others: they would change nothing). "Brought back" counts those: records whose
state changes, never the length of a range; and for the map and the reduce, the trades and the partials applied.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, DecimalException
from typing import Any

from pydantic import ValidationError

from localpipe.redrive.messages import QueueMessage
from riskpipe.aggregation import AppliedState, TradeChange
from riskpipe.errors import InvalidChangeError
from riskpipe.models import PoisonRecordError, RiskMessage, decode_risk_message

# Why a message stays in its queue (the report names the first three).
PAST_RETENTION = "past retention"  # its records left the stream (24 h) and no copy is kept: they cannot come back
UNDECODABLE = "undecodable"  # a poison record that still does not decode (and no edited copy was given)
SET_ASIDE = "set aside"  # DynamoDB still refuses it: the repair in docs/operations.md
MALFORMED = "malformed"  # not what its queue holds
FAILED = "failed"  # applying it failed this time (a conflict, a throttle): the next run tries again
STATELESS_MARKER = "marker without its state"  # a marker of a stack from before markers kept their state: reconcile


# the stages whose records the last line counts, in its order
BROUGHT_BACK = ("state", "map", "combine", "reduce", "poison")


REPAIRS = {
    PAST_RETENTION: "StateLambda ranges are no longer in the stream (24 h) and cannot be read back: their records "
    "must be sent again by their producer",
    UNDECODABLE: "poison records still do not decode: fix them at their producer, or give edited copies with "
    "--records FILE (docs/operations.md)",
    SET_ASIDE: "changes or partials DynamoDB still refuses: correct the trade in the StateTable, then redrive again "
    "(docs/operations.md)",
    STATELESS_MARKER: "messages wait on markers written before markers kept their state: make reconcile ARGS="
    '"--stack NAME --repair" (mappings paused), then redrive again',
    FAILED: "messages failed this time (a conflict, a throttle): redrive again",
    MALFORMED: "messages are not what their queue holds: read them",
}


@dataclass(frozen=True)
class StreamedRecord:
    """A record as it was on the risk stream: where it was (shard and sequence number), its partition key, its data.
    ``source``: the stage it comes back for (state: a range given up; poison: a poison record)."""

    source: str
    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes

    @property
    def key(self) -> tuple[str, str]:
        return self.shard_id, self.sequence_number


@dataclass(frozen=True)
class Decoded:
    """Records read back, each once (by shard and sequence number; the first copy wins): those that decode, with
    their message, and those that do not, with the reason."""

    records: list[tuple[StreamedRecord, RiskMessage]]
    undecodable: list[tuple[StreamedRecord, str]]

    @property
    def trades(self) -> set[str]:
        return {message.TradeID for _, message in self.records}

    @property
    def undecodable_keys(self) -> set[tuple[str, str]]:
        return {record.key for record, _ in self.undecodable}

    def unquarantined(self, quarantined: set[tuple[str, str]]) -> list[StreamedRecord]:
        """The records of a range the StateLambda gave up that do not decode and that the poison queue does not
        hold: put back on the stream, the StateLambda quarantines them with their reason."""
        return [r for r, _ in self.undecodable if r.source == "state" and r.key not in quarantined]

    def resend(self, stored: Mapping[str, int]) -> list[tuple[StreamedRecord, RiskMessage]]:
        """Per trade, its newest version, when it is newer than the version the StateTable holds (``stored``; a
        trade absent from it has none): the records whose state changes once put on the stream again."""
        newest: dict[str, tuple[StreamedRecord, RiskMessage]] = {}
        for record, message in self.records:
            current = newest.get(message.TradeID)
            if current is None or message.Version > current[1].Version:
                newest[message.TradeID] = (record, message)
        return [(r, m) for r, m in newest.values() if m.Version > stored.get(m.TradeID, -1)]


def decode_all(records: Iterable[StreamedRecord]) -> Decoded:
    """Each record once (a record seen twice, same shard and sequence number, is one record)."""
    decoded: list[tuple[StreamedRecord, RiskMessage]] = []
    undecodable: list[tuple[StreamedRecord, str]] = []
    seen: set[tuple[str, str]] = set()
    for record in records:
        if record.key in seen:
            continue
        seen.add(record.key)
        try:
            decoded.append((record, decode_risk_message(record.data)))
        except PoisonRecordError as exc:
            undecodable.append((record, exc.reason))
    return Decoded(decoded, undecodable)


def copies(records: Iterable[tuple[QueueMessage, StreamedRecord]]) -> dict[tuple[str, str], list[QueueMessage]]:
    """The messages of each record (by shard and sequence number): a poison record quarantined again (delivered
    twice) has several copies, counted once."""
    grouped: dict[tuple[str, str], list[QueueMessage]] = {}
    for message, record in records:
        grouped.setdefault(record.key, []).append(message)
    return grouped


def behind(markers: Mapping[str, int], stored: Mapping[str, int]) -> list[str]:
    """The trades whose marker (its version; absent: no marker) is below the version the StateTable holds: the map
    gave a change of theirs up, or set it aside, and no later change has healed it yet."""
    return sorted(trade for trade, version in stored.items() if markers.get(trade, -1) < version)


def gaps(
    state: Mapping[str, Mapping[str, Any]], markers: Mapping[str, AppliedState]
) -> tuple[list[TradeChange], dict[str, str]]:
    """The change from each lagging trade's marker to its StateTable item, and the trades that cannot have one (a
    marker that keeps its version only: what it applied is not known)."""
    lagging = behind({t: m.version for t, m in markers.items()}, {t: int(item["Version"]) for t, item in state.items()})
    failed = {t: STATELESS_MARKER for t in lagging if t in markers and markers[t].contribution is None}
    return [TradeChange.gap(t, markers.get(t), state[t]) for t in lagging if t not in failed], failed


def why(error: BaseException) -> str:
    """Why an item the map or the reduce could not apply stays: DynamoDB refuses it (a sum it cannot store), or it
    failed this time (a conflict, a throttle)."""
    return SET_ASIDE if isinstance(error, InvalidChangeError | DecimalException) else FAILED


def reason(failed: Mapping[str, str], keys: Iterable[str]) -> str | None:
    """Why a message whose items are ``keys`` stays (the first of its items that failed), None when none failed."""
    return next((failed[key] for key in keys if key in failed), None)


Ranges = list[tuple[QueueMessage, set[str] | None]]  # each message with what its range holds (None: gone)


def union(ranges: Ranges) -> set[str]:
    """What the ranges still in their streams hold, together."""
    return {key for _, keys in ranges if keys is not None for key in keys}


def partial_ids(records: list[dict[str, Any]]) -> set[str]:
    """The partials a range of a partials table's stream put (its INSERTs): the sort key where the table has one
    (the ReduceTable's), else the partition key (the PartialTable's)."""
    keys = [r["dynamodb"]["Keys"] for r in records if r.get("eventName") == "INSERT"]
    return {(key["sk"] if "sk" in key else key["pk"])["S"] for key in keys}


def trades_of(records: list[dict[str, Any]]) -> set[str]:
    """The trades a range of the StateTable's stream changed."""
    return {r["dynamodb"]["Keys"]["pk"]["S"] for r in records}


def edited_records(text: str) -> dict[tuple[str, str], bytes]:
    """``--records FILE``: JSON lines, each a poison record's ``shard_id`` and ``sequence_number`` with its edited
    copy, as ``data_base64`` or as the ``message`` itself (a JSON object)."""
    edits: dict[tuple[str, str], bytes] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line, parse_float=Decimal)
            key = (str(entry["shard_id"]), str(entry["sequence_number"]))
            if "message" in entry:
                edits[key] = _wire(entry["message"])
            else:
                edits[key] = base64.b64decode(entry["data_base64"], validate=True)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"line {number}: not a record (shard_id, sequence_number, data_base64 or message): {exc}"
            ) from exc
    return edits


def _wire(message: object) -> bytes:
    """An edited message as the producer writes it (exact numbers); one that is still not a risk message as it is
    (it will stay, with its new reason)."""
    try:
        return RiskMessage.model_validate(message).to_wire()
    except ValidationError:
        return json.dumps(message, default=str).encode()


@dataclass
class Fates:
    """What becomes of each message of a run: done (deleted: what it stands for is applied or re-sent), or kept
    with its reason (made visible again). Copies of one record are one entry: ``kept`` counts records, not copies."""

    done: list[QueueMessage] = field(default_factory=list)
    kept: dict[str, list[list[QueueMessage]]] = field(default_factory=dict)

    def finish(self, messages: Sequence[QueueMessage], reason: str | None) -> None:
        """``reason`` None: done; else kept, the messages counted as one."""
        if reason is None:
            self.done.extend(messages)
        else:
            self.kept.setdefault(reason, []).append(list(messages))

    def finish_each(self, messages: Sequence[QueueMessage], reason: str) -> None:
        """Each message kept for ``reason``, counted on its own."""
        for message in messages:
            self.finish([message], reason)

    def finish_unsent(self, count: int, reason: str) -> None:
        """``count`` records kept for ``reason`` that no message of this run stands for."""
        self.kept.setdefault(reason, []).extend([] for _ in range(count))

    def left(self, reason: str | None = None) -> int:
        if reason is None:
            return sum(len(groups) for groups in self.kept.values())
        return len(self.kept.get(reason, []))

    def kept_messages(self) -> list[QueueMessage]:
        return [m for groups in self.kept.values() for group in groups for m in group]


@dataclass
class RedriveReport:
    """What a redrive did: per stage, the records whose state it changed; what it left, and why; and whether the
    aggregates equal what the StateTable says once it is done."""

    brought_back: dict[str, int] = field(default_factory=dict)  # state, map, combine, reduce, poison
    fates: Fates = field(default_factory=Fates)
    exact: bool | None = None
    dry_run: bool = False
    combining: bool = False  # the stack has the combining level: its lanes are a stage of the report

    @property
    def stages(self) -> tuple[str, ...]:
        return BROUGHT_BACK if self.combining else tuple(s for s in BROUGHT_BACK if s != "combine")

    def to_json(self) -> dict[str, Any]:
        return {
            "brought_back": {stage: self.brought_back.get(stage, 0) for stage in self.stages},
            "left": {cause: self.fates.left(cause) for cause in REPAIRS if self.fates.left(cause)},
            "exact": self.exact,
            "line": self.last_line(),
        }

    def notes(self) -> list[str]:
        """For each reason a message stays, what to do about it (docs/operations.md, the alarms)."""
        return [f"{self.fates.left(cause):,} {REPAIRS[cause]}" for cause in REPAIRS if self.fates.left(cause)]

    def add(self, stage: str, count: int) -> None:
        self.brought_back[stage] = self.brought_back.get(stage, 0) + count

    def last_line(self) -> str:
        """The redrive's last line, as ``make redrive`` prints it."""
        back = ", ".join(f"{stage} {self.brought_back.get(stage, 0):,}" for stage in self.stages)
        fates = self.fates
        left = (
            f"{fates.left():,} left (past retention {fates.left(PAST_RETENTION):,}, "
            f"undecodable {fates.left(UNDECODABLE):,}, set aside {fates.left(SET_ASIDE):,})"
        )
        verdict = "EXACT" if self.exact else "DRIFT"
        return f"redrive: {back} brought back; {left}; aggregates {verdict}"
