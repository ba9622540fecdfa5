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


def _local_config() -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads((ROOT / "samconfig.toml").read_text())[CONFIG_ENV]
    return config


def stack_name() -> str:
    return str(_local_config()["global"]["parameters"]["stack_name"])


def deploy_arguments(workshop: bool) -> list[str]:
    """``sam deploy`` of the ``local`` config env; in workshop mode of ``local_workshop``, the same deploy with
    ``WorkshopMode="true"`` and the shard count that keeps the workshop's clock here (samconfig.toml says why).
    AggregationOrder stays at its default, the order the workshop's checker scores."""
    return ["deploy", "--config-env", WORKSHOP_CONFIG_ENV if workshop else CONFIG_ENV, "--no-resolve-s3"]
