"""AWS's policy evaluation logic for a request within one account (IAM User Guide, "Policy evaluation logic"),
for the policies a stack holds: the principal's identity policies and the resource's policy (a key policy, a queue
policy, a role's trust policy). No SCP, permission boundary or session policy applies here (docs/deploy.md).

1. An explicit Deny in any applicable policy decides: denied.
2. A KMS key: its key policy decides who may use it. A statement of the key policy that names the principal
   allows it directly; a statement that names the account (``arn:aws:iam::<account>:root``) lets the principal's
   IAM policies allow it ("Allows access to the AWS account and enables IAM policies"): then an identity policy
   must allow it too. Without either, IAM policies alone never allow a key.
3. Any other resource: an Allow in the principal's identity policies, or in the resource's policy for that very
   principal (same account), allows.
4. Otherwise: denied (implicitly).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from permissions.conditions import conditions_met, wildcard_match


@dataclass(frozen=True)
class Principal:
    """Who asks: an IAM role or user (``arn``), or an AWS service (``service``: ``logs.amazonaws.com``)."""

    arn: str = ""
    service: str = ""
    account: str = ""


@dataclass(frozen=True)
class AuthRequest:
    """One authorization AWS makes: this principal, this action, on this resource, in this context."""

    principal: Principal
    action: str  # "dynamodb:UpdateItem"
    resource: str  # an ARN, or "*" for an action that takes no resource
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)  # keys in lower case

    def describe(self) -> str:
        return f"{self.action} on {self.resource}"


@dataclass(frozen=True)
class Statement:
    """One statement of one policy, resolved; ``where`` says where it is in the template."""

    where: str
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    principals: Mapping[str, tuple[str, ...]] | None = None  # resource policies only
    not_principals: Mapping[str, tuple[str, ...]] | None = None
    conditions: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    sid: str = ""
    reason: str = ""  # why an Allow may stay though no recorded request uses all it grants
    path: tuple[str | int, ...] = field(default=(), compare=False)  # where in the translated template (if there)

    def matches_action(self, action: str) -> bool:
        if self.not_actions:
            return not any(wildcard_match(p, action, ignore_case=True) for p in self.not_actions)
        return any(wildcard_match(p, action, ignore_case=True) for p in self.actions)

    def matching_resources(self, resource: str) -> tuple[str, ...]:
        """The Resource patterns that match (``("*",)`` for a NotResource that does not exclude it)."""
        if self.not_resources:
            return () if any(wildcard_match(p, resource) for p in self.not_resources) else ("NotResource",)
        return tuple(p for p in self.resources if p == "*" or wildcard_match(p, resource))

    def names(self, principal: Principal, account_root: str) -> bool:
        """A resource policy's Principal (or NotPrincipal) covers ``principal`` itself (not through the account)."""
        if self.principals is None and self.not_principals is None:
            return True  # an identity policy: it applies to its own principal
        if self.not_principals is not None:
            return not _names(self.not_principals, principal, account_root)
        return _names(self.principals or {}, principal, account_root)

    def delegates(self, account_root: str) -> bool:
        """A resource policy statement that names the account (its root), so lets IAM policies decide."""
        return account_root in (self.principals or {}).get("AWS", ())

    def applies(self, request: AuthRequest) -> tuple[str, ...]:
        """The Resource patterns through which this statement applies to ``request`` (empty: it does not)."""
        if not self.matches_action(request.action):
            return ()
        patterns = self.matching_resources(request.resource)
        if patterns and conditions_met(self.conditions, request.context):
            return patterns
        return ()


def _names(principals: Mapping[str, tuple[str, ...]], principal: Principal, account_root: str) -> bool:
    if "*" in principals.get("*", ()):
        return True
    aws = principals.get("AWS", ())
    if principal.arn and ("*" in aws or principal.arn in aws):
        return True
    return bool(principal.service) and principal.service in principals.get("Service", ())


@dataclass(frozen=True)
class Grant:
    """A statement that allowed a request, and through which of its Resource patterns."""

    statement: Statement
    patterns: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    grants: tuple[Grant, ...] = ()  # every Allow that took part (identity, and resource or key policy)
    denied_by: Statement | None = None
    missing: str = ""  # what was missing, for a request refused implicitly


@dataclass(frozen=True)
class Policies:
    """What applies to one request: the principal's identity statements, the resource's policy statements (a key
    policy when ``key_policy``), and the account whose root a resource policy may delegate to."""

    identity: Sequence[Statement]
    resource: Sequence[Statement] = ()
    key_policy: bool = False
    account_root: str = ""


def evaluate(request: AuthRequest, policies: Policies) -> Decision:
    denial = _explicit_deny(request, policies)
    if denial is not None:
        return Decision(False, denied_by=denial)
    principal, root = request.principal, policies.account_root
    identity = _allows(policies.identity, request)
    direct = _allows([s for s in policies.resource if s.names(principal, root)], request)
    if policies.key_policy:
        return _key_decision(request, policies, identity, direct)
    if identity or direct:
        return Decision(True, grants=(*identity, *direct))
    missing = "no identity policy statement allows it"
    if policies.resource:
        missing += ", nor does the resource's policy"
    return Decision(False, missing=missing)


def _explicit_deny(request: AuthRequest, policies: Policies) -> Statement | None:
    """A Deny of the identity policies, or of the resource's policy for this principal (or its account)."""
    principal, root = request.principal, policies.account_root
    same_account = bool(root) and principal.account == root.split(":")[4]
    for statement in [*policies.identity, *policies.resource]:
        covered = statement.names(principal, root) or (statement.delegates(root) and same_account)
        if statement.effect == "Deny" and covered and statement.applies(request):
            return statement
    return None


def _allows(statements: Sequence[Statement], request: AuthRequest) -> tuple[Grant, ...]:
    grants = []
    for statement in statements:
        if statement.effect != "Allow":
            continue
        patterns = statement.applies(request)
        if patterns:
            grants.append(Grant(statement, patterns))
    return tuple(grants)


def _key_decision(
    request: AuthRequest, policies: Policies, identity: tuple[Grant, ...], direct: tuple[Grant, ...]
) -> Decision:
    root = policies.account_root
    same_account = bool(request.principal.arn) and request.principal.account == root.split(":")[4]
    delegation = _allows([s for s in policies.resource if s.delegates(root)], request) if same_account else ()
    if direct:
        return Decision(True, grants=direct)
    if delegation and identity:
        return Decision(True, grants=(*delegation, *identity))
    if not delegation:
        return Decision(False, missing="the key policy neither allows the principal nor lets IAM policies decide")
    return Decision(
        False, missing="the key policy lets IAM policies decide, and no identity policy statement allows it"
    )
