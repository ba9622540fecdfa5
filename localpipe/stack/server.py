"""A moto server on 127.0.0.1, in a process of its own, that starts and stops with its context.

A separate process lets the server and the functions (botocore) use both cores instead of sharing one
interpreter lock; it listens on the loopback interface only and is always stopped on the way out.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import boto3
import botocore.loaders
import botocore.session

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
START_TIMEOUT_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the moto server exited with code {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"the moto server did not listen on 127.0.0.1:{port} within {START_TIMEOUT_SECONDS:.0f} s")


@contextmanager
def moto_server() -> Iterator[str]:
    """Yield the endpoint URL of a fresh moto server listening on 127.0.0.1 only."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "localpipe.stack.motoserver", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_listening(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


_LOADER = botocore.loaders.create_loader()


def shared_loader_session() -> botocore.session.Session:
    """A botocore session that shares one loader of service models with every other session made here: the
    local runner makes many sessions (one per pipeline, one per stack), and loading the models is the
    costly part of making one."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return core


def new_session(region: str) -> boto3.Session:
    return boto3.Session(botocore_session=shared_loader_session(), region_name=region)


@contextmanager
def local_aws_environment(endpoint_url: str | None, region: str | None = None) -> Iterator[boto3.Session]:
    """Point boto3 (and so the handlers' own clients) at the local endpoint for the duration. Without an endpoint
    (moto in process, under ``mock_aws``), moto's DynamoDB is made as strict about numbers as its server is."""
    if endpoint_url is None:
        from localpipe.stack.strictnumbers import (
            enforce_number_rules,  # here: a process that uses a server needs no moto
        )

        enforce_number_rules()
    region = region or os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
    updates = {**LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}
    if endpoint_url:
        updates["AWS_ENDPOINT_URL"] = endpoint_url
    with environment(updates):
        yield new_session(region)


@contextmanager
def environment(updates: Mapping[str, str]) -> Iterator[None]:
    """These environment variables set for the duration, the previous values (or their absence) restored after."""
    saved = {key: os.environ.get(key) for key in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
