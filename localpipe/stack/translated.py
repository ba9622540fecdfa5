"""The template as CloudFormation receives it: translated by SAM, its parameters replaced by the values of an
environment, then linted. cfn-lint does not look inside the resources SAM generates (an event source mapping
with ``ParallelizationFactor: 20`` passes it), so this lints them after translation
(``python -m localpipe.stack.translated``, part of ``make lint``)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from localpipe.stack.template import ROOT, TEMPLATE_PATH

SAMCONFIG = ROOT / "samconfig.toml"
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
# The translator counts its own usage into a publisher that discards it, and warns at exit that it was never
# published: noise in the lint's output.
logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)


class _NoManagedPolicies:
    def get_managed_policy_map(self) -> dict[str, str]:
        return {}


def environments(samconfig: Path = SAMCONFIG) -> dict[str, dict[str, str]]:
    """Parameter overrides of every environment in samconfig.toml (``default``, ``prod``, ...)."""
    config = tomllib.loads(samconfig.read_text())
    result: dict[str, dict[str, str]] = {}
    for name, commands in config.items():
        if not isinstance(commands, dict):
            continue
        overrides = commands.get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
        pairs = [p.split("=", 1) for p in overrides.replace('"', "").split()] if overrides else []
        result[name] = {key: value for key, value in pairs}
    return result


def translate(path: Path = TEMPLATE_PATH, parameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """SAM's translation, with ``parameters`` (over the template's defaults) put in place of every Ref to them."""
    template = yaml_parse(path.read_text())
    transforms = template.get("Transform", [])
    for resource in template["Resources"].values():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/code.zip"  # what `sam package` does first
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the translator needs one, any one
    translated = transform(template, {}, _NoManagedPolicies())
    values = {name: spec.get("Default") for name, spec in translated.get("Parameters", {}).items()}
    values.update(parameters or {})
    resolved = _resolve(translated, values)
    resolved.pop("Parameters", None)  # every use has its value now
    if LANGUAGE_EXTENSIONS in transforms:  # SAM leaves its functions (Fn::If in DeletionPolicy) to CloudFormation
        resolved["Transform"] = LANGUAGE_EXTENSIONS
    return resolved


def _resolve(node: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in values and values[node["Ref"]] is not None:
            return _typed(values[node["Ref"]])
        return {key: _resolve(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(value, values) for value in node]
    return node


def _typed(value: Any) -> Any:
    """Parameter values are strings; a number stays a number so that ranges are checked."""
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                continue
    return value


def lint(parameters: Mapping[str, Any] | None = None, path: Path = TEMPLATE_PATH) -> tuple[int, str]:
    """cfn-lint on the translated template: (exit code, what it printed)."""
    translated = translate(path, parameters)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(translated, handle, indent=1)
    try:
        cfn_lint = Path(sys.executable).with_name("cfn-lint")
        # W8003: with the values in place, a condition on a parameter is a constant; that is the point here.
        command = [str(cfn_lint), "--ignore-checks", "W8003", "--", handle.name]
        result = subprocess.run(command, capture_output=True, text=True)
        return result.returncode, (result.stdout + result.stderr).replace(handle.name, f"{path.name} (translated)")
    finally:
        os.unlink(handle.name)


def _lint_runs(paths: list[Path]) -> list[tuple[str, tuple[int, str]]]:
    """Each template named, with its defaults; with none, template.yaml with each environment's parameters."""
    if paths:
        return [(f"translated template {path}, its default parameters", lint(path=path)) for path in paths]
    return [
        (f"translated template, {name} parameters {parameters or '(defaults)'}", lint(parameters))
        for name, parameters in environments().items()
    ]


def main(argv: list[str] | None = None) -> int:
    """``python -m localpipe.stack.translated [TEMPLATE ...]``: exit 1 when any translation is not lint clean."""
    runs = _lint_runs([Path(p) for p in (sys.argv[1:] if argv is None else argv)])
    for label, (code, output) in runs:
        print(f"{label}: {'clean' if code == 0 else 'NOT clean'}")  # noqa: T201
        if code:
            print(output)  # noqa: T201
    return 1 if any(code for _, (code, _) in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
