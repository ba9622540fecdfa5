"""The requests AWS makes on the stack's behalf, from AWS's documented lists, never from the local model (which
does not make them): each derived from the concrete stack, so that a mapping, a log group or a schedule added to
the template is judged without a line here.

* An event source mapping reads its source, and sends to its on-failure destination, with the function's
  execution role (Lambda Developer Guide, "Lambda event source mappings": Kinesis ``DescribeStream``,
  ``DescribeStreamSummary``, ``GetRecords``, ``GetShardIterator``, ``ListShards``, ``ListStreams``; DynamoDB Streams
  ``DescribeStream``, ``GetRecords``, ``GetShardIterator``, ``ListStreams``; ``sqs:SendMessage`` or
  ``sns:Publish`` on the destination). Each read of an encrypted stream implies its key (``actions.py``).
* Lambda, for each function, with its execution role: assumes the role (its trust policy must let
  ``lambda.amazonaws.com``), writes its logs to its log group (``logs:CreateLogStream``, ``logs:PutLogEvents``),
  sends its traces when ``Tracing`` is ``Active`` (``xray:PutTraceSegments``, ``xray:PutTelemetryRecords``), and
  sends an asynchronous invocation it gave up to its dead-letter queue (``sqs:SendMessage``).
* EventBridge Scheduler, for each schedule: assumes its role and invokes its target (``lambda:InvokeFunction``).
* CloudWatch Logs encrypts each log group that names a key with that key, as itself (the service principal
  ``logs.<region>.amazonaws.com``), its encryption context the log group's ARN.
* CloudWatch alarms publish to their topic; with a topic encrypted by a customer managed key, CloudWatch
  (``cloudwatch.amazonaws.com``) uses that key as itself. The publish itself is allowed by the topic's default
  policy, which AWS writes (not judged here: docs/deploy.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from permissions.actions import Identity, Mapper, encryption_key
from permissions.evaluate import Principal
from permissions.recording import Request
from permissions.stack import ConcreteStack

KINESIS_MAPPING_READS = ("DescribeStream", "DescribeStreamSummary", "GetRecords", "GetShardIterator", "ListShards")
DYNAMODB_MAPPING_READS = ("DescribeStream", "GetRecords", "GetShardIterator")
LOG_STREAM = "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef"  # Lambda's log stream names: any one


@dataclass(frozen=True)
class Made:
    """A request AWS makes, for whom, and the documented rule it follows."""

    identity: Identity
    request: Request
    rule: str


def _request(principal: str, prefix: str, operation: str, service: str = "", **resources: str) -> Request:
    return Request(principal, service or prefix, prefix, operation, tuple(sorted(resources.items())))


class AwsMade:
    """Every request AWS makes for one concrete stack."""

    def __init__(self, stack: ConcreteStack, mapper: Mapper, identities: dict[str, Identity]) -> None:
        self.stack = stack
        self.mapper = mapper
        self.identities = identities  # role ARN -> the identity that holds it

    def role(self, role_arn: str, name: str) -> Identity:
        held = self.identities[role_arn]
        return Identity(name, held.principal, held.statements)

    def service(self, name: str, service: str) -> Identity:
        region = self.stack.identity.region
        host = (
            f"{service}.{region}.{self.stack.identity.url_suffix}" if service == "logs" else f"{service}.amazonaws.com"
        )
        return Identity(name, Principal(service=host))

    def all(self) -> Iterator[Made]:
        yield from self.mappings()
        yield from self.lambda_service()
        yield from self.schedules()
        yield from self.log_encryption()
        yield from self.alarm_encryption()

    def _function(self, reference: str) -> tuple[str, dict]:
        stack = self.stack
        for logical, props in stack.of_type("AWS::Lambda::Function").items():
            if reference in (stack.names[logical], stack.arn(logical)):
                return logical, props
        raise KeyError(f"no function {reference} in the stack")

    def mappings(self) -> Iterator[Made]:
        for logical, props in self.stack.of_type("AWS::Lambda::EventSourceMapping").items():
            function, function_props = self._function(props["FunctionName"])
            identity = self.role(function_props["Role"], f"{logical} (event source mapping of {function})")
            source = props["EventSourceArn"]
            rule = "Lambda reads the mapping's source, and sends to its destination, with the function's role"
            if ":kinesis:" in source:
                reads = [_request(identity.name, "kinesis", op, StreamARN=source) for op in KINESIS_MAPPING_READS]
                reads.append(_request(identity.name, "kinesis", "ListStreams"))
            else:
                reads = [
                    _request(identity.name, "dynamodb", op, "dynamodbstreams", StreamArn=source)
                    for op in DYNAMODB_MAPPING_READS
                ]
                reads.append(_request(identity.name, "dynamodb", "ListStreams", "dynamodbstreams"))
            destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            if destination:
                reads.append(self._send(identity.name, destination))
            yield from (Made(identity, r, rule) for r in reads)

    def _send(self, principal: str, destination: str) -> Request:
        if ":sqs:" in destination:
            queue = self.stack.logical_of_arn(destination) or destination
            return _request(principal, "sqs", "SendMessage", QueueUrl=queue)
        return _request(principal, "sns", "Publish", TopicArn=destination)

    def lambda_service(self) -> Iterator[Made]:
        for logical, props in self.stack.of_type("AWS::Lambda::Function").items():
            identity = self.role(props["Role"], f"Lambda, for {logical}")
            trust = Identity(f"Lambda, assuming {logical}'s role", Principal(service="lambda.amazonaws.com"))
            yield Made(trust, _request(trust.name, "sts", "AssumeRole", RoleArn=props["Role"]), "Lambda assumes it")
            group = props.get("LoggingConfig", {}).get("LogGroup") or f"/aws/lambda/{props['FunctionName']}"
            for operation in ("CreateLogStream", "PutLogEvents"):
                request = _request(identity.name, "logs", operation, logGroupName=group, logStreamName=LOG_STREAM)
                yield Made(identity, request, "Lambda writes the function's logs with its role")
            if props.get("TracingConfig", {}).get("Mode") == "Active":
                for operation in ("PutTraceSegments", "PutTelemetryRecords"):
                    yield Made(identity, _request(identity.name, "xray", operation), "Lambda sends its traces")
            dead_letter = props.get("DeadLetterConfig", {}).get("TargetArn")
            if dead_letter:
                request = self._send(identity.name, dead_letter)
                yield Made(
                    identity, request, "Lambda sends a given-up asynchronous invocation to the dead-letter queue"
                )

    def schedules(self) -> Iterator[Made]:
        for logical, props in self.stack.of_type("AWS::Scheduler::Schedule").items():
            target = props["Target"]
            trust = Identity(
                f"EventBridge Scheduler, assuming {logical}'s role", Principal(service="scheduler.amazonaws.com")
            )
            request = _request(trust.name, "sts", "AssumeRole", RoleArn=target["RoleArn"])
            yield Made(trust, request, "the scheduler assumes the schedule's role")
            identity = self.role(target["RoleArn"], f"EventBridge Scheduler, for {logical}")
            if ":lambda:" in target["Arn"]:
                invoke = _request(identity.name, "lambda", "InvokeFunction", FunctionName=target["Arn"])
                yield Made(identity, invoke, "the scheduler invokes its target with the schedule's role")

    def log_encryption(self) -> Iterator[Made]:
        for logical, props in self.stack.of_type("AWS::Logs::LogGroup").items():
            if not props.get("KmsKeyId"):
                continue
            key_arn, _ = self.mapper.key_arn(str(props["KmsKeyId"]))
            identity = self.service(f"CloudWatch Logs, encrypting {logical}", "logs")
            group_arn = self.stack.identity.arn("logs", f"log-group:{props['LogGroupName']}")
            context = (("kms:EncryptionContext:aws:logs:arn", group_arn), ("kms:EncryptionContextKeys", "aws:logs:arn"))
            for operation in ("GenerateDataKey", "Decrypt"):
                request = Request(identity.name, "kms", "kms", operation, (("KeyId", key_arn),), context)
                yield Made(identity, request, "CloudWatch Logs encrypts the log group with its key, as itself")

    def alarm_encryption(self) -> Iterator[Made]:
        topics = self.stack.of_type("AWS::SNS::Topic")
        for topic, props in topics.items():
            key = encryption_key("AWS::SNS::Topic", props)
            topic_arn = self.stack.ref(topic)
            alarmed = any(
                topic_arn in [*a.get("AlarmActions", []), *a.get("OKActions", [])]
                for a in self.stack.of_type("AWS::CloudWatch::Alarm").values()
            )
            if key is None or not alarmed:
                continue
            key_arn, managed = self.mapper.key_arn(key)
            if managed != "customer":
                continue
            identity = self.service(f"CloudWatch alarms, publishing to {topic}", "cloudwatch")
            for operation in ("GenerateDataKey", "Decrypt"):
                request = Request(identity.name, "kms", "kms", operation, (("KeyId", key_arn),))
                yield Made(identity, request, "CloudWatch uses the encrypted topic's key, as itself")
