"""The workshop's game loop: a round of traffic whose effect on the aggregates is known before it is sent,
and the check that the aggregates moved by exactly that.

A round is the workshop's lab-2 burst (250 PutRecords calls of 40, about 3% revisions, 5 copies per call) over
trades of its own (named after the round), so its effect on every aggregate is the sum of the latest values
of its trades, whatever else the stack holds. ``message_count`` moves by one per version the StateTable
accepted: at least one per trade, at most one per distinct version (versions of a trade in one batch
coalesce), so it is checked within those bounds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from riskpipe.aggregation import compare_aggregates, expected_aggregates
from riskpipe.identifiers import MESSAGE_COUNT_ID
from riskpipe.models import RiskMessage
from riskpipe.producer import workshop_calls


@dataclass(frozen=True)
class Round:
    round_id: str
    calls: list[list[RiskMessage]]
    expected_delta: dict[str, Decimal]
    trades: int
    versions: int

    @property
    def messages(self) -> int:
        return sum(len(call) for call in self.calls)


def plan_round(round_id: str, seed: int, order: Sequence[str], *, calls: int = 250, now: float | None = None) -> Round:
    """The round's PutRecords calls (the workshop's 250 by default) and what they must do to the aggregates."""
    planned_calls = workshop_calls(seed=seed, calls=calls, trade_prefix=f"G{round_id}-", now=now)
    sent = [message for call in planned_calls for message in call]
    return Round(
        round_id=round_id,
        calls=planned_calls,
        expected_delta=expected_aggregates(sent, order),
        trades=len({m.TradeID for m in sent}),
        versions=len({(m.TradeID, m.Version) for m in sent}),
    )


@dataclass(frozen=True)
class RoundCheck:
    exact: bool
    differences: dict[str, tuple[Decimal, Decimal]]
    applied: Decimal  # how far message_count moved


def check_round(planned: Round, before: Mapping[str, Decimal], now: Mapping[str, Decimal]) -> RoundCheck:
    """Exact when every aggregate moved by the round's expected delta (to the cent) and message_count by a
    count between the round's trades and its distinct versions."""
    before_values = {k: v for k, v in before.items() if k != MESSAGE_COUNT_ID}
    now_values = {k: v for k, v in now.items() if k != MESSAGE_COUNT_ID}
    wanted = dict(before_values)
    for identifier, delta in planned.expected_delta.items():
        wanted[identifier] = wanted.get(identifier, Decimal(0)) + delta
    differences = compare_aggregates(wanted, now_values)
    applied = now.get(MESSAGE_COUNT_ID, Decimal(0)) - before.get(MESSAGE_COUNT_ID, Decimal(0))
    counted = planned.trades <= applied <= planned.versions
    return RoundCheck(exact=not differences and counted, differences=differences, applied=applied)
