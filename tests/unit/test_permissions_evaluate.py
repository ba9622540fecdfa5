"""AWS's policy evaluation logic within one account, as the evaluator implements it: explicit deny first, an Allow
in an identity policy or (for that principal) in the resource's policy, a KMS key's policy deciding for its key."""

from __future__ import annotations

from permissions.evaluate import AuthRequest, Policies, Principal, Statement, evaluate

ACCOUNT = "123456789012"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/state"
OTHER = f"arn:aws:iam::{ACCOUNT}:role/other"
TABLE = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/state"
QUEUE = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:poison"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234"
ME = Principal(arn=ROLE, account=ACCOUNT)


def allow(action: str | tuple[str, ...], resource: str | tuple[str, ...], **fields: object) -> Statement:
    actions = (action,) if isinstance(action, str) else action
    resources = (resource,) if isinstance(resource, str) else resource
    return Statement(where=f"allow {actions}", effect="Allow", actions=actions, resources=resources, **fields)  # type: ignore[arg-type]


def deny(action: str, resource: str, **fields: object) -> Statement:
    return Statement(where=f"deny {action}", effect="Deny", actions=(action,), resources=(resource,), **fields)  # type: ignore[arg-type]


def request(action: str, resource: str, principal: Principal = ME, **context: str) -> AuthRequest:
    return AuthRequest(principal, action, resource, {k.lower(): (v,) for k, v in context.items()})


def test_given_no_statement_allows_it_when_evaluated_then_it_is_denied_implicitly():
    decision = evaluate(request("dynamodb:UpdateItem", TABLE), Policies([allow("dynamodb:GetItem", TABLE)]))
    assert not decision.allowed and decision.denied_by is None and "no identity policy statement" in decision.missing


def test_given_an_allow_and_an_explicit_deny_when_evaluated_then_the_deny_wins():
    policies = Policies([allow("dynamodb:*", "*"), deny("dynamodb:UpdateItem", TABLE)])
    decision = evaluate(request("dynamodb:UpdateItem", TABLE), policies)
    assert not decision.allowed and decision.denied_by is policies.identity[1]


def test_given_wildcards_and_their_negations_then_actions_ignore_case_and_resources_match_patterns():
    group = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/state:*"
    stream = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/state:log-stream:2026/01/01/[$LATEST]ab"
    assert evaluate(request("logs:PutLogEvents", stream), Policies([allow("Logs:Put*", group)])).allowed
    not_action = Statement(where="na", effect="Allow", not_actions=("iam:*",), resources=("*",))
    assert evaluate(request("dynamodb:GetItem", TABLE), Policies([not_action])).allowed
    assert not evaluate(request("iam:CreateRole", "*"), Policies([not_action])).allowed
    not_resource = Statement(where="nr", effect="Allow", actions=("dynamodb:*",), not_resources=(TABLE,))
    assert not evaluate(request("dynamodb:GetItem", TABLE), Policies([not_resource])).allowed


def test_given_an_action_that_takes_no_resource_when_the_grant_names_one_then_it_does_not_allow_it():
    # dynamodb:ListStreams is authorized on "*": a statement naming a stream's ARN never matches it.
    stream = f"{TABLE}/stream/2026-01-01T00:00:00.000"
    assert not evaluate(request("dynamodb:ListStreams", "*"), Policies([allow("dynamodb:ListStreams", stream)])).allowed
    assert evaluate(request("dynamodb:ListStreams", "*"), Policies([allow("dynamodb:ListStreams", "*")])).allowed


def test_given_a_queue_policy_that_denies_every_other_principal_then_only_the_named_roles_may_send():
    only = deny(
        "sqs:SendMessage", QUEUE, principals={"*": ("*",)}, conditions={"ArnNotEquals": {"aws:PrincipalArn": [ROLE]}}
    )
    mine = Policies([allow("sqs:SendMessage", QUEUE)], [only], account_root=ROOT)
    assert evaluate(AuthRequest(ME, "sqs:SendMessage", QUEUE, {"aws:principalarn": (ROLE,)}), mine).allowed
    other = Principal(arn=OTHER, account=ACCOUNT)
    theirs = AuthRequest(other, "sqs:SendMessage", QUEUE, {"aws:principalarn": (OTHER,)})
    decision = evaluate(theirs, Policies([allow("sqs:SendMessage", QUEUE)], [only], account_root=ROOT))
    assert not decision.allowed and decision.denied_by is only


def test_given_a_resource_policy_naming_the_principal_then_it_allows_without_an_identity_statement():
    policy = allow("sqs:SendMessage", QUEUE, principals={"AWS": (ROLE,)})
    assert evaluate(request("sqs:SendMessage", QUEUE), Policies([], [policy], account_root=ROOT)).allowed
    to_account = allow("sqs:SendMessage", QUEUE, principals={"AWS": (ROOT,)})  # the account: IAM decides
    assert not evaluate(request("sqs:SendMessage", QUEUE), Policies([], [to_account], account_root=ROOT)).allowed


def test_given_a_key_whose_policy_delegates_to_iam_then_the_identity_policy_must_allow_it():
    delegation = allow("kms:*", "*", principals={"AWS": (ROOT,)})
    asked = request("kms:Decrypt", KEY)
    granted = Policies([allow("kms:Decrypt", KEY)], [delegation], key_policy=True, account_root=ROOT)
    assert evaluate(asked, granted).allowed
    missing = Policies([], [delegation], key_policy=True, account_root=ROOT)
    decision = evaluate(asked, missing)
    assert not decision.allowed and "no identity policy statement" in decision.missing


def test_given_a_key_whose_policy_does_not_delegate_then_no_identity_policy_can_allow_it():
    logs_only = allow("kms:Decrypt", "*", principals={"Service": ("logs.eu-west-1.amazonaws.com",)})
    decision = evaluate(
        request("kms:Decrypt", KEY), Policies([allow("kms:*", "*")], [logs_only], key_policy=True, account_root=ROOT)
    )
    assert not decision.allowed and "neither allows the principal" in decision.missing
    logs = Principal(service="logs.eu-west-1.amazonaws.com")
    assert evaluate(
        request("kms:Decrypt", KEY, logs), Policies([], [logs_only], key_policy=True, account_root=ROOT)
    ).allowed


def test_given_a_key_policy_condition_then_the_request_context_decides():
    via = allow(
        "kms:Decrypt",
        "*",
        principals={"AWS": ("*",)},
        conditions={
            "StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "dynamodb.eu-west-1.amazonaws.com"}
        },
    )
    policies = Policies([], [via], key_policy=True, account_root=ROOT)
    through = request(
        "kms:Decrypt", KEY, **{"kms:CallerAccount": ACCOUNT, "kms:ViaService": "dynamodb.eu-west-1.amazonaws.com"}
    )
    direct = request("kms:Decrypt", KEY, **{"kms:CallerAccount": ACCOUNT})
    assert evaluate(through, policies).allowed
    assert not evaluate(direct, policies).allowed


def test_given_a_request_recorded_with_the_combining_level_then_it_is_judged_only_where_combining_is_on():
    from permissions.check import Configuration
    from permissions.recording import Request

    # Given the map's put recorded on a stack with Combining "true" (into the PartialTable), and one without
    on = Request("AggregateFunction", "dynamodb", "dynamodb", "PutItem", (("TableName", "PartialTable"),), (), (),
                 (("Combining", "true"),))  # fmt: skip
    off = Request.from_json({**on.to_json(), "when": {"Combining": "false"}})
    defaults = {"Combining": "false"}
    default, combining = Configuration("default", {}), Configuration("combining", {"Combining": "true"})
    # Then each is judged in the configurations whose parameters it was recorded with (a default from the template)
    assert combining.matches(on.when, defaults) and not default.matches(on.when, defaults)
    assert default.matches(off.when, defaults) and not combining.matches(off.when, defaults)
    # and one recorded without a stack (the workshop's clients) everywhere
    assert default.matches((), defaults) and combining.matches((), defaults)
    assert "[Combining=true]" in on.describe()
