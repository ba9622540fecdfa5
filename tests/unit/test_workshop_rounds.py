"""``make workshop-rounds`` observes the workshop's generator without changing it: a round's totals, its puts,
and when the aggregates equal them. A fake generator stands in for the workshop's module here."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from labs import workshop_rounds


class FakeTable:
    """An AggregateTable whose round lands after a number of scans (the pipeline draining)."""

    def __init__(self, lands_after_scans: int) -> None:
        self.items: dict[str, Decimal] = {"PV": Decimal(5)}
        self.pending: dict[str, Decimal] = {}
        self.countdown = lands_after_scans

    def scan(self, **_: Any) -> dict[str, Any]:
        if self.pending:
            self.countdown -= 1
            if self.countdown <= 0:
                for key, value in self.pending.items():
                    self.items[key] = self.items.get(key, Decimal(0)) + value
                self.pending = {}
        return {"Items": [{"Identifier": k, "Value": v} for k, v in self.items.items()]}


class FakeGenerator:
    FAILURE_STATE_LAMBDA_PCT = 5
    FAILURE_MAP_LAMBDA_PCT = 10
    FAILURE_REDUCE_LAMBDA_PCT = 10

    def __init__(self, table: FakeTable, *, checks_in_time: bool) -> None:
        self.aggregate_table = table
        self.ddb_ressource = object()
        self.parameters: dict[str, Any] = {}
        self.checks_in_time = checks_in_time

    def generate_messages(self, special: bool) -> dict[str, float]:
        self.aggregate_table.pending = {"PV": Decimal("2.5"), "PV:FXSpot": Decimal("2.5")}
        return {"PV:FXSpot": 2.5, "count:duplicates": 5}

    def aggregate_along_tree(self, totals: dict[str, float]) -> dict[str, float]:
        return {**totals, "PV": totals["PV:FXSpot"]}

    def lambda_handler(self, event: Any, context: Any) -> dict[str, int]:
        self.generate_messages(bool(self.parameters.get("SPECIAL_TRADES", 0)))
        score = 100 if self.checks_in_time else 0
        self.parameters["SCORE"] = self.parameters.get("SCORE", 0) + score
        return {"statusCode": 200}

    def get_parameter(self, _: Any, name: str, default: Any) -> Any:
        return self.parameters.get(name, default)

    def set_parameter(self, _: Any, name: str, value: Any) -> None:
        self.parameters[name] = value


@pytest.mark.parametrize("checks_in_time", [True, False])
def test_given_a_round_that_drains_late_when_played_then_it_is_reported_exact_with_the_generators_score(
    checks_in_time: bool,
):
    generator = FakeGenerator(FakeTable(lands_after_scans=3), checks_in_time=checks_in_time)
    observer = workshop_rounds.Observer(generator)

    result = workshop_rounds.play(generator, observer, 1)

    assert result["score"] == (100 if checks_in_time else 0)
    assert result["exact_after_last_put_s"] is not None and result["max_abs_difference"] == 0.0
    assert result["lab"] == 1 and generator.aggregate_table.items["PV"] == Decimal("7.5")


def test_given_an_identifier_that_never_appears_when_compared_then_the_round_is_not_exact():
    generator = FakeGenerator(FakeTable(lands_after_scans=1), checks_in_time=True)
    observer = workshop_rounds.Observer(generator)
    generator.generate_messages(False)

    assert observer.difference({"Delta:FXSpot": 1.0}, {}) is None
    assert observer.difference({"PV": 2.5, "count:x": 9.0}, {"PV": Decimal(5)}) == 0.0


def test_given_lab_1_when_the_last_round_comes_then_the_generators_lab_2_parameters_are_written():
    generator = FakeGenerator(FakeTable(lands_after_scans=1), checks_in_time=True)

    workshop_rounds.enter_lab_2(generator)

    assert generator.parameters == {
        "SCORE": 300,
        "SPECIAL_TRADES": 1,
        "FAILURE_STATE_LAMBDA_PCT": 5,
        "FAILURE_MAP_LAMBDA_PCT": 10,
        "FAILURE_REDUCE_LAMBDA_PCT": 10,
    }
