"""The versions the benchmarks compare ours with. They decide the same batches through the same interface.

* ``IdempotentStateService``: the StateLambda built on Powertools' ``@idempotent_function``, one idempotency
  record per stream record (keyed by trade and version), around the same versioned write. Idempotency alone
  cannot order versions, so the conditional write stays; the idempotency layer adds its own writes.
* The naive versions are ``localpipe.pipeline.naive`` (read-then-write; ADD per record).
* ``one_transaction_aggregate``: this project's previous aggregate stage, the markers and the batch's deltas (an
  ``ADD`` per aggregate, ``message_count`` included) in one TransactWriteItems. Exact, but every transaction
  touches the root aggregates and ``message_count``: the items that bind (see docs/performance.md).
* ``MapReduceAggregate``: the workshop's aggregate shape: a map step writes its batch's pre-aggregated totals
  as one item of a reduce table, and a reduce step applies them in one TransactWriteItems with a
  ClientRequestToken (idempotent for 10 minutes, and only for the same batch).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function

from riskpipe.aggregate_service import AggregateOutcome, AggregateService
from riskpipe.aggregate_store import Effect, MarkerStore, add_item
from riskpipe.aggregation import SubBatch, TradeChange, plan_sub_batches
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.models import PoisonRecordError, RiskMessage, WriteOutcome, decode_risk_message
from riskpipe.state_service import BatchDecisions, Decision, StateStore, StreamRecord


class _Context:
    function_name, memory_limit_in_mb, aws_request_id, invoked_function_arn = "state", 512, "bench", ""

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class IdempotentStateService:
    def __init__(self, store: StateStore, client: Any, idempotency_table: str) -> None:
        persistence = DynamoDBPersistenceLayer(table_name=idempotency_table, boto3_client=client)
        config = IdempotencyConfig(event_key_jmespath="[TradeID, Version]", raise_on_no_idempotency_key=True)
        config.register_lambda_context(_Context())  # type: ignore[arg-type]  # a stand-in for Lambda's context

        @idempotent_function(data_keyword_argument="record", persistence_store=persistence, config=config)
        def write(record: dict[str, Any]) -> str:
            return store.put_if_newer(RiskMessage.model_validate(record)).outcome.value

        self._write = write
        self.effects = 0

    def decide(self, records: Sequence[StreamRecord], time_left: float | None = None) -> BatchDecisions:
        decisions = BatchDecisions()
        for record in records:
            try:
                message = decode_risk_message(record.data)
            except PoisonRecordError as exc:
                decisions.by_sequence[record.sequence_number] = Decision(outcome=WriteOutcome.POISON, reason=exc.reason)
                continue
            outcome = WriteOutcome(self._write(record=json.loads(message.to_wire(), parse_float=Decimal)))
            decisions.by_sequence[record.sequence_number] = Decision(outcome=outcome, trade_id=message.TradeID)
        return decisions


def deltas_beside_markers(aggregate_table: str) -> Effect:
    """The previous design's effect: the sub-batch's deltas and its message count, ADDed in the markers'
    transaction."""

    def items(batch: SubBatch) -> list[Any]:
        deltas = {**batch.deltas(), MESSAGE_COUNT_ID: Decimal(batch.message_count)}
        return [add_item(aggregate_table, k, v) for k, v in sorted(deltas.items())]

    return items


def one_transaction_aggregate(
    client: Any, aggregate_table: str, marker_table: str, order: Sequence[str]
) -> AggregateService:
    store = MarkerStore(marker_table, client, effect=deltas_beside_markers(aggregate_table))
    return AggregateService(store, order, plan=plan_sub_batches)


class MapReduceAggregate:
    """Same interface as AggregateService."""

    def __init__(self, client: Any, aggregate_table: str, reduce_table: str, order: Sequence[str]) -> None:
        self._client = client
        self._aggregates = aggregate_table
        self._reduce = reduce_table
        self._order = tuple(order)

    def apply(self, changes: Sequence[TradeChange]) -> AggregateOutcome:
        outcome = AggregateOutcome(ignored={c.sequence_number for c in changes if not c.applies})
        totals = self._totals(changes)
        count = sum(1 for c in changes if c.applies)
        token = hashlib.sha256("".join(c.sequence_number for c in changes).encode()).hexdigest()[:36]
        # map: one item holding the batch's totals
        self._client.put_item(
            TableName=self._reduce,
            Item={"id": {"S": token}, "totals": {"M": {k: {"N": str(v)} for k, v in totals.items()}}},
        )
        # reduce: one transaction of ADDs, idempotent for ten minutes through its token
        totals[MESSAGE_COUNT_ID] = Decimal(count)
        updates = self._updates(totals)
        for start in range(0, len(updates), 100):
            self._client.transact_write_items(TransactItems=updates[start : start + 100], ClientRequestToken=token)
        outcome.applied.update(c.sequence_number for c in changes if c.applies)
        outcome.transactions = (len(updates) + 99) // 100
        return outcome

    def _totals(self, changes: Sequence[TradeChange]) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for batch in plan_sub_batches(changes, self._order, max_items=10**9):
            for identifier, delta in batch.deltas().items():
                totals[identifier] = totals.get(identifier, Decimal(0)) + delta
        return totals

    def _updates(self, totals: dict[str, Decimal]) -> list[dict[str, Any]]:
        return [
            {
                "Update": {
                    "TableName": self._aggregates,
                    "Key": {"Identifier": {"S": identifier}},
                    "UpdateExpression": "ADD #Value :delta",
                    "ExpressionAttributeNames": {"#Value": "Value"},
                    "ExpressionAttributeValues": {":delta": {"N": str(delta)}},
                }
            }
            for identifier, delta in totals.items()
        ]
