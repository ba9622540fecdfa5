"""The template as `make up` deploys it to MiniStack (samconfig.toml's ``local`` config env): it leaves out the
alarms that need metric math, which the emulator cannot evaluate, and nothing else; every other config env keeps
them."""

from __future__ import annotations

import pytest

from localpipe.translated import environments, translate

CONDITION = "HasMetricMathAlarms"


@pytest.mark.parametrize(("config_env", "kept"), [("default", True), ("prod", True), ("local", False)])
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
