"""How a local pipeline is set up: ``PipelineOptions``, every choice of a run but the stack it runs on."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from localpipe.faults.plan import FaultPlan
from localpipe.faults.rates import FaultRates
from localpipe.pipeline.backend import Backend, InProcessBackend
from riskpipe.aggregate_service import ChangeApplier
from riskpipe.config import AggregateSettings, ReduceSettings, StateSettings
from riskpipe.reduce_service import PartialApplier
from riskpipe.state_service import BatchDecider

# The SDK's backoff after a throttled write is slept at 1/100 of real time locally (see compress_retry_backoff).
DEFAULT_BACKOFF_SCALE = 0.01
StateFactory = Callable[[StateSettings, boto3.Session], BatchDecider]
AggregateFactory = Callable[[AggregateSettings, boto3.Session], ChangeApplier]
ReduceFactory = Callable[[ReduceSettings, boto3.Session], PartialApplier]


@dataclass(frozen=True)
class PipelineOptions:
    """``faults``: every injected fault and the seed of every random choice (``faults.FaultPlan``).
    ``mapping_overrides``: event source mapping settings by function, over the template's (for example
    ``{"StateFunction": {"MaximumRetryAttempts": 0}}``). ``backoff_scale``: how much of the SDK's retry backoff is
    really slept (see ``faults.sdk.compress_retry_backoff``). ``on_session``: called with the functions' session
    before any client is made from it (to observe their AWS calls). ``function_session``: the session one function
    (by logical id) makes its clients with, from the run's (``make permissions-record`` records each function's
    requests as its own this way). ``state_service`` / ``aggregate_service`` /
    ``reduce_service``: build the functions' domain from their settings and session instead of the functions' own
    ``build_service`` (the naive versions, a lab's workbench). ``emit_metrics``: let the functions print their
    metrics (EMF lines on stdout); by default only with ``verbose``. ``backend``: where the functions run (in this
    process, or in Lambda containers: ``backend.LambdaBackend``)."""

    faults: FaultPlan = field(default_factory=FaultPlan)
    naive: bool = False
    verbose: bool = False
    emit_metrics: bool | None = None
    clock: Callable[[], float] = time.time
    mapping_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    backoff_scale: float = DEFAULT_BACKOFF_SCALE
    on_session: Callable[[boto3.Session], None] | None = None
    function_session: Callable[[str, boto3.Session], boto3.Session] | None = None
    state_service: StateFactory | None = None
    aggregate_service: AggregateFactory | None = None
    reduce_service: ReduceFactory | None = None
    backend: Backend = field(default_factory=InProcessBackend)

    @classmethod
    def of(
        cls, *, rates: FaultRates | None = None, seed: int = 0, rng: random.Random | None = None, **fields: Any
    ) -> PipelineOptions:
        """The options from keywords, the fault plan's given as ``rates``, ``seed`` and ``rng``."""
        return cls(faults=FaultPlan(rates or FaultRates(), seed=seed, rng=rng), **fields)

    @property
    def metrics_printed(self) -> bool:
        return self.verbose if self.emit_metrics is None else self.emit_metrics
