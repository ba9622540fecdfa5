"""``make permissions-record``: the recording made again, from what the project's code really does on a local AWS
(moto), each principal through clients of its own (``recorder.py``):

* the demo's traffic with every fault on (duplicates, late versions, lost checkpoints, crashes after the write,
  function errors, throttling and its bursts, a second consumer on a shard, poison records), through the local
  pipeline: the producer, the StateLambda, the aggregate (map) and the reduce, as it wires them;
* a soak sample: more runs, with fault rates drawn from a seeded generator;
* the paths that traffic does not reach: sums DynamoDB refuses, set aside by the map and by the reduce;
* each function's own cold-start wiring (``lambda_handler``, its clients from boto3's default session) once, in
  workshop mode too, where the stream functions read the workshop's failure percentages: the game, and every
  function the pipeline does not run;
* the operator commands (``OPERATOR_COMMANDS``), run as ``make`` runs them against a stack, on a stack with drift;
* with a checkout of the workshop (``--workshop``): its generator's ``lambda_handler``, unchanged, against the
  workshop-mode names, and its frontend's request, read from its page.

Not recorded here: the functions running in MiniStack's Lambda workers behind ``make up`` and ``make e2e`` (their
clients live in MiniStack's worker processes, out of this process's reach); their code is the same code, driven
here in process.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3

from localpipe.faults.plan import FaultPlan
from localpipe.faults.rates import FaultRates
from localpipe.faults.scenario import Send
from localpipe.pipeline.options import PipelineOptions
from localpipe.pipeline.pipeline import LocalPipeline
from localpipe.stack.lambda_context import LocalContext
from localpipe.stack.local import local_aws, local_stack
from localpipe.stack.resources import Deployed
from localpipe.stack.server import environment
from localpipe.stack.shapes import risk_message, state_item
from permissions.foreign import FRONTEND, GENERATOR, GENERATOR_PACKAGE, WORKSHOP_RESOURCES, Workshop, frontend_requests
from permissions.principals import OPERATOR
from permissions.recorder import Namer, Recorder, default_session
from permissions.recording import ROOT, WHEN, Recording, code_hashes
from riskpipe.models import Hierarchy

# The operator commands, as make runs them against a stack (``{stack}``: its name). One line per command.
OPERATOR_COMMANDS: dict[str, list[str]] = {
    "make redrive ARGS='--stack NAME'": ["redrive", "--stack", "{stack}"],
    "make reconcile ARGS='--stack NAME --repair'": ["reconcile", "--stack", "{stack}", "--repair"],
}
ALL_FAULTS = FaultRates(
    duplicates=0.125,
    out_of_order=0.03,
    lost_checkpoint=0.05,
    crash_after_write=0.05,
    function_errors=0.05,
    throttling=0.05,
    overlap=0.05,
    throttling_bursts=0.01,
)
SOAK_FAULTS = (
    "duplicates",
    "out_of_order",
    "lost_checkpoint",
    "crash_after_write",
    "function_errors",
    "throttling",
    "overlap",
    "throttling_bursts",
)
MESSAGES, TRADES, POISON = 2_000, 200, 3
SOAK_RUNS = 3
DELTA = Hierarchy(RiskType="Delta", Region="EMEA", TradeDesk="FXSpot")


def namer_of(deployed: Deployed, stack_name: str = "") -> Namer:
    return Namer.of(deployed.names, deployed.arns, {"StreamArn": deployed.stream_arns}, stack_name=stack_name)


def recording_options(recorder: Recorder, **fields: Any) -> PipelineOptions:
    def session(function: str, base: boto3.Session) -> Any:
        return recorder.session(function, base)

    return PipelineOptions(function_session=session, **fields)


@contextlib.contextmanager
def _stack(recorder: Recorder, **overrides: Any) -> Iterator[Deployed]:
    with local_stack(overrides=overrides or None) as deployed:
        recorder.namer = namer_of(deployed)
        recorder.when = tuple((name, str(deployed.template.parameters[name])) for name in WHEN)
        yield deployed
    recorder.when = ()


def demo(recorder: Recorder, **overrides: Any) -> str:
    plan = FaultPlan(ALL_FAULTS, seed=23, poison=POISON)
    with _stack(recorder, **overrides) as deployed:
        LocalPipeline(deployed, recording_options(recorder, faults=plan)).run(plan.traffic(MESSAGES, TRADES))
    with_ = ", with the combining level" if overrides else ""
    return (
        f"local pipeline{with_}, {MESSAGES:,} messages over {TRADES} trades, {POISON} poison, every fault on (seed 23)"
    )


def soak(recorder: Recorder) -> str:
    rng = random.Random(2323)
    for run in range(SOAK_RUNS):
        drawn = {name: round(rng.uniform(0, 0.2), 3) for name in SOAK_FAULTS}
        rates = dataclasses.replace(ALL_FAULTS, **drawn)  # type: ignore[arg-type]
        plan = FaultPlan(rates, seed=run, poison=rng.randint(0, 3))
        with _stack(recorder) as deployed:
            LocalPipeline(deployed, recording_options(recorder, faults=plan)).run(plan.traffic(500, 50))
    return f"soak sample: {SOAK_RUNS} local pipeline runs of 500 messages, fault rates drawn from seed 2323"


def refused_sums(recorder: Recorder, *, combining: bool = False) -> str:
    """Changes DynamoDB refuses (40 significant digits), written to the StateTable as an item from before the numeric
    domain would be: a trade's own change (from 1E+37 to 0.01) set aside by the map; two trades' sums, one change per
    map batch (each partial fits), set aside by the reduce (with the combining level: combined one by one, the lanes
    refused their sum too, then set aside by the reduce)."""
    stack = {"Combining": "true"} if combining else {}
    scenarios: tuple[tuple[dict[str, Any], list[tuple[str, str]], list[Any]], ...] = (
        ({}, [("OLD-1", "1E+37")], [risk_message("OLD-1", 1, "0.01", hierarchy=DELTA)]),
        (
            {"AggregateFunction": {"BatchSize": 1}},
            [("OLD-1", "1E+37"), ("OLD-2", "0.01")],
            [risk_message("T1", 0, "1")],
        ),
    )
    for overrides, written, sent in scenarios:
        with _stack(recorder, **stack) as deployed:
            for trade, value in written:
                message = risk_message(trade, 0, value, hierarchy=DELTA, timestamp=1700000000, checked=False)
                deployed.client("dynamodb").put_item(TableName=deployed.names["StateTable"], Item=state_item(message))
            pipeline = LocalPipeline(deployed, recording_options(recorder, mapping_overrides=overrides))
            pipeline.drain()  # the items written first are applied first: a chain of both would add the newest only
            report = pipeline.run([Send.of(m) for m in sent])
            if report.aggregate_set_aside < 1:
                raise RuntimeError("no change was set aside: the scenario no longer reaches that path")
    with_ = ", with the combining level" if combining else ""
    return f"changes DynamoDB refuses, set aside by the map and by the reduce{with_}"


def cold_starts(recorder: Recorder, *, workshop: bool) -> str:
    """Each function's ``lambda_handler`` once, as Lambda runs it: its settings from its environment (the
    template's, with the local stack's names), its clients from boto3's default session, here the recording one."""
    # outside workshop mode with the combining level, so that every function of the template is there
    overrides = {"WorkshopMode": "true", "InjectedFailureRate": 0} if workshop else {"Combining": "true"}
    with _stack(recorder, **overrides) as deployed:
        if workshop:
            _set_failure_percentages(deployed)
        for logical, spec in deployed.template.functions().items():
            event = _event(logical)
            with environment(deployed.function_env(spec)), default_session(recorder.session(logical)):
                module = importlib.import_module(spec.module)
                importlib.reload(module)  # a fresh cold start: its handler built in this session
                module.lambda_handler(event, LocalContext(logical))
    return f"each function's lambda_handler once{' in workshop mode' if workshop else ''}"


def _set_failure_percentages(deployed: Deployed) -> None:
    client = deployed.client("dynamodb")
    for name in ("FAILURE_STATE_LAMBDA_PCT", "FAILURE_MAP_LAMBDA_PCT", "FAILURE_REDUCE_LAMBDA_PCT"):
        item = {"parameter": {"S": name}, "value": {"N": "0"}}
        client.put_item(TableName=deployed.names["ParameterTable"], Item=item)


# The event each function's cold start is given: the repository's sample events (events/), the game's smallest round.
SAMPLE_EVENTS = {
    "ProducerFunction": "events/producer/generate.json",
    "StateFunction": "events/state/kinesis-poison.json",
    "AggregateFunction": "events/aggregate/dynamodb-insert.json",
    "ReduceFunction": "events/reduce/dynamodb-partials.json",
    "CombineFunction": "events/combine/dynamodb-partials.json",
}
GAME_ROUND = {"profile": "workshop", "calls": 1, "seed": 1, "round_id": "record"}


def _event(logical: str) -> dict[str, Any]:
    if logical in SAMPLE_EVENTS:
        return dict(json.loads((ROOT / SAMPLE_EVENTS[logical]).read_text()))
    return dict(GAME_ROUND)


def operators(recorder: Recorder, *, combining: bool = False) -> str:
    """Each operator command against a stack that needs every kind of repair: batches every stage gave up (the
    StateLambda's, the map's, the combining lanes' with the combining level, the reduce's: partials pending) and
    poison records, for the redrive; an aggregate off and a trade's marker gone, for the reconcile's repair."""
    from localpipe.commands.cli import main as localpipe_main

    plan = FaultPlan(FaultRates(function_errors=0.5), seed=5, poison=2)
    functions = ("StateFunction", "AggregateFunction", "ReduceFunction", *(("CombineFunction",) if combining else ()))
    overrides = {  # small batches, each given up at its first error: some of every stage's batches are applied
        function: {"BatchSize": 10, "MaximumRetryAttempts": 0, "BisectBatchOnFunctionError": False}
        for function in functions
    }
    with _stack(recorder, **({"Combining": "true"} if combining else {})) as deployed:
        LocalPipeline(deployed, PipelineOptions(faults=plan, mapping_overrides=overrides)).run(plan.traffic(300, 30))
        client, names = deployed.client("dynamodb"), deployed.names
        off = {"Identifier": {"S": "message_count"}, "Value": {"N": "-1"}}
        client.put_item(TableName=names["AggregateTable"], Item=off)
        marker = client.scan(TableName=names["AggregateMarkerTable"], Limit=1)["Items"][0]
        client.delete_item(TableName=names["AggregateMarkerTable"], Key={"pk": marker["pk"]})
        name = _describable_stack(deployed)
        recorder.namer = namer_of(deployed, stack_name=name)
        for argv in OPERATOR_COMMANDS.values():
            with default_session(recorder.session(OPERATOR)), contextlib.redirect_stdout(sys.stderr):
                localpipe_main([a.format(stack=name) for a in argv])
    return (
        f"operator commands, on a stack{' with the combining level' if combining else ''} needing every repair "
        "(batches every stage gave up, poison records, an aggregate off, a marker gone): "
        + (", ".join(OPERATOR_COMMANDS))
    )


def _describable_stack(deployed: Deployed) -> str:
    """A CloudFormation stack on the local AWS whose outputs are the local stack's names, as the deployed one's
    are: what the operator commands read."""
    outputs = {}
    for name, output in _outputs().items():
        reference = output["Value"].get("Ref") if isinstance(output["Value"], dict) else None
        if reference in deployed.names:
            outputs[name] = {"Value": deployed.names[reference]}
    body = {"Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}, "Outputs": outputs}
    name = "risk-pipeline-recorded"
    deployed.session.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(body))
    return name


def _outputs() -> dict[str, Any]:
    from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

    from localpipe.stack.template import TEMPLATE_PATH

    return dict(load_cfn_yaml(str(TEMPLATE_PATH)).get("Outputs", {}))


def workshop_clients(recorder: Recorder, workshop: Workshop) -> str:
    """The workshop's generator, unchanged (one round: its puts, its 30 s wait, its check, its score), against the
    workshop's names on the local AWS; its frontend's request, read from its page."""
    with local_aws() as session:
        names = _workshop_resources(session)
        recorder.namer = Namer({physical: logical for logical, physical in names.items()})
        recorder.extend(frontend_requests(workshop, {physical: logical for logical, physical in names.items()}))
        with default_session(recorder.session(GENERATOR)), contextlib.redirect_stdout(sys.stderr):
            from labs.workshop_rounds import load_generator

            generator = load_generator(workshop.root / GENERATOR_PACKAGE)
            generator.lambda_handler({}, None)
    return "the workshop's generator (one round) and frontend, from a checkout of the workshop"


def _workshop_resources(session: boto3.Session) -> dict[str, str]:
    """The resources the workshop's clients use, under the names workshop mode gives them."""
    from permissions.__main__ import configurations, template_of
    from permissions.stack import ConcreteStack, StackIdentity

    [workshop] = [c for c in configurations() if c.workshop]
    stack = ConcreteStack.resolve(template_of(workshop.parameters), StackIdentity("recorded", session.region_name, "0"))
    names = {ours: stack.names[ours] for ours in WORKSHOP_RESOURCES.values()}
    kinesis, dynamodb = session.client("kinesis"), session.client("dynamodb")
    kinesis.create_stream(StreamName=names["RiskStream"], ShardCount=2)
    for table in ("AggregateTable", "ParameterTable"):
        props = stack.resources[table]["Properties"]
        dynamodb.create_table(
            TableName=names[table],
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode="PAY_PER_REQUEST",
        )
    return names


def record_all(args: argparse.Namespace) -> int:
    recorder = Recorder(Namer({}))
    recording = Recording()
    steps: dict[str, Callable[[], str]] = {
        "demo": lambda: demo(recorder),
        "demo, combining level": lambda: demo(recorder, Combining="true"),
        "soak": lambda: soak(recorder),
        "refused sums": lambda: refused_sums(recorder),
        "refused sums, combining level": lambda: refused_sums(recorder, combining=True),
        "cold starts": lambda: cold_starts(recorder, workshop=False),
        "cold starts, workshop mode": lambda: cold_starts(recorder, workshop=True),
        "operators": lambda: operators(recorder),
        "operators, combining level": lambda: operators(recorder, combining=True),
    }
    if args.workshop:
        steps["workshop clients"] = lambda: workshop_clients(recorder, Workshop(args.workshop))
    for number, (name, step) in enumerate(steps.items(), start=1):
        print(f"recording {number}/{len(steps)}: {name}", file=sys.stderr)
        recording.sources[name] = step()
    if not args.workshop:  # the workshop's clients, recorded before with a checkout, stay as they were
        previous = Recording.load(args.recording) if Path(args.recording).exists() else Recording()
        recorder.extend(r for r in previous.requests if r.principal in (GENERATOR, FRONTEND))
        if "workshop clients" in previous.sources:
            recording.sources["workshop clients"] = previous.sources["workshop clients"]
    recording.add(recorder.requests)
    recording.code = code_hashes()
    recording.save(args.recording)
    print(
        f"{len(recording.requests):,} distinct requests by {len(recording.principals())} principals: {args.recording}"
    )
    return 0
