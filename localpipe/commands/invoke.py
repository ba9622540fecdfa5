"""``python -m localpipe invoke FUNCTION EVENT``: one function, in process, with an event file (no Docker)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from localpipe.containers.samples import EVENTS, Expectation, Observed, load_expectations, mismatches, observe, seed
from localpipe.pipeline.options import PipelineOptions
from localpipe.pipeline.pipeline import LocalPipeline
from localpipe.report.tree import aggregate_tree
from localpipe.stack.lambda_context import (
    AGGREGATE_FUNCTION,
    FUNCTION_ALIASES,
    PRODUCER_FUNCTION,
    REDUCE_FUNCTION,
    STATE_FUNCTION,
)
from localpipe.stack.local import local_stack
from riskpipe.identifiers import MESSAGE_COUNT_ID

console = Console(stderr=False)


def invoke(args: argparse.Namespace) -> int:
    """Invoke one function in process with an event file, against a fresh local stack (no Docker).

    ``--repeat N`` delivers the same event N times (a redelivery). For a sample of ``events/`` delivered once,
    the result is checked against ``events/expected.json``."""
    function = FUNCTION_ALIASES.get(args.function, args.function)
    event_path = Path(args.event).resolve()
    event = json.loads(event_path.read_text())
    expectation = _expectation_for(event_path)
    with local_stack() as deployed:
        pipeline = LocalPipeline(deployed, PipelineOptions(verbose=True))
        seed(deployed, expectation)
        handlers = {
            STATE_FUNCTION: pipeline.invoke_state,
            AGGREGATE_FUNCTION: pipeline.invoke_aggregate,
            REDUCE_FUNCTION: pipeline.invoke_reduce,
            PRODUCER_FUNCTION: pipeline.invoke_producer,
        }
        if function not in handlers:
            console.print(f"[red]unknown function {args.function!r}: use one of {', '.join(FUNCTION_ALIASES)}[/red]")
            return 2
        for delivery in range(1, args.repeat + 1):
            response = handlers[function](event)
            console.rule(f"{function} returned (delivery {delivery} of {args.repeat})")
            console.print_json(json.dumps(response, default=str))
        observed = observe(deployed, response)
        _print_observed(observed)
    if expectation is None or args.repeat != 1:
        return 0
    problems = mismatches(expectation, observed) if expectation.function == function else ["not its function"]
    if problems:
        console.print(f"[red]{expectation.event}: NOT as expected: {'; '.join(problems)}[/red]")
        return 1
    console.print(f"[green]{expectation.event}: as expected (events/expected.json)[/green]")
    return 0


def _expectation_for(event_path: Path) -> Expectation | None:
    try:
        relative = str(event_path.relative_to(EVENTS))
    except ValueError:
        return None
    return load_expectations().get(relative)


def _print_observed(observed: Observed) -> None:
    console.rule(f"StateTable ({len(observed.state)} items)")
    for trade, message in sorted(observed.state.items())[:20]:
        console.print(f"{trade}  v{message.Version}  {message.Value}  {message.Hierarchy.as_json()}")
    console.rule(f"poison-record queue ({len(observed.poison_reasons)} messages)")
    for reason in observed.poison_reasons:
        console.print(reason)
    console.rule(f"risk stream ({observed.stream_records} records)")
    aggregates = dict(observed.aggregates)
    if aggregates:
        console.rule("AggregateTable")
        count = aggregates.pop(MESSAGE_COUNT_ID, None)
        console.print(aggregate_tree(aggregates, message_count=count))
