"""Cold start and memory, each in a fresh interpreter.

* Import cost of each handler module against importing boto3 and Powertools alone (what any Powertools
  function pays), in instructions counted by valgrind (times on a shared machine vary by a third from run to
  run; the counts do not).
* Peak RSS of the StateLambda handling one batch of 10,000 records (its real handler, against a moto server
  in another process, so that moto's memory is not counted), against the interpreter with the handler
  imported and nothing handled.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import Executor

from benchmarks.common import Row
from localpipe.stack.local import function_env, local_stack
from localpipe.stack.template import ROOT

HANDLERS = {
    "state": "functions.state.app",
    "aggregate": "functions.aggregate.app",
    "producer": "functions.producer.app",
}
# What every Powertools function pays at import: boto3, and its Logger, Metrics and Tracer made at module
# level (the Tracer loads the X-Ray SDK when it is made, not when its class is imported).
BASELINE = (
    "import boto3\nfrom aws_lambda_powertools import Logger, Metrics, Tracer\n"
    "logger, metrics, tracer = Logger(service='x'), Metrics(namespace='x'), Tracer(service='x')"
)
BASELINE_WITH_PYDANTIC = BASELINE + "\nimport pydantic\nfrom pydantic import BaseModel, Field"


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'layers' / 'shared'}{os.pathsep}{ROOT}",
        "POWERTOOLS_METRICS_NAMESPACE": "RiskPipeline",
    }


def instructions(code: str) -> int:
    """Instructions a fresh interpreter executes to run ``code``, counted by valgrind's callgrind: the same
    count for the same code, whatever else the machine is doing (wall and CPU times are not, here)."""
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=_env(),
        check=True,
    )
    match = re.search(r"Collected : (\d+)", result.stderr)
    if match is None:
        raise RuntimeError(f"callgrind printed no instruction count: {result.stderr[-400:]}")
    return int(match.group(1))


def start_cold_start(pool: Executor) -> Callable[[], list[Row]]:
    """Start the counts (about a minute each under valgrind) on ``pool``; the returned call collects the rows.

    The import cost of a module is the instructions of ``python -c "import it"`` less those of ``python -c
    pass``. Two baselines: boto3 with Powertools' Logger, Metrics and Tracer made (what any Powertools function
    pays), and the same with pydantic (Powertools' parser and our typed models and settings are built on it)."""
    if shutil.which("valgrind") is None:
        return lambda: [Row("cold start", "import cost", float("nan"), note="valgrind is not installed: not measured")]
    subprocess.run(  # bytecode compiled first, as in a deployed package: the counts are of importing, not compiling
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "layers" / "shared"), str(ROOT / "functions")], check=True
    )
    codes = {"empty": "pass", "baseline": BASELINE, "baseline + pydantic": BASELINE_WITH_PYDANTIC}
    codes.update({name: f"import {module}" for name, module in HANDLERS.items()})
    futures = {name: pool.submit(instructions, code) for name, code in codes.items()}

    def rows() -> list[Row]:
        counts = {
            name: future.result() - (futures["empty"].result() if name != "empty" else 0)
            for name, future in futures.items()
        }
        baseline, with_pydantic = counts["baseline"], counts["baseline + pydantic"]
        result = [
            Row("cold start", "baseline: boto3 + Powertools Logger, Metrics, Tracer made", baseline / 1e6, "M instr"),
            Row(
                "cold start",
                "the same + pydantic, imported",
                with_pydantic / 1e6,
                "M instr",
                note=f"pydantic alone is {(with_pydantic - baseline) / baseline:.0%} of the baseline",
            ),
        ]
        for name in HANDLERS:
            result.append(
                Row(
                    "cold start",
                    f"import the {name} handler / the baseline",
                    counts[name] / baseline,
                    "x",
                    target="<= 1.2",
                    met=counts[name] / baseline <= 1.2,
                    note=f"{counts[name] / with_pydantic:.2f}x the baseline with pydantic; callgrind instructions",
                )
            )
        return result

    return rows


# Runs as a Lambda instance would: only the handler module, configured by its environment, called through its
# real entry point. The event is built first, then the peak is read before and after the one invocation.
_MEMORY = """
import json
from localpipe.stack.lambda_context import LocalContext
from localpipe.stack.shapes import kinesis_event
from riskpipe.producer import generate_messages


def peak_kb():
    # VmHWM: this process's own peak (getrusage's ru_maxrss keeps the parent's peak across fork and exec)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


event = kinesis_event(*generate_messages(10_000, 500, seed=31, duplicates=0.1, now=1.7e9))
from functions.state import app

before = peak_kb()
response = app.lambda_handler(event, LocalContext(function_name="state", aws_request_id="bench"))
after = peak_kb()
print(json.dumps({"before_kb": before, "after_kb": after, "failures": len(response["batchItemFailures"])}))
"""


def memory() -> list[Row]:
    # The template's write concurrency (not the local stack's one-at-a-time): the batch's peak is the measure,
    # and nothing here reads the table's stream.
    with local_stack(prefix="memory", serial_writes=False) as deployed:
        env = {
            **_env(),
            **function_env(deployed),
            **{k: v for k, v in os.environ.items() if k.startswith("AWS_")},
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
        out = subprocess.run([sys.executable, "-c", _MEMORY], capture_output=True, text=True, env=env, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    if figures["failures"]:
        raise RuntimeError(f"the memory batch had {figures['failures']} failed records")
    before, after = figures["before_kb"] / 1024, figures["after_kb"] / 1024
    return [
        Row(
            "memory",
            "StateLambda peak RSS, one batch of 10,000 records (500 trades)",
            after,
            "MiB",
            target="< 512 (the template's default MemorySize; the StateLambda's own is 1,769 MB, for CPU)",
            met=after < 512,
            note=f"{before:.0f} MiB with the handler imported and the event built; "
            f"the batch adds {after - before:.0f} MiB",
        )
    ]
