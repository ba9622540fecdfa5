"""``make permissions``: every recorded request, and every request AWS makes on the stack's behalf, evaluated
against the policies of the SAM-translated template resolved for a concrete stack, in each of its configurations
(every environment of samconfig.toml, and workshop mode); then, the other way, every Allow of the template used by
at least one request or carrying a reason.

It fails, naming them, on: a request refused (the principal, the action, the resource, the statement that denies
or what is missing); an Allow not wholly used and without a reason; a condition key the template uses that the
check does not model; a recording older than the code that makes the requests; a function of the template, or the
operators, with no request recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from permissions.actions import AbsentResource, Ask, Identity, Mapper, MappingError, aws_managed_key_policy, expand
from permissions.awsmade import AwsMade
from permissions.conditions import condition_keys
from permissions.evaluate import Decision, Policies, Statement, evaluate
from permissions.foreign import FRONTEND, GENERATOR, Workshop, frontend_identity, generator_identity
from permissions.policies import StackPolicies
from permissions.principals import OPERATOR, function_identities, operator_identity, role_identities
from permissions.recording import Recording, Request
from permissions.stack import ConcreteStack, ResolutionError, StackIdentity

# The condition keys the check gives each request a value for (or knows to be absent). A statement of the
# template that reads any other key is refused: its answer would be a guess.
MODELLED_KEYS = (
    "aws:securetransport",
    "aws:requestedregion",
    "aws:principalarn",
    "aws:principalaccount",
    "aws:sourceaccount",
    "aws:viaawsservice",
    "kms:calleraccount",
    "kms:viaservice",
    "kms:encryptioncontextkeys",
    "kms:encryptioncontext:*",
    "dynamodb:enclosingoperation",
    "dynamodb:select",
    "dynamodb:returnvalues",
    "dynamodb:returnconsumedcapacity",
)
WORKSHOP_PRINCIPALS = (GENERATOR, FRONTEND)


@dataclass(frozen=True)
class Configuration:
    """One way the template is deployed: a name and its parameter values."""

    name: str
    parameters: Mapping[str, Any]
    workshop: bool = False

    def matches(self, when: Iterable[tuple[str, str]], defaults: Mapping[str, Any]) -> bool:
        """Whether a request recorded on a stack with the parameters ``when`` is one this configuration makes."""
        return all(str(self.parameters.get(name, defaults.get(name))) == value for name, value in when)


@dataclass
class Outcome:
    """What the check found, over every configuration."""

    requests: set[tuple[str, Request]] = field(default_factory=set)
    principals: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    statements: dict[str, Statement] = field(default_factory=dict)  # where -> the template's Allow statements
    unused: dict[str, set[str]] = field(default_factory=dict)  # where -> what it grants that no request used
    expected: set[str] = field(default_factory=set)  # the principals that must have recorded requests

    def summary(self) -> str:
        reasoned = {w for w in self.unused if self.unused[w] and self.statements[w].reason}
        used = len(self.statements) - len({w for w, left in self.unused.items() if left})
        return (
            f"permissions: {len(self.requests):,} distinct requests by {len(self.principals):,} principals, all "
            f"allowed; {len(self.statements):,} statements: {used:,} used, {len(reasoned):,} with a reason"
        )


class StackCheck:
    """One configuration's stack: its policies, its principals, and the judgement of every request on it."""

    def __init__(self, configuration: Configuration, template: Mapping[str, Any], identity: StackIdentity) -> None:
        self.configuration = configuration
        self.stack = ConcreteStack.resolve(template, identity)
        self.policies = StackPolicies.of(self.stack)
        self.mapper = Mapper(self.stack)
        self.identities = function_identities(self.stack, self.policies)
        self.identities[OPERATOR] = operator_identity(self.stack, self.policies)
        self.used: dict[str, set[tuple[str, str]]] = {}

    def add_workshop(self, workshop: Workshop) -> None:
        self.identities[GENERATOR] = generator_identity(workshop, self.stack)
        self.identities[FRONTEND] = frontend_identity(self.stack)

    def requests(self, recording: Recording) -> Iterable[tuple[Identity, Request, str]]:
        for request in recording.requests:
            identity = self.identities.get(request.principal)
            if identity is not None:
                yield identity, request, "recorded"
        made = AwsMade(self.stack, self.mapper, role_identities(self.stack, self.policies))
        for item in made.all():
            yield item.identity, item.request, item.rule

    def judge(self, identity: Identity, request: Request, outcome: Outcome) -> bool:
        """Every authorization the request needs; False when it names a resource this stack does not have."""
        try:
            asks = list(self.mapper.asks(identity, request))
        except AbsentResource:
            return False
        except (MappingError, ResolutionError) as error:
            outcome.failures.append(f"[{self.configuration.name}] {identity.name}: {request.describe()}: {error}")
            return True
        for ask in asks:
            decision = evaluate(ask.request, self.policies_for(ask))
            if decision.allowed:
                self._count(ask.request.action, decision)
            else:
                outcome.failures.append(self._refusal(ask, decision))
        return True

    def policies_for(self, ask: Ask) -> Policies:
        resource = ask.request.resource
        root = self.stack.identity.root
        if resource in self.policies.keys:
            return Policies(ask.identity.statements, self.policies.keys[resource], key_policy=True, account_root=root)
        if resource.startswith(self.stack.identity.arn("kms", "key/aws-managed-")):
            service = resource.rsplit("aws-managed-", 1)[1]
            identity = self.stack.identity
            managed = aws_managed_key_policy(
                identity.arn, identity.account, service, identity.region, identity.url_suffix
            )
            return Policies(ask.identity.statements, managed, key_policy=True, account_root=root)
        return Policies(ask.identity.statements, self.policies.resource.get(resource, ()), account_root=root)

    def _count(self, action: str, decision: Decision) -> None:
        for grant in decision.grants:
            self.used.setdefault(grant.statement.where, set()).update((action, p) for p in grant.patterns)

    def _refusal(self, ask: Ask, decision: Decision) -> str:
        why = f"denied by {decision.denied_by.where}" if decision.denied_by else decision.missing
        who = ask.request.principal.arn or ask.request.principal.service
        return (
            f"[{self.configuration.name}] {ask.identity.name} ({who}) "
            f"may not {ask.request.action} on {ask.request.resource}, asked for {ask.why}: {why}"
        )

    def unused(self, statement: Statement) -> set[str]:
        """What an Allow grants that no request of this configuration used (``action on pattern``)."""
        if statement.not_actions or statement.not_resources:
            return {"NotAction/NotResource: everything but some, which no set of requests can use"}
        granted = {(a, p) for pattern in statement.actions for a in expand(pattern) for p in statement.resources}
        used = self.used.get(statement.where, set())
        return {f"{action} on {pattern}" for action, pattern in sorted(granted - used)}


def unmodelled_keys(statements: Iterable[Statement]) -> list[str]:
    found = []
    for statement in statements:
        for key in condition_keys(statement.conditions):
            modelled = any(key == m or (m.endswith("*") and key.startswith(m[:-1])) for m in MODELLED_KEYS)
            if not modelled:
                found.append(f"{statement.where} reads the condition key {key}, which the check does not model")
    return found


def run(
    recording: Recording,
    template_of: Any,
    configurations: Sequence[Configuration],
    identity: StackIdentity,
    workshop: Workshop | None = None,
) -> Outcome:
    """The whole check; ``template_of(parameters)`` gives the SAM-translated template of a configuration."""
    outcome = Outcome()
    stale = recording.stale()
    if stale:
        outcome.failures.append(
            "the recording is stale: "
            + ", ".join(stale)
            + " changed after it was made (make permissions-record, then commit permissions/recording.json)"
        )
    evaluated: set[Request] = set()
    for configuration in configurations:
        check = StackCheck(configuration, template_of(configuration.parameters), identity)
        if configuration.workshop and workshop is not None:
            check.add_workshop(workshop)
        outcome.failures.extend(unmodelled_keys(check.policies.all_statements()))
        outcome.expected.update(name for name in check.identities if name not in WORKSHOP_PRINCIPALS)
        evaluated |= _judge_all(check, recording, outcome)
        _usage(check, outcome)
    _coverage(recording, evaluated, workshop, outcome)
    _unused(outcome)
    return outcome


def _judge_all(check: StackCheck, recording: Recording, outcome: Outcome) -> set[Request]:
    """Every request on one configuration's stack; the recorded ones that applied to it."""
    evaluated = set()
    defaults = template_defaults()
    for principal, request, _ in check.requests(recording):
        if principal.name in WORKSHOP_PRINCIPALS and not check.configuration.workshop:
            continue
        if not check.configuration.matches(request.when, defaults):
            continue
        if _judged(check, principal, request, outcome):
            evaluated.add(request)
    return evaluated


@functools.cache
def template_defaults() -> dict[str, Any]:
    """template.yaml's parameters with their defaults (the translated template has resolved them away)."""
    from localpipe.stack.template import Template

    return dict(Template.load().parameters)


def _judged(check: StackCheck, principal: Identity, request: Request, outcome: Outcome) -> bool:
    if not check.judge(principal, request, outcome):
        return False
    outcome.requests.add((principal.name, request))
    outcome.principals.add(principal.name)
    return True


def _usage(check: StackCheck, outcome: Outcome) -> None:
    for statement in check.policies.all_statements():
        if statement.effect != "Allow":
            continue
        outcome.statements.setdefault(statement.where, statement)
        left = check.unused(statement)
        outcome.unused.setdefault(statement.where, set()).update(f"[{check.configuration.name}] {g}" for g in left)


def _coverage(
    recording: Recording,
    evaluated: set[Request],
    workshop: Workshop | None,
    outcome: Outcome,
) -> None:
    for request in recording.requests:
        if request not in evaluated and (workshop is not None or request.principal not in WORKSHOP_PRINCIPALS):
            outcome.failures.append(f"{request.principal}: {request.describe()} applies to no principal or stack")
    expected = outcome.expected | (set(WORKSHOP_PRINCIPALS) if workshop is not None else set())
    for principal in sorted(expected - recording.principals()):
        outcome.failures.append(f"{principal}: no request recorded (make permissions-record)")


def _unused(outcome: Outcome) -> None:
    for where, left in outcome.unused.items():
        statement = outcome.statements[where]
        if left and not statement.reason:
            grants = "; ".join(sorted(left)[:6]) + (f"; and {len(left) - 6} more" if len(left) > 6 else "")
            outcome.failures.append(f"{where} grants what no request uses, and gives no reason: {grants}")
