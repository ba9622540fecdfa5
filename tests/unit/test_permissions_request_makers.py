"""The recording goes stale when code that makes requests changes: that code is every module that can."""

from __future__ import annotations

import tomllib
from pathlib import Path

from permissions.recording import REQUEST_MAKERS

ROOT = Path(__file__).resolve().parents[2]
DATA_ACCESS_LAYER = 2  # riskpipe's layers contract: batching, wiring, data access, config, domain, models


def data_access_modules() -> set[str]:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    [layered] = [c for c in contracts if c.get("containers") == ["riskpipe"]]
    names = layered["layers"][DATA_ACCESS_LAYER].split(":")
    return {f"layers/shared/riskpipe/{name.strip()}.py" for name in names}


def test_given_the_layers_data_access_and_the_functions_then_each_is_a_request_maker():
    # Given every data-access module of the layer (the only modules that call AWS) and every function's handler
    makers = data_access_modules() | {str(p.relative_to(ROOT)) for p in ROOT.glob("functions/*/app.py")}

    # Then each is among the files whose change makes the recording stale
    assert makers - set(REQUEST_MAKERS) == set()
    # and each listed file exists (a file moved away would otherwise never count as changed)
    assert [m for m in REQUEST_MAKERS if not (ROOT / m).is_file()] == []


def test_given_the_operator_commands_then_every_module_of_theirs_that_calls_aws_is_a_request_maker():
    # Given the operator's rooms: the redrive and the reconcile
    operator = [*ROOT.glob("localpipe/redrive/*.py"), ROOT / "localpipe/commands/reconcile.py"]
    operator += [ROOT / "localpipe/commands/redrive.py"]

    # Then every one that makes a client or calls one is listed
    calling = {str(p.relative_to(ROOT)) for p in operator if ".client(" in p.read_text() or "boto3" in p.read_text()}
    assert calling - set(REQUEST_MAKERS) == set()
