"""The documented DynamoDB sizing rules the capacity model is checked against (``tests/dynamodb_rules.py``) give the
documentation's own worked examples."""

import pytest

from tests.dynamodb_rules import EXAMPLES, RULES, item_bytes, write_units


@pytest.mark.parametrize(("says", "units", "documented"), EXAMPLES, ids=[e[0][:60] for e in EXAMPLES])
def test_given_a_worked_example_of_the_documentation_when_priced_by_the_rules_then_it_gives_the_documented_figure(
    says, units, documented
):
    assert units() == documented, says


def test_given_the_rules_when_listed_then_each_quotes_the_documentation_and_names_its_page():
    assert all(rule.says and rule.source.startswith("https://") for rule in RULES)


def test_given_an_item_when_sized_then_names_and_values_count_as_the_rules_say():
    # Given a string, a number with trimmed zeroes (12.50 -> 125: 2 bytes + 1), a map of one number, a boolean
    item = {
        "pk": {"S": "T1#0"},
        "Value": {"N": "0012.500"},
        "Deltas": {"M": {"Delta": {"N": "7"}}},
        "C": {"BOOL": True},
    }
    # Then pk 2+4, Value 5+3, Deltas 6+(3 + 5+2+1), C 1+1
    assert item_bytes(item) == 6 + 8 + 17 + 2
    # and a transactional write of an item below 1 KB costs 2, a refused conditional write on a new item 1
    assert write_units(after=item_bytes(item), transactional=True) == 2
    assert write_units(after=item_bytes(item), condition_failed=True) == 1
