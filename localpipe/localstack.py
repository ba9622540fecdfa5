"""The real deploy path on a local AWS: ``make up`` starts MiniStack on 127.0.0.1 and deploys this stack to it
with ``sam build`` and ``sam deploy --config-env local``, the way a user deploys to AWS; ``make down`` stops what
``make up`` started and removes its state.

State lives in ``.local-stack/`` (ignored by git): ``env`` (shell ``export`` lines: endpoint, region,
credentials, the stack's names and queue URLs), ``sam-env-written-by-make-up.json`` (the environment
``sam local invoke`` gives the functions, named in samconfig.toml: when the stack is down, SAM's error names it),
``stack.json`` (endpoint and the stack's Outputs), the MiniStack process id and its log, and the Docker network
made for ``sam local invoke``. MiniStack runs under ``timeout``: it stops by itself after ``LOCAL_STACK_HOURS``
(default 4).

``python -m localpipe.localstack up | down | status | send [--workshop]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from rich.console import Console

from localpipe.server import LOCAL_CREDENTIALS
from localpipe.template import ROOT

console = Console(soft_wrap=True, highlight=False)
errors = Console(stderr=True, soft_wrap=True, highlight=False)
STATE_DIR = ROOT / ".local-stack"
STACK_FILE = STATE_DIR / "stack.json"
ENV_FILE = STATE_DIR / "env"
SAM_ENV_FILE = STATE_DIR / "sam-env-written-by-make-up.json"
PID_FILE = STATE_DIR / "ministack.pid"
LOG_FILE = STATE_DIR / "ministack.log"
MINISTACK = ROOT / ".venv-ministack" / "bin" / "ministack"
CONFIG_ENV = "local"
HOST = "127.0.0.1"
REGION = "us-east-1"
ARTIFACT_BUCKET = "risk-pipeline-local-artifacts"  # the s3_bucket of samconfig.toml's local deploy
START_SECONDS = 60.0
DEPLOY_SECONDS = 600.0
DEFAULT_PORT = 4566
DEFAULT_HOURS = 4.0
DOCKER_NETWORK = "risk-pipeline-local"  # the docker_network of samconfig.toml's local_invoke
NETWORK_LABEL = "risk-pipeline.local-stack"
# MiniStack extracts a function's code and the shared layer (about 3,900 files) into TMPDIR at every cold start,
# and removes them when it replaces a worker (after every failed invocation). On this machine's disk that took
# 8.7 s to remove and 2.1 s to extract, on tmpfs 0.2 s and 0.6 s: so the workers' files go to tmpfs when there is one.
TMPFS = Path("/dev/shm")


class LocalStackError(RuntimeError):
    """Something the user can act on: the message says what."""


@dataclass(frozen=True)
class LocalStack:
    """A stack deployed on the local AWS: its endpoint and its CloudFormation Outputs."""

    endpoint: str
    stack_name: str
    outputs: dict[str, str]
    container_endpoint: str = ""  # where Lambda containers on the run's Docker network reach it ("": no Docker)

    def session(self) -> boto3.Session:
        return boto3.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        )

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]

    def environment(self) -> dict[str, str]:
        """What a client needs to reach the stack: the shell ``export`` lines of ``.local-stack/env``."""
        outputs = self.outputs
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "RISK_PIPELINE_LOCAL_STACK": self.stack_name,
            "RISK_STREAM_NAME": outputs["StreamName"],
            "STATE_TABLE_NAME": outputs["StateTableName"],
            "AGGREGATE_TABLE_NAME": outputs["AggregateTableName"],
            "MARKER_TABLE_NAME": outputs["AggregateMarkerTableName"],
            "PARTIAL_TABLE_NAME": outputs["PartialTableName"],
            "POISON_QUEUE_URL": outputs["PoisonQueueUrl"],
            "STATE_FAILURE_QUEUE_URL": outputs["StateFailureQueueUrl"],
            "AGGREGATE_FAILURE_QUEUE_URL": outputs["AggregateFailureQueueUrl"],
            "REDUCE_FAILURE_QUEUE_URL": outputs["ReduceFailureQueueUrl"],
        }

    def function_environment(self) -> dict[str, dict[str, str]]:
        """``sam local invoke --env-vars``: the names the template's !Ref would give on a real deploy, and the
        local endpoint as seen from a container on the run's Docker network."""
        outputs = self.outputs
        common = {"AWS_ENDPOINT_URL": self.container_endpoint or self.endpoint}
        return {
            "StateFunction": {
                **common,
                "STATE_TABLE_NAME": outputs["StateTableName"],
                "POISON_QUEUE_URL": outputs["PoisonQueueUrl"],
            },
            "AggregateFunction": {
                **common,
                "PARTIAL_TABLE_NAME": outputs["PartialTableName"],
                "MARKER_TABLE_NAME": outputs["AggregateMarkerTableName"],
                "POISON_QUEUE_URL": outputs["AggregatePoisonQueueUrl"],
            },
            "ReduceFunction": {
                **common,
                "AGGREGATE_TABLE_NAME": outputs["AggregateTableName"],
                "PARTIAL_TABLE_NAME": outputs["PartialTableName"],
                "POISON_QUEUE_URL": outputs["AggregatePoisonQueueUrl"],
            },
            "ProducerFunction": {**common, "STREAM_NAME": outputs["StreamName"]},
            "GameFunction": {
                **common,
                "STREAM_NAME": outputs["StreamName"],
                "AGGREGATE_TABLE_NAME": outputs["AggregateTableName"],
            },
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "container_endpoint": self.container_endpoint,
            "stack_name": self.stack_name,
            "outputs": self.outputs,
        }


def load() -> LocalStack | None:
    """The stack ``make up`` deployed, when it is up (its MiniStack process alive); else None."""
    if not STACK_FILE.exists() or _running_pid() is None:
        return None
    data = json.loads(STACK_FILE.read_text())
    return LocalStack(
        endpoint=data["endpoint"],
        stack_name=data["stack_name"],
        outputs=data["outputs"],
        container_endpoint=data.get("container_endpoint", ""),
    )


def require() -> LocalStack:
    stack = load()
    if stack is None:
        raise LocalStackError("no local stack is up: run `make up` first")
    return stack


# ------------------------------------------------------------------ up / down


def _running_pid() -> int | None:
    try:
        pid = int(PID_FILE.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((HOST, port)) == 0


def _ready(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/_ministack/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _docker(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *arguments], capture_output=True, text=True, timeout=60, check=False)


def _make_network() -> str | None:
    """The Docker network of this run, for ``sam local invoke``'s containers; its gateway (an address of this
    machine that only the network's containers reach) is where MiniStack also listens. None without Docker."""
    try:
        if _docker("info").returncode != 0:
            return None
    except FileNotFoundError:
        return None
    if _docker("network", "inspect", DOCKER_NETWORK).returncode != 0:
        made = _docker("network", "create", "--label", f"{NETWORK_LABEL}={ROOT}", DOCKER_NETWORK)
        if made.returncode != 0:
            raise LocalStackError(f"docker network create {DOCKER_NETWORK}: {made.stderr.strip()}")
    labels = _docker("network", "inspect", "-f", "{{json .Labels}}", DOCKER_NETWORK).stdout
    if json.loads(labels or "{}").get(NETWORK_LABEL) != str(ROOT):
        raise LocalStackError(f"a Docker network {DOCKER_NETWORK} exists that `make up` of {ROOT} did not make")
    (STATE_DIR / "docker-network").write_text(DOCKER_NETWORK + "\n")
    gateway = _docker("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", DOCKER_NETWORK)
    return gateway.stdout.strip() or None


def _remove_network() -> None:
    if (STATE_DIR / "docker-network").exists():
        _docker("network", "rm", DOCKER_NETWORK)


def _start_ministack(port: int, hours: float, gateway: str | None) -> int:
    """MiniStack in a session of its own (so that ``down`` stops it and its workers by its id), under
    ``timeout`` so that it stops by itself; on 127.0.0.1 (and the run's Docker network gateway) only, no IoT
    or SFTP listener. It is served by hypercorn, as ``ministack -d`` does, to listen on both addresses."""
    if not MINISTACK.exists():
        raise LocalStackError(f"{MINISTACK} is missing: run `make up` (it installs requirements-ministack.txt)")
    tmp = _worker_files_dir()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "BIND_HOST": HOST,
        "GATEWAY_PORT": str(port),
        "IOT_MTLS_ENABLED": "0",
        "SFTP_ENABLED": "0",
        "MINISTACK_REGION": REGION,
        "TMPDIR": str(tmp),
        "LOG_LEVEL": "WARNING",
    }
    with LOG_FILE.open("w") as log:
        process = subprocess.Popen(
            [
                "timeout",
                "--kill-after=10",
                f"{hours * 3600:.0f}s",
                str(MINISTACK.parent / "python"),
                "-m",
                "hypercorn",
                "ministack.app:app",
                *(f"--bind={host}:{port}" for host in (HOST, gateway) if host),
                "--log-level=WARNING",
                "--keep-alive=75",
                "--worker-class=uvloop",  # libuv's event loop under the server: less CPU per request
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environment,
            start_new_session=True,
            cwd=ROOT,
        )
    PID_FILE.write_text(f"{process.pid}\n")
    return process.pid


def _worker_files_dir() -> Path:
    """Where MiniStack's Lambda workers unpack their code: a fresh folder on tmpfs, linked from
    ``.local-stack/tmp`` so that ``_remove_state`` finds it; ``.local-stack/tmp`` itself without tmpfs."""
    link = STATE_DIR / "tmp"
    if TMPFS.is_dir() and os.access(TMPFS, os.W_OK):
        link.symlink_to(tempfile.mkdtemp(prefix="risk-pipeline-local-stack-", dir=TMPFS), target_is_directory=True)
    else:
        link.mkdir(parents=True, exist_ok=True)
    return link.resolve()


def _remove_state() -> None:
    """Remove ``.local-stack/`` and the workers' folder on tmpfs that it links to."""
    link = STATE_DIR / "tmp"
    if link.is_symlink():
        shutil.rmtree(link.resolve(), ignore_errors=True)
    shutil.rmtree(STATE_DIR, ignore_errors=True)


def _wait_ready(endpoint: str, pid: int) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if _ready(endpoint):
            return
        if _running_pid() != pid:
            raise LocalStackError(f"MiniStack stopped while starting: {_log_tail()}")
        time.sleep(0.5)
    raise LocalStackError(f"MiniStack did not answer within {START_SECONDS:.0f} s: {_log_tail()}")


def _log_tail(lines: int = 5) -> str:
    try:
        return " | ".join(LOG_FILE.read_text().strip().splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _sam(arguments: Sequence[str], endpoint: str) -> None:
    environment = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        **LOCAL_CREDENTIALS,
        "SAM_CLI_TELEMETRY": "0",
    }
    environment.pop("AWS_PROFILE", None)
    command = [shutil.which("sam") or "sam", *arguments]
    console.print(f"$ {' '.join(['sam', *arguments])}")
    result = subprocess.run(command, env=environment, cwd=ROOT, timeout=DEPLOY_SECONDS, check=False)
    if result.returncode != 0:
        raise LocalStackError(f"`sam {' '.join(arguments)}` failed (exit {result.returncode}); see its output above")


def _local_config() -> dict[str, Any]:
    import tomllib

    config: dict[str, Any] = tomllib.loads((ROOT / "samconfig.toml").read_text())[CONFIG_ENV]
    return config


def _stack_name() -> str:
    return str(_local_config()["global"]["parameters"]["stack_name"])


def deploy_arguments(workshop: bool) -> list[str]:
    """``sam deploy`` of the ``local`` config env; in workshop mode its parameter overrides with
    ``WorkshopMode="true"`` added (a ``--parameter-overrides`` on the command line replaces the config's, so the
    config's are repeated first). AggregationOrder stays at its default, the order the workshop's checker scores."""
    arguments = ["deploy", "--config-env", CONFIG_ENV, "--no-resolve-s3"]
    if workshop:
        overrides = str(_local_config()["deploy"]["parameters"]["parameter_overrides"])
        arguments += ["--parameter-overrides", f'{overrides} WorkshopMode="true"']
    return arguments


def _read_outputs(stack: LocalStack) -> dict[str, str]:
    described = stack.client("cloudformation").describe_stacks(StackName=stack.stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def _write_state(stack: LocalStack) -> None:
    STACK_FILE.write_text(json.dumps(stack.to_json(), indent=2) + "\n")
    SAM_ENV_FILE.write_text(json.dumps(stack.function_environment(), indent=2) + "\n")
    lines = [f"export {name}={_shell_quote(value)}" for name, value in stack.environment().items()]
    ENV_FILE.write_text("# written by `make up`; load it with: source .local-stack/env\n" + "\n".join(lines) + "\n")


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def up(port: int, hours: float, *, workshop: bool = False) -> int:
    existing = load()
    if existing is not None:
        console.print(f"already up: stack {existing.stack_name} on {existing.endpoint} (`make down` stops it)")
        console.print("its environment: source .local-stack/env")
        return 0
    if STATE_DIR.exists():  # left by a MiniStack that is gone (it timed out, or was killed)
        _remove_state()
    if port_in_use(port):
        raise LocalStackError(
            f"{HOST}:{port} is already in use by another program, not by a stack of `make up`: stop it, or choose "
            f"another port: make up LOCAL_STACK_PORT={port + 1}"
        )
    STATE_DIR.mkdir(parents=True)
    endpoint = f"http://{HOST}:{port}"
    started = time.monotonic()
    gateway = _make_network()
    container_endpoint = f"http://{gateway}:{port}" if gateway else ""
    pid = _start_ministack(port, hours, gateway)
    try:
        _wait_ready(endpoint, pid)
        console.print(f"MiniStack answers on {endpoint} (process {pid}; it stops by itself after {hours:g} h)")
        if gateway:
            console.print(f"and on {container_endpoint} for containers on the Docker network {DOCKER_NETWORK}")
        else:
            console.print("no Docker here: `sam local invoke` will not run (scripts/docker-daemon start, then up)")
        stack = LocalStack(
            endpoint=endpoint, stack_name=_stack_name(), outputs={}, container_endpoint=container_endpoint
        )
        stack.client("s3").create_bucket(Bucket=ARTIFACT_BUCKET)
        _sam(["build", "--config-env", CONFIG_ENV], endpoint)
        _sam(deploy_arguments(workshop), endpoint)
        stack = LocalStack(
            endpoint=endpoint,
            stack_name=stack.stack_name,
            outputs=_read_outputs(stack),
            container_endpoint=container_endpoint,
        )
        _write_state(stack)
    except BaseException:
        _stop(pid)
        _remove_network()
        _remove_state()
        raise
    console.print(f"\nstack {stack.stack_name} is up on {endpoint} ({time.monotonic() - started:.0f} s). Outputs:")
    for key, value in sorted(stack.outputs.items()):
        console.print(f"  {key:26} {value}")
    console.print("\nits environment, for the AWS CLI or any boto3 script: source .local-stack/env")
    return 0


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)  # the session make up started: timeout, MiniStack, its workers
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def down() -> int:
    pid = _running_pid()
    if pid is not None:
        _stop(pid)
        console.print(f"stopped MiniStack (process {pid}) and its workers")
    elif not STATE_DIR.exists():
        console.print("no local stack is up: nothing to stop")
        return 0
    if (STATE_DIR / "docker-network").exists():
        _remove_network()
        console.print(f"removed the Docker network {DOCKER_NETWORK}")
    _remove_state()
    console.print("removed .local-stack/ and the workers' files")
    return 0


def status() -> int:
    stack = load()
    if stack is None:
        console.print("no local stack is up: run `make up`")
        return 1
    console.print(f"stack {stack.stack_name} is up on {stack.endpoint}; its environment: source .local-stack/env")
    return 0


# ------------------------------------------------------------------ send


def send(stack: LocalStack, *, workshop: bool, calls: int, seed: int, timeout: float) -> int:
    """A round of the producer's traffic (the workshop's lab-2 burst with ``--workshop``: 250 PutRecords calls
    of 40, revisions and copies) over trades of its own, straight onto the stream as the workshop's generator
    does; then the time until every aggregate moved by exactly what was sent, and the end-to-end latency the
    aggregate stage published meanwhile (p50 and p99)."""
    from localpipe.costs import read_cpu
    from localpipe.latency import latency_since, percentiles
    from riskpipe.aggregate_store import read_aggregates
    from riskpipe.config import AggregateSettings
    from riskpipe.game import check_round, plan_round
    from riskpipe.publisher import KinesisPublisher

    order = AggregateSettings.model_fields["aggregation_order"].default  # the template's AggregationOrder
    round_id = uuid.uuid4().hex[:8]
    planned = plan_round(round_id, seed, order, calls=250 if workshop else calls)
    dynamodb = stack.client("dynamodb")
    table = stack.outputs["AggregateTableName"]
    before = read_aggregates(dynamodb, table)
    publisher = KinesisPublisher(stack.outputs["StreamName"], stack.client("kinesis"))
    session = _running_pid() or 0
    functions = {"state": stack.outputs["StateFunctionName"], "aggregate": stack.outputs["AggregateFunctionName"]}
    cpu_before = read_cpu(session, functions)
    started = time.time()
    for call in planned.calls:
        publisher.publish(call)
    sent_at = time.time()
    console.print(
        f"sent {planned.messages:,} messages ({planned.trades:,} trades, round {round_id}) in {len(planned.calls)} "
        f"PutRecords calls in {sent_at - started:.1f} s"
    )
    check = check_round(planned, before, read_aggregates(dynamodb, table))
    while not check.exact and time.time() - started < timeout:
        time.sleep(0.5)
        check = check_round(planned, before, read_aggregates(dynamodb, table))
    exact_at = time.time()
    cpu_used = read_cpu(session, functions).since(cpu_before)
    if not check.exact:
        console.print(
            f"NOT exact after {exact_at - started:.0f} s: {len(check.differences)} aggregates differ, "
            f"message_count moved by {check.applied} (expected {planned.trades}..{planned.versions})"
        )
        return 1
    rate = planned.messages / (exact_at - started)
    console.print(
        f"aggregates EXACT {exact_at - started:.1f} s after the first record was sent "
        f"({exact_at - sent_at:.1f} s after the last; {rate:,.0f} messages/s end to end); "
        f"message_count moved by {check.applied}"
    )
    batches = latency_since(stack.client("logs"), stack.outputs["ReduceFunctionName"], started - 1)
    if batches:
        p50, p99, worst = percentiles(batches)
        console.print(
            f"end-to-end latency (Timestamp to aggregate applied, from the aggregate stage's metric over "
            f"{sum(b.records for b in batches):,} records in {len(batches)} batches): "
            f"p50 {p50 / 1000:.1f} s, p99 {p99 / 1000:.1f} s, max {worst / 1000:.1f} s"
        )
    _report_cpu(stack, session, planned.messages, cpu_used, exact_at - started)
    return 0


BARE_LOOP_CALLS = 500


def _report_cpu(stack: LocalStack, session: int, messages: int, used: dict[str, float], seconds: float) -> None:
    """CPU per message of each component over the burst, beside a bare boto3 update_item loop run now."""
    from localpipe.costs import MINISTACK, bare_update_item_loop

    per_message = {name: 1000 * used.get(name, 0.0) / messages for name in (MINISTACK, "state", "aggregate")}
    total = sum(used.values())
    console.print(
        f"CPU per message over the burst: MiniStack {per_message[MINISTACK]:.2f} ms, state function "
        f"{per_message['state']:.2f} ms, aggregate function {per_message['aggregate']:.2f} ms "
        f"({total:.1f} CPU s in {seconds:.1f} s: {total / seconds:.2f} of {os.cpu_count()} cores)"
    )
    bare = bare_update_item_loop(stack.client("dynamodb"), session, BARE_LOOP_CALLS)
    client_ms, server_ms = bare.per_call_ms()
    console.print(
        f"bare boto3 update_item loop ({bare.calls} calls, one client, {bare.calls / bare.seconds:.0f} calls/s): "
        f"client {client_ms:.2f} ms and MiniStack {server_ms:.2f} ms of CPU per call"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localpipe.localstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start MiniStack on 127.0.0.1 and deploy the stack to it")
    up_parser.add_argument("--port", type=int, default=int(os.environ.get("LOCAL_STACK_PORT") or DEFAULT_PORT))
    up_parser.add_argument("--hours", type=float, default=float(os.environ.get("LOCAL_STACK_HOURS") or DEFAULT_HOURS))
    up_parser.add_argument(
        "--workshop",
        action="store_true",
        help="deploy with WorkshopMode=true: the workshop's names, its ParameterTable (make up WORKSHOP=1)",
    )
    commands.add_parser("down", help="stop what `up` started and remove its state")
    commands.add_parser("status", help="say whether a local stack is up")
    send_parser = commands.add_parser("send", help="the producer's traffic to the stack that is up")
    send_parser.add_argument("--workshop", action="store_true", help="the workshop's lab-2 burst (10,000 messages)")
    send_parser.add_argument("--calls", type=int, default=25, help="PutRecords calls of 40 (without --workshop)")
    send_parser.add_argument("--seed", type=int, default=7)
    send_parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for exact aggregates")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            return up(args.port, args.hours, workshop=args.workshop)
        if args.command == "down":
            return down()
        if args.command == "status":
            return status()
        return send(require(), workshop=args.workshop, calls=args.calls, seed=args.seed, timeout=args.timeout)
    except LocalStackError as exc:
        errors.print(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
