"""The fault plan: every fault a local run injects, each a seeded rate, so that a run is reproducible.

One ``FaultPlan`` holds the rates (``FaultRates``), the poison count, the seed and, for the property tests, one
shared generator (hypothesis' own, so that a failing history shrinks). Every part of the local pipeline that
injects a fault asks the plan for it; none draws its own numbers. Where each fault acts:

=====================  ===================================  ==================================================  =====
fault                  set by                               acts in                                             drawn
=====================  ===================================  ==================================================  =====
producer duplicates    ``FaultRates.duplicates``            ``riskpipe.producer.generate_messages`` (traffic)   seed
out-of-order versions  ``FaultRates.out_of_order``          ``scenario.scenario_sends``: a second producer      seed
poison records         ``FaultPlan.poison`` (a count)       ``scenario.scenario_sends``: raw bytes mixed in     seed
function error         ``FaultRates.function_errors``       ``FunctionFaults.wrap``: before the real handler    1
crash after write      ``FaultRates.crash_after_write``     ``FunctionFaults.wrap``: after it, before return    1
DynamoDB throttling    ``FaultRates.throttling``            ``sdk.ThrottlingPlan``: before-send hook            5
throttling bursts      ``throttling_bursts, burst_length``  ``sdk.ThrottlingPlan``: a hot partition             5
SDK backoff jitter     ``PipelineOptions.backoff_scale``    ``sdk.CompressedTime``: compressed waits            7
lost checkpoint        ``FaultRates.lost_checkpoint``       ``DeliveryFaults``, asked by the ESM on success     2 3 6 8
resharding overlap     ``FaultRates.overlap``               ``DeliveryFaults``, asked by the ESM per delivery   2 3 6 8
deployed failures      ``FAILURE_RATE`` / workshop mode     ``riskpipe.chaos`` inside the deployed functions    own
=====================  ===================================  ==================================================  =====

"drawn": the generator, ``random.Random(seed + n)`` for purpose n (``FaultPlan.generator``); 2, 3 and 6 are the
state, map and reduce mappings' own generators, which also choose their lanes, and 8 the combining lanes' mapping's
(with the template's combining level on; the function faults then reach its handler too). ``riskpipe.chaos`` acts
only in the functions as deployed (AWS, MiniStack, Lambda containers), never in a local run's handlers.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localpipe.faults.rates import BACKOFF_JITTER, FUNCTION_FAULTS, THROTTLING, FaultRates, FaultSwitch
from localpipe.faults.scenario import Send, scenario_sends
from localpipe.faults.sdk import FaultSession


class InjectedFunctionError(RuntimeError):
    """The function failed before doing anything (the workshop's random failure)."""


class InjectedCrash(RuntimeError):
    """The function did its work, then died before returning (timeout, out of memory, a lost instance)."""


class FunctionFaults:
    """Function-side faults around the real handlers, all drawn from one generator in invocation order."""

    def __init__(self, rng: random.Random, switch: FaultSwitch | None = None) -> None:
        self._rng = rng
        self._switch = switch or FaultSwitch()

    def wrap(self, handler: Callable[[dict, Any], Any], rates: FaultRates, context: Any) -> Callable[[dict], Any]:
        """The invoker a mapping calls: the real handler, with a function error before it and a crash after it.
        Both are drawn on every call, at rate 0 too, so that adding an invoker keeps the other draws in order."""
        rng, switch = self._rng, self._switch

        def invoke(event: dict) -> Any:
            if not switch.on:
                return handler(event, context)
            if rng.random() < rates.function_errors:
                raise InjectedFunctionError("injected function error")
            response = handler(event, context)
            if rng.random() < rates.crash_after_write:
                raise InjectedCrash("injected crash after the function's writes, before it returned")
            return response

        return invoke


class DeliveryFaults:
    """Faults on the platform side of one mapping (a lost checkpoint, a second consumer on the shard), drawn from
    the mapping's generator ``rng``: the mapping asks, in delivery order, and draws nothing itself."""

    def __init__(
        self,
        rng: random.Random,
        *,
        lost_checkpoint: float = 0.0,
        overlap: float = 0.0,
        switch: FaultSwitch | None = None,
    ) -> None:
        self._rng = rng
        self.lost_checkpoint_rate = lost_checkpoint
        self.overlap_rate = overlap
        self._switch = switch or FaultSwitch()

    def overlap(self) -> tuple[bool, bool]:
        """(a second consumer takes this batch too, it does so before ours)."""
        if not self._switch.on:
            return False, False
        overlap = self._rng.random() < self.overlap_rate
        return overlap, overlap and self._rng.random() < 0.5

    def lost_checkpoint(self) -> bool:
        """The checkpoint of a successful batch is lost: the batch will be delivered again as it is."""
        return self._switch.on and self._rng.random() < self.lost_checkpoint_rate


@dataclass(frozen=True)
class FaultPlan:
    """Every fault of a local run (see the module's table). ``rng``: one generator for every purpose instead of
    one per purpose seeded from ``seed``."""

    rates: FaultRates = field(default_factory=FaultRates)
    seed: int = 0
    poison: int = 0
    rng: random.Random | None = None
    switch: FaultSwitch = field(default_factory=FaultSwitch, compare=False)

    def stop(self) -> None:
        """Every fault of the plan stops now: function errors and crashes, lost checkpoints, overlaps, throttling."""
        self.switch.stop()

    def generator(self, purpose: int) -> random.Random:
        return self.rng if self.rng is not None else random.Random(self.seed + purpose)

    def traffic(self, messages: int, trades: int, now: float | None = None) -> list[Send]:
        """The records to send: generated messages with the plan's duplicates, late versions and poison."""
        return scenario_sends(
            messages=messages, trades=trades, seed=self.seed, rates=self.rates, poison=self.poison, now=now
        )

    def function_faults(self) -> FunctionFaults:
        return FunctionFaults(self.generator(FUNCTION_FAULTS), self.switch)

    def delivery(self, rng: random.Random) -> DeliveryFaults:
        """The delivery faults of the mapping whose generator is ``rng``."""
        rates = self.rates
        return DeliveryFaults(rng, lost_checkpoint=rates.lost_checkpoint, overlap=rates.overlap, switch=self.switch)

    def session(self, region: str, backoff_scale: float) -> FaultSession:
        """The functions' session: throttling injected, the SDK's backoff compressed by ``backoff_scale``."""
        return FaultSession(
            region,
            throttling=self.rates.throttling,
            rng=self.generator(THROTTLING),
            backoff_scale=backoff_scale,
            bursts=self.rates.throttling_bursts,
            burst_length=self.rates.burst_length,
            jitter=self.generator(BACKOFF_JITTER),
            switch=self.switch,
        )
