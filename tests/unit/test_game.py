"""The game's round: planned from the workshop's burst over trades of its own; exact only when every aggregate
moved by the round's latest values and message_count by a count the round allows."""

from decimal import Decimal

from riskpipe.game import check_round, plan_round
from riskpipe.identifiers import MESSAGE_COUNT_ID

ORDER = ("RiskType", "TradeDesk", "Region")


def test_given_a_round_when_planned_then_its_trades_are_its_own_and_its_effect_is_known():
    planned = plan_round("r1", seed=5, order=ORDER, calls=4, now=0.0)
    trades = {m.TradeID for call in planned.calls for m in call}
    assert all(t.startswith("Gr1-") for t in trades)
    assert planned.messages == 4 * 40 and planned.trades == len(trades) <= planned.versions
    assert planned.expected_delta["PV"] + planned.expected_delta.get("Delta", Decimal(0)) == sum(
        v for k, v in planned.expected_delta.items() if k.count(":") == 2
    )


def test_given_the_aggregates_moved_by_the_round_when_checked_then_it_is_exact():
    planned = plan_round("r2", seed=6, order=ORDER, calls=2, now=0.0)
    before = {"PV": Decimal("10.00"), MESSAGE_COUNT_ID: Decimal(3)}
    now = {k: before.get(k, Decimal(0)) + v for k, v in planned.expected_delta.items()}
    now[MESSAGE_COUNT_ID] = Decimal(3 + planned.trades)
    assert check_round(planned, before, now).exact


def test_given_a_missing_or_double_count_when_checked_then_it_is_not_exact():
    planned = plan_round("r3", seed=7, order=ORDER, calls=2, now=0.0)
    complete = dict(planned.expected_delta) | {MESSAGE_COUNT_ID: Decimal(planned.trades)}
    short = dict(complete) | {"PV": complete.get("PV", Decimal(0)) - Decimal("0.01")}
    double = dict(complete) | {MESSAGE_COUNT_ID: Decimal(planned.versions + 1)}
    assert not check_round(planned, {}, short).exact
    assert "PV" in check_round(planned, {}, short).differences
    assert not check_round(planned, {}, double).exact
