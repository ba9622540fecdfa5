"""The aggregate domain (the map): already-applied changes are dropped and the rest applied; conflicts back off and
retry; a failed sub-batch fails its records, and blocks the later changes of its trades; each committed
transaction writes one partial; a change that DynamoDB refuses as invalid is set aside with its reason, and the
rest of the batch is applied."""

from __future__ import annotations

import pytest

from localpipe.stack.shapes import trade_image
from riskpipe.aggregate_service import AggregateService
from riskpipe.aggregation import SetAsideChange, SubBatch, TradeChain, TradeChange
from riskpipe.errors import AlreadyAppliedError, InvalidChangeError, TransactionConflictError
from riskpipe.numbers import TOO_MANY_DIGITS
from tests.unit.fakes import ListSink

ORDER = ("RiskType", "TradeDesk", "Region")


def image(version: int, value: str, region: str = "AMER") -> dict:
    """A StateTable image at ``version`` (no Timestamp); the numeric domain is not checked: DynamoDB's is the test."""
    return trade_image(version, value, region=region, stamped=False, checked=False)


def change(seq: str, trade: str, version: int, region: str = "AMER", old_region: str | None = None) -> TradeChange:
    old = image(version - 1, "1", old_region or region) if version else None
    return TradeChange.from_images(
        seq, "MODIFY" if version else "INSERT", {"pk": trade}, image(version, "1", region), old
    )


class MarkerWriter:
    """Keeps the markers' rule in memory: a chain applies only if its first version is newer than the marker."""

    def __init__(self, conflicts: int = 0, fail_trades: frozenset[str] = frozenset()) -> None:
        self.markers: dict[str, int] = {}
        self.transactions: list[list[str]] = []
        self.conflicts = conflicts
        self.fail_trades = fail_trades

    def apply(self, batch: SubBatch) -> None:
        batch.deltas()  # as the real store does, before any call
        if self.conflicts:
            self.conflicts -= 1
            raise TransactionConflictError("conflict")
        if any(c.trade_id in self.fail_trades for c in batch.chains):
            raise ConnectionError("network")
        applied = {
            c.trade_id: self.markers[c.trade_id]
            for c in batch.chains
            if self.markers.get(c.trade_id, -1) >= c.first_version
        }
        if applied:
            raise AlreadyAppliedError(applied)
        for chain in batch.chains:
            self.markers[chain.trade_id] = chain.last_version
        self.transactions.append(batch.sequence_numbers)


def service(writer: MarkerWriter, max_items: int = 100, **options) -> AggregateService:
    return AggregateService(writer, ORDER, max_items=max_items, sleep=lambda _: None, **options)


def test_given_a_batch_partly_applied_before_when_applied_again_then_only_the_new_changes_are_written():
    writer = MarkerWriter()
    service(writer).apply([change("1", "A", 0), change("2", "B", 0)])
    outcome = service(writer).apply([change("1", "A", 0), change("2", "B", 0), change("3", "A", 1)])
    assert outcome.duplicates == {"1", "2"} and outcome.applied == {"3"}
    assert writer.transactions[-1] == ["3"]
    assert outcome.partials == 1


def test_given_transaction_conflicts_when_applied_then_it_retries_and_counts_them():
    writer = MarkerWriter(conflicts=2)
    outcome = service(writer).apply([change("1", "A", 0)])
    assert outcome.applied == {"1"} and outcome.conflicts == 2 and outcome.transactions == 3


def test_given_conflicts_that_never_end_when_applied_then_the_records_fail_for_redelivery():
    outcome = service(MarkerWriter(conflicts=99)).apply([change("1", "A", 0)])
    assert set(outcome.failed) == {"1"} and not outcome.applied


def cut_each_change(changes: list[TradeChange], order: tuple[str, ...], *, max_items: int) -> list[SubBatch]:
    """A planner that cuts every trade's changes into a sub-batch each (neither planner of the project does)."""
    return [SubBatch([TradeChain(c.trade_id, [c])], order) for c in changes if c.applies]


def test_given_a_failed_sub_batch_of_a_trade_when_later_ones_follow_then_they_fail_too_and_other_trades_apply():
    # Given trade A's versions cut across several transactions, and trade B
    a = [change(f"a{v}", "A", v) for v in range(4)]
    writer = MarkerWriter(fail_trades=frozenset({"A"}))
    # When A's first transaction fails
    outcome = service(writer, plan=cut_each_change).apply([*a, change("b0", "B", 0)])
    # Then none of A's later changes is applied (they would apply against a marker behind them), and B is applied
    assert set(outcome.failed) == {c.sequence_number for c in a}
    assert outcome.applied == {"b0"} and "A" not in writer.markers


def test_given_a_trade_moving_between_regions_when_mapped_then_it_is_one_marker_in_one_transaction():
    # Given trade A moving between regions in every version, and trade B
    regions = ["AMER", "EMEA", "APAC", "LATAM"]
    a = [change("a0", "A", 0, regions[0])] + [
        change(f"a{v}", "A", v, regions[v % 4], regions[(v - 1) % 4]) for v in range(1, 6)
    ]
    writer = MarkerWriter()
    # When the map applies them with room for only three items a transaction
    outcome = service(writer, max_items=3).apply([*a, change("b0", "B", 0)])
    # Then the deltas take no item (they are one partial): both trades fit one transaction, one partial
    assert writer.transactions == [[*(c.sequence_number for c in a), "b0"]]
    assert outcome.partials == 1 and outcome.applied == {*(c.sequence_number for c in a), "b0"}


class RefusingWriter(MarkerWriter):
    """DynamoDB refusing every transaction that holds one of these trades as invalid (a sum it cannot store)."""

    def __init__(self, refused: frozenset[str]) -> None:
        super().__init__()
        self.refused = refused

    def apply(self, batch: SubBatch) -> None:
        if any(c.trade_id in self.refused for c in batch.chains):
            raise InvalidChangeError(TOO_MANY_DIGITS)
        super().apply(batch)


ListSetAside = ListSink[SetAsideChange]


def guarded(writer: MarkerWriter, sink: ListSetAside) -> AggregateService:
    return AggregateService(writer, ORDER, set_aside=sink, sleep=lambda _: None)


def test_given_a_change_dynamodb_refuses_as_invalid_when_applied_then_it_is_set_aside_and_the_rest_applied():
    writer, sink = RefusingWriter(frozenset({"B"})), ListSetAside()
    outcome = guarded(writer, sink).apply([change("1", "A", 0), change("2", "B", 0), change("3", "C", 0)])
    assert outcome.applied == {"1", "3"} and not outcome.failed
    assert outcome.set_aside == {"2": f"DynamoDB refused the change as invalid: {TOO_MANY_DIGITS}"}
    assert [(c.sequence_number, c.trade_id, c.version, c.new_value) for c in sink.records] == [("2", "B", 0, "1")]
    assert outcome.result_for("2") == "set aside"  # not a batch item failure: the shard moves on
    assert writer.markers == {"A": 0, "C": 0}  # B's marker is untouched: a reconcile sets its totals right


def test_given_a_change_whose_delta_needs_40_digits_when_applied_then_it_is_set_aside_before_any_write():
    huge = TradeChange.from_images("9", "MODIFY", {"pk": "H"}, image(1, "0.01"), image(0, "1E+37"))
    writer, sink = MarkerWriter(), ListSetAside()
    outcome = guarded(writer, sink).apply([huge, change("1", "A", 0)])
    assert set(outcome.set_aside) == {"9"} and "38 significant digits" in outcome.set_aside["9"]
    assert outcome.applied == {"1"} and writer.transactions == [["1"]]


@pytest.mark.parametrize("sink", [None, ListSetAside(fail=ConnectionError("sqs"))], ids=["no queue", "queue down"])
def test_given_an_invalid_change_that_cannot_be_set_aside_when_applied_then_it_fails_for_redelivery(sink):
    outcome = AggregateService(RefusingWriter(frozenset({"B"})), ORDER, set_aside=sink).apply(
        [change("1", "A", 0), change("2", "B", 0)]
    )
    assert set(outcome.failed) == {"2"} and not outcome.set_aside and outcome.applied == {"1"}
