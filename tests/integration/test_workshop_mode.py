"""Workshop mode: the workshop's names, its ParameterTable, and the functions failing at its percentages."""

import fnmatch
import os
from decimal import Decimal
from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse

from labs.generator.deploy import HERE as GENERATOR_FOLDER
from localpipe.stack.local import deploy_local
from localpipe.stack.template import Template
from localpipe.stack.translated import environments, translate
from riskpipe.chaos import InjectedFailure, WorkshopFailureRate
from riskpipe.config import AggregateSettings, ReduceSettings
from riskpipe.parameters import ParameterTable, failure_injector
from tests.integration.test_template import yaml_parse_template


def test_given_workshop_mode_when_translated_then_the_workshop_tools_find_their_stream_and_tables():
    resources = translate(parameters={"WorkshopMode": "true"})["Resources"]
    # Fn::If stays in the translated template; CloudFormation takes its first branch when IsWorkshop holds
    assert resources["RiskStream"]["Properties"]["Name"]["Fn::If"][1] == "IncomingDataStream"
    assert resources["AggregateTable"]["Properties"]["TableName"]["Fn::If"][1] == "AggregateTable"
    parameter_table = yaml_parse_template()["Resources"]["ParameterTable"]
    assert parameter_table["Condition"] == "IsWorkshop"
    assert parameter_table["Properties"]["TableName"] == "ParameterTable"
    assert parameter_table["Properties"]["KeySchema"] == [{"AttributeName": "parameter", "KeyType": "HASH"}]


def test_given_the_default_mode_when_deployed_locally_then_there_is_no_parameter_table_and_no_workshop_failures(
    aws,
):
    deployed = deploy_local(aws, prefix="plain")
    assert "ParameterTable" not in deployed.names
    state_env = deployed.function_env(deployed.template.functions()["StateFunction"])
    assert "PARAMETER_TABLE_NAME" not in state_env


@pytest.fixture
def workshop_stack(aws):
    return deploy_local(aws, prefix="ws", overrides={"WorkshopMode": "true"})


def test_given_the_workshop_sets_its_failure_percentages_when_the_functions_run_then_they_fail_at_those_rates(
    workshop_stack, aws
):
    # Given a workshop stack whose ParameterTable holds what the workshop's generator writes when lab 2 starts
    functions = workshop_stack.template.functions()
    state_env = workshop_stack.function_env(functions["StateFunction"])
    aggregate_env = workshop_stack.function_env(functions["AggregateFunction"])
    reduce_env = workshop_stack.function_env(functions["ReduceFunction"])
    table_name = state_env["PARAMETER_TABLE_NAME"]
    assert aggregate_env["PARAMETER_TABLE_NAME"] == reduce_env["PARAMETER_TABLE_NAME"] == table_name
    # each function stands for one of the workshop's stages: the map and the reduce are functions of their own
    assert AggregateSettings.from_env(aggregate_env).failure_parameters == ("FAILURE_MAP_LAMBDA_PCT",)
    assert ReduceSettings.from_env(reduce_env).failure_parameters == ("FAILURE_REDUCE_LAMBDA_PCT",)
    client = aws.client("dynamodb")
    # When nothing is set yet, nothing fails
    state = failure_injector(table_name, ["FAILURE_STATE_LAMBDA_PCT"], 0.0, session=aws)
    state.maybe_fail()
    for name, value in (("FAILURE_STATE_LAMBDA_PCT", "100"), ("FAILURE_MAP_LAMBDA_PCT", "10")):
        client.put_item(TableName=table_name, Item={"parameter": {"S": name}, "value": {"N": value}})

    # Then each function reads its own percentages: the StateLambda at 100% fails every time (once its cache expires)
    table = ParameterTable(table_name, client)
    assert WorkshopFailureRate(table.number, ["FAILURE_STATE_LAMBDA_PCT"])() == 1.0
    fresh = failure_injector(table_name, ["FAILURE_STATE_LAMBDA_PCT"], 0.0, session=aws)
    with pytest.raises(InjectedFailure):
        fresh.maybe_fail()
    # and the map at 10%, the reduce (not set) never
    assert WorkshopFailureRate(table.number, ["FAILURE_MAP_LAMBDA_PCT"])() == pytest.approx(0.10)
    assert WorkshopFailureRate(table.number, ["FAILURE_REDUCE_LAMBDA_PCT"])() == 0.0
    assert table.number("SCORE") is None and table.number("FAILURE_MAP_LAMBDA_PCT") == Decimal(10)


def test_given_two_workshop_percentages_when_combined_then_the_function_fails_when_either_stage_would():
    values = {"A": Decimal(10), "B": Decimal(10)}
    clock = [0.0]
    rate = WorkshopFailureRate(values.get, ["A", "B"], ttl_seconds=5, clock=lambda: clock[0])
    assert rate() == pytest.approx(0.19)
    values["A"] = Decimal(50)
    assert rate() == pytest.approx(0.19)  # cached
    clock[0] = 5.0
    assert rate() == pytest.approx(0.55)


# ---------------------------------------------------------------- the workshop's names, and nothing else changed

PSEUDO = {"AWS::StackName": "risk-pipeline-dev", "AWS::Partition": "aws", "AWS::Region": "eu-west-1"}
PSEUDO["AWS::AccountId"] = "123456789012"
WORKSHOP_FUNCTIONS = {
    "StateFunction": "StateLambda",
    "AggregateFunction": "MapLambda",
    "ReduceFunction": "ReduceLambda",
}
OUR_FUNCTIONS = {"StateFunction": "state", "AggregateFunction": "aggregate", "ReduceFunction": "reduce"}
WORKSHOP_TABLES = {
    "StateTable": "StateTable",
    "ReduceTable": "ReduceTable",
    "AggregateTable": "AggregateTable",
    "ParameterTable": "ParameterTable",
}
LOG_GROUPS = {
    "StateFunction": "StateLogGroup",
    "AggregateFunction": "AggregateLogGroup",
    "ReduceFunction": "ReduceLogGroup",
}
ROLES = {"StateFunction": "StateRole", "AggregateFunction": "AggregateRole", "ReduceFunction": "ReduceRole"}


class Deployed:
    """The template as CloudFormation would deploy it with ``parameters``: conditions and pseudo parameters
    evaluated, so that names, ARNs and states are the strings AWS would see."""

    def __init__(self, parameters: dict[str, str]) -> None:
        self.translated = translate(parameters=parameters)["Resources"]
        self.conditions = Template.load(overrides=parameters)

    def resources(self) -> dict[str, dict]:
        return {
            name: resource
            for name, resource in self.translated.items()
            if "Condition" not in resource or self.conditions.condition(resource["Condition"])
        }

    def value(self, node):
        if isinstance(node, dict):
            if "Fn::If" in node:
                condition, when_true, when_false = node["Fn::If"]
                return self.value(when_true if self.conditions.condition(condition) else when_false)
            if "Fn::Sub" in node and isinstance(node["Fn::Sub"], str):
                text = node["Fn::Sub"]
                for name, value in PSEUDO.items():
                    text = text.replace("${" + name + "}", value)
                return text
            if node == {"Ref": "AWS::NoValue"}:
                return None
            return {key: self.value(v) for key, v in node.items() if self.value(v) is not None}
        if isinstance(node, list):
            return [self.value(v) for v in node if self.value(v) is not None]
        return node

    def properties(self, logical: str) -> dict:
        return self.value(self.translated[logical]["Properties"])

    def log_group_arn(self, logical: str) -> str:
        name = self.properties(logical)["LogGroupName"]
        return f"arn:aws:logs:{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}:log-group:{name}"

    def game_schedule(self) -> str:
        """The State of the game's schedule (the one AWS::Scheduler::Schedule, made by SAM from its ScheduleV2)."""
        [schedule] = [r for r in self.resources().values() if r["Type"] == "AWS::Scheduler::Schedule"]
        return str(self.value(schedule["Properties"])["State"])

    def logs_patterns(self) -> list[str]:
        """The ArnLike patterns of the key policy's statement for CloudWatch Logs (its service principal)."""
        [statement] = [
            s
            for s in self.properties("DataKey")["KeyPolicy"]["Statement"]
            if str(s["Principal"].get("Service", "")).startswith("logs.")
        ]
        patterns = statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
        return [patterns] if isinstance(patterns, str) else patterns

    def logs_may_use_the_key(self, log_group_arn: str) -> bool:
        """The key policy's condition evaluated as KMS does (ArnLike: * matches any run of characters)."""
        return any(fnmatch.fnmatchcase(log_group_arn, pattern) for pattern in self.logs_patterns())


@pytest.mark.parametrize("config_env", ["default", "prod", "local"])
def test_given_a_deploy_outside_workshop_mode_when_translated_then_its_names_derive_from_the_stack_as_before(
    config_env,
):
    # Given the template as CloudFormation receives it for the config env (no workshop mode)
    stack = Deployed(environments()[config_env])

    # Then the functions and their log groups carry the stack's name, the tables CloudFormation's, as before
    for function, suffix in OUR_FUNCTIONS.items():
        assert stack.properties(function)["FunctionName"] == f"risk-pipeline-dev-{suffix}"
        assert stack.properties(LOG_GROUPS[function])["LogGroupName"] == f"/aws/lambda/risk-pipeline-dev-{suffix}"
    for table in ("StateTable", "ReduceTable", "AggregateTable"):
        assert "TableName" not in stack.properties(table)
    assert "Name" not in stack.properties("RiskStream")
    assert "ParameterTable" not in stack.resources()
    # And the key lets CloudWatch Logs use it for this stack's log groups only
    assert stack.logs_patterns() == ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/risk-pipeline-dev-*"]
    # And the game's schedule is what GameSchedule says
    assert stack.game_schedule() == "DISABLED"
    assert Deployed({**environments()[config_env], "GameSchedule": "ENABLED"}).game_schedule() == "ENABLED"


@pytest.mark.parametrize("config_env", ["workshop", "local_workshop"])
def test_given_workshop_mode_when_translated_then_everything_the_workshop_names_has_its_name(config_env):
    # Given the template as CloudFormation receives it for a workshop (on AWS, or on make up)
    stack = Deployed(environments()[config_env])

    # Then the functions and the tables carry the workshop's names, the stream too
    for function, name in WORKSHOP_FUNCTIONS.items():
        assert stack.properties(function)["FunctionName"] == name
    for table, name in WORKSHOP_TABLES.items():
        assert stack.properties(table)["TableName"] == name
    assert stack.properties("RiskStream")["Name"] == "IncomingDataStream"
    # And each renamed function logs where Lambda writes its logs, in a group its role may write to
    for function, name in WORKSHOP_FUNCTIONS.items():
        log_group = LOG_GROUPS[function]
        assert stack.properties(log_group)["LogGroupName"] == f"/aws/lambda/{name}"
        statements = [
            s
            for policy in stack.properties(ROLES[function])["Policies"]
            for s in policy["PolicyDocument"]["Statement"]
            if "logs:PutLogEvents" in s["Action"]
        ]
        assert [s["Resource"] for s in statements] == [{"Fn::GetAtt": [log_group, "Arn"]}]


@pytest.mark.parametrize("config_env", ["default", "prod", "local", "workshop", "local_workshop"])
def test_given_any_deploy_when_its_log_groups_are_created_then_the_key_policy_lets_logs_encrypt_each_of_them(
    config_env,
):
    # Given the template for the config env, and every log group it creates (encrypted with the data key)
    stack = Deployed(environments()[config_env])
    log_groups = [name for name, r in stack.resources().items() if r["Type"] == "AWS::Logs::LogGroup"]
    assert len(log_groups) == 5

    # Then CloudWatch Logs may use the key for each of them (else AWS refuses to create the group), and for no
    # log group outside the stack
    for log_group in log_groups:
        assert stack.properties(log_group)["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
        assert stack.logs_may_use_the_key(stack.log_group_arn(log_group)), log_group
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/"
    assert not stack.logs_may_use_the_key(arn + "another-stack-state")
    assert not stack.logs_may_use_the_key(arn + "StateLambdaX")
    assert stack.logs_may_use_the_key(arn + "StateLambda") is (config_env in ("workshop", "local_workshop"))


@pytest.mark.parametrize("game_schedule", ["ENABLED", "DISABLED"])
def test_given_workshop_mode_when_translated_then_our_game_is_off_whatever_game_schedule_says(game_schedule):
    stack = Deployed({**environments()["local_workshop"], "GameSchedule": game_schedule})
    assert stack.game_schedule() == "DISABLED"


def test_given_the_workshop_deploy_on_aws_when_translated_then_its_stream_has_the_workshops_20_shards():
    assert Deployed(environments()["workshop"]).properties("RiskStream")["ShardCount"] == 20
    assert environments()["local_workshop"]["ShardCount"] != ""  # make up's own, for this machine (samconfig.toml)


WORKSHOP_CHECKOUT = os.environ.get("WORKSHOP_CHECKOUT", "")
GENERATOR_TEMPLATE = GENERATOR_FOLDER / "template.yaml"


@pytest.mark.skipif(
    not WORKSHOP_CHECKOUT, reason="WORKSHOP_CHECKOUT (a checkout of aws-samples/amazon-dynamodb-labs) is not set"
)
def test_given_the_workshops_own_template_when_read_then_every_function_table_and_stream_it_names_is_here():
    # Given every function, table and stream the workshop's template names
    workshop = yaml_parse((Path(WORKSHOP_CHECKOUT) / "event-driven" / "event-driven-cfn.yaml").read_text())["Resources"]
    named = {
        (r["Type"], r["Properties"].get("FunctionName") or r["Properties"].get("TableName") or r["Properties"]["Name"])
        for r in workshop.values()
        if r["Type"] in ("AWS::Lambda::Function", "AWS::DynamoDB::Table", "AWS::Kinesis::Stream")
    }
    assert len(named) == 9

    # When workshop mode and the generator's stack are deployed
    ours = Deployed(environments()["workshop"])
    generator = translate(GENERATOR_TEMPLATE)["Resources"]
    found = {
        (r["Type"], ours.value(r["Properties"]).get("FunctionName") or ours.value(r["Properties"]).get("TableName"))
        for r in [*ours.resources().values(), *generator.values()]
        if r["Type"] in ("AWS::Lambda::Function", "AWS::DynamoDB::Table")
    }
    found.add(("AWS::Kinesis::Stream", ours.properties("RiskStream")["Name"]))

    # Then each of them is there, under its name and of its type
    assert named <= found, named - found
