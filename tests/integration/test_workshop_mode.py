"""Workshop mode: the workshop's names, its ParameterTable, and the functions failing at its percentages."""

from decimal import Decimal

import pytest

from localpipe.stack.local import deploy_local
from localpipe.stack.translated import translate
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
