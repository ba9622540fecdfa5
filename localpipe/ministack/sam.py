"""SAM CLI as ``make up`` runs it against the local AWS (``lifecycle.py``): ``sam build`` and ``sam deploy
--config-env local`` from samconfig.toml, as a user deploys to AWS."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from localpipe.ministack.model import REGION
from localpipe.ministack.process import MiniStackError
from localpipe.stack.server import LOCAL_CREDENTIALS
from localpipe.stack.template import ROOT

console = Console(soft_wrap=True, highlight=False)
CONFIG_ENV = "local"
WORKSHOP_CONFIG_ENV = "local_workshop"
DEPLOY_SECONDS = 600.0


def sam(arguments: Sequence[str], endpoint: str, cwd: Path = ROOT) -> None:
    environment = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        **LOCAL_CREDENTIALS,
        "SAM_CLI_TELEMETRY": "0",
    }
    environment.pop("AWS_PROFILE", None)
    command = [shutil.which("sam") or "sam", *arguments]
    console.print(f"$ {' '.join(['sam', *arguments])}")
    result = subprocess.run(command, env=environment, cwd=cwd, timeout=DEPLOY_SECONDS, check=False)
    if result.returncode != 0:
        raise MiniStackError(f"`sam {' '.join(arguments)}` failed (exit {result.returncode}); see its output above")


def _config(config_env: str = CONFIG_ENV) -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads((ROOT / "samconfig.toml").read_text())[config_env]
    return config


def stack_name() -> str:
    return str(_config()["global"]["parameters"]["stack_name"])


def deploy_arguments(workshop: bool, *, combining: bool = False) -> list[str]:
    """``sam deploy`` of the ``local`` config env; in workshop mode of ``local_workshop``, the same deploy with
    ``WorkshopMode="true"`` and the shard count that keeps the workshop's clock here (samconfig.toml says why); with
    the combining level, the config env's parameter overrides with ``Combining="true"`` added (a
    ``--parameter-overrides`` on the command line replaces the config's, so the config's are repeated first).
    AggregationOrder stays at its default, the order the workshop's checker scores."""
    config_env = WORKSHOP_CONFIG_ENV if workshop else CONFIG_ENV
    arguments = ["deploy", "--config-env", config_env, "--no-resolve-s3"]
    if combining:
        overrides = str(_config(config_env)["deploy"]["parameters"]["parameter_overrides"])
        arguments += ["--parameter-overrides", f'{overrides} Combining="true"']
    return arguments
