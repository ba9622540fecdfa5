"""The combining level between the map and the one reducer, real handlers on moto (tables from template.yaml with
``Combining`` "true"): the combine handler on the PartialTable's stream turns the map's partials into combined
partials in the ReduceTable, each partial exactly once, also when a batch is delivered again, retried in other cuts,
or the handler is killed after its transaction; the reducer, on the ReduceTable's stream (only combined partials
there), then makes every aggregate exact. Each stage sees what its mapping, read from the template, lets through."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.combine import app as combine_app
from localpipe.esm.filters import matches_filter
from localpipe.stack.lambda_context import LocalContext
from localpipe.stack.local import deploy_local, function_env, local_stack
from localpipe.stack.resources import Deployed
from riskpipe.aggregate_store import read_aggregates
from riskpipe.combine_service import CombineService
from riskpipe.combine_store import CombineStore
from riskpipe.config import CombineSettings
from riskpipe.partials import REDUCE_PARTITION, combined_key
from tests.integration.test_aggregate_exactly_once import (
    HISTORIES,
    KillAfterTransactions,
    Killed,
    delivery_plans,
    differences,
    once,
    real_handler,
    reducer,
    replay,
    revisions,
    stream_records,
    write_sequences,
    write_state,
)

COMBINING = {"Combining": "true"}


@pytest.fixture
def stack(aws: boto3.Session) -> Deployed:
    """The template's resources with the combining level on."""
    return deploy_local(aws, overrides=COMBINING)


def passed_to(stack: Deployed, function: str) -> list[dict]:
    """The stream ``function``'s mapping reads (the combine's: the PartialTable's, the reduce's: the ReduceTable's) as
    it passes it: the records its template filters let through."""
    [source] = [s for s in stack.template.event_sources() if s.function == function]
    patterns = [json.loads(p) for p in source.filter_patterns]
    return [r for r in stream_records(stack, source.source) if any(matches_filter(p, r) for p in patterns)]


def partial_id(record: dict) -> str:
    """A partials table's stream record's partial id: the ReduceTable's sort key, else the PartialTable's key."""
    keys = record["dynamodb"]["Keys"]
    return str((keys["sk"] if "sk" in keys else keys["pk"])["S"])


def combiner(stack: Deployed, *, max_items: int = 100, kill_after: int = 0) -> Any:
    """The combine handler, built from its settings in the template (or killed after its ``kill_after``-th
    transaction); ``max_items`` below 100 makes more, smaller combined partials of the few partials here."""
    settings = CombineSettings.from_env(function_env(stack, "CombineFunction"))
    if max_items == 100 and not kill_after:
        return combine_app.build_handler(combine_app.build_service(settings, session=None))
    store: Any = CombineStore(stack.names["PartialTable"], stack.names["ReduceTable"], stack.client("dynamodb"))
    writer = store if not kill_after else KillAfterTransactions(store, kill_after)
    return combine_app.build_handler(CombineService(writer, max_items=max_items))


def table_items(stack: Deployed) -> dict[str, dict]:
    """The partials waiting, in both tables, by partial id."""
    items = [
        item
        for table in ("PartialTable", "ReduceTable")
        for item in stack.client("dynamodb").scan(TableName=stack.names[table], ConsistentRead=True)["Items"]
    ]
    return {(item["sk"] if "sk" in item else item["pk"])["S"]: item for item in items}


@pytest.fixture
def mapped(stack: Deployed) -> list:
    """Given every trade revised three times, written by the StateLambda, and mapped into 15 small partials."""
    messages = revisions()
    write_state(stack, messages)
    once(stack, lambda s: real_handler(s, max_items=3), stream_records(stack))
    assert len(passed_to(stack, "CombineFunction")) == 15
    return messages


def test_given_the_maps_partials_when_combined_then_the_reducer_sees_only_combined_ones_and_is_exact(stack, mapped):
    # When the combine handler (as deployed: transactions of 100 items) receives the map's partials
    result = combiner(stack)({"Records": passed_to(stack, "CombineFunction")}, LocalContext("combine"))
    # Then one combined partial in the ReduceTable replaced the 15, named after the first, marked as combined
    assert result == {"batchItemFailures": []}
    [(key, item)] = table_items(stack).items()
    assert item["pk"] == {"S": REDUCE_PARTITION}
    first = partial_id(passed_to(stack, "CombineFunction")[0])
    assert key == combined_key(first) and item["Combined"] == {"BOOL": True}
    assert int(item["MessageCount"]["N"]) == len(mapped) and "TimestampMin" in item
    # and the reducer's mapping passes it (and none of the map's), the combining lanes' mapping does not take it back
    assert [partial_id(r) for r in passed_to(stack, "ReduceFunction")] == [key]
    assert all(r["dynamodb"]["NewImage"]["Combined"] == {"BOOL": False} for r in passed_to(stack, "CombineFunction"))
    # When the reducer applies it, Then every aggregate is exact and no partial is left
    once(stack, reducer, passed_to(stack, "ReduceFunction"))
    assert differences(stack, mapped) == {}


def test_given_a_combined_batch_when_delivered_again_then_nothing_changes(stack, mapped):
    # Given the map's partials combined (in transactions of 6 items: 5 partials each)
    records = passed_to(stack, "CombineFunction")
    once(stack, lambda s: combiner(s, max_items=6), records)
    combined = table_items(stack)
    assert len(combined) == 3
    # When the same batch is delivered again (a lost checkpoint, a second consumer of the shard)
    result = combiner(stack)({"Records": records}, LocalContext("combine"))
    # Then every delete's condition fails: nothing is written, nothing fails, the combined partials are as they were
    assert result == {"batchItemFailures": []} and table_items(stack) == combined
    once(stack, reducer, passed_to(stack, "ReduceFunction"))
    assert differences(stack, mapped) == {}


def test_given_the_combine_killed_after_its_transaction_when_the_batch_comes_again_then_it_stays_exact(stack, mapped):
    records = passed_to(stack, "CombineFunction")
    # Given the lane killed right after its first transaction committed (5 partials combined, nothing returned)
    with pytest.raises(Killed):
        combiner(stack, max_items=6, kill_after=1)({"Records": records}, LocalContext("combine"))
    assert len([k for k in table_items(stack) if k.endswith("#combined")]) == 1
    # When Lambda retries the whole batch
    assert combiner(stack, max_items=6)({"Records": records}, LocalContext("combine")) == {"batchItemFailures": []}
    # Then the 5 already combined are skipped, the 10 others combined once, and the reducer makes the totals exact
    assert len(table_items(stack)) == 3
    once(stack, reducer, passed_to(stack, "ReduceFunction"))
    assert differences(stack, mapped) == {}


@pytest.mark.parametrize("history", HISTORIES, ids=lambda h: h.__name__)
def test_given_a_redelivery_history_of_the_combining_lanes_when_reduced_then_every_partial_counts_once(
    stack, mapped, history
):
    # When the combining lanes' stream is delivered twice, retried in other cuts, or a lane dies after a transaction
    history(stack, combiner, passed_to(stack, "CombineFunction"))
    # and the reducer's stream too (its batch delivered twice)
    records = passed_to(stack, "ReduceFunction")
    once(stack, reducer, records)
    once(stack, reducer, records)
    # Then every aggregate is exact
    assert differences(stack, mapped) == {}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), sent=write_sequences(), max_items=st.sampled_from([2, 4, 100]))
def test_given_any_writes_and_redeliveries_at_every_stage_when_combined_and_reduced_then_every_aggregate_is_exact(
    data: st.DataObject, sent: list, max_items: int
):
    with local_stack(in_process=True, overrides=COMBINING) as stack:
        write_state(stack, sent, batch_size=data.draw(st.integers(1, 10), label="state batch size"))
        records = stream_records(stack)
        replay(stack, records, data.draw(delivery_plans(len(records)), label="map plan"), 3, real_handler)
        partials = passed_to(stack, "CombineFunction")
        replay(stack, partials, data.draw(delivery_plans(len(partials)), label="combine plan"), max_items, combiner)
        combined = passed_to(stack, "ReduceFunction")
        replay(stack, combined, data.draw(delivery_plans(len(combined)), label="reduce plan"), 100, reducer)
        assert differences(stack, sent) == {}
        with contextlib.suppress(KeyError):  # a history with no message at all leaves no aggregate
            assert read_aggregates(stack.client("dynamodb"), stack.names["AggregateTable"])["message_count"] > 0
