"""The workshop's own clients, which workshop mode promises run unchanged against the stack, read from a checkout
of the workshop (aws-samples/amazon-dynamodb-labs; docs/deploy.md records, with its commit, what they are allowed):

* its generator, judged against its own ``GeneratorLambdaPolicy`` (``event-driven/event-driven-cfn.yaml``), with
  the workshop's resources (its stream, AggregateTable, ParameterTable) in place of the stack's; its requests are
  recorded by running its code, unchanged (``record.py``);
* its frontend (the lab pages' ``frontend.py``: a ``scan`` of the AggregateTable twice a second), judged against a
  policy that allows ``dynamodb:Scan`` on the AggregateTable, as the page asks ("an IAM role ... that allows access
  to the AggregateTable"); its request is read from the page's code.

Nothing of the workshop is copied into the project: the checkout is read where it is, when it is given.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

from permissions.actions import Identity
from permissions.evaluate import Principal, Statement
from permissions.policies import statements_of
from permissions.recording import Request
from permissions.stack import ConcreteStack

GENERATOR = "WorkshopGenerator"
FRONTEND = "WorkshopFrontend"
WORKSHOP_TEMPLATE = Path("event-driven/event-driven-cfn.yaml")
GENERATOR_PACKAGE = Path("event-driven/GeneratorLambdaPackage")
FRONTEND_PAGE = Path("content/event-driven-architecture/ex3fixbugs/Step3.en.md")
# The workshop template's resources, as this stack has them in workshop mode.
WORKSHOP_RESOURCES = {
    "KinesisStream": "RiskStream",
    "AggregateTable": "AggregateTable",
    "ParameterTable": "ParameterTable",
}


@dataclass(frozen=True)
class Workshop:
    """A checkout of the workshop."""

    root: Path

    def generator_policy(self) -> tuple[str, dict[str, Any]]:
        """(the generator's role name, its policy document, still with the workshop's ${...} in it)."""
        template = load_cfn_yaml(str(self.root / WORKSHOP_TEMPLATE))
        resources = template["Resources"]
        policy = resources["GeneratorLambdaPolicy"]["Properties"]
        role = resources[policy["Roles"][0]["Ref"]]["Properties"]["RoleName"]
        document = policy["PolicyDocument"]
        return str(role), {"Fn::Sub": str(document["Fn::Sub"])} if "Fn::Sub" in document else dict(document)

    def frontend_code(self) -> str:
        page = (self.root / FRONTEND_PAGE).read_text()
        blocks = re.findall(r"```python\n(.*?)```", page, re.DOTALL)
        [code] = [b for b in blocks if ".scan(" in b]
        return code


def generator_identity(workshop: Workshop, stack: ConcreteStack) -> Identity:
    role, document = workshop.generator_policy()
    text = document["Fn::Sub"]
    values = {
        "AWS::Region": stack.identity.region,
        "AWS::AccountId": stack.identity.account,
        "AWS::Partition": stack.identity.partition,
        **{theirs: str(stack.ref(ours)) for theirs, ours in WORKSHOP_RESOURCES.items() if ours in stack.names},
    }
    resolved = re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], text)
    where = f"the workshop's GeneratorLambdaPolicy ({WORKSHOP_TEMPLATE})"
    statements = statements_of(json.loads(resolved), where, stack, {})
    arn = stack.identity.arn("iam", f"role/{role}", region=False)
    return Identity(GENERATOR, Principal(arn=arn, account=stack.identity.account), tuple(statements))


def frontend_identity(stack: ConcreteStack) -> Identity:
    statement = Statement(
        where="the workshop frontend's policy (its page: dynamodb:Scan on the AggregateTable)",
        effect="Allow",
        actions=("dynamodb:Scan",),
        resources=(stack.arn("AggregateTable"),),
    )
    arn = stack.identity.arn("iam", "role/workshop-frontend", region=False)
    return Identity(FRONTEND, Principal(arn=arn, account=stack.identity.account), (statement,))


def frontend_requests(workshop: Workshop, table_names: dict[str, str]) -> list[Request]:
    """The frontend's requests, read from its code on the page: each ``<table>.scan(...)`` of a DynamoDB resource's
    ``Table(NAME)``, NAME resolved through the code's own constants, the table named as the stack names it."""
    tree = ast.parse(workshop.frontend_code())
    tables = _tables(tree)
    requests = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called(node) == "scan" and isinstance(node.func, ast.Attribute):
            owner = tables[getattr(node.func.value, "id", "")]
            table = table_names.get(owner, f"?{owner}")
            requests.append(Request(FRONTEND, "dynamodb", "dynamodb", "Scan", (("TableName", table),)))
    return requests


def _tables(tree: ast.AST) -> dict[str, str]:
    """Variable -> the name of the table it holds (``table = ddb.Table(AGGREGATE_TABLE_NAME)``)."""
    assignments = [node for node in ast.walk(tree) if isinstance(node, ast.Assign)]
    constants = _constants(assignments)
    tables = {}
    for node in assignments:
        if isinstance(node.value, ast.Call) and _called(node.value) == "Table":
            [argument] = node.value.args
            name = constants.get(getattr(argument, "id", ""), getattr(argument, "value", None))
            tables.update({t.id: str(name) for t in node.targets if isinstance(t, ast.Name)})
    return tables


def _constants(assignments: list[ast.Assign]) -> dict[str, object]:
    """The code's constants: ``NAME = 'value'``."""
    constants: dict[str, object] = {}
    for node in assignments:
        if isinstance(node.value, ast.Constant):
            constants.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    return constants


def _called(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else ""
