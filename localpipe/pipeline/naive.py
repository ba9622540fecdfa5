"""The naive versions, kept to show what the real ones prevent (``--naive``).

* ``NaiveStateService`` reads the batch's trades first, then writes every record newer than what it
  read, unconditionally: read-then-write. Two versions of a trade in one batch both look newer than
  the stale read, so the older one can overwrite the newer one (a stale overwrite, a lost update).
* ``NaiveAggregateService`` (in place of the map, straight to the AggregateTable: no partial, no reduce) adds each
  change's delta with a plain ``ADD`` per record and keeps no marker, so every redelivery (a retried batch, a
  crash after the write, a lost checkpoint) counts twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from localpipe.stack.shapes import state_item
from riskpipe.aggregate_service import AggregateOutcome
from riskpipe.aggregation import SubBatch, TradeChain, TradeChange
from riskpipe.config import AggregateSettings, StateSettings
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.models import WriteOutcome
from riskpipe.poison import PoisonQueue
from riskpipe.state_service import BatchDecisions, Decision, PoisonSink, StateService, StreamRecord


class NaiveStateService(StateService):
    def __init__(self, client: Any, table_name: str, poison: PoisonSink) -> None:
        super().__init__(store=None, poison=poison)  # type: ignore[arg-type]
        self._client = client
        self._table = table_name

    def decide(self, records: Sequence[StreamRecord], time_left: float | None = None) -> BatchDecisions:
        decisions, valid = self.admit_all(records)
        read = self._read_versions({m.TradeID for _, m in valid})
        for record, message in valid:
            stored = read.get(message.TradeID, -1)
            if message.Version > stored:
                self._client.put_item(TableName=self._table, Item=state_item(message))
                outcome = WriteOutcome.ACCEPTED
            else:
                outcome = WriteOutcome.DUPLICATE if message.Version == stored else WriteOutcome.STALE
            decisions.by_sequence[record.sequence_number] = Decision(
                outcome=outcome, trade_id=message.TradeID, version=message.Version
            )
        return decisions

    def _read_versions(self, trade_ids: set[str]) -> dict[str, int]:
        versions: dict[str, int] = {}
        keys = [{"pk": {"S": t}} for t in sorted(trade_ids)]
        for start in range(0, len(keys), 100):
            request: Any = {self._table: {"Keys": keys[start : start + 100], "ProjectionExpression": "pk, Version"}}
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self._table, []):
                    versions[item["pk"]["S"]] = int(item["Version"]["N"])
                request = response.get("UnprocessedKeys") or None
        return versions


class NaiveAggregateService:
    """Same interface as AggregateService; ADD per record, no marker, no transaction."""

    def __init__(self, client: Any, aggregate_table: str, order: Sequence[str]) -> None:
        self._client = client
        self._table = aggregate_table
        self._order = tuple(order)

    def apply(self, changes: Sequence[TradeChange]) -> AggregateOutcome:
        outcome = AggregateOutcome(ignored={c.sequence_number for c in changes if not c.applies})
        for change in changes:
            if not change.applies:
                continue
            deltas = SubBatch([TradeChain(change.trade_id, [change])], self._order).deltas()
            for identifier, delta in {**deltas, MESSAGE_COUNT_ID: Decimal(1)}.items():
                self._client.update_item(
                    TableName=self._table,
                    Key={"Identifier": {"S": identifier}},
                    UpdateExpression="ADD #Value :delta",
                    ExpressionAttributeNames={"#Value": "Value"},
                    ExpressionAttributeValues={":delta": {"N": str(delta)}},
                )
            outcome.applied.add(change.sequence_number)
        return outcome


def naive_state_service(settings: StateSettings, session: Any) -> NaiveStateService:
    poison = PoisonQueue(settings.poison_queue_url, session.client("sqs"))
    return NaiveStateService(session.client("dynamodb"), settings.state_table_name, poison)


def naive_aggregate_service(aggregate_table: str) -> Callable[[AggregateSettings, Any], NaiveAggregateService]:
    """The factory of the naive aggregate, writing to ``aggregate_table`` (the map itself writes no aggregate)."""

    def build(settings: AggregateSettings, session: Any) -> NaiveAggregateService:
        return NaiveAggregateService(session.client("dynamodb"), aggregate_table, settings.aggregation_order)

    return build
