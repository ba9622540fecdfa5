"""Batch latency of the StateLambda when every DynamoDB write takes 10 ms.

DynamoDB is stood in for by a small HTTP server on 127.0.0.1 that answers every UpdateItem with success after
``latency`` seconds (moto's own processing time would swamp the figure). The StateLambda's real service,
store and botocore client talk to it over HTTP, so what is measured is our concurrency: trades written in
parallel up to the client's connection pool, one write per trade (coalesced), each trade's order kept.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from statistics import median

from benchmarks.common import Row
from localpipe.stack.server import local_aws_environment
from localpipe.stack.shapes import risk_message, stream_records
from riskpipe.aws import dynamodb_client
from riskpipe.models import RiskMessage, decode_risk_message
from riskpipe.state_service import StateService
from riskpipe.state_store import VersionedStateStore

WRITE_LATENCY = 0.010


class _SlowDynamoDB(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: botocore reuses its pooled connections, as with DynamoDB
    disable_nagle_algorithm = True  # else headers and body in two segments wait for a delayed ACK (40 ms)
    latency = WRITE_LATENCY

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(self.latency)
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", "local")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return


@contextlib.contextmanager
def slow_dynamodb(latency: float = WRITE_LATENCY) -> Iterator[str]:
    """An endpoint on 127.0.0.1 that accepts every write after ``latency``, in a process of its own (so that
    its work does not share our interpreter lock); stopped on the way out."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.latency", str(port), str(latency)])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the slow DynamoDB stand-in did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(port: int, latency: float) -> None:
    _SlowDynamoDB.latency = latency
    server = ThreadingHTTPServer(("127.0.0.1", port), _SlowDynamoDB)
    server.daemon_threads = True
    server.serve_forever()


def batch_of(records: int = 100, trades: int = 20) -> list[RiskMessage]:
    """``records`` versions spread over ``trades`` trades, interleaved as a shard delivers them."""
    return [risk_message(f"T{i % trades}", i // trades, i) for i in range(records)]


class _NoPoison:
    def send(self, record: object) -> None:
        raise AssertionError("the benchmark batch holds no poison")


def batch_latency(repeats: int = 7) -> list[Row]:
    records = stream_records(*batch_of())
    with slow_dynamodb() as endpoint, local_aws_environment(endpoint) as session:
        # The production client factory: standard retries, a connection pool as large as the concurrency.
        ours = StateService(
            VersionedStateStore("StateTable", dynamodb_client(max_pool_connections=16, session=session)),
            _NoPoison(),
            write_concurrency=16,
        )
        serial = VersionedStateStore("StateTable", dynamodb_client(max_pool_connections=1, session=session))
        ours.decide(records)  # warm the connection pool, as a warm Lambda instance has it
        ours_times, serial_times, one_times = [], [], []
        for _ in range(repeats):
            started = time.perf_counter()
            serial.put_if_newer(decode_risk_message(records[0].data))
            one_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            ours.decide(records)
            ours_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            for record in records:  # the naive loop: one write per record, one after the other
                serial.put_if_newer(decode_risk_message(record.data))
            serial_times.append(time.perf_counter() - started)
    ours_ms, serial_ms, one = (median(t) * 1000 for t in (ours_times, serial_times, one_times))
    return [
        Row(
            "batch latency",
            "one write (10 ms injected, plus the SDK and the loopback)",
            one,
            "ms",
            note=f"median of {repeats}",
        ),
        Row(
            "batch latency",
            "100 records / 20 trades: ours (coalesced, 16 concurrent)",
            ours_ms,
            "ms",
            target=f"<= 4x one write ({4 * one:.0f} ms)",
            met=ours_ms <= 4 * one,
            note=f"{ours_ms / one:.1f}x one write; median of {repeats}",
        ),
        Row(
            "batch latency",
            "100 records / 20 trades: serial loop, one write per record",
            serial_ms,
            "ms",
            note=f"{serial_ms / one:.0f}x one write; ours is {serial_ms / ours_ms:.0f}x faster",
        ),
    ]


if __name__ == "__main__":
    serve(int(sys.argv[1]), float(sys.argv[2]))
