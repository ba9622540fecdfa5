"""The workshop's generator as ``make workshop-generator`` deploys it (labs/generator/template.yaml), as
CloudFormation receives it: the workshop's function settings, exactly its GeneratorLambdaPolicy on workshop mode's
names, and its one-minute EventBridge rule. With a checkout of the workshop (WORKSHOP_CHECKOUT), compared with the
workshop's own template."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse

from labs.generator.deploy import FUNCTION_NAME, HERE
from localpipe.stack.translated import environments, lint, translate
from tests.integration.test_template import yaml_parse_template
from tests.integration.test_workshop_mode import PSEUDO, Deployed

TEMPLATE = HERE / "template.yaml"
WORKSHOP_CHECKOUT = os.environ.get("WORKSHOP_CHECKOUT", "")


def resolved(node):
    """Pseudo parameters in place, as test_workshop_mode's Deployed does for the pipeline's template."""
    return Deployed(environments()["workshop"]).value(node)


@pytest.fixture(scope="module")
def generator() -> dict:
    return translate(TEMPLATE)["Resources"]


def of_type(resources: dict, kind: str) -> dict:
    [found] = [r["Properties"] for r in resources.values() if r["Type"] == kind]
    return found


def policy_statements(resources: dict) -> list[dict]:
    [policy] = of_type(resources, "AWS::IAM::Role")["Policies"]
    assert policy["PolicyName"] == "GeneratorLambdaPolicy"
    return resolved(policy["PolicyDocument"]["Statement"])


def test_given_the_generators_template_when_linted_after_translation_then_it_is_clean():
    code, output = lint(path=TEMPLATE)
    assert code == 0, output


def test_given_the_generators_stack_when_translated_then_it_is_the_function_its_role_log_group_and_rule(generator):
    assert sorted(r["Type"] for r in generator.values()) == [
        "AWS::Events::Rule",
        "AWS::IAM::Role",
        "AWS::Lambda::Function",
        "AWS::Lambda::Permission",
        "AWS::Logs::LogGroup",
    ]
    function = of_type(generator, "AWS::Lambda::Function")
    assert function["FunctionName"] == FUNCTION_NAME
    assert (function["Handler"], function["Timeout"], function["MemorySize"]) == (
        "lambda_function.lambda_handler",
        55,
        256,
    )
    # a runtime Lambda supports: the project's own (the workshop's python3.10 is deprecated)
    assert function["Runtime"] == yaml_parse_template()["Globals"]["Function"]["Runtime"] == "python3.13"
    assert of_type(generator, "AWS::Logs::LogGroup")["LogGroupName"] == f"/aws/lambda/{FUNCTION_NAME}"
    # once a minute, as the workshop's ScheduledRule, invoking the function, which lets EventBridge invoke it
    [(rule_id, rule)] = [(k, r["Properties"]) for k, r in generator.items() if r["Type"] == "AWS::Events::Rule"]
    assert (rule["ScheduleExpression"], rule["State"]) == ("rate(1 minute)", "ENABLED")
    [target] = rule["Targets"]
    assert target["Arn"] == {
        "Fn::GetAtt": [next(k for k, r in generator.items() if r["Type"] == "AWS::Lambda::Function"), "Arn"]
    }
    permission = of_type(generator, "AWS::Lambda::Permission")
    assert permission["Principal"] == "events.amazonaws.com" and permission["Action"] == "lambda:InvokeFunction"
    assert permission["SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]}


def test_given_the_generators_role_when_translated_then_it_allows_what_the_generator_does_on_workshop_modes_names(
    generator,
):
    # Given workshop mode's names (as the pipeline's template gives them) and the generator's role
    workshop = Deployed(environments()["workshop"])
    stream = workshop.properties("RiskStream")["Name"]
    aggregate, parameters = (workshop.properties(t)["TableName"] for t in ("AggregateTable", "ParameterTable"))
    arn = f"arn:aws:{{}}:{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}:{{}}"

    # Then its statements are the workshop's five, each on the resource workshop mode names
    grants = {s["Sid"]: (s["Action"], s["Resource"]) for s in policy_statements(generator)}
    assert grants == {
        "PutToKinesisStream": (["kinesis:PutRecords"], arn.format("kinesis", f"stream/{stream}")),
        "CreateCloudwatchLogGroup": (["logs:CreateLogGroup"], arn.format("logs", "*")),
        "WriteToCloudwatchLogGroup": (
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            arn.format("logs", f"log-group:/aws/lambda/{FUNCTION_NAME}:*"),
        ),
        "ReadFromAggregateTable": (["dynamodb:Scan"], arn.format("dynamodb", f"table/{aggregate}")),
        "ReadAndWriteParameterTable": (
            ["dynamodb:GetItem", "dynamodb:PutItem"],
            arn.format("dynamodb", f"table/{parameters}"),
        ),
    }


@pytest.mark.skipif(
    not WORKSHOP_CHECKOUT, reason="WORKSHOP_CHECKOUT (a checkout of aws-samples/amazon-dynamodb-labs) is not set"
)
def test_given_the_workshops_own_template_when_compared_then_the_generator_is_deployed_as_the_workshop_does(generator):
    # Given the workshop's GeneratorLambda, its policy (a JSON document under !Sub) and its schedule
    workshop = yaml_parse((Path(WORKSHOP_CHECKOUT) / "event-driven" / "event-driven-cfn.yaml").read_text())["Resources"]
    names = {
        "KinesisStream": "IncomingDataStream",
        "AggregateTable": "AggregateTable",
        "ParameterTable": "ParameterTable",
    }
    names |= {k.removeprefix("AWS::"): v for k, v in PSEUDO.items()}
    document = workshop["GeneratorLambdaPolicy"]["Properties"]["PolicyDocument"]["Fn::Sub"]
    for name, value in names.items():
        document = document.replace("${" + name + "}", value).replace("${AWS::" + name + "}", value)
    theirs = json.loads(document)["Statement"]

    # Then the same statements (resources by the same names), the same function settings, the same schedule
    assert policy_statements(generator) == theirs
    function = of_type(generator, "AWS::Lambda::Function")
    their_function = workshop["GeneratorLambda"]["Properties"]
    for key in ("FunctionName", "Handler", "Timeout", "MemorySize"):
        assert function[key] == their_function[key], key
    rule = of_type(generator, "AWS::Events::Rule")
    their_rule = workshop["ScheduledRule"]["Properties"]
    assert (rule["ScheduleExpression"], rule["State"]) == (their_rule["ScheduleExpression"], their_rule["State"])


def test_given_sam_on_aws_when_it_fails_then_the_user_is_told_which_command_failed():
    # The real SAM CLI (offline: it refuses an unknown command before reaching AWS)
    from labs.generator.deploy import GeneratorError, _sam_on_aws

    with pytest.raises(GeneratorError, match="`sam no-such-command` failed"):
        _sam_on_aws(["no-such-command"])
