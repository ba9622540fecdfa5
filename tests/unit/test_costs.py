"""CPU per component for ``make send``: read from /proc for the processes of one session, a worker told by the
function its command line names, and the CPU used between two readings."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from localpipe.report.costs import MINISTACK, CpuReading, read_cpu

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc (Linux)")

BUSY = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\ntime.sleep(30)"


def test_given_a_session_with_a_busy_worker_when_read_then_its_cpu_goes_to_its_function_and_nothing_else():
    # Given a session of its own holding a "worker" whose command line names the function
    worker = subprocess.Popen(
        [sys.executable, "-c", BUSY, "/tmp/ministack-lambda-stack-state-abc/_worker.py"], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 20
        reading = read_cpu(worker.pid, {"state": "stack-state", "aggregate": "stack-aggregate"})
        while reading.by_component().get("state", 0.0) < 0.25 and time.monotonic() < deadline:
            time.sleep(0.1)
            reading = read_cpu(worker.pid, {"state": "stack-state", "aggregate": "stack-aggregate"})

        # Then its CPU is the state function's; this session's processes are not in it
        assert list(reading.processes) == [worker.pid]
        assert reading.by_component()["state"] >= 0.25
        assert os.getpid() not in reading.processes
    finally:
        worker.kill()
        worker.wait()


def test_given_two_readings_when_compared_then_each_component_gets_what_it_used_and_a_new_process_counts_whole():
    earlier = CpuReading({10: (MINISTACK, 1.0), 11: ("state", 2.0)})
    later = CpuReading({10: (MINISTACK, 1.5), 11: ("state", 2.25), 12: ("aggregate", 0.125)})

    assert later.since(earlier) == {MINISTACK: 0.5, "state": 0.25, "aggregate": 0.125}
