"""The local pipeline's traffic: what the producer sends, with the fault plan's duplicates, late versions and
poison records (see ``plan.py`` for where each fault acts)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from localpipe.faults.rates import FaultRates
from riskpipe.models import RiskMessage
from riskpipe.producer import generate_messages

POISON = [b"{not json", b"[]", b'{"TradeID": ""}', b"\xff\xfe", b'{"TradeID": "P", "Version": -1}']


@dataclass(frozen=True)
class Send:
    """One record to put on the stream: a message, or raw bytes that are not one (poison)."""

    data: bytes
    partition_key: str
    message: RiskMessage | None = None

    @classmethod
    def of(cls, message: RiskMessage) -> Send:
        return cls(message.to_wire(), message.TradeID, message)


def scenario_sends(
    *, messages: int, trades: int, seed: int, rates: FaultRates, poison: int = 0, now: float | None = None
) -> list[Send]:
    """The demo's traffic: generated messages, producer duplicates, a second producer's late versions, poison."""
    rng = random.Random(seed)
    generated = generate_messages(messages, trades, seed=seed, duplicates=rates.duplicates, now=now)
    order = list(range(len(generated)))
    # A second producer: some messages are sent late, after newer versions of their trade.
    for index in range(len(order)):
        if rng.random() < rates.out_of_order:
            target = min(len(order) - 1, index + rng.randint(1, 60))
            order.insert(target, order.pop(index))
    sends = [Send.of(generated[i]) for i in order]
    for n in range(poison):
        bad = rng.choice(POISON)
        sends.insert(rng.randrange(len(sends) + 1), Send(bad, f"poison-{n}"))
    return sends


# The workshop's lab-2 conditions (the demo): 5 of every 40 records sent twice, revisions arriving out of order,
# and functions failing at random, before their work or after part of it.
DEMO_DEFAULTS = {
    "messages": 10_000,
    "trades": 500,
    "duplicates": 0.125,
    "out_of_order": 0.03,
    "function_errors": 0.05,
    "crash_rate": 0.05,
    "poison": 3,
}
# The traffic of ``watch``'s local run: the workshop's duplicates and failures.
WATCH_RATES = FaultRates(duplicates=0.125, function_errors=0.05, crash_after_write=0.05)
