"""The real deploy path on a local AWS: ``make up`` starts MiniStack on 127.0.0.1 and deploys this stack to it
with ``sam build`` and ``sam deploy --config-env local``, the way a user deploys to AWS; ``make down`` stops what
``make up`` started and removes its state.

State lives in ``.local-stack/`` (ignored by git): ``env`` (shell ``export`` lines: endpoint, region,
credentials, the stack's names and queue URLs), ``sam-env-written-by-make-up.json`` (the environment
``sam local invoke`` gives the functions, named in samconfig.toml: when the stack is down, SAM's error names it),
``stack.json`` (endpoint and the stack's Outputs), the MiniStack process id and its log, and the Docker network
made for ``sam local invoke``. MiniStack runs under ``timeout``: it stops by itself after ``LOCAL_STACK_HOURS``
(default 4).

``python -m localpipe.ministack.lifecycle up | down | status | send [--workshop]``. This module holds the state
files and the commands; the stack's model and environments are in ``localstack_model.py``, the processes (port,
health, Docker network, stopping) in ``localstack_process.py``, SAM's build and deploy in ``localstack_sam.py``,
and ``send`` in ``localstack_send.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from localpipe.ministack.model import REGION, LocalStack
from localpipe.ministack.process import (
    DOCKER_NETWORK,
    HOST,
    LocalStackError,
    make_network,
    port_in_use,
    ready,
    remove_network,
    stop,
)
from localpipe.ministack.sam import CONFIG_ENV, deploy_arguments, sam, stack_name
from localpipe.stack.template import ROOT

console = Console(soft_wrap=True, highlight=False)
errors = Console(stderr=True, soft_wrap=True, highlight=False)
STATE_DIR = ROOT / ".local-stack"
STACK_FILE = STATE_DIR / "stack.json"
ENV_FILE = STATE_DIR / "env"
SAM_ENV_FILE = STATE_DIR / "sam-env-written-by-make-up.json"
PID_FILE = STATE_DIR / "ministack.pid"
LOG_FILE = STATE_DIR / "ministack.log"
MINISTACK = ROOT / ".venv-ministack" / "bin" / "ministack"
ARTIFACT_BUCKET = "risk-pipeline-local-artifacts"  # the s3_bucket of samconfig.toml's local deploy
START_SECONDS = 60.0
DEFAULT_PORT = 4566
DEFAULT_HOURS = 4.0
# MiniStack extracts a function's code and the shared layer (about 3,900 files) into TMPDIR at every cold start,
# and removes them when it replaces a worker (after every failed invocation). On this machine's disk that took
# 8.7 s to remove and 2.1 s to extract, on tmpfs 0.2 s and 0.6 s: so the workers' files go to tmpfs when there is one.
TMPFS = Path("/dev/shm")


def load() -> LocalStack | None:
    """The stack ``make up`` deployed, when it is up (its MiniStack process alive); else None."""
    if not STACK_FILE.exists() or running_pid() is None:
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


def running_pid() -> int | None:
    try:
        pid = int(PID_FILE.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


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
        if ready(endpoint):
            return
        if running_pid() != pid:
            raise LocalStackError(f"MiniStack stopped while starting: {_log_tail()}")
        time.sleep(0.5)
    raise LocalStackError(f"MiniStack did not answer within {START_SECONDS:.0f} s: {_log_tail()}")


def _log_tail(lines: int = 5) -> str:
    try:
        return " | ".join(LOG_FILE.read_text().strip().splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


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
    gateway = make_network(STATE_DIR)
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
            endpoint=endpoint, stack_name=stack_name(), outputs={}, container_endpoint=container_endpoint
        )
        stack.client("s3").create_bucket(Bucket=ARTIFACT_BUCKET)
        sam(["build", "--config-env", CONFIG_ENV], endpoint)
        sam(deploy_arguments(workshop), endpoint)
        stack = LocalStack(
            endpoint=endpoint,
            stack_name=stack.stack_name,
            outputs=_read_outputs(stack),
            container_endpoint=container_endpoint,
        )
        _write_state(stack)
    except BaseException:
        stop(pid)
        remove_network(STATE_DIR)
        _remove_state()
        raise
    console.print(f"\nstack {stack.stack_name} is up on {endpoint} ({time.monotonic() - started:.0f} s). Outputs:")
    for key, value in sorted(stack.outputs.items()):
        console.print(f"  {key:26} {value}")
    console.print("\nits environment, for the AWS CLI or any boto3 script: source .local-stack/env")
    return 0


def down() -> int:
    pid = running_pid()
    if pid is not None:
        stop(pid)
        console.print(f"stopped MiniStack (process {pid}) and its workers")
    elif not STATE_DIR.exists():
        console.print("no local stack is up: nothing to stop")
        return 0
    if (STATE_DIR / "docker-network").exists():
        remove_network(STATE_DIR)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localpipe.ministack.lifecycle", description=__doc__)
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
        from localpipe.ministack.send import send  # it imports the readers of the stack's tables and logs

        return send(require(), workshop=args.workshop, calls=args.calls, seed=args.seed, timeout=args.timeout)
    except LocalStackError as exc:
        errors.print(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
