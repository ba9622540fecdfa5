"""The functions in real Lambda containers, offline: SAM's own emulation (``sam local invoke``,
``sam local start-lambda``) on the images ``scripts/local-image`` builds, against a moto server in a container.

Networking: the local AWS (a moto server container) sits on an internal Docker network made for the run,
where SAM's function containers reach it by name; it also sits on a second network of the run's own, with
its port published on the host's 127.0.0.1 only, where the runner (seeding the tables from template.yaml,
reading them back) reaches it. Everything is removed on the way out.

The commands that use it (``make sam-local-check``, ``make sam-local-invoke``) are in ``sam_local.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import moto

from localpipe.stack.resources import Deployed
from localpipe.stack.server import LOCAL_CREDENTIALS
from localpipe.stack.template import ROOT, Template

LAMBDA_IMAGE = "public.ecr.aws/lambda/python:3.13-x86_64"
MOTO_IMAGE = f"risk-pipeline/moto-server:{moto.__version__}"
BUILT_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.yaml"
REGION = "us-east-1"


class DockerUnavailable(RuntimeError):
    pass


def docker(*args: str, timeout: float = 120) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


def require_images() -> None:
    for image in (LAMBDA_IMAGE, MOTO_IMAGE):
        try:
            docker("image", "inspect", image)
        except (RuntimeError, FileNotFoundError) as exc:
            raise DockerUnavailable(f"{image} is not built: run `make local-image` ({exc})") from exc


@dataclass(frozen=True)
class DockerAws:
    """The local AWS of one run: a moto server container and the two networks it sits on."""

    network: str  # internal: SAM's function containers join it
    container: str
    host_port: int

    @property
    def host_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.host_port}"

    @property
    def network_endpoint(self) -> str:
        return f"http://{self.container}:5000"

    def reset(self) -> None:
        """Empty moto (its own API), so that each sample starts from a fresh stack."""
        request = urllib.request.Request(f"{self.host_endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass


@contextlib.contextmanager
def docker_aws(start_timeout: float = 60) -> Iterator[DockerAws]:
    require_images()
    run = f"risk-pipeline-{uuid.uuid4().hex[:8]}"
    internal, edge, container = f"{run}-internal", f"{run}-edge", f"{run}-moto"
    made: list[tuple[str, ...]] = []
    try:
        docker("network", "create", "--internal", internal)
        made.append(("network", "rm", internal))
        docker("network", "create", edge)
        made.append(("network", "rm", edge))
        docker("run", "--detach", "--name", container, "--network", edge, "--publish", "127.0.0.1::5000", MOTO_IMAGE)
        made.append(("rm", "--force", container))
        docker("network", "connect", internal, container)
        port = int(docker("port", container, "5000/tcp").splitlines()[0].rsplit(":", 1)[1])
        aws = DockerAws(network=internal, container=container, host_port=port)
        _wait_for(aws, start_timeout)
        yield aws
    finally:
        for command in reversed(made):
            with contextlib.suppress(Exception):
                docker(*command)


def _wait_for(aws: DockerAws, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{aws.host_endpoint}/moto-api/", timeout=2):
            return
        time.sleep(0.3)
    logs = docker("logs", "--tail", "20", aws.container)
    raise RuntimeError(f"the moto container did not answer within {timeout:.0f} s: {logs}")


# ---------------------------------------------------------------- SAM


def _sam_env(aws: DockerAws | None) -> dict[str, str]:
    env = {**os.environ, **LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}
    env.pop("AWS_ENDPOINT_URL", None)  # the functions get theirs from the template (LocalEndpointUrl)
    env["SAM_CLI_TELEMETRY"] = "0"
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    if aws is not None:  # SAM asks STS for the account id before each invoke: the local AWS answers at once
        env["AWS_ENDPOINT_URL_STS"] = aws.host_endpoint
    return env


def sam(*args: str, timeout: float = 600, aws: DockerAws | None = None) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).with_name("sam")
    return subprocess.run(
        [str(executable), *args], capture_output=True, text=True, timeout=timeout, env=_sam_env(aws), cwd=ROOT
    )


def sam_build() -> Path:
    result = sam("build", "--template", str(ROOT / "template.yaml"), "--cached")
    if result.returncode != 0:
        raise RuntimeError(f"sam build failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return BUILT_TEMPLATE


def env_vars(deployed: Deployed, aws: DockerAws) -> dict[str, dict[str, str]]:
    """Each function's environment, as template.yaml gives it, with the local stack's names; queue URLs name
    the moto container as the functions see it. The stack's own parameters are kept (with them moto's
    workaround, ``StateWriteConcurrency`` 1, which ``stack.deploy_local`` sets)."""
    result = {}
    parameters = {**deployed.template.parameters, "LocalEndpointUrl": aws.network_endpoint}
    local = Deployed(Template.load(overrides=parameters), deployed.session)
    local.names, local.arns, local.stream_arns = deployed.names, deployed.arns, deployed.stream_arns
    for name, function in local.template.functions().items():
        env = local.function_env(function)
        result[name] = {k: v.replace(aws.host_endpoint, aws.network_endpoint) for k, v in env.items()}
    return result


@contextlib.contextmanager
def sam_start_lambda(deployed: Deployed, aws: DockerAws, start_timeout: float = 240) -> Iterator[str]:
    """``sam local start-lambda`` on 127.0.0.1, every function's container warm (EAGER) before it is used;
    yields its endpoint (for boto3's Lambda client) and stops it on the way out."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(env_vars(deployed, aws), handle)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = _sam_env(aws)
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115 - kept until the end
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("sam")), "local", "start-lambda",
            "--template", str(BUILT_TEMPLATE),
            "--env-vars", handle.name,
            "--parameter-overrides", f"LocalEndpointUrl={aws.network_endpoint}",
            "--docker-network", aws.network,
            "--skip-pull-image",
            "--warm-containers", "EAGER",
            "--host", "127.0.0.1",
            "--port", str(port),
        ],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"sam local start-lambda exited: {Path(log.name).read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"sam local start-lambda did not listen within {start_timeout:.0f} s")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)  # SAM stops and removes its warm containers on an interrupt
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
        for path in (handle.name, log.name):
            with contextlib.suppress(OSError):
                os.unlink(path)
