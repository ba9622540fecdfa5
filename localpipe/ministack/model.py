"""A stack deployed on the local AWS by ``make up`` (``lifecycle.py``): its endpoint, its Outputs, and the
environments made of them (a shell's, and the one ``sam local invoke`` gives the functions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from localpipe.stack.server import LOCAL_CREDENTIALS

REGION = "us-east-1"


@dataclass(frozen=True)
class MiniStack:
    """A stack deployed on the local AWS: its endpoint and its CloudFormation Outputs."""

    endpoint: str
    stack_name: str
    outputs: dict[str, str]
    container_endpoint: str = ""  # where Lambda containers on the run's Docker network reach it ("": no Docker)

    def session(self) -> boto3.Session:
        return boto3.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        )

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]

    def environment(self) -> dict[str, str]:
        """What a client needs to reach the stack: the shell ``export`` lines of ``.local-stack/env``."""
        outputs = self.outputs
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "RISK_PIPELINE_LOCAL_STACK": self.stack_name,
            "RISK_STREAM_NAME": outputs["StreamName"],
            "STATE_TABLE_NAME": outputs["StateTableName"],
            "AGGREGATE_TABLE_NAME": outputs["AggregateTableName"],
            "MARKER_TABLE_NAME": outputs["AggregateMarkerTableName"],
            "REDUCE_TABLE_NAME": outputs["ReduceTableName"],
            **({"PARTIAL_TABLE_NAME": outputs["PartialTableName"]} if "PartialTableName" in outputs else {}),
            "POISON_QUEUE_URL": outputs["PoisonQueueUrl"],
            "STATE_FAILURE_QUEUE_URL": outputs["StateFailureQueueUrl"],
            "AGGREGATE_FAILURE_QUEUE_URL": outputs["AggregateFailureQueueUrl"],
            "REDUCE_FAILURE_QUEUE_URL": outputs["ReduceFailureQueueUrl"],
            **(
                {"COMBINE_FAILURE_QUEUE_URL": outputs["CombineFailureQueueUrl"]}
                if "CombineFailureQueueUrl" in outputs
                else {}
            ),
        }

    def function_environment(self) -> dict[str, dict[str, str]]:
        """``sam local invoke --env-vars``: the names the template's !Ref would give on a real deploy, and the
        local endpoint as seen from a container on the run's Docker network."""
        outputs = self.outputs
        common = {"AWS_ENDPOINT_URL": self.container_endpoint or self.endpoint}
        combining = outputs.get("Combining") == "true"
        return {
            "StateFunction": {
                **common,
                "STATE_TABLE_NAME": outputs["StateTableName"],
                "POISON_QUEUE_URL": outputs["PoisonQueueUrl"],
            },
            "AggregateFunction": {
                **common,
                "PARTIAL_TABLE_NAME": outputs["PartialTableName" if combining else "ReduceTableName"],
                "COMBINING": "true" if combining else "false",
                "MARKER_TABLE_NAME": outputs["AggregateMarkerTableName"],
                "POISON_QUEUE_URL": outputs["AggregatePoisonQueueUrl"],
            },
            "ReduceFunction": {
                **common,
                "AGGREGATE_TABLE_NAME": outputs["AggregateTableName"],
                "REDUCE_TABLE_NAME": outputs["ReduceTableName"],
                "POISON_QUEUE_URL": outputs["AggregatePoisonQueueUrl"],
            },
            **(
                {
                    "CombineFunction": {
                        **common,
                        "PARTIAL_TABLE_NAME": outputs["PartialTableName"],
                        "REDUCE_TABLE_NAME": outputs["ReduceTableName"],
                        "POISON_QUEUE_URL": outputs["AggregatePoisonQueueUrl"],
                    }
                }
                if combining
                else {}
            ),
            "ProducerFunction": {**common, "STREAM_NAME": outputs["StreamName"]},
            "GameFunction": {
                **common,
                "STREAM_NAME": outputs["StreamName"],
                "AGGREGATE_TABLE_NAME": outputs["AggregateTableName"],
            },
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "container_endpoint": self.container_endpoint,
            "stack_name": self.stack_name,
            "outputs": self.outputs,
        }
