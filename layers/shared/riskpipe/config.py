"""Configuration, read from environment variables once per cold start and validated.

A missing or malformed variable fails the cold start with a message that names it, instead of failing
later on the first record.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from riskpipe.identifiers import DEFAULT_AGGREGATION_ORDER, HIERARCHY_LEVELS

NonEmpty = Annotated[str, Field(min_length=1)]


class ConfigurationError(RuntimeError):
    pass


class _EnvSettings(BaseModel):
    # Built on first use: each function validates only its own settings, and does not pay for the others'.
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        values = {name: env[name.upper()] for name in cls.model_fields if name.upper() in env}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
            raise ConfigurationError(f"{cls.__name__} is not configured: {problems}") from exc


class StreamFunctionSettings(_EnvSettings):
    """What every stream consumer shares: the SDK's attempts, and the failures it injects on purpose."""

    # botocore's standard retry mode retries throttling with backoff before a record is reported failed.
    dynamodb_max_attempts: int = Field(default=5, ge=1, le=20)
    injected_failure_rate: float = Field(default=0.0, ge=0.0, le=0.5)
    # Workshop mode: the workshop's ParameterTable, and the failure percentages this function stands for.
    parameter_table_name: str = ""
    failure_parameters: tuple[str, ...] = ()

    _failures = field_validator("failure_parameters", mode="before")(lambda value: _split_csv(value))


class StateSettings(StreamFunctionSettings):
    """The StateLambda: where the newest version of each trade lives, and where poison records go."""

    state_table_name: NonEmpty
    poison_queue_url: NonEmpty
    # Different trades of one batch are written concurrently; one trade never has two writes in flight.
    write_concurrency: int = Field(default=16, ge=1, le=64)
    # botocore's standard retry mode absorbs a blip of throttling (3 attempts: 3 s of backoff at most); a longer
    # burst is waited out by the service's own backoff, which knows the invocation's deadline (riskpipe.throttling).
    dynamodb_max_attempts: int = Field(default=3, ge=1, le=20)
    failure_parameters: tuple[str, ...] = ("FAILURE_STATE_LAMBDA_PCT",)


class AggregateSettings(StreamFunctionSettings):
    """The aggregate stage's map: where the per-trade applied-version markers and the partial results go, and
    where the changes that DynamoDB refuses as invalid are set aside."""

    partial_table_name: NonEmpty  # the ReduceTable, or with the combining level on the PartialTable
    combining: bool = False  # the template's Combining: which of the two that is (``riskpipe.partials.PartialKeys``)
    marker_table_name: NonEmpty
    poison_queue_url: NonEmpty
    aggregation_order: tuple[str, ...] = DEFAULT_AGGREGATION_ORDER
    transaction_max_attempts: int = Field(default=5, ge=1, le=20)
    failure_parameters: tuple[str, ...] = ("FAILURE_MAP_LAMBDA_PCT",)

    _order = field_validator("aggregation_order", mode="before")(lambda value: _split_csv(value))
    _levels = field_validator("aggregation_order")(lambda value: _known_levels(value))


class ReduceSettings(StreamFunctionSettings):
    """The aggregate stage's reduce: where the partials come from (the ReduceTable) and the aggregates go."""

    aggregate_table_name: NonEmpty
    reduce_table_name: NonEmpty
    poison_queue_url: NonEmpty  # the aggregate stage's: partials DynamoDB refuses to add are set aside there
    transaction_max_attempts: int = Field(default=5, ge=1, le=20)
    failure_parameters: tuple[str, ...] = ("FAILURE_REDUCE_LAMBDA_PCT",)


class CombineSettings(StreamFunctionSettings):
    """A combining lane of the aggregate stage: the PartialTable it combines from, the ReduceTable it puts the
    combined partials into, and where the partials that DynamoDB refuses to combine are set aside (the aggregate
    stage's poison queue)."""

    partial_table_name: NonEmpty
    reduce_table_name: NonEmpty
    poison_queue_url: NonEmpty
    transaction_max_attempts: int = Field(default=5, ge=1, le=20)
    # In the workshop, the combining lanes are a part of its reduce: they fail at its percentage.
    failure_parameters: tuple[str, ...] = ("FAILURE_REDUCE_LAMBDA_PCT",)


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _known_levels(value: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [level for level in value if level not in HIERARCHY_LEVELS]
    if unknown or not value or len(set(value)) != len(value):
        raise ValueError(f"must be distinct levels among {', '.join(HIERARCHY_LEVELS)}, got {', '.join(value)}")
    return value


class GameSettings(_EnvSettings):
    """The game loop: where it sends its rounds, where it reads the aggregates, how long it waits."""

    stream_name: NonEmpty
    aggregate_table_name: NonEmpty
    aggregation_order: tuple[str, ...] = DEFAULT_AGGREGATION_ORDER
    check_seconds: int = Field(default=30, ge=5, le=120)  # the burst and the check fit the 180 s timeout
    put_max_attempts: int = Field(default=8, ge=1, le=50)

    _order = field_validator("aggregation_order", mode="before")(lambda value: _split_csv(value))
    _levels = field_validator("aggregation_order")(lambda value: _known_levels(value))


class ProducerSettings(_EnvSettings):
    """The producer: which stream it writes to."""

    stream_name: NonEmpty
    put_max_attempts: int = Field(default=8, ge=1, le=50)
