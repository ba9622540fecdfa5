"""The template as `make up` deploys it to MiniStack (samconfig.toml's ``local`` config env): it leaves out the
alarms that need metric math, which the emulator cannot evaluate, and nothing else; every other config env keeps
them."""

from __future__ import annotations

import tomllib

import pytest

from localpipe.ministack.sam import deploy_arguments
from localpipe.stack.translated import SAMCONFIG, environments, translate

CONDITION = "HasMetricMathAlarms"


@pytest.mark.parametrize(
    ("config_env", "kept"),
    [("default", True), ("prod", True), ("workshop", True), ("local", False), ("local_workshop", False)],
)
def test_given_a_config_env_when_translated_then_metric_math_alarms_are_kept_except_on_the_emulator(config_env, kept):
    template = translate(parameters=environments()[config_env])
    resources = template["Resources"]
    metric_math = {
        name
        for name, resource in resources.items()
        if resource["Type"] == "AWS::CloudWatch::Alarm" and "Metrics" in resource["Properties"]
    }
    conditional = {name for name, resource in resources.items() if resource.get("Condition") == CONDITION}

    assert metric_math == conditional == {"StaleWritesAlarm"}
    left, right = template["Conditions"][CONDITION]["Fn::Equals"]
    assert (left == right) is kept


def _functions_environment(template: dict) -> dict[str, dict]:
    return {
        name: resource["Properties"]["Environment"]["Variables"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }


@pytest.mark.parametrize(
    ("config_env", "traced"),
    [("default", True), ("prod", True), ("workshop", True), ("local", False), ("local_workshop", False)],
)
def test_given_a_config_env_when_translated_then_the_tracer_is_off_only_on_the_emulator(config_env, traced):
    template = translate(parameters=environments()[config_env])

    environments_ = _functions_environment(template)
    assert environments_
    for variables in environments_.values():
        # a literal once translated (a plain Ref: sam local invoke resolves it too, where it leaves Fn::If empty)
        assert variables["POWERTOOLS_TRACE_DISABLED"] == ("false" if traced else "true")
    assert all(
        resource["Properties"]["TracingConfig"] == {"Mode": "Active"}
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    )


@pytest.mark.parametrize("workshop", [False, True])
def test_given_make_up_with_or_without_workshop_when_deployed_then_only_workshop_mode_and_shards_differ(workshop):
    # Given the deploy `make up` runs, with and without WORKSHOP=1
    arguments = deploy_arguments(workshop)
    config_env = arguments[arguments.index("--config-env") + 1]
    assert arguments == ["deploy", "--config-env", config_env, "--no-resolve-s3"]
    assert config_env == ("local_workshop" if workshop else "local")
    if not workshop:
        return
    # Then workshop mode is the local deploy with WorkshopMode on and its own shard count, nothing else
    config = tomllib.loads(SAMCONFIG.read_text())
    local, local_workshop = config["local"], config["local_workshop"]
    parameters = environments()["local_workshop"]
    assert {k: v for k, v in parameters.items() if k not in ("WorkshopMode", "ShardCount")} == {
        k: v for k, v in environments()["local"].items() if k != "ShardCount"
    }
    assert parameters["WorkshopMode"] == "true"
    for command in ("global", "build"):
        assert local_workshop[command] == local[command]
    deploy = {k: v for k, v in local_workshop["deploy"]["parameters"].items() if k != "parameter_overrides"}
    assert deploy == {k: v for k, v in local["deploy"]["parameters"].items() if k != "parameter_overrides"}
    template = translate(parameters=parameters)
    left, right = template["Conditions"]["IsWorkshop"]["Fn::Equals"]
    assert left == right
    assert "AggregationOrder" not in parameters  # the default, the order the workshop's checker scores
