"""``make permissions`` is a check that can fail: each statement of the template that has no reason to stay is
needed by a recorded request (taking it out, the check refuses that request, naming it); taking the KMS statement
out of a function's role makes the check fail; a grant nothing uses, a stale recording, are refused too."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from permissions.__main__ import configurations, template_of
from permissions.check import Outcome, StackCheck, run
from permissions.recording import Recording
from permissions.stack import StackIdentity

IDENTITY = StackIdentity("risk-pipeline", "eu-west-1", "123456789012")
# The policies are the same in every environment of samconfig.toml; workshop mode differs.
CONFIGURATIONS = [c for c in configurations() if c.name in ("default", "workshop")]


def check(template: Callable[[Any], dict[str, Any]] = template_of, recording: Recording | None = None) -> Outcome:
    return run(recording or Recording.load(), template, CONFIGURATIONS, IDENTITY)


def without(path: tuple[str | int, ...]) -> Callable[[Any], dict[str, Any]]:
    """Every configuration's template with the statement at ``path`` taken out."""

    def mutated(parameters: Any) -> dict[str, Any]:
        template = copy.deepcopy(template_of(parameters))
        node: Any = template["Resources"]
        for step in path[:-1]:
            node = node[step]
        del node[path[-1]]
        return template

    return mutated


def statements_without_reason() -> list[tuple[str, tuple[str | int, ...]]]:
    found: dict[str, tuple[str | int, ...]] = {}
    for configuration in CONFIGURATIONS:
        stack = StackCheck(configuration, template_of(configuration.parameters), IDENTITY)
        for statement in stack.policies.all_statements():
            if statement.effect == "Allow" and not statement.reason:
                found.setdefault(statement.where, statement.path)
    return sorted(found.items())


def refusals(outcome: Outcome) -> list[str]:
    return [f for f in outcome.failures if " may not " in f]


def test_given_the_template_and_the_recording_when_checked_then_every_request_is_allowed_and_every_grant_used():
    outcome = check()
    assert outcome.failures == []
    assert outcome.summary().startswith("permissions: ")


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("where", "path"), statements_without_reason())
def test_given_a_statement_without_a_reason_when_taken_out_then_the_check_refuses_a_request_naming_it(where, path):
    outcome = check(without(path))
    refused = refusals(outcome)
    assert refused, f"{where}: taken out, and no request was refused: it grants nothing a request needs"
    assert all(" may not " in line and ", asked for " in line for line in refused)  # principal, action, request


def test_given_a_function_role_without_its_kms_statement_then_the_check_fails_on_the_key():
    [path] = [p for w, p in statements_without_reason() if w.startswith("StateRole policy state, statement 1")]
    refused = refusals(check(without(path)))
    assert any("StateFunction" in line and "may not kms:" in line for line in refused), refused
    assert any("kms:GenerateDataKey" in line and "SendMessage" in line for line in refused)  # the poison queue's key


def test_given_a_grant_no_request_uses_then_the_check_names_it_unless_it_has_a_reason():
    def widened(parameters: Any) -> dict[str, Any]:
        template = copy.deepcopy(template_of(parameters))
        policy = template["Resources"]["StateRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        policy["Statement"].append(
            {
                "Sid": "Extra",
                "Effect": "Allow",
                "Action": "dynamodb:DeleteItem",
                "Resource": {"Fn::GetAtt": ["StateTable", "Arn"]},
            }
        )
        return template

    failures = check(widened).failures
    assert any("Sid Extra" in f and "grants what no request uses" in f and "dynamodb:DeleteItem" in f for f in failures)


def test_given_code_that_makes_requests_changed_after_the_recording_then_the_check_says_it_is_stale():
    recording = Recording.load()
    stale = dataclasses.replace(recording, code={**recording.code, "functions/state/app.py": "0" * 64})
    assert any("the recording is stale: functions/state/app.py" in f for f in check(recording=stale).failures)
