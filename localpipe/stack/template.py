"""Read template.yaml: parameters, the resources to create locally, the functions and their event sources.

Reading the SAM template itself (not a copy of its values) is what keeps the local pipeline and the
integration tests from drifting away from what `sam deploy` creates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"


def _plain(value: Any) -> Any:
    """cfn-lint's nodes carry line marks; turn them into plain dicts, lists and scalars."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


@dataclass(frozen=True)
class EventSource:
    """One stream event source of a function, with its parameters resolved (not its resource refs)."""

    function: str
    name: str
    kind: str  # "Kinesis" or "DynamoDB"
    source: str  # logical id of the stream (Kinesis) or table (DynamoDB)
    properties: dict[str, Any]

    def setting(self, key: str, default: Any = None) -> Any:
        return self.properties.get(key, default)

    @property
    def batch_size(self) -> int:
        return int(self.setting("BatchSize", 100))

    @property
    def bisect(self) -> bool:
        return bool(self.setting("BisectBatchOnFunctionError", False))

    @property
    def maximum_retry_attempts(self) -> int:
        return int(self.setting("MaximumRetryAttempts", -1))

    @property
    def maximum_record_age(self) -> int:
        return int(self.setting("MaximumRecordAgeInSeconds", -1))

    @property
    def parallelization_factor(self) -> int:
        return int(self.setting("ParallelizationFactor", 1))

    @property
    def report_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.setting("FunctionResponseTypes", [])

    @property
    def on_failure(self) -> str | None:
        """Logical id of the on-failure destination."""
        destination = self.setting("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        return destination["Fn::GetAtt"][0] if isinstance(destination, dict) else None

    @property
    def filter_patterns(self) -> list[str]:
        return [f["Pattern"] for f in self.setting("FilterCriteria", {}).get("Filters", [])]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: str
    handler: str
    environment: dict[str, Any]

    @property
    def module(self) -> str:
        """Import path of the handler module, e.g. ``functions.state.app``."""
        return ".".join([*Path(self.code_uri).parts, self.handler.rsplit(".", 1)[0]])


@dataclass
class Template:
    resources: dict[str, dict[str, Any]]
    parameters: dict[str, Any]
    globals_env: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)

    def condition(self, name: str) -> bool:
        """A condition of the template, evaluated with the parameters (Equals, Not, And, Or)."""
        return bool(self.evaluate(self.conditions[name]))

    def evaluate(self, node: Any) -> Any:
        """A node of a condition: a condition function applied (``CONDITION_FUNCTIONS``, first match), a ``Ref`` to a
        parameter replaced by its value, anything else as it is."""
        if not isinstance(node, dict):
            return node
        function = next((name for name in CONDITION_FUNCTIONS if name in node), None)
        if function is not None:
            return CONDITION_FUNCTIONS[function](self, node[function])
        if set(node) == {"Ref"} and node["Ref"] in self.parameters:
            return self.parameters[node["Ref"]]
        return node

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH, overrides: Mapping[str, Any] | None = None) -> Template:
        raw = _plain(load_cfn_yaml(str(path)))
        parameters = {name: spec.get("Default") for name, spec in raw.get("Parameters", {}).items()}
        unknown = set(overrides or {}) - set(parameters)
        if unknown:
            raise KeyError(f"unknown template parameters: {', '.join(sorted(unknown))}")
        parameters.update(overrides or {})
        globals_env = raw.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        return cls(
            resources=raw["Resources"],
            parameters=parameters,
            globals_env=globals_env,
            conditions=raw.get("Conditions", {}),
        )

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            name: self.resolve_parameters(res.get("Properties", {}))
            for name, res in self.resources.items()
            if res["Type"] == resource_type and ("Condition" not in res or self.condition(res["Condition"]))
        }

    def resolve_parameters(self, value: Any) -> Any:
        """Replace ``Ref`` to parameters by their values; leave references to resources for the caller."""
        if isinstance(value, dict):
            if set(value) == {"Ref"} and value["Ref"] in self.parameters:
                return self.parameters[value["Ref"]]
            return {k: self.resolve_parameters(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve_parameters(v) for v in value]
        return value

    def functions(self) -> dict[str, FunctionSpec]:
        result = {}
        for name, props in self.of_type("AWS::Serverless::Function").items():
            env = {**self.globals_env, **props.get("Environment", {}).get("Variables", {})}
            result[name] = FunctionSpec(name, props["CodeUri"], props["Handler"], env)
        return result

    def event_sources(self) -> list[EventSource]:
        sources = []
        for function, props in self.of_type("AWS::Serverless::Function").items():
            for name, event in props.get("Events", {}).items():
                if event["Type"] not in ("Kinesis", "DynamoDB"):
                    continue
                stream = event["Properties"]["Stream"]
                source = stream["Fn::GetAtt"][0]
                sources.append(EventSource(function, name, event["Type"], source, dict(event["Properties"])))
        return sources

    def event_source(self, function: str) -> EventSource:
        [source] = [s for s in self.event_sources() if s.function == function]
        return source


def _equals(template: Template, operands: list[Any]) -> bool:
    left, right = (template.evaluate(v) for v in operands)
    return str(left) == str(right)


# The condition functions the template's conditions use, in the order a node is matched against them.
CONDITION_FUNCTIONS: dict[str, Callable[[Template, Any], Any]] = {
    "Condition": lambda template, name: template.condition(name),
    "Fn::Equals": _equals,
    "Fn::Not": lambda template, operands: not template.evaluate(operands[0]),
    "Fn::And": lambda template, operands: all(template.evaluate(v) for v in operands),
    "Fn::Or": lambda template, operands: any(template.evaluate(v) for v in operands),
}
