"""The functions' shared wiring: the entry point builds its handler once per instance, from settings read once; a
stream consumer's handler injects its failures before any work and reports the failed records to Lambda."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import EventType

from functions.state import app as state_app
from localpipe.stack.lambda_context import LocalContext
from riskpipe.batching import batch_handler
from riskpipe.chaos import FailureInjector, InjectedFailure
from riskpipe.config import ConfigurationError
from riskpipe.wiring import Powertools, cold_start

CONTEXT = LocalContext("test")


def test_given_an_entry_point_when_invoked_twice_then_settings_are_read_and_the_handler_built_once() -> None:
    reads: list[int] = []
    builds: list[int] = []

    def settings() -> int:
        reads.append(1)
        return 7

    def build(value: int) -> Any:
        builds.append(value)
        return lambda event, context: {"seen": event["n"] * value}

    entry = cold_start(settings, build)

    assert entry({"n": 1}, CONTEXT) == {"seen": 7}
    assert entry({"n": 2}, CONTEXT) == {"seen": 14}
    assert (len(reads), builds) == (1, [7])


def test_given_a_settings_error_when_invoked_then_it_raises_and_the_next_invocation_tries_again() -> None:
    attempts: list[int] = []

    def settings() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConfigurationError("STREAM_NAME: missing")
        return 1

    entry = cold_start(settings, lambda _: lambda event, context: {"ok": True})

    with pytest.raises(ConfigurationError):
        entry({}, CONTEXT)
    assert entry({}, CONTEXT) == {"ok": True}
    assert len(attempts) == 2


def test_given_no_configuration_when_the_state_function_is_invoked_then_the_error_names_the_missing_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STATE_TABLE_NAME", raising=False)
    monkeypatch.delenv("POISON_QUEUE_URL", raising=False)

    with pytest.raises(ConfigurationError, match="STATE_TABLE_NAME"):
        state_app.lambda_handler({"Records": []}, CONTEXT)


def _kinesis_event(*sequence_numbers: str) -> dict[str, Any]:
    return {
        "Records": [
            {"eventSource": "aws:kinesis", "kinesis": {"sequenceNumber": n, "data": "", "partitionKey": "p"}}
            for n in sequence_numbers
        ]
    }


def test_given_a_batch_when_one_record_fails_then_only_it_is_reported_for_redelivery() -> None:
    def decide(event: dict[str, Any], context: Any) -> Any:
        def result(record: Any) -> str:
            if record.kinesis.sequence_number == "2":
                raise RuntimeError("write failed")
            return "accepted"

        return result

    handler = batch_handler(Powertools.of("test"), EventType.KinesisDataStreams, decide)

    assert handler(_kinesis_event("1", "2", "3"), CONTEXT) == {"batchItemFailures": [{"itemIdentifier": "2"}]}


def test_given_an_injected_failure_when_invoked_then_it_fails_before_the_domain_decides_anything() -> None:
    decided: list[int] = []

    def decide(event: dict[str, Any], context: Any) -> Any:
        decided.append(1)
        return lambda record: "accepted"

    handler = batch_handler(Powertools.of("test"), EventType.KinesisDataStreams, decide, FailureInjector(rate=1.0))

    with pytest.raises(InjectedFailure):
        handler(_kinesis_event("1"), CONTEXT)
    assert decided == []
