"""How a request becomes what IAM is asked: a transaction item by item, a batch as itself on each table it names."""

from __future__ import annotations

from permissions.__main__ import configurations, template_of
from permissions.actions import Mapper
from permissions.recording import Request
from permissions.stack import ConcreteStack, StackIdentity


def dev_stack() -> ConcreteStack:
    [dev] = [c for c in configurations() if not c.workshop][:1]
    return ConcreteStack.resolve(template_of(dev.parameters), StackIdentity("s", "eu-west-1", "123456789012"))


def asked(request: Request) -> list[tuple[str, str, tuple[str, ...]]]:
    mapper = Mapper(dev_stack())
    return [
        (action, mapper.resource_arn(action, values), extra.get("dynamodb:enclosingoperation", ()))
        for action, values, extra in mapper._item_actions(request)
    ]


def test_given_a_transaction_then_each_item_asks_its_own_action_inside_the_transaction():
    # Given a transaction that updates a marker and puts a partial
    items = (("Put", "ReduceTable"), ("Update", "AggregateMarkerTable"))
    request = Request("AggregateFunction", "dynamodb", "dynamodb", "TransactWriteItems", items=items)

    # When mapped, Then each item asks its own action, with the transaction as its enclosing operation
    actions = asked(request)
    assert [(a, e) for a, _, e in actions] == [
        ("dynamodb:PutItem", ("TransactWriteItems",)),
        ("dynamodb:UpdateItem", ("TransactWriteItems",)),
    ]
    assert actions[0][1].endswith(":table/" + dev_stack().names["ReduceTable"])


def test_given_a_batch_then_it_asks_the_batch_action_once_on_each_table_it_names():
    # Given a batch of two puts and a delete on one table, and a batch read of two tables
    writes = (("Delete", "ReduceTable"), ("Put", "ReduceTable"), ("Put", "ReduceTable"))
    reads = (("Get", "AggregateMarkerTable"), ("Get", "StateTable"))
    write = Request("Operator", "dynamodb", "dynamodb", "BatchWriteItem", items=writes)
    read = Request("Operator", "dynamodb", "dynamodb", "BatchGetItem", items=reads)

    # When mapped, Then IAM is asked dynamodb:BatchWriteItem (not PutItem or DeleteItem) once for the table,
    # and dynamodb:BatchGetItem on each table read, with no enclosing operation
    assert [(a, e) for a, _, e in asked(write)] == [("dynamodb:BatchWriteItem", ())]
    assert [a for a, _, _ in asked(read)] == ["dynamodb:BatchGetItem", "dynamodb:BatchGetItem"]
    assert {arn.rsplit("/", 1)[1] for _, arn, _ in asked(read)} == {
        dev_stack().names["AggregateMarkerTable"],
        dev_stack().names["StateTable"],
    }
