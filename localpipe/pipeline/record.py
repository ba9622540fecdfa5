"""What each part of a local run counted, named as the report's fields: the mappings' deliveries, retries and
give-ups (the combining lanes' apart: ``combining_counts``), the recordings of the functions' decisions, and what the
queues, the tables of partials and the StateTable's stream hold at the end. The pipeline hands them to its report in the
run's narrow record (``report.model.RunRecord``)."""

from __future__ import annotations

from typing import Protocol

from localpipe.esm.mapping import EventSourceMapping, MappingStats
from localpipe.esm.streams import DynamoDBStreamReader
from localpipe.pipeline.recording import RecordingApplier, RecordingReducer
from localpipe.stack.lambda_context import AGGREGATE_FUNCTION, REDUCE_FUNCTION, STATE_FUNCTION
from localpipe.stack.readback import StackTables, queue_depth
from localpipe.stack.resources import Deployed
from riskpipe.partials import COMBINED_KEY_SUFFIX


class CountedRun(Protocol):
    """What a run's counts are read from (the local pipeline)."""

    deployed: Deployed
    state_mapping: EventSourceMapping
    aggregate_mapping: EventSourceMapping
    reduce_mapping: EventSourceMapping
    combine_mapping: EventSourceMapping | None
    aggregate_recorder: RecordingApplier
    reduce_recorder: RecordingReducer
    combine_recorder: RecordingReducer | None
    poison_queue_url: str
    aggregate_poison_queue_url: str

    def stack_tables(self) -> StackTables: ...


def run_counts(run: CountedRun) -> dict[str, int | bool]:
    """Everything the run counted, named as the report's fields."""
    return {
        **delivery_counts(run.state_mapping.stats, run.aggregate_mapping.stats, run.reduce_mapping.stats),
        **decision_counts(run.aggregate_recorder, run.reduce_recorder),
        **queue_counts(run.deployed, run.poison_queue_url, run.aggregate_poison_queue_url, run.stack_tables()),
        **combining_counts(run.deployed, run.combine_mapping, run.combine_recorder, run.reduce_recorder),
    }


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
    deployed: Deployed, poison_queue: str, aggregate_poison_queue: str, tables: StackTables
) -> dict[str, int]:
    """What the queues and the tables of partials hold: the poison queues, the on-failure destinations, the
    partials not applied (yet), in the ReduceTable and (with the combining level) the PartialTable."""
    sqs = deployed.client("sqs")

    def depth(url: str) -> int:
        return queue_depth(sqs, url) if url else 0

    def failure_queue(function: str) -> str:
        destination = deployed.template.event_source(function).on_failure
        return deployed.names[destination] if destination else ""

    scan = deployed.client("dynamodb").get_paginator("scan")
    pages = [page for table in tables.partial_tables() for page in scan.paginate(TableName=table, Select="COUNT")]
    return {
        "partials_left": sum(page["Count"] for page in pages),
        "poison_in_queue": depth(poison_queue),
        "state_failure_messages": depth(failure_queue(STATE_FUNCTION)),
        "aggregate_failure_messages": depth(failure_queue(AGGREGATE_FUNCTION)),
        "reduce_failure_messages": depth(failure_queue(REDUCE_FUNCTION)),
        "aggregate_set_aside": depth(aggregate_poison_queue),
    }


def combining_counts(
    deployed: Deployed, mapping: EventSourceMapping | None, combiner: RecordingReducer | None, reducer: RecordingReducer
) -> dict[str, int | bool]:
    """The combining lanes' figures, with the template's combining level on (none without): the partials combined
    once (and twice: must stay 0), those combined before and skipped, the combined partials written and those the
    reducer applied, and what their mapping retried, lost and gave up."""
    if mapping is None or combiner is None:
        return {}
    stats = mapping.stats
    destination = mapping.config.on_failure
    return {
        "combining": True,
        "partials_combined": len(combiner.applied),
        "partials_combined_twice": combiner.applied_twice,
        "combine_skipped": combiner.skipped,
        "combined_partials_written": combiner.committed,
        "combined_partials_applied": sum(1 for p in reducer.applied if p.endswith(COMBINED_KEY_SUFFIX)),
        "combine_transactions": combiner.transactions,
        "combine_retried_batches": stats.function_errors + stats.partial_failures,
        "combine_lost_checkpoints": stats.lost_checkpoints,
        "combine_overlaps": stats.overlap_invocations,
        "combine_exhausted": len(stats.records_to_destination),
        "combine_failure_messages": queue_depth(deployed.client("sqs"), deployed.names[destination])
        if destination
        else 0,
    }


def count_state_changes(deployed: Deployed) -> int:
    """The StateTable stream's changes that carry a trade version (what message_count must count)."""
    source = deployed.template.event_source(AGGREGATE_FUNCTION).source
    reader = DynamoDBStreamReader(deployed.client("dynamodbstreams"), deployed.stream_arns[source])
    return sum(1 for r in reader.poll() if "Version" in r.lambda_record["dynamodb"].get("NewImage", {}))
