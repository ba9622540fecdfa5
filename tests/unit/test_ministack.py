"""``make up`` / ``make down`` without starting MiniStack: what a second ``up`` says, a port in use, the state
written for clients and for ``sam local invoke``, and ``down`` stopping only the session ``up`` started."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from localpipe.ministack import lifecycle
from localpipe.ministack import state as ministack_state
from localpipe.ministack.model import MiniStack
from localpipe.ministack.process import MiniStackError

OUTPUTS = {
    "StreamName": "risk-stream",
    "StateTableName": "state-table",
    "AggregateTableName": "aggregate-table",
    "AggregateMarkerTableName": "marker-table",
    "PoisonQueueUrl": "http://localhost:4566/000000000000/poison",
    "StateFailureQueueUrl": "http://localhost:4566/000000000000/state-failure",
    "AggregateFailureQueueUrl": "http://localhost:4566/000000000000/aggregate-failure",
    "AggregateFunctionName": "stack-aggregate",
    "ReduceTableName": "reduce-table",
    "ReduceFailureQueueUrl": "http://localhost:4566/000000000000/reduce-failure",
    "AggregatePoisonQueueUrl": "http://localhost:4566/000000000000/aggregate-poison",
    "ReduceFunctionName": "stack-reduce",
}


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / ".local-stack"
    for name, file in {
        "STATE_DIR": "",
        "STACK_FILE": "stack.json",
        "ENV_FILE": "env",
        "SAM_ENV_FILE": "sam-env.json",
        "PID_FILE": "ministack.pid",
        "LOG_FILE": "ministack.log",
    }.items():
        monkeypatch.setattr(ministack_state, name, directory / file if file else directory)
    return directory


def stack(port: int = 4566) -> MiniStack:
    return MiniStack(endpoint=f"http://127.0.0.1:{port}", stack_name="risk-pipeline-local", outputs=OUTPUTS)


def test_given_a_deployed_stack_when_its_state_is_written_then_a_shell_exports_every_name(state):
    state.mkdir()
    ministack_state.write_state(stack())

    names = ["AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    names += ["RISK_STREAM_NAME", "STATE_TABLE_NAME", "AGGREGATE_TABLE_NAME", "POISON_QUEUE_URL"]
    script = f"source {state / 'env'} && " + " && ".join(f'echo "${name}"' for name in names)
    shown = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.splitlines()
    assert dict(zip(names, shown, strict=True)) == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "RISK_STREAM_NAME": "risk-stream",
        "STATE_TABLE_NAME": "state-table",
        "AGGREGATE_TABLE_NAME": "aggregate-table",
        "POISON_QUEUE_URL": OUTPUTS["PoisonQueueUrl"],
    }


def test_given_a_deployed_stack_when_its_state_is_written_then_sam_local_gets_the_real_names_and_endpoint(state):
    state.mkdir()
    ministack_state.write_state(stack())

    functions = json.loads((state / "sam-env.json").read_text())
    assert functions["StateFunction"] == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "STATE_TABLE_NAME": "state-table",
        "POISON_QUEUE_URL": OUTPUTS["PoisonQueueUrl"],
    }
    assert functions["AggregateFunction"]["MARKER_TABLE_NAME"] == "marker-table"
    # Combining off: the map puts its partials where the reduce reads them, the ReduceTable
    assert functions["AggregateFunction"]["PARTIAL_TABLE_NAME"] == functions["ReduceFunction"]["REDUCE_TABLE_NAME"]
    assert functions["AggregateFunction"]["COMBINING"] == "false"
    assert functions["ReduceFunction"]["AGGREGATE_TABLE_NAME"] == "aggregate-table"


def test_given_docker_when_the_state_is_written_then_sam_local_reaches_ministack_on_the_runs_network(state):
    state.mkdir()
    on_network = MiniStack(
        endpoint="http://127.0.0.1:4566",
        stack_name="risk-pipeline-local",
        outputs=OUTPUTS,
        container_endpoint="http://172.20.0.1:4566",
    )
    ministack_state.write_state(on_network)

    functions = json.loads((state / "sam-env.json").read_text())
    assert {f["AWS_ENDPOINT_URL"] for f in functions.values()} == {"http://172.20.0.1:4566"}
    assert ministack_state.load() is None  # no MiniStack process: not up
    (state / "ministack.pid").write_text(f"{os.getpid()}\n")
    assert ministack_state.load() == on_network


def test_given_a_stack_up_when_up_runs_again_then_it_says_so_and_starts_nothing(state, capsys, monkeypatch):
    state.mkdir()
    ministack_state.write_state(stack())
    (state / "ministack.pid").write_text(f"{os.getpid()}\n")  # a live process
    monkeypatch.setattr(lifecycle, "_start_ministack", lambda *_: pytest.fail("started a second MiniStack"))

    assert lifecycle.up(4566, 1.0) == 0

    assert "already up: stack risk-pipeline-local on http://127.0.0.1:4566" in capsys.readouterr().out


def test_given_the_port_taken_by_another_program_when_up_then_it_fails_clearly_and_starts_nothing(state, monkeypatch):
    monkeypatch.setattr(lifecycle, "_start_ministack", lambda *_: pytest.fail("started MiniStack on a taken port"))
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        with pytest.raises(MiniStackError, match=f"127.0.0.1:{port} is already in use by another program"):
            lifecycle.up(port, 1.0)

    assert not state.exists()


def test_given_a_stack_up_when_down_then_its_session_is_stopped_the_rest_left_and_its_state_removed(state):
    state.mkdir()
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    ours = subprocess.Popen(sleep, start_new_session=True)  # what up starts: a session of its own
    other = subprocess.Popen(sleep, start_new_session=True)
    reaper = threading.Thread(target=ours.wait)  # as init reaps it once make up has returned
    reaper.start()
    try:
        (state / "ministack.pid").write_text(f"{ours.pid}\n")

        assert lifecycle.down() == 0

        reaper.join(timeout=10)
        assert ours.returncode == -signal.SIGTERM
        assert other.poll() is None
        assert not state.exists()
    finally:
        for process in (ours, other):
            process.kill()
            process.wait()


def test_given_tmpfs_when_the_workers_folder_is_made_then_it_lives_there_and_down_removes_it(
    state, tmp_path, monkeypatch
):
    tmpfs = tmp_path / "shm"
    tmpfs.mkdir()
    monkeypatch.setattr(ministack_state, "TMPFS", tmpfs)
    state.mkdir()

    workers = ministack_state.worker_files_dir()
    (workers / "layer_0").mkdir()

    assert workers.parent == tmpfs and (state / "tmp").is_symlink()
    assert lifecycle.down() == 0
    assert not state.exists() and list(tmpfs.iterdir()) == []


def test_given_no_tmpfs_when_the_workers_folder_is_made_then_it_is_in_the_state_folder(state, tmp_path, monkeypatch):
    monkeypatch.setattr(ministack_state, "TMPFS", tmp_path / "absent")
    state.mkdir()

    assert ministack_state.worker_files_dir() == (state / "tmp").resolve()
    assert not (state / "tmp").is_symlink()


def test_given_no_stack_when_a_command_needs_one_then_it_says_to_run_make_up(state):
    with pytest.raises(MiniStackError, match="run `make up`"):
        ministack_state.require()
