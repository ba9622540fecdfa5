"""What each part of a local run counted, named as the report's fields: the three mappings' deliveries, retries
and give-ups, the recordings of the functions' decisions, and what the queues, the PartialTable and the StateTable's
stream hold at the end. The pipeline hands them to its report in the run's narrow record
(``report.model.RunRecord``)."""

from __future__ import annotations

from localpipe.esm.mapping import MappingStats
from localpipe.esm.streams import DynamoDBStreamReader
from localpipe.pipeline.recording import RecordingApplier, RecordingReducer
from localpipe.stack.lambda_context import AGGREGATE_FUNCTION, REDUCE_FUNCTION, STATE_FUNCTION
from localpipe.stack.readback import queue_depth
from localpipe.stack.resources import Deployed


def delivery_counts(state: MappingStats, aggregate: MappingStats, reduce: MappingStats) -> dict[str, int]:
    """What the three mappings delivered, retried and gave up."""
    return {
        "delivered": state.records_delivered,
        "invocations": state.invocations,
        "retried_batches": state.function_errors + state.partial_failures,
        "bisections": state.bisections,
        "lost_checkpoints": state.lost_checkpoints + aggregate.lost_checkpoints + reduce.lost_checkpoints,
        "overlap_invocations": state.overlap_invocations,
        "aggregate_delivered": aggregate.records_delivered,
        "aggregate_exhausted": len(aggregate.records_to_destination),
        "map_retried_batches": aggregate.function_errors + aggregate.partial_failures,
        "reduce_retried_batches": reduce.function_errors + reduce.partial_failures,
        "reduce_exhausted": len(reduce.records_to_destination),
    }


def decision_counts(applier: RecordingApplier, reducer: RecordingReducer) -> dict[str, int]:
    """The map's and the reduce's decisions as recorded."""
    return {
        "aggregate_applied": len(applier.applied),
        "aggregate_duplicates_skipped": applier.duplicates_skipped,
        "transactions": applier.transactions,
        "partials_written": applier.partials,
        "partials_applied": len(reducer.applied),
        "partials_skipped": reducer.skipped,
        "partials_applied_twice": reducer.applied_twice,
        "reduce_transactions": reducer.transactions,
    }


def queue_counts(
    deployed: Deployed, poison_queue: str, aggregate_poison_queue: str, partial_table: str
) -> dict[str, int]:
    """What the queues and the PartialTable hold: the poison queues, the on-failure destinations, the partials
    not applied (yet)."""
    sqs = deployed.client("sqs")

    def depth(url: str) -> int:
        return queue_depth(sqs, url) if url else 0

    def failure_queue(function: str) -> str:
        destination = deployed.template.event_source(function).on_failure
        return deployed.names[destination] if destination else ""

    pages = deployed.client("dynamodb").get_paginator("scan").paginate(TableName=partial_table, Select="COUNT")
    return {
        "partials_left": sum(page["Count"] for page in pages),
        "poison_in_queue": depth(poison_queue),
        "state_failure_messages": depth(failure_queue(STATE_FUNCTION)),
        "aggregate_failure_messages": depth(failure_queue(AGGREGATE_FUNCTION)),
        "reduce_failure_messages": depth(failure_queue(REDUCE_FUNCTION)),
        "aggregate_set_aside": depth(aggregate_poison_queue),
    }


def count_state_changes(deployed: Deployed) -> int:
    """The StateTable stream's changes that carry a trade version (what message_count must count)."""
    source = deployed.template.event_source(AGGREGATE_FUNCTION).source
    reader = DynamoDBStreamReader(deployed.client("dynamodbstreams"), deployed.stream_arns[source])
    return sum(1 for r in reader.poll() if "Version" in r.lambda_record["dynamodb"].get("NewImage", {}))
