"""The Lambda context object and the template's function names, for everything that invokes a handler locally.

Tests, labs, benchmarks and the local pipeline import these from here, not from the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

STATE_FUNCTION = "StateFunction"
AGGREGATE_FUNCTION = "AggregateFunction"
REDUCE_FUNCTION = "ReduceFunction"
PRODUCER_FUNCTION = "ProducerFunction"
GAME_FUNCTION = "GameFunction"
FUNCTION_ALIASES = {
    "state": STATE_FUNCTION,
    "aggregate": AGGREGATE_FUNCTION,
    "map": AGGREGATE_FUNCTION,
    "reduce": REDUCE_FUNCTION,
    "producer": PRODUCER_FUNCTION,
    "game": GAME_FUNCTION,
}


@dataclass
class LocalContext:
    """The parts of Lambda's context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = "local"
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = ""
    remaining_time_in_millis: int = 60_000  # the functions' Timeout (Globals), as at the start of an invocation

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_time_in_millis
