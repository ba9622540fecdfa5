"""The processes behind ``make up`` (``lifecycle.py``): the port, MiniStack's health, the Docker network of the
run, and stopping MiniStack's session."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from localpipe.stack.template import ROOT

HOST = "127.0.0.1"
DOCKER_NETWORK = "risk-pipeline-local"  # the docker_network of samconfig.toml's local_invoke
NETWORK_LABEL = "risk-pipeline.local-stack"


class MiniStackError(RuntimeError):
    """Something the user can act on: the message says what."""


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((HOST, port)) == 0


def ready(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/_ministack/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def docker(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *arguments], capture_output=True, text=True, timeout=60, check=False)


def make_network(state_dir: Path) -> str | None:
    """The Docker network of this run, for ``sam local invoke``'s containers; its gateway (an address of this
    machine that only the network's containers reach) is where MiniStack also listens. None without Docker."""
    try:
        if docker("info").returncode != 0:
            return None
    except FileNotFoundError:
        return None
    if docker("network", "inspect", DOCKER_NETWORK).returncode != 0:
        made = docker("network", "create", "--label", f"{NETWORK_LABEL}={ROOT}", DOCKER_NETWORK)
        if made.returncode != 0:
            raise MiniStackError(f"docker network create {DOCKER_NETWORK}: {made.stderr.strip()}")
    labels = docker("network", "inspect", "-f", "{{json .Labels}}", DOCKER_NETWORK).stdout
    if json.loads(labels or "{}").get(NETWORK_LABEL) != str(ROOT):
        raise MiniStackError(f"a Docker network {DOCKER_NETWORK} exists that `make up` of {ROOT} did not make")
    (state_dir / "docker-network").write_text(DOCKER_NETWORK + "\n")
    gateway = docker("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", DOCKER_NETWORK)
    return gateway.stdout.strip() or None


def remove_network(state_dir: Path) -> None:
    if (state_dir / "docker-network").exists():
        docker("network", "rm", DOCKER_NETWORK)


def stop(pid: int) -> None:
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
