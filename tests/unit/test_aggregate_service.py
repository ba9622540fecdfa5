"""The aggregate domain (the map): already-applied changes are dropped and the rest applied; conflicts back off and
retry; a failed sub-batch fails its records, and blocks the later changes of its trades; each committed
transaction writes one partial."""

from __future__ import annotations

from decimal import Decimal

from riskpipe.aggregate_service import AggregateService
from riskpipe.aggregate_store import AlreadyAppliedError, TransactionConflictError
from riskpipe.aggregation import SubBatch, TradeChange, plan_sub_batches

ORDER = ("RiskType", "TradeDesk", "Region")


def image(version: int, value: str, region: str = "AMER") -> dict:
    hierarchy = f'{{"Region": "{region}", "RiskType": "Delta", "TradeDesk": "FXSpot"}}'
    return {"Value": Decimal(value), "Version": Decimal(version), "Hierarchy": hierarchy}


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


def test_given_a_failed_piece_of_a_trade_when_later_pieces_follow_then_they_fail_too_and_other_trades_apply():
    # Given trade A moving between regions in every version, so its chain spans several transactions
    regions = ["AMER", "EMEA", "APAC", "LATAM"]
    a = [change("a0", "A", 0, regions[0])] + [
        change(f"a{v}", "A", v, regions[v % 4], regions[(v - 1) % 4]) for v in range(1, 6)
    ]
    writer = MarkerWriter(fail_trades=frozenset({"A"}))
    # When A's first transaction fails (the one-transaction design, deltas beside the markers, kept for comparison)
    outcome = service(writer, max_items=8, plan=plan_sub_batches).apply([*a, change("b0", "B", 0)])
    # Then none of A's later changes is applied (its marker would hide the failed ones), and B is applied
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
