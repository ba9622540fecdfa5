"""Create the template's stream, tables and queues on moto (in process or a moto server), and resolve
the references in the functions' environment to the created names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3

from localpipe.stack.template import FunctionSpec, Template

NO_VALUE = object()  # AWS::NoValue: the property is left out


@dataclass
class Deployed:
    """The local stack: physical names, ARNs and queue URLs by logical id."""

    template: Template
    session: boto3.Session
    names: dict[str, str] = field(default_factory=dict)
    arns: dict[str, str] = field(default_factory=dict)
    stream_arns: dict[str, str] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def resolve(self, value: Any) -> Any:
        """A property's value on this stack: ``Fn::If``, ``Ref`` and ``Fn::GetAtt`` resolved, at any depth."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "Fn::If" in value:
            condition, when_true, when_false = value["Fn::If"]
            return self.resolve(when_true if self.template.condition(condition) else when_false)
        if "Ref" in value:
            return self._ref(value["Ref"])
        if "Fn::GetAtt" in value:
            logical, attribute = value["Fn::GetAtt"]
            return self.stream_arns[logical] if attribute == "StreamArn" else self.arns[logical]
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, ref: str) -> Any:
        if ref == "AWS::NoValue":
            return NO_VALUE
        return self.template.parameters.get(ref, self.names.get(ref))

    def function_env(self, function: FunctionSpec) -> dict[str, str]:
        resolved = {key: self.resolve(value) for key, value in function.environment.items()}
        return {key: str(value) for key, value in resolved.items() if value is not NO_VALUE}

    def client(self, service: str) -> Any:
        """One client per service, made once (a botocore client is thread-safe and costly to make)."""
        if service not in self._clients:
            self._clients[service] = self.session.client(service)  # type: ignore[call-overload]
        return self._clients[service]


def deploy(template: Template, session: boto3.Session, *, prefix: str = "local") -> Deployed:
    deployed = Deployed(template=template, session=session)
    kinesis = session.client("kinesis")
    for logical, props in template.of_type("AWS::Kinesis::Stream").items():
        name = f"{prefix}-{logical}"
        kinesis.create_stream(StreamName=name, ShardCount=int(props.get("ShardCount", 1)))
        kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        deployed.names[logical] = name
        deployed.arns[logical] = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamARN"
        ]

    dynamodb = session.client("dynamodb")
    for logical, props in template.of_type("AWS::DynamoDB::Table").items():
        name = f"{prefix}-{logical}"
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if "StreamSpecification" in props:
            request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        table = dynamodb.create_table(**request)["TableDescription"]
        if props.get("TimeToLiveSpecification", {}).get("Enabled"):  # disabling one never enabled is refused
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])
        deployed.names[logical] = name
        deployed.arns[logical] = table["TableArn"]
        if "LatestStreamArn" in table:
            deployed.stream_arns[logical] = table["LatestStreamArn"]

    sqs = session.client("sqs")
    for logical in template.of_type("AWS::SQS::Queue"):
        url = sqs.create_queue(QueueName=f"{prefix}-{logical}")["QueueUrl"]
        deployed.names[logical] = url
        deployed.arns[logical] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    return deployed
