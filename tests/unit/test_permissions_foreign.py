"""The workshop's clients, read from a checkout: here a stand-in checkout written by the test in the workshop's
layout (a template with a GeneratorLambdaPolicy, a page with a frontend's code), not the workshop's own files."""

from __future__ import annotations

from pathlib import Path

from permissions.__main__ import configurations, template_of
from permissions.foreign import FRONTEND_PAGE, WORKSHOP_TEMPLATE, Workshop, frontend_requests, generator_identity
from permissions.stack import ConcreteStack, StackIdentity

TEMPLATE = """
Resources:
  GeneratorRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: "GeneratorRole"
  GeneratorLambdaPolicy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: !Sub |
        {"Version": "2012-10-17", "Statement": [
          {"Sid": "Put", "Effect": "Allow", "Action": ["kinesis:PutRecords"],
           "Resource": "arn:aws:kinesis:${AWS::Region}:${AWS::AccountId}:stream/${KinesisStream}"},
          {"Sid": "Read", "Effect": "Allow", "Action": ["dynamodb:Scan"],
           "Resource": "arn:aws:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${AggregateTable}"}]}
      Roles:
        - !Ref GeneratorRole
"""
PAGE = """Run this:

```python
import boto3
TABLE_NAME = 'AggregateTable'
resource = boto3.resource('dynamodb', region_name='us-west-2')
table = resource.Table(TABLE_NAME)
while True:
    contents = table.scan(ConsistentRead = True)
```
"""


def checkout(root: Path) -> Workshop:
    (root / WORKSHOP_TEMPLATE).parent.mkdir(parents=True)
    (root / WORKSHOP_TEMPLATE).write_text(TEMPLATE)
    (root / FRONTEND_PAGE).parent.mkdir(parents=True)
    (root / FRONTEND_PAGE).write_text(PAGE)
    return Workshop(root)


def workshop_stack() -> ConcreteStack:
    [workshop] = [c for c in configurations() if c.workshop]
    return ConcreteStack.resolve(template_of(workshop.parameters), StackIdentity("s", "eu-west-1", "123456789012"))


def test_given_a_checkout_then_the_generator_is_its_role_with_its_policy_on_the_stacks_resources(tmp_path):
    stack = workshop_stack()
    generator = generator_identity(checkout(tmp_path), stack)
    assert generator.principal.arn == "arn:aws:iam::123456789012:role/GeneratorRole"
    assert [(s.sid, s.actions, s.resources) for s in generator.statements] == [
        ("Put", ("kinesis:PutRecords",), ("arn:aws:kinesis:eu-west-1:123456789012:stream/IncomingDataStream",)),
        ("Read", ("dynamodb:Scan",), ("arn:aws:dynamodb:eu-west-1:123456789012:table/AggregateTable",)),
    ]


def test_given_a_checkout_then_the_frontends_request_is_read_from_its_page(tmp_path):
    [request] = frontend_requests(checkout(tmp_path), {"AggregateTable": "AggregateTable"})
    assert (request.operation, request.resources) == ("Scan", (("TableName", "AggregateTable"),))
    [unknown] = frontend_requests(checkout(tmp_path / "other"), {})
    assert unknown.resources == (("TableName", "?AggregateTable"),)  # a table the stack does not name: refused
