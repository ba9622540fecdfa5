"""The real aggregate stage, map (aggregate handler) on the StateTable's stream and reduce (reduce handler) on the
ReduceTable's stream (tables from template.yaml, in moto): exact for any sequence of StateTable writes, also when
either stream is delivered twice, a batch is retried from its start or cut differently, or a handler is killed after
its transaction; the naive ADD-per-record version is not, so these tests can fail. A batch the map's mapping gives
up is healed by its trades' next changes, exactly once: the aggregates always hold what the markers say."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.aggregate import app as aggregate_app
from functions.reduce import app as reduce_app
from localpipe.esm.streams import DynamoDBStreamReader
from localpipe.pipeline.naive import NaiveAggregateService
from localpipe.redrive.drift import read_markers
from localpipe.stack.lambda_context import LocalContext
from localpipe.stack.local import local_stack
from localpipe.stack.resources import Deployed
from localpipe.stack.shapes import kinesis_event, risk_message
from riskpipe.aggregate_service import AggregateService
from riskpipe.aggregate_store import MarkerStore, partial_put, read_aggregates
from riskpipe.aggregation import Contribution, compare_aggregates, expected_aggregates
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.models import Hierarchy, RiskMessage
from riskpipe.partials import PartialKeys
from riskpipe.reduce_service import ReduceService
from riskpipe.reduce_store import ReduceStore
from tests.integration.helpers import state_handler, state_items

ORDER = ("RiskType", "TradeDesk", "Region")
HIERARCHIES = [
    Hierarchy(RiskType=r, Region=g, TradeDesk=d)
    for r in ("PV", "Delta")
    for g in ("EMEA", "AMER")
    for d in ("FXSpot", "FXOptions")
]


class Killed(BaseException):
    """The function's instance died (timeout, out of memory): nothing after this point runs, nothing is returned."""


class KillAfterTransactions:
    """The real store (map or reduce); the instance dies right after its ``kill_after``-th transaction committed."""

    def __init__(self, inner: Any, kill_after: int) -> None:
        self.inner = inner
        self.kill_after = kill_after
        self.committed = 0

    def apply(self, transaction: Any) -> None:
        self.inner.apply(transaction)
        self.committed += 1
        if self.committed == self.kill_after:
            raise Killed(f"killed after transaction {self.committed}")


def store(stack: Deployed) -> MarkerStore:
    """The map's store: its partials into the ReduceTable, or with the combining level into the PartialTable."""
    combining = "PartialTable" in stack.names
    table = stack.names["PartialTable" if combining else "ReduceTable"]
    return MarkerStore(
        stack.names["AggregateMarkerTable"],
        stack.client("dynamodb"),
        effect=partial_put(table, PartialKeys.of_map(combining)),
    )


def reduce_store(stack: Deployed) -> ReduceStore:
    return ReduceStore(stack.names["AggregateTable"], stack.names["ReduceTable"], stack.client("dynamodb"))


def real_handler(stack: Deployed, *, max_items: int = 100, kill_after: int = 0) -> Any:
    """The map: markers and one partial per transaction."""
    writer: Any = store(stack) if not kill_after else KillAfterTransactions(store(stack), kill_after)
    return aggregate_app.build_handler(AggregateService(writer, ORDER, max_items=max_items))


def reducer(stack: Deployed, *, max_items: int = 100, kill_after: int = 0) -> Any:
    """The reduce: partials summed into the aggregates, each deleted under condition."""
    writer: Any = reduce_store(stack) if not kill_after else KillAfterTransactions(reduce_store(stack), kill_after)
    return reduce_app.build_handler(ReduceService(writer, max_items=max_items))


def naive_handler(stack: Deployed, **_: Any) -> Any:
    return aggregate_app.build_handler(
        NaiveAggregateService(stack.client("dynamodb"), stack.names["AggregateTable"], ORDER)
    )


def stream_records(stack: Deployed, table: str = "StateTable") -> list[dict]:
    reader = DynamoDBStreamReader(stack.client("dynamodbstreams"), stack.stream_arns[table])
    return [r.lambda_record for r in reader.poll()]


def versioned_records(stack: Deployed) -> list[dict]:
    """The StateTable's stream records that carry a trade version (moto adds a key-only INSERT before the first)."""
    return [r for r in stream_records(stack) if "Version" in r["dynamodb"].get("NewImage", {})]


def partial_records(stack: Deployed) -> list[dict]:
    """The ReduceTable's stream as the reduce's mapping passes it: the partials put there (INSERT), in order."""
    return [r for r in stream_records(stack, "ReduceTable") if r["eventName"] == "INSERT"]


def partials_left(stack: Deployed) -> int:
    """The partials waiting: in the ReduceTable, and with the combining level in the PartialTable."""
    tables = [stack.names[t] for t in ("ReduceTable", "PartialTable") if t in stack.names]
    return sum(len(stack.client("dynamodb").scan(TableName=table)["Items"]) for table in tables)


def write_state(stack: Deployed, sent: list[RiskMessage], batch_size: int = 25) -> None:
    state = state_handler(stack)
    for start in range(0, len(sent), batch_size):
        state(kinesis_event(*sent[start : start + batch_size]), LocalContext("state"))


def differences(stack: Deployed, sent: list[RiskMessage]) -> dict[str, Any]:
    """Every way the AggregateTable is wrong: against the messages sent, against the StateTable, and
    ``message_count`` against the state changes the table's stream holds (each counted once)."""
    found = read_aggregates(stack.client("dynamodb"), stack.names["AggregateTable"])
    count = found.pop(MESSAGE_COUNT_ID, Decimal(0))
    wrong: dict[str, Any] = dict(compare_aggregates(expected_aggregates(sent, ORDER), found))
    stored = list(state_items(stack).values())
    wrong.update({f"state:{k}": v for k, v in compare_aggregates(expected_aggregates(stored, ORDER), found).items()})
    accepted = len(state_changes(stack))
    if count != accepted:
        wrong[MESSAGE_COUNT_ID] = (accepted, count)
    if partials_left(stack):
        wrong["partials left unapplied"] = partials_left(stack)
    return wrong


def state_changes(stack: Deployed) -> set[tuple[str, str]]:
    """(trade, version) of every change in the StateTable's stream that carries a trade version."""
    return {
        (r["dynamodb"]["Keys"]["pk"]["S"], r["dynamodb"]["NewImage"]["Version"]["N"])
        for r in stream_records(stack)
        if "Version" in r["dynamodb"].get("NewImage", {})
    }


def revisions(trades: int = 30, versions: int = 3) -> list[RiskMessage]:
    """Every trade revised ``versions`` times, each revision moving it to another desk or region."""
    return [
        risk_message(
            f"T{trade}",
            version,
            Decimal(trade * 10 + version) + Decimal("0.25"),
            hierarchy=HIERARCHIES[(trade + version) % len(HIERARCHIES)],
        )
        for version in range(versions)
        for trade in range(trades)
    ]


# ---------------------------------------------------------------- delivery histories the platform produces


def once(stack: Deployed, build: Callable[..., Any], records: list[dict]) -> None:
    build(stack)({"Records": records}, LocalContext("aggregate"))


def twice(stack: Deployed, build: Callable[..., Any], records: list[dict]) -> None:
    handler = build(stack)
    handler({"Records": records}, LocalContext("aggregate"))
    handler({"Records": records}, LocalContext("aggregate"))  # a lost checkpoint, or a second consumer


def retried_from_start_in_other_cuts(stack: Deployed, build: Callable[..., Any], records: list[dict]) -> None:
    handler = build(stack)
    size = len(records)
    handler({"Records": records[: 7 * size // 9]}, LocalContext("aggregate"))
    # the checkpoint moved back, the batch cut differently
    handler({"Records": records[4 * size // 9 :]}, LocalContext("aggregate"))


def killed_after_transaction(stack: Deployed, build: Callable[..., Any], records: list[dict]) -> None:
    with pytest.raises(Killed):
        build(stack, max_items=20, kill_after=1)({"Records": records}, LocalContext("aggregate"))
    build(stack, max_items=20)({"Records": records}, LocalContext("aggregate"))  # Lambda retries the batch


HISTORIES = [twice, retried_from_start_in_other_cuts, killed_after_transaction]


@pytest.fixture
def sent(stack: Deployed) -> list[RiskMessage]:
    """Given every trade revised three times, and each revision written to the StateTable by the StateLambda."""
    messages = revisions()
    write_state(stack, messages)
    return messages


def test_given_state_changes_when_aggregated_once_then_every_aggregate_is_exact(stack, sent):
    once(stack, real_handler, stream_records(stack))
    # the map touched no aggregate: its partials wait for the reduce
    assert read_aggregates(stack.client("dynamodb"), stack.names["AggregateTable"]) == {}
    assert partials_left(stack) > 0
    once(stack, reducer, partial_records(stack))
    assert differences(stack, sent) == {}


@pytest.mark.parametrize("history", HISTORIES, ids=lambda h: h.__name__)
def test_given_a_redelivery_history_of_the_map_when_aggregated_then_every_version_counts_exactly_once(
    stack, sent, history
):
    history(stack, real_handler, stream_records(stack))
    once(stack, reducer, partial_records(stack))
    assert differences(stack, sent) == {}


@pytest.mark.parametrize("history", HISTORIES, ids=lambda h: h.__name__)
def test_given_a_redelivery_history_of_the_reduce_when_reduced_then_every_partial_counts_exactly_once(
    stack, sent, history
):
    # Given the map's partials, many small ones (a transaction of at most 3 items: 2 markers and a partial)
    once(stack, lambda s: real_handler(s, max_items=3), stream_records(stack))
    assert len(partial_records(stack)) == 15
    # When the reduce's stream is delivered twice, retried in other cuts, or the reduce dies after a transaction
    history(stack, reducer, partial_records(stack))
    # Then each partial was applied once: a partial delivered again failed its delete's condition and was skipped
    assert differences(stack, sent) == {}


def naive_kill(stack: Deployed, **_: Any) -> Any:
    """The naive handler dies after its first write, then Lambda delivers the batch again."""
    handler = naive_handler(stack)
    calls = {"n": 0}

    def run(event: dict, context: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            handler({"Records": event["Records"][: len(event["Records"]) // 2]}, context)
            raise Killed("killed")
        return handler(event, context)

    return run


@pytest.mark.parametrize("history", [twice, retried_from_start_in_other_cuts], ids=lambda h: h.__name__)
def test_given_the_naive_aggregate_when_records_are_delivered_again_then_it_double_counts(stack, sent, history):
    history(stack, naive_handler, stream_records(stack))
    wrong = differences(stack, sent)
    assert MESSAGE_COUNT_ID in wrong and wrong[MESSAGE_COUNT_ID][1] > wrong[MESSAGE_COUNT_ID][0]


def test_given_the_naive_aggregate_when_killed_after_writing_then_the_retry_double_counts(stack, sent):
    records = stream_records(stack)
    handler = naive_kill(stack)
    with pytest.raises(Killed):
        handler({"Records": records}, LocalContext("aggregate"))
    handler({"Records": records}, LocalContext("aggregate"))
    assert differences(stack, sent) != {}


# ---------------------------------------------------------------- any sequence of writes, any delivery


@st.composite
def write_sequences(draw: st.DrawFn) -> list[RiskMessage]:
    """Trades revised any number of times, each version with its own value and hierarchy, sent in any order
    with repeats: what reaches the StateTable is whatever the conditional write lets through."""
    trades = draw(st.integers(1, 8))
    messages = []
    for trade in range(trades):
        for version in range(draw(st.integers(1, 4))):
            value = Decimal(draw(st.integers(-10_000_000, 10_000_000))) / 100
            messages.append(risk_message(f"T{trade}", version, value, hierarchy=draw(st.sampled_from(HIERARCHIES))))
    order = draw(st.permutations(messages))
    repeats = draw(st.lists(st.sampled_from(messages), max_size=5))
    return [*order, *repeats]


@st.composite
def delivery_plans(draw: st.DrawFn, size: int, *, give_ups: bool = False) -> list[tuple[int, int, int]]:
    """Batches as the mapping cuts them (start, end), each ending in: 0 success, 1 delivered again, 2 killed
    after its first transaction and retried, 3 retried from an earlier checkpoint, 4 (with ``give_ups``) given up
    (its mapping's retries spent: sent to the on-failure destination, never delivered again)."""
    plan = []
    start = 0
    while start < size:
        end = min(size, start + draw(st.integers(1, 12)))
        plan.append((start, end, draw(st.integers(0, 4 if give_ups else 3))))
        start = end
    return plan


def replay(
    stack: Deployed, records: list[dict], plan: list[tuple[int, int, int]], max_items: int, build: Callable[..., Any]
) -> None:
    context = LocalContext("aggregate")
    handler = build(stack, max_items=max_items)
    for start, end, fate in plan:
        batch = {"Records": records[start:end]}
        if fate == 4:
            continue
        if fate == 2:
            with contextlib.suppress(Killed):
                build(stack, max_items=max_items, kill_after=1)(batch, context)
        elif fate == 3:
            handler({"Records": records[max(0, start - 5) : end]}, context)
        assert handler(batch, context) == {"batchItemFailures": []}
        if fate == 1:
            handler(batch, context)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), sent=write_sequences(), max_items=st.sampled_from([8, 12, 100]))
def test_given_any_sequence_of_state_writes_and_redeliveries_when_aggregated_then_every_aggregate_is_exact(
    data: st.DataObject, sent: list[RiskMessage], max_items: int
):
    with local_stack(in_process=True) as stack:
        write_state(stack, sent, batch_size=data.draw(st.integers(1, 10), label="state batch size"))
        records = stream_records(stack)
        replay(
            stack, records, data.draw(delivery_plans(len(records)), label="map delivery plan"), max_items, real_handler
        )
        partials = partial_records(stack)
        plan = data.draw(delivery_plans(len(partials)), label="reduce delivery plan")
        replay(stack, partials, plan, 100, reducer)  # a reduce transaction holds any one partial: 19 items at most
        assert differences(stack, sent) == {}


# ---------------------------------------------------------------- batches the map's mapping gives up


def held_by_markers(stack: Deployed) -> dict[str, Decimal]:
    """What the aggregates must hold if they hold exactly what every trade's marker says was applied: each marker's
    contribution under its prefixes, and ``message_count`` the sum of their AcceptedVersions."""
    totals: dict[str, Decimal] = {}
    for marker in read_markers(stack.client("dynamodb"), stack.names["AggregateMarkerTable"]).values():
        assert isinstance(marker.contribution, Contribution) and marker.accepted is not None
        for prefix in marker.contribution.prefixes(ORDER):
            totals[prefix] = totals.get(prefix, Decimal(0)) + marker.contribution.value
        totals[MESSAGE_COUNT_ID] = totals.get(MESSAGE_COUNT_ID, Decimal(0)) + marker.accepted
    return totals


def test_given_a_change_given_up_when_its_trade_changes_again_then_the_gap_is_healed_exactly_once(stack):
    # Given a trade written three times, each version in another desk or region
    sent = [risk_message("T", v, f"{v + 1}0.5", hierarchy=HIERARCHIES[v]) for v in range(3)]
    write_state(stack, sent, batch_size=1)
    v0, v1, v2 = versioned_records(stack)
    # When the map applies v0, its mapping gives v1 up (never delivered), then v2 arrives, and v1 comes again
    # (replayed by hand)
    once(stack, real_handler, [v0])
    once(stack, real_handler, [v2])
    once(stack, real_handler, [v1])
    once(stack, reducer, partial_records(stack))
    # Then the aggregates hold v2 exactly, message_count counts the three versions, and the replay changed nothing
    assert differences(stack, sent) == {}
    markers = read_markers(stack.client("dynamodb"), stack.names["AggregateMarkerTable"])
    assert markers["T"].version == 2 and markers["T"].accepted == 3


def test_given_a_chain_partly_applied_when_delivered_again_past_a_gap_then_only_the_rest_applies(stack):
    # Given a trade written five times
    sent = [risk_message("T", v, f"{v}.25", hierarchy=HIERARCHIES[v % len(HIERARCHIES)]) for v in range(5)]
    write_state(stack, sent, batch_size=1)
    v0, _given_up, v2, v3, v4 = versioned_records(stack)
    # When v0 applies, v1 is given up, v2 and v3 apply in one batch (a gap behind it), then a batch of v2 to v4 is
    # delivered (a retry cut differently: v2 and v3 are applied, v4 is not)
    once(stack, real_handler, [v0])
    once(stack, real_handler, [v2, v3])
    once(stack, real_handler, [v2, v3, v4])
    once(stack, reducer, partial_records(stack))
    # Then every version counts exactly once, and the aggregates hold v4
    assert differences(stack, sent) == {}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), sent=write_sequences(), max_items=st.sampled_from([8, 12, 100]))
def test_given_batches_given_up_among_redeliveries_when_aggregated_then_the_aggregates_hold_what_the_markers_say(
    data: st.DataObject, sent: list[RiskMessage], max_items: int
):
    with local_stack(in_process=True) as stack:
        write_state(stack, sent, batch_size=data.draw(st.integers(1, 10), label="state batch size"))
        records = stream_records(stack)
        plan = data.draw(delivery_plans(len(records), give_ups=True), label="map delivery plan")
        replay(stack, records, plan, max_items, real_handler)
        partials = partial_records(stack)
        if partials:
            once(stack, reducer, partials)
        # Whatever was given up, the aggregates hold exactly what the markers say was applied
        found = read_aggregates(stack.client("dynamodb"), stack.names["AggregateTable"])
        assert compare_aggregates(held_by_markers(stack), found) == {}
        # and a trade whose newest change was delivered is exact, whatever of its older changes was given up
        markers = read_markers(stack.client("dynamodb"), stack.names["AggregateMarkerTable"])
        stored = state_items(stack)
        given_up = {records[i]["dynamodb"]["Keys"]["pk"]["S"] for s, e, fate in plan if fate == 4 for i in range(s, e)}
        newest_applied = {t for t, m in stored.items() if t in markers and markers[t].version == m.Version}
        assert newest_applied >= set(stored) - given_up
