"""The condition operators on the examples of AWS's IAM User Guide ("IAM JSON policy elements: Condition
operators", "Single-valued vs. multivalued context keys"): each example's policy, and the requests the guide says
match it or not."""

from __future__ import annotations

import pytest

from permissions.conditions import UnknownOperator, conditions_met, operator_met


def met(operator: str, key: str, value: object, **context: list[str]) -> bool:
    return operator_met(operator, key, value, {k.lower(): v for k, v in context.items()})


JOB = "aws:PrincipalTag/job-category"


def test_given_string_equals_when_the_tag_matches_differs_or_is_absent_then_only_the_match_meets_it():
    # The guide's StringEquals example: "aws:PrincipalTag/job-category": "iamuser-admin".
    assert met("StringEquals", JOB, "iamuser-admin", **{JOB: ["iamuser-admin"]})
    assert not met("StringEquals", JOB, "iamuser-admin", **{JOB: ["dev-ops"]})
    assert not met("StringEquals", JOB, "iamuser-admin")  # no tag: the values do not match


def test_given_a_negated_operator_when_the_key_is_absent_then_the_condition_is_true():
    # "If the policy condition requires that the key is not matched, such as StringNotLike or ArnNotLike, and the
    # right key is not present, the condition is true."
    assert met("StringNotLike", JOB, "iamuser-*")
    assert met("ArnNotLike", "aws:SourceArn", "arn:aws:sns:*:123456789012:*")
    assert met("ArnNotEquals", "aws:PrincipalArn", ["arn:aws:iam::123456789012:role/a"])


def test_given_several_values_then_a_positive_operator_takes_any_and_a_negated_one_none():
    roles = ["arn:aws:iam::123456789012:role/a", "arn:aws:iam::123456789012:role/b"]
    assert met("ArnEquals", "aws:PrincipalArn", roles, **{"aws:PrincipalArn": [roles[1]]})
    assert not met("ArnNotEquals", "aws:PrincipalArn", roles, **{"aws:PrincipalArn": [roles[1]]})
    assert met("ArnNotEquals", "aws:PrincipalArn", roles, **{"aws:PrincipalArn": ["arn:aws:iam::123456789012:role/c"]})


def test_given_string_like_then_star_is_any_run_and_question_mark_one_character():
    assert met("StringLike", "s3:prefix", ["", "home/", "home/${aws:username}/"], **{"s3:prefix": ["home/"]})
    assert met("StringLike", JOB, "iamuser-*", **{JOB: ["iamuser-admin"]})
    assert met("StringLike", JOB, "dev-op?", **{JOB: ["dev-ops"]})
    assert not met("StringLike", JOB, "dev-op?", **{JOB: ["dev-opss"]})
    assert not met("StringEquals", JOB, "iamuser-*", **{JOB: ["iamuser-admin"]})  # no wildcards in StringEquals


def test_given_arn_like_then_each_of_the_six_parts_is_matched_on_its_own():
    # The guide's example: "ArnEquals": {"aws:SourceArn": "arn:aws:sns:REGION:123456789012:TOPIC-ID"}.
    topic = "arn:aws:sns:eu-west-1:123456789012:alarms"
    assert met("ArnEquals", "aws:SourceArn", topic, **{"aws:SourceArn": [topic]})
    assert met("ArnLike", "aws:SourceArn", "arn:aws:sns:*:123456789012:*", **{"aws:SourceArn": [topic]})
    assert not met("ArnLike", "aws:SourceArn", "arn:aws:sns:*:111122223333:*", **{"aws:SourceArn": [topic]})
    group = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/stack-state"
    assert met("ArnLike", "k", "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/stack-*", k=[group])
    assert not met("ArnLike", "k", "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/other-*", k=[group])


def test_given_numeric_date_bool_and_ip_operators_then_they_compare_as_their_types():
    assert met("NumericLessThanEquals", "s3:max-keys", "10", **{"s3:max-keys": ["10"]})
    assert not met("NumericLessThanEquals", "s3:max-keys", "10", **{"s3:max-keys": ["11"]})
    assert met(
        "DateGreaterThan",
        "aws:TokenIssueTime",
        "2020-01-01T00:00:01Z",
        **{"aws:TokenIssueTime": ["2021-01-01T00:00:00Z"]},
    )
    assert met("Bool", "aws:SecureTransport", "false", **{"aws:SecureTransport": ["false"]})
    assert not met("Bool", "aws:SecureTransport", "false", **{"aws:SecureTransport": ["true"]})
    assert met("IpAddress", "aws:SourceIp", "203.0.113.0/24", **{"aws:SourceIp": ["203.0.113.7"]})
    assert met("NotIpAddress", "aws:SourceIp", "203.0.113.0/24", **{"aws:SourceIp": ["198.51.100.7"]})


def test_given_if_exists_then_an_absent_key_meets_it_and_a_present_one_is_compared():
    # The guide's example: "StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}.
    types = ["t1.*", "t2.*", "m3.*"]
    assert met("StringLikeIfExists", "ec2:InstanceType", types)
    assert met("StringLikeIfExists", "ec2:InstanceType", types, **{"ec2:InstanceType": ["t2.micro"]})
    assert not met("StringLikeIfExists", "ec2:InstanceType", types, **{"ec2:InstanceType": ["m5.large"]})


def test_given_null_then_it_tests_whether_the_key_is_absent():
    assert met("Null", "aws:TokenIssueTime", "true")
    assert not met("Null", "aws:TokenIssueTime", "true", **{"aws:TokenIssueTime": ["2021-01-01T00:00:00Z"]})
    assert met("Null", "aws:TokenIssueTime", "false", **{"aws:TokenIssueTime": ["2021-01-01T00:00:00Z"]})


def test_given_for_all_values_then_every_request_value_must_match_and_an_absent_key_meets_it():
    keys = ["environment", "cost-center"]
    assert met("ForAllValues:StringEquals", "aws:TagKeys", keys, **{"aws:TagKeys": ["environment"]})
    assert met("ForAllValues:StringEquals", "aws:TagKeys", keys, **{"aws:TagKeys": ["environment", "cost-center"]})
    assert not met("ForAllValues:StringEquals", "aws:TagKeys", keys, **{"aws:TagKeys": ["environment", "dept"]})
    assert met("ForAllValues:StringEquals", "aws:TagKeys", keys)


def test_given_for_any_value_then_one_request_value_must_match_and_an_absent_key_does_not():
    keys = ["environment", "cost-center"]
    assert met("ForAnyValue:StringEquals", "aws:TagKeys", keys, **{"aws:TagKeys": ["environment", "dept"]})
    assert not met("ForAnyValue:StringEquals", "aws:TagKeys", keys, **{"aws:TagKeys": ["dept"]})
    assert not met("ForAnyValue:StringEquals", "aws:TagKeys", keys)


def test_given_a_condition_block_then_every_operator_and_every_key_must_be_met_and_keys_ignore_case():
    block = {
        "StringEquals": {"kms:CallerAccount": "123456789012", "kms:ViaService": "dynamodb.eu-west-1.amazonaws.com"}
    }
    context = {"kms:calleraccount": ["123456789012"], "kms:viaservice": ["dynamodb.eu-west-1.amazonaws.com"]}
    assert conditions_met(block, context)
    assert not conditions_met(block, {**context, "kms:viaservice": ["kinesis.eu-west-1.amazonaws.com"]})
    assert met("Bool", "AWS:SecureTransport", "true", **{"aws:securetransport": ["true"]})


def test_given_an_operator_it_does_not_know_then_it_refuses_rather_than_guess():
    with pytest.raises(UnknownOperator):
        met("BinaryEquals", "k", "QmluYXJ5", k=["QmluYXJ5"])
    with pytest.raises(UnknownOperator):
        met("ForSomeValues:StringEquals", "k", "a", k=["a"])
