"""Shared fixtures: AWS is moto (in process, or its server on 127.0.0.1), resources come from template.yaml,
handlers are the real ones. Also the hypothesis profiles (``ci``, the default: a few hundred histories with
fixed seeds, so that CI is reproducible; ``soak``: ``make soak``, thousands, freshly random; picked by
``HYPOTHESIS_PROFILE``) and the totals of the property runs printed at the end of the session (and, for a soak,
published as docs/results/soak.json for ``make results``)."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, settings

from localpipe.stack.lambda_context import LocalContext
from localpipe.stack.local import deploy_local, local_aws, local_stack
from localpipe.stack.resources import Deployed
from localpipe.stack.server import moto_server
from results.record import publish

HYPOTHESIS_COMMON: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    "print_blob": True,
    "database": None,
}
settings.register_profile("ci", max_examples=200, **HYPOTHESIS_COMMON)
settings.register_profile("soak", max_examples=int(os.environ.get("SOAK_HISTORIES", "1000")), **HYPOTHESIS_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Totals over every property test (also when they ran on xdist workers: figures travel in the reports)."""
    figures: Counter[str] = Counter()
    failed_runs = 0  # property runs that found a violating history (each stops at its first, shrunk)
    counterexamples = []
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "") != "call":
                continue
            for name, value in getattr(report, "user_properties", []):
                if name == "history_figures":
                    figures.update(value)
                    failed_runs += outcome == "failed"
                elif name == "naive_counterexample":
                    counterexamples.append(value)
    if not figures and not counterexamples:
        return
    write = terminalreporter.write_line
    terminalreporter.section("property-based histories")
    if figures:
        write(
            f"{figures['histories']:,} histories checked, "
            + ("0 violations " if not failed_runs else f"VIOLATED in {failed_runs} run(s), shrunk history above ")
            + f"({figures['seconds']:,} s of checking): {figures['records']:,} records sent, "
            f"{figures['deliveries']:,} deliveries ({figures['retried_batches']:,} batches retried, "
            f"{figures['lost_checkpoints']:,} lost checkpoints, {figures['overlaps']:,} overlapping consumers); "
            f"accepted {figures['accepted']:,}, duplicate {figures['duplicate']:,}, stale {figures['stale']:,}, "
            f"poison {figures['poison']:,}, exhausted {figures['exhausted']:,}; "
            f"{figures['aggregate_duplicates_skipped']:,} map redeliveries skipped; "
            f"{figures['partials_written']:,} partials written, {figures['partials_skipped']:,} delivered again and "
            f"skipped by the reduce, in {figures['reduce_transactions']:,} reduce transactions; "
            f"{figures['combining_histories']:,} histories with the combining level: "
            f"{figures['partials_combined']:,} partials combined into {figures['combined_partials_written']:,}, "
            f"{figures['combine_skipped']:,} delivered again and skipped by the combining lanes "
            f"({figures['combine_retried_batches']:,} batches retried, {figures['combine_lost_checkpoints']:,} lost "
            f"checkpoints, {figures['combine_overlaps']:,} overlapping consumers)"
        )
        if "map_given_up" in figures:
            write(
                f"given up by the map: {figures['map_given_up']:,} records of {figures['map_gap_trades']:,} trades, "
                f"{figures['map_healed']:,} of them healed by their next change before any redrive; the redrive "
                f"brought back state {figures['redriven_state']:,}, map {figures['redriven_map']:,}, combine "
                f"{figures['redriven_combine']:,}, reduce {figures['redriven_reduce']:,}, poison "
                f"{figures['redriven_poison']:,}"
            )
        write(
            f"give-ups: the map in {figures['histories_map_gave_up']:,} histories ({figures['map_exhausted']:,} "
            f"records), the combining lanes in {figures['histories_combine_gave_up']:,} "
            f"({figures['combine_exhausted']:,} partials), the reduce in {figures['histories_reduce_gave_up']:,} "
            f"({figures['reduce_exhausted']:,} partials)"
        )
        # A soak's totals are published by the session that gathers them all: not by an xdist worker (its share).
        if os.environ.get("HYPOTHESIS_PROFILE") == "soak" and not os.environ.get("PYTEST_XDIST_WORKER"):
            asked = settings.default.max_examples  # SOAK_HISTORIES
            path = publish("soak", {"totals": dict(figures), "failed_runs": failed_runs, "histories_asked": asked})
            write(f"figures published as {path.relative_to(ROOT)} (make results renders them in docs/results.md)")
    for text in counterexamples:
        write("naive pipeline counterexample (the same properties, violated):")
        for line in text.splitlines():
            write(f"  {line}")


ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

# The functions' metrics are printed as EMF on stdout; keep test output readable.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def aws() -> Iterator[boto3.Session]:
    with local_aws(in_process=True) as session:
        yield session


@pytest.fixture
def stack(aws: boto3.Session) -> Deployed:
    return deploy_local(aws)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server on 127.0.0.1 for the session (started and stopped here), for tests that need real
    HTTP between the SDK and AWS: retries, throttling answered before the request leaves botocore."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def server_stack(moto_endpoint: str) -> Iterator[Deployed]:
    """The template's resources on the moto server, under a prefix of their own."""
    with local_stack(moto_endpoint) as deployed:
        yield deployed


@pytest.fixture
def context() -> LocalContext:
    return LocalContext(function_name="test")
