"""Every policy a concrete stack holds, as statements the evaluator reads: each role's identity policies (inline,
and the stack's managed policies attached to it), each managed policy on its own (the operators' one is attached
to roles outside the stack), each key policy, each queue and topic policy, each role's trust policy.

A statement may carry a reason to stay though no recorded request uses everything it grants: the resource that
holds its policy says so in its ``Metadata``, by the statement's ``Sid``::

    Metadata:
      permissions:
        reasons:
          AccountAdministers: "The key policy's default statement: ..."

(the Sid is the statement's name in IAM and KMS alike; a statement without one cannot be given a reason).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from permissions.evaluate import Statement
from permissions.stack import NO_VALUE, ConcreteStack, ResolutionError


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in (value if isinstance(value, list) else [value]))


def _principals(value: Any, stack: ConcreteStack) -> dict[str, tuple[str, ...]] | None:
    if value is None:
        return None
    if value == "*":
        return {"*": ("*",)}
    result = {}
    for kind, names in value.items():
        listed = _tuple(names)
        if kind == "AWS":  # an account id stands for the account's root
            listed = tuple(f"arn:{stack.identity.partition}:iam::{n}:root" if n.isdigit() else n for n in listed)
        result[kind] = listed
    return result


def statements_of(
    document: Mapping[str, Any],
    where: str,
    stack: ConcreteStack,
    reasons: Mapping[str, str],
    path: tuple[str | int, ...] = (),
) -> list[Statement]:
    """The statements of one policy document (as the template writes it: each statement is resolved here, so that
    one left out by a condition does not renumber the others), each told where it is and its reason (by Sid)."""
    listed = document.get("Statement", [])
    result = []
    for index, written in enumerate(listed if isinstance(listed, list) else [listed], start=1):
        raw = stack.value(written)
        if raw is NO_VALUE:
            continue
        sid = str(raw.get("Sid", ""))
        place = f"{where}, statement {index}" + (f" (Sid {sid})" if sid else "")
        result.append(
            Statement(
                where=place,
                effect=raw["Effect"],
                actions=_tuple(raw.get("Action")),
                not_actions=_tuple(raw.get("NotAction")),
                # a trust policy has no Resource: it is the role's own
                resources=_tuple(raw.get("Resource", None if "NotResource" in raw else "*")),
                not_resources=_tuple(raw.get("NotResource")),
                principals=_principals(raw.get("Principal"), stack),
                not_principals=_principals(raw.get("NotPrincipal"), stack),
                conditions={op: {k: v for k, v in keys.items()} for op, keys in raw.get("Condition", {}).items()},
                sid=sid,
                reason=reasons.get(sid, "") if sid else "",
                path=(*path, "Statement", index - 1) if path else (),
            )
        )
    return result


def reasons_of(stack: ConcreteStack, logical: str) -> dict[str, str]:
    metadata = stack.resources[logical].get("Metadata") or {}
    return dict((metadata.get("permissions") or {}).get("reasons") or {})


@dataclass
class StackPolicies:
    """The stack's policies, by whom or what they apply to (ARNs of the concrete stack)."""

    identity: dict[str, list[Statement]] = field(default_factory=dict)  # role ARN -> its identity statements
    managed: dict[str, list[Statement]] = field(default_factory=dict)  # managed policy logical id -> statements
    resource: dict[str, list[Statement]] = field(default_factory=dict)  # resource ARN -> its policy's statements
    keys: dict[str, list[Statement]] = field(default_factory=dict)  # key ARN -> key policy statements
    reasons: dict[str, dict[str, str]] = field(default_factory=dict)  # logical id -> Sid -> reason

    def all_statements(self) -> Iterator[Statement]:
        seen: set[str] = set()
        groups = [*self.identity.values(), *self.managed.values(), *self.resource.values(), *self.keys.values()]
        for group in groups:
            for statement in group:
                if statement.where not in seen:
                    seen.add(statement.where)
                    yield statement

    @classmethod
    def of(cls, stack: ConcreteStack) -> StackPolicies:
        policies = cls()
        for logical, props in stack.of_type("AWS::IAM::Role").items():
            policies._role(stack, logical, props)
        for kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            for logical, props in stack.of_type(kind).items():
                policies._attached(stack, logical, props)
        for logical in stack.of_type("AWS::KMS::Key"):
            policies._key(stack, logical)
        for kind, targets in (("AWS::SQS::QueuePolicy", "Queues"), ("AWS::SNS::TopicPolicy", "Topics")):
            for logical, props in stack.of_type(kind).items():
                policies._resource_policy(stack, logical, props[targets])
        return policies

    def _key(self, stack: ConcreteStack, logical: str) -> None:
        reasons = reasons_of(stack, logical)
        document = written(stack, logical)["KeyPolicy"]
        path = (logical, "Properties", "KeyPolicy")
        self.keys[stack.arn(logical)] = statements_of(document, f"{logical} key policy", stack, reasons, path)
        self.reasons[logical] = reasons

    def _resource_policy(self, stack: ConcreteStack, logical: str, targets: list[str]) -> None:
        document = written(stack, logical)["PolicyDocument"]
        path = (logical, "Properties", "PolicyDocument")
        statements = statements_of(document, f"{logical}", stack, reasons_of(stack, logical), path)
        for target in targets:
            self.resource.setdefault(_target_arn(stack, target), []).extend(statements)

    def _role(self, stack: ConcreteStack, logical: str, props: Mapping[str, Any]) -> None:
        arn = stack.arn(logical)
        reasons = reasons_of(stack, logical)
        self.reasons[logical] = reasons
        statements = []
        for number, policy in enumerate(written(stack, logical).get("Policies", [])):
            where = f"{logical} policy {stack.value(policy['PolicyName'])}"
            path: tuple[str | int, ...] = (logical, "Properties", "Policies", number, "PolicyDocument")
            statements.extend(statements_of(policy["PolicyDocument"], where, stack, reasons, path))
        for managed_arn in props.get("ManagedPolicyArns", []):
            owner = next((m for m in stack.of_type("AWS::IAM::ManagedPolicy") if stack.ref(m) == managed_arn), None)
            if owner is None:
                raise ResolutionError(
                    f"{logical}: managed policy {managed_arn} is not in the stack: its document is unknown"
                )
        self.identity[arn] = statements
        trust = f"{logical} trust policy"
        path = (logical, "Properties", "AssumeRolePolicyDocument")
        self.resource[arn] = statements_of(props["AssumeRolePolicyDocument"], trust, stack, reasons, path)

    def _attached(self, stack: ConcreteStack, logical: str, props: Mapping[str, Any]) -> None:
        reasons = reasons_of(stack, logical)
        self.reasons[logical] = reasons
        path = (logical, "Properties", "PolicyDocument")
        statements = statements_of(written(stack, logical)["PolicyDocument"], f"{logical}", stack, reasons, path)
        self.managed[logical] = statements
        roles = {stack.names[r]: r for r in stack.of_type("AWS::IAM::Role")}
        for role_name in props.get("Roles", []):
            if role_name not in roles:
                raise ResolutionError(f"{logical} is attached to role {role_name}, which is not in the stack")
            self.identity.setdefault(stack.arn(roles[role_name]), []).extend(statements)


def written(stack: ConcreteStack, logical: str) -> Mapping[str, Any]:
    """A resource's properties as the (translated) template writes them, before resolution."""
    return dict(stack.template["Resources"][logical].get("Properties", {}))


def _target_arn(stack: ConcreteStack, reference: str) -> str:
    """A queue policy lists queue URLs, a topic policy topic ARNs: both as the ARN."""
    if reference.startswith("https://sqs."):
        account, name = reference.rstrip("/").split("/")[-2:]
        return f"arn:{stack.identity.partition}:sqs:{stack.identity.region}:{account}:{name}"
    return reference
