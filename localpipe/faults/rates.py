"""The rates of the fault plan (``plan.FaultPlan``), the purposes its seeded generators are drawn for, and the switch
that stops all its faults at once."""

from __future__ import annotations

from dataclasses import dataclass

# The purposes of the plan's generators (each ``random.Random(seed + purpose)`` unless one generator is shared).
RUN_LOOP, FUNCTION_FAULTS, STATE_MAPPING, MAP_MAPPING, THROTTLING, REDUCE_MAPPING, BACKOFF_JITTER = 0, 1, 2, 3, 5, 6, 7
COMBINE_MAPPING = 8  # the combining lanes' mapping, with the template's combining level on
PACING = 6  # the StateLambda's own backoff jitter on throttling


@dataclass(frozen=True)
class FaultRates:
    duplicates: float = 0.0  # the producer sends a record twice
    out_of_order: float = 0.0  # a second producer: versions of a trade overtake each other
    lost_checkpoint: float = 0.0  # a batch delivered again after it succeeded
    crash_after_write: float = 0.0
    function_errors: float = 0.0
    throttling: float = 0.0  # per DynamoDB write call
    overlap: float = 0.0  # a second consumer on the same shard (resharding overlap)
    throttling_bursts: float = 0.0  # per DynamoDB write call: it starts a burst of refusals
    burst_length: tuple[int, int] = (3, 12)  # refusals in one burst, drawn uniformly between the two

    def __post_init__(self) -> None:
        for name, rate in self.__dict__.items():
            if isinstance(rate, float) and not 0.0 <= rate < 1.0:
                raise ValueError(f"fault rate {name} must be in [0, 1), got {rate}")
        shortest, longest = self.burst_length
        if not 1 <= shortest <= longest:
            raise ValueError(f"burst_length must be (shortest, longest), 1 <= shortest <= longest: {self.burst_length}")

    @property
    def throttles(self) -> bool:
        return self.throttling > 0 or self.throttling_bursts > 0


class FaultSwitch:
    """On until ``stop``: then every fault of the plan stops at once, and nothing more is drawn (a run that goes on to
    redrive what its faults made the stages give up, ``make pipeline ARGS="... --redrive"``)."""

    def __init__(self) -> None:
        self.on = True

    def stop(self) -> None:
        self.on = False
