"""What ``make up`` leaves in ``.local-stack/`` (ignored by git) for the commands after it: ``env`` (shell
``export`` lines: endpoint, region, credentials, the stack's names and queue URLs), ``sam-env-written-by-make-up.json``
(the environment ``sam local invoke`` gives the functions, named in samconfig.toml: when the stack is down, SAM's
error names it), ``stack.json`` (endpoint and the stack's Outputs), the MiniStack process id and its log, and the
folder MiniStack's workers unpack their code into. ``load`` / ``require``: the stack that is up."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from localpipe.ministack.model import MiniStack
from localpipe.ministack.process import MiniStackError
from localpipe.stack.template import ROOT

STATE_DIR = ROOT / ".local-stack"
STACK_FILE = STATE_DIR / "stack.json"
ENV_FILE = STATE_DIR / "env"
SAM_ENV_FILE = STATE_DIR / "sam-env-written-by-make-up.json"
PID_FILE = STATE_DIR / "ministack.pid"
LOG_FILE = STATE_DIR / "ministack.log"
# MiniStack extracts a function's code and the shared layer (about 3,900 files) into TMPDIR at every cold start,
# and removes them when it replaces a worker (after every failed invocation). On this machine's disk that took
# 8.7 s to remove and 2.1 s to extract, on tmpfs 0.2 s and 0.6 s: so the workers' files go to tmpfs when there is one.
TMPFS = Path("/dev/shm")


def load() -> MiniStack | None:
    """The stack ``make up`` deployed, when it is up (its MiniStack process alive); else None."""
    if not STACK_FILE.exists() or running_pid() is None:
        return None
    data = json.loads(STACK_FILE.read_text())
    return MiniStack(
        endpoint=data["endpoint"],
        stack_name=data["stack_name"],
        outputs=data["outputs"],
        container_endpoint=data.get("container_endpoint", ""),
    )


def require() -> MiniStack:
    stack = load()
    if stack is None:
        raise MiniStackError("no local stack is up: run `make up` first")
    return stack


def running_pid() -> int | None:
    try:
        pid = int(PID_FILE.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def worker_files_dir() -> Path:
    """Where MiniStack's Lambda workers unpack their code: a fresh folder on tmpfs, linked from
    ``.local-stack/tmp`` so that ``remove_state`` finds it; ``.local-stack/tmp`` itself without tmpfs."""
    link = STATE_DIR / "tmp"
    if TMPFS.is_dir() and os.access(TMPFS, os.W_OK):
        link.symlink_to(tempfile.mkdtemp(prefix="risk-pipeline-local-stack-", dir=TMPFS), target_is_directory=True)
    else:
        link.mkdir(parents=True, exist_ok=True)
    return link.resolve()


def remove_state() -> None:
    """Remove ``.local-stack/`` and the workers' folder on tmpfs that it links to."""
    link = STATE_DIR / "tmp"
    if link.is_symlink():
        shutil.rmtree(link.resolve(), ignore_errors=True)
    shutil.rmtree(STATE_DIR, ignore_errors=True)


def write_state(stack: MiniStack) -> None:
    STACK_FILE.write_text(json.dumps(stack.to_json(), indent=2) + "\n")
    SAM_ENV_FILE.write_text(json.dumps(stack.function_environment(), indent=2) + "\n")
    lines = [f"export {name}={_shell_quote(value)}" for name, value in stack.environment().items()]
    ENV_FILE.write_text("# written by `make up`; load it with: source .local-stack/env\n" + "\n".join(lines) + "\n")


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"
