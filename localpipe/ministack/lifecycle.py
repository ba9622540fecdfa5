"""The real deploy path on a local AWS: ``make up`` starts MiniStack on 127.0.0.1 and deploys this stack to it
with ``sam build`` and ``sam deploy --config-env local``, the way a user deploys to AWS; ``make down`` stops what
``make up`` started and removes its state.

MiniStack runs under ``timeout``: it stops by itself after ``LOCAL_STACK_HOURS`` (default 4). What ``up`` leaves
for the commands after it is ``state.py``'s; the stack's model and environments are in ``model.py``, the processes
(port, health, Docker network, stopping) in ``process.py``, SAM's build and deploy in ``sam.py``; the command line
(``python -m localpipe.ministack up | down | status | send``) is ``__main__.py``.
"""

from __future__ import annotations

import os
import subprocess
import time

from rich.console import Console

from localpipe.ministack import state
from localpipe.ministack.model import REGION, MiniStack
from localpipe.ministack.process import (
    DOCKER_NETWORK,
    HOST,
    MiniStackError,
    make_network,
    port_in_use,
    ready,
    remove_network,
    stop,
)
from localpipe.ministack.sam import CONFIG_ENV, deploy_arguments, sam, stack_name
from localpipe.stack.template import ROOT

console = Console(soft_wrap=True, highlight=False)
MINISTACK = ROOT / ".venv-ministack" / "bin" / "ministack"
ARTIFACT_BUCKET = "risk-pipeline-local-artifacts"  # the s3_bucket of samconfig.toml's local deploy
START_SECONDS = 60.0
DEFAULT_PORT = 4566
DEFAULT_HOURS = 4.0


def _start_ministack(port: int, hours: float, gateway: str | None) -> int:
    """MiniStack in a session of its own (so that ``down`` stops it and its workers by its id), under
    ``timeout`` so that it stops by itself; on 127.0.0.1 (and the run's Docker network gateway) only, no IoT
    or SFTP listener. It is served by hypercorn, as ``ministack -d`` does, to listen on both addresses."""
    if not MINISTACK.exists():
        raise MiniStackError(f"{MINISTACK} is missing: run `make up` (it installs requirements-ministack.txt)")
    tmp = state.worker_files_dir()
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
    with state.LOG_FILE.open("w") as log:
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
    state.PID_FILE.write_text(f"{process.pid}\n")
    return process.pid


def _wait_ready(endpoint: str, pid: int) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if ready(endpoint):
            return
        if state.running_pid() != pid:
            raise MiniStackError(f"MiniStack stopped while starting: {_log_tail()}")
        time.sleep(0.5)
    raise MiniStackError(f"MiniStack did not answer within {START_SECONDS:.0f} s: {_log_tail()}")


def _log_tail(lines: int = 5) -> str:
    try:
        return " | ".join(state.LOG_FILE.read_text().strip().splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _read_outputs(stack: MiniStack) -> dict[str, str]:
    described = stack.client("cloudformation").describe_stacks(StackName=stack.stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def up(port: int, hours: float, *, workshop: bool = False) -> int:
    existing = state.load()
    if existing is not None:
        console.print(f"already up: stack {existing.stack_name} on {existing.endpoint} (`make down` stops it)")
        console.print("its environment: source .local-stack/env")
        return 0
    if state.STATE_DIR.exists():  # left by a MiniStack that is gone (it timed out, or was killed)
        state.remove_state()
    if port_in_use(port):
        raise MiniStackError(
            f"{HOST}:{port} is already in use by another program, not by a stack of `make up`: stop it, or choose "
            f"another port: make up LOCAL_STACK_PORT={port + 1}"
        )
    state.STATE_DIR.mkdir(parents=True)
    endpoint = f"http://{HOST}:{port}"
    started = time.monotonic()
    gateway = make_network(state.STATE_DIR)
    container_endpoint = f"http://{gateway}:{port}" if gateway else ""
    pid = _start_ministack(port, hours, gateway)
    try:
        _wait_ready(endpoint, pid)
        console.print(f"MiniStack answers on {endpoint} (process {pid}; it stops by itself after {hours:g} h)")
        if gateway:
            console.print(f"and on {container_endpoint} for containers on the Docker network {DOCKER_NETWORK}")
        else:
            console.print("no Docker here: `sam local invoke` will not run (scripts/docker-daemon start, then up)")
        stack = MiniStack(endpoint=endpoint, stack_name=stack_name(), outputs={}, container_endpoint=container_endpoint)
        stack.client("s3").create_bucket(Bucket=ARTIFACT_BUCKET)
        sam(["build", "--config-env", CONFIG_ENV], endpoint)
        sam(deploy_arguments(workshop), endpoint)
        stack = MiniStack(
            endpoint=endpoint,
            stack_name=stack.stack_name,
            outputs=_read_outputs(stack),
            container_endpoint=container_endpoint,
        )
        state.write_state(stack)
    except BaseException:
        stop(pid)
        remove_network(state.STATE_DIR)
        state.remove_state()
        raise
    console.print(f"\nstack {stack.stack_name} is up on {endpoint} ({time.monotonic() - started:.0f} s). Outputs:")
    for key, value in sorted(stack.outputs.items()):
        console.print(f"  {key:26} {value}")
    console.print("\nits environment, for the AWS CLI or any boto3 script: source .local-stack/env")
    return 0


def down() -> int:
    pid = state.running_pid()
    if pid is not None:
        stop(pid)
        console.print(f"stopped MiniStack (process {pid}) and its workers")
    elif not state.STATE_DIR.exists():
        console.print("no local stack is up: nothing to stop")
        return 0
    if (state.STATE_DIR / "docker-network").exists():
        remove_network(state.STATE_DIR)
        console.print(f"removed the Docker network {DOCKER_NETWORK}")
    state.remove_state()
    console.print("removed .local-stack/ and the workers' files")
    return 0


def status() -> int:
    stack = state.load()
    if stack is None:
        console.print("no local stack is up: run `make up`")
        return 1
    console.print(f"stack {stack.stack_name} is up on {stack.endpoint}; its environment: source .local-stack/env")
    return 0
