"""The real aggregate handler on the StateTable's stream (moto): exact under redelivery, retry and crash;
the naive ADD-per-record version is not, so these tests can fail."""

from decimal import Decimal

from functions.aggregate import app as aggregate_app
from localpipe.esm import DynamoDBStreamReader
from localpipe.naive import NaiveAggregateService
from riskpipe.aggregate_store import AggregateStore
from riskpipe.aggregation import MESSAGE_COUNT_ID, compare_aggregates, expected_aggregates
from riskpipe.models import Hierarchy, RiskMessage
from tests.integration.helpers import aggregate_handler, kinesis_event, state_handler

ORDER = ("RiskType", "TradeDesk", "Region")


def messages() -> list[RiskMessage]:
    hierarchies = [
        Hierarchy(RiskType=r, Region=g, TradeDesk=d)
        for r in ("PV", "Delta")
        for g in ("EMEA", "AMER")
        for d in ("FXSpot", "FXOptions")
    ]
    sent = []
    for version in range(3):
        for trade in range(30):
            sent.append(
                RiskMessage(
                    TradeID=f"T{trade}",
                    Value=Decimal(trade * 10 + version) + Decimal("0.25"),
                    Version=version,
                    Timestamp=Decimal(1),
                    Hierarchy=hierarchies[(trade + version) % len(hierarchies)],
                )
            )
    return sent


def stream_event(stack) -> dict:
    reader = DynamoDBStreamReader(stack.client("dynamodbstreams"), stack.stream_arns["StateTable"])
    return {"Records": [r.lambda_record for r in reader.poll()]}


def aggregates(stack) -> dict[str, Decimal]:
    store = AggregateStore(
        stack.names["AggregateTable"],
        stack.names["AggregateMarkerTable"],
        stack.client("dynamodb"),
        marker_ttl_seconds=90000,
    )
    return store.read_aggregates()


def write_state(stack, context) -> list[RiskMessage]:
    sent = messages()
    state = state_handler(stack)
    for start in range(0, len(sent), 25):
        state(kinesis_event(*sent[start : start + 25]), context)
    return sent


def is_exact(stack, sent) -> bool:
    found = aggregates(stack)
    count = found.pop(MESSAGE_COUNT_ID)
    return not compare_aggregates(expected_aggregates(sent, ORDER), found) and count == len(sent)


def test_given_state_changes_when_aggregated_once_then_every_aggregate_is_exact(stack, context):
    sent = write_state(stack, context)
    assert aggregate_handler(stack)(stream_event(stack), context) == {"batchItemFailures": []}
    assert is_exact(stack, sent)


def test_given_the_stream_delivered_twice_when_aggregated_then_nothing_counts_twice(stack, context):
    sent = write_state(stack, context)
    event = stream_event(stack)
    handler = aggregate_handler(stack)
    handler(event, context)
    handler(event, context)  # a retried batch, or a crash after the transaction and before the return
    assert is_exact(stack, sent)


def test_given_a_partial_redelivery_in_other_batches_when_aggregated_then_it_stays_exact(stack, context):
    sent = write_state(stack, context)
    records = stream_event(stack)["Records"]
    handler = aggregate_handler(stack)
    handler({"Records": records[:70]}, context)
    handler({"Records": records[40:]}, context)  # checkpoint moved back: overlapping, differently cut
    assert is_exact(stack, sent)


def test_given_the_naive_aggregate_when_the_stream_is_delivered_twice_then_it_double_counts(stack, context):
    sent = write_state(stack, context)
    event = stream_event(stack)
    naive = aggregate_app.build_handler(
        NaiveAggregateService(stack.client("dynamodb"), stack.names["AggregateTable"], ORDER)
    )
    naive(event, context)
    naive(event, context)
    assert not is_exact(stack, sent)
