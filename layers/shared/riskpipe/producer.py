"""The producer's domain: which risk messages to send (pure: no boto3; ``publisher.py`` puts them on the stream).

Two generators, both deterministic for a seed:

* ``generate_messages``: N messages over K trades, each trade's versions increasing, with exact
  re-sends (duplicates) at a given rate;
* ``workshop_calls``: what the DynamoDB workshop's generator (``GeneratorLambdaPackage``) sends: 250
  PutRecords calls of 40 records. In its second lab (``special_trades``) each call is 35 generated
  messages and 5 exact copies of some of them; about 3% of the generated messages revise an earlier trade
  with NEW content (a new Value and a new Hierarchy): a trade at Version 0 moves to Version 1, a trade
  already past 0 gets Version - 1, which must lose. Its partition key is the SHA-256 of the whole message
  (``content_partition_key``), so one trade's versions land on different shards.
"""

from __future__ import annotations

import hashlib
import random
import time
from decimal import Decimal

from riskpipe.models import Hierarchy, RiskMessage

RISK_TYPES = ("PV", "Delta")
REGIONS = ("EMEA", "APAC", "AMER")
TRADE_DESKS = ("FXSpot", "FXOptions")


def _random_hierarchy(rng: random.Random) -> Hierarchy:
    return Hierarchy(RiskType=rng.choice(RISK_TYPES), Region=rng.choice(REGIONS), TradeDesk=rng.choice(TRADE_DESKS))


def _random_value(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(0, 10_000_000)) / 100  # 0 to 100,000 with two decimals


def _message(trade_id: str, version: int, rng: random.Random, now: float, hierarchy: Hierarchy) -> RiskMessage:
    return RiskMessage(
        TradeID=trade_id,
        Value=_random_value(rng),
        Version=version,
        Timestamp=Decimal(str(round(now, 6))),
        Hierarchy=hierarchy,
    )


def generate_messages(
    count: int, trades: int, *, seed: int, duplicates: float = 0.0, now: float | None = None
) -> list[RiskMessage]:
    """``count`` messages over ``trades`` trades; a message is an exact re-send with probability ``duplicates``."""
    if trades < 1 or count < 0 or not 0.0 <= duplicates < 1.0:
        raise ValueError("need trades >= 1, count >= 0 and 0 <= duplicates < 1")
    rng = random.Random(seed)
    clock = time.time() if now is None else now
    next_version: dict[str, int] = {}
    hierarchies: dict[str, Hierarchy] = {}
    sent: list[RiskMessage] = []
    while len(sent) < count:
        if sent and rng.random() < duplicates:
            sent.append(rng.choice(sent))
            continue
        trade_id, version = _next_version(rng, next_version, trades)
        # A revision may move a trade to another desk, as real books do.
        if trade_id not in hierarchies or rng.random() < 0.1:
            hierarchies[trade_id] = _random_hierarchy(rng)
        sent.append(_message(trade_id, version, rng, clock + len(sent) * 1e-3, hierarchies[trade_id]))
    return sent


def _next_version(rng: random.Random, next_version: dict[str, int], trades: int) -> tuple[str, int]:
    """A new trade while fewer than ``trades`` were sent, then a random one; its next version."""
    trade_id = f"T{rng.randrange(trades):06d}" if len(next_version) >= trades else f"T{len(next_version):06d}"
    version = next_version.get(trade_id, 0)
    next_version[trade_id] = version + 1
    return trade_id, version


def workshop_calls(
    *,
    seed: int,
    calls: int = 250,
    per_call: int = 40,
    special_trades: bool = True,
    revision_rate: float = 0.03,
    copies_per_call: int = 5,
    now: float | None = None,
    trade_prefix: str = "W",
) -> list[list[RiskMessage]]:
    """The workshop generator's burst, one list per PutRecords call (its lab 1 with ``special_trades=False``:
    new trades only, no copies). New trades are named ``<trade_prefix><serial>``: give each burst its own
    prefix when bursts must not revise each other's trades. Publish it with ``content_partition_key``."""
    rng = random.Random(seed)
    clock = time.time() if now is None else now
    copies = min(copies_per_call, per_call - 1) if special_trades else 0
    revisions = revision_rate if special_trades else 0.0
    newest: dict[str, RiskMessage] = {}  # what the generator's own state keeps: the newest version sent
    result: list[list[RiskMessage]] = []
    serial = 0
    for _ in range(calls):
        call: list[RiskMessage] = []
        for _ in range(per_call - copies):
            serial += 1
            trade_id, version = _workshop_version(rng, newest, revisions, f"{trade_prefix}{serial:07d}")
            message = _message(trade_id, version, rng, clock + (serial - 1) * 1e-4, _random_hierarchy(rng))
            if trade_id not in newest or newest[trade_id].Version < version:
                newest[trade_id] = message
            call.append(message)
        generated = len(call)
        call.extend(call[rng.randrange(generated)] for _ in range(copies))
        result.append(call)
    return result


def _workshop_version(
    rng: random.Random, newest: dict[str, RiskMessage], revisions: float, new_trade: str
) -> tuple[str, int]:
    """The generator's choice: a new trade at Version 0, or a revision of a trade it sent (Version 1 for a trade
    at 0; past 0, Version - 1: an older version with new content, which must lose)."""
    if newest and rng.random() < revisions:
        trade_id = rng.choice(list(newest))
        current = newest[trade_id].Version
        return trade_id, current + 1 if current == 0 else current - 1
    return new_trade, 0


def content_partition_key(message: RiskMessage) -> str:
    """The workshop generator's partition key: the SHA-256 of the whole message as sent."""
    return hashlib.sha256(message.to_wire()).hexdigest()


def trade_partition_key(message: RiskMessage) -> str:
    """This project's partition key: the trade, so that one trade's versions stay in order on one shard."""
    return message.TradeID
