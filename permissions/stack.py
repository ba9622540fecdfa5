"""The SAM-translated template resolved for one concrete stack: every condition decided, every intrinsic function
replaced by its value, every name and ARN of every resource known, as CloudFormation would make them.

A stack is a name, a region and an account (``StackIdentity``: parameters of the check, never constants of the
code) and the template's parameter values. Names CloudFormation generates (a table without ``TableName``, a role
without ``RoleName``) are ``<stack>-<LogicalId>-<suffix>``, the suffix a stable hash, as CloudFormation's are
unique; a name the template gives (``TableName: AggregateTable`` in workshop mode) is that name.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

NO_VALUE = object()  # AWS::NoValue: the property, or the list item, is left out
STREAM_LABEL = "2026-01-01T00:00:00.000"  # a DynamoDB stream's label (its creation time): any fixed one

# The property that names a resource when the template gives one, by type.
NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Kinesis::Stream": "Name",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::Scheduler::Schedule": "Name",
    "AWS::Lambda::LayerVersion": "LayerName",
}


class ResolutionError(ValueError):
    """The template uses something this resolution does not know: refuse rather than guess."""


@dataclass(frozen=True)
class StackIdentity:
    """Where the stack is deployed: the check's parameters, one concrete stack."""

    name: str
    region: str
    account: str

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        return "aws-us-gov" if self.region.startswith("us-gov-") else "aws"

    @property
    def url_suffix(self) -> str:
        return "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:{self.partition}:{service}:{self.region if region else ''}:{self.account}:{resource}"

    @property
    def root(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:root"


def _suffix(*parts: str, length: int = 12) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length].upper()


@dataclass
class ConcreteStack:
    """The translated template of one stack, resolved. ``resources`` holds the resources that exist (their
    conditions true), each with its properties resolved."""

    identity: StackIdentity
    template: Mapping[str, Any]
    conditions: dict[str, bool] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def resolve(cls, template: Mapping[str, Any], identity: StackIdentity) -> ConcreteStack:
        stack = cls(identity, template)
        for name in template.get("Conditions", {}):
            stack.condition(name)
        declared = {
            logical: spec
            for logical, spec in template["Resources"].items()
            if "Condition" not in spec or stack.condition(spec["Condition"])
        }
        for logical, spec in declared.items():  # names first: a resource's properties may refer to any other's
            stack.names[logical] = stack._physical_name(logical, spec)
        for logical, spec in declared.items():
            stack.resources[logical] = {
                "Type": spec["Type"],
                "Properties": stack.value(spec.get("Properties", {})),
                "Metadata": spec.get("Metadata", {}),
            }
        return stack

    # ---------------------------------------------------------------- conditions and values

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self._logic(self.template["Conditions"][name]))
        return self.conditions[name]

    def _logic(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        if "Condition" in node:
            return self.condition(node["Condition"])
        [(function, argument)] = node.items()
        logic: dict[str, Callable[[Any], Any]] = {
            "Fn::Equals": lambda a: str(self._logic(self.value(a[0]))) == str(self._logic(self.value(a[1]))),
            "Fn::Not": lambda a: not self._logic(a[0]),
            "Fn::And": lambda a: all(self._logic(v) for v in a),
            "Fn::Or": lambda a: any(self._logic(v) for v in a),
        }
        if function not in logic:
            return self.value(node)
        return logic[function](argument)

    def value(self, node: Any) -> Any:
        """``node`` with every intrinsic function replaced by its value (AWS::NoValue items left out)."""
        if isinstance(node, list):
            return [v for v in map(self.value, node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        function = self._functions().get(next(iter(node))) if len(node) == 1 else None
        if function is not None:
            return function(next(iter(node.values())))
        return self._mapping(node)

    def _mapping(self, node: Mapping[str, Any]) -> dict[str, Any]:
        resolved = {key: self.value(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self.ref,
            "Fn::GetAtt": lambda a: self.attribute(*(a.split(".", 1) if isinstance(a, str) else a)),
            "Fn::Sub": self._sub,
            "Fn::If": lambda a: self.value(a[1] if self.condition(a[0]) else a[2]),
            "Fn::Join": lambda a: str(self.value(a[0])).join(str(v) for v in self.value(a[1])),
            "Fn::Select": lambda a: self.value(a[1])[int(self.value(a[0]))],
            "Fn::Split": lambda a: str(self.value(a[1])).split(str(self.value(a[0]))),
        }

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], self.value(argument[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return str(self.attribute(*name.split(".", 1)))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    # ---------------------------------------------------------------- references

    def pseudo(self, name: str) -> Any:
        identity = self.identity
        values: dict[str, Any] = {
            "AWS::StackName": identity.name,
            "AWS::Region": identity.region,
            "AWS::AccountId": identity.account,
            "AWS::Partition": identity.partition,
            "AWS::URLSuffix": identity.url_suffix,
            "AWS::StackId": identity.arn("cloudformation", f"stack/{identity.name}/{self._uuid('stack')}"),
            "AWS::NoValue": NO_VALUE,
        }
        if name not in values:
            raise ResolutionError(f"unknown pseudo parameter {name}")
        return values[name]

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name not in self.names:
            raise ResolutionError(f"Ref to {name}: no such resource in this stack (a parameter left unresolved?)")
        kind = self.template["Resources"][name]["Type"]
        physical = self.names[name]
        refs: dict[str, Callable[[], str]] = {
            "AWS::SQS::Queue": lambda: (
                f"https://sqs.{self.identity.region}.{self.identity.url_suffix}/{self.identity.account}/{physical}"
            ),
            "AWS::SNS::Topic": lambda: self.attribute(name, "TopicArn"),
            "AWS::IAM::ManagedPolicy": lambda: self.attribute(name, "PolicyArn"),
            "AWS::Lambda::LayerVersion": lambda: self.identity.arn("lambda", f"layer:{physical}:1"),
        }
        return refs.get(kind, lambda: physical)()

    def attribute(self, logical: str, attribute: str) -> Any:
        if logical not in self.names:
            raise ResolutionError(f"GetAtt {logical}.{attribute}: no such resource in this stack")
        kind = self.template["Resources"][logical]["Type"]
        getter = _ATTRIBUTES.get((kind, attribute))
        if getter is None:
            raise ResolutionError(f"GetAtt {logical}.{attribute} ({kind}): not modelled")
        return getter(self, logical)

    def arn(self, logical: str) -> str:
        """The resource's ARN (for those that have one)."""
        return str(self.attribute(logical, "Arn"))

    def _uuid(self, *parts: str) -> str:
        return str(uuid.UUID(hashlib.sha256("/".join((self.identity.name, *parts)).encode()).hexdigest()[:32]))

    def _physical_name(self, logical: str, spec: Mapping[str, Any]) -> str:
        kind = spec["Type"]
        given = spec.get("Properties", {}).get(NAME_PROPERTIES.get(kind, ""))
        if given is not None:
            value = self.value(given)
            if value is not NO_VALUE:
                return str(value)
        if kind == "AWS::KMS::Key":
            return self._uuid("key", logical)
        if kind == "AWS::Logs::LogGroup":
            return f"{self.identity.name}-{logical}-{_suffix(self.identity.name, logical)}"
        return f"{self.identity.name}-{logical}-{_suffix(self.identity.name, logical)}"

    # ---------------------------------------------------------------- queries

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {logical: r["Properties"] for logical, r in self.resources.items() if r["Type"] == kind}

    def logical_of_arn(self, arn: str) -> str | None:
        for logical, resource in self.resources.items():
            if (resource["Type"], "Arn") in _ATTRIBUTES and self.arn(logical) == arn:
                return logical
        return None


def _arn(service: str, template: str, *, region: bool = True) -> Callable[[ConcreteStack, str], str]:
    def getter(stack: ConcreteStack, logical: str) -> str:
        return stack.identity.arn(service, template.format(name=stack.names[logical]), region=region)

    return getter


def _role_arn(stack: ConcreteStack, logical: str) -> str:
    path = stack.resources.get(logical, {}).get("Properties", {}).get("Path", "/")
    return stack.identity.arn("iam", f"role{path}{stack.names[logical]}", region=False)


_ATTRIBUTES: dict[tuple[str, str], Callable[[ConcreteStack, str], Any]] = {
    ("AWS::DynamoDB::Table", "Arn"): _arn("dynamodb", "table/{name}"),
    ("AWS::DynamoDB::Table", "StreamArn"): _arn("dynamodb", "table/{name}/stream/" + STREAM_LABEL),
    ("AWS::Kinesis::Stream", "Arn"): _arn("kinesis", "stream/{name}"),
    ("AWS::SQS::Queue", "Arn"): _arn("sqs", "{name}"),
    ("AWS::SQS::Queue", "QueueName"): lambda s, logical: s.names[logical],
    ("AWS::SQS::Queue", "QueueUrl"): lambda s, logical: s.ref(logical),
    ("AWS::SNS::Topic", "TopicArn"): _arn("sns", "{name}"),
    ("AWS::SNS::Topic", "TopicName"): lambda s, logical: s.names[logical],
    ("AWS::KMS::Key", "Arn"): _arn("kms", "key/{name}"),
    ("AWS::KMS::Key", "KeyId"): lambda s, logical: s.names[logical],
    ("AWS::IAM::Role", "Arn"): _role_arn,
    ("AWS::IAM::ManagedPolicy", "PolicyArn"): _arn("iam", "policy/{name}", region=False),
    ("AWS::Lambda::Function", "Arn"): _arn("lambda", "function:{name}"),
    ("AWS::Logs::LogGroup", "Arn"): _arn("logs", "log-group:{name}:*"),
    ("AWS::Scheduler::Schedule", "Arn"): _arn("scheduler", "schedule/default/{name}"),
}
