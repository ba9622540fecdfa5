"""DynamoDB's number rules in moto, which does not apply them (``enforce_number_rules()``, idempotent).

DynamoDB refuses a number with more than 38 significant digits, or a magnitude outside 1E-130 to below 1E+126,
with a ValidationException and its own message, and that holds for the result of an ``ADD`` or of ``SET a =
a + :v`` too. moto stores any number, and adds in Python's default context (28 digits, rounding silently), so
no local run could see a sum that DynamoDB would refuse. Here, in moto's DynamoDB backend:

* every number of a request (PutItem and BatchWriteItem items, UpdateItem keys and values, every item of a
  TransactWriteItems) is checked first: a ValidationException with DynamoDB's message, nothing written;
* arithmetic is exact, and a result that breaks the rules is refused: UpdateItem answers a
  ValidationException; in a TransactWriteItems the transaction is cancelled (TransactionCanceledException)
  with the reason ``ValidationError`` and DynamoDB's message at that item's place, ``None`` at the others',
  and nothing of it is written (moto restores its tables).

Outside a transaction, moto applies an UpdateExpression's actions one by one: an action that is refused
leaves the earlier actions of the same expression applied (DynamoDB applies none). The pipeline writes one
action per item outside transactions, so this does not show here.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping
from decimal import Context, Decimal, InvalidOperation, localcontext
from typing import Any

from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType

from riskpipe.numbers import dynamodb_number_problem

# Wide enough for the exact sum of any two numbers DynamoDB can store (exponents from -167 to 125).
_EXACT = Context(prec=400)
_state = threading.local()
_installed = False


class ValidationError(Exception):
    """A number that DynamoDB refuses. Named as DynamoDB names the cancellation reason: moto's transaction
    reports an item's error under its class name."""


def number_problem(text: Any) -> str | None:
    try:
        return dynamodb_number_problem(Decimal(str(text)))
    except InvalidOperation:
        return "The parameter cannot be converted to a numeric value"


def attribute_problem(value: Any) -> str | None:
    """DynamoDB's reason for refusing a number in this attribute value (wire form), nested ones included."""
    if not isinstance(value, Mapping):
        return None
    for kind, inner in value.items():
        check = _CHECKS.get(kind)
        problem = check(inner) if check else None
        if problem:
            return problem
    return None


def _first_problem(check: Callable[[Any], str | None], values: Any) -> str | None:
    return next((p for p in map(check, values) if p), None)


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "N": number_problem,
    "NS": lambda inner: _first_problem(number_problem, inner),
    "L": lambda inner: _first_problem(attribute_problem, inner),
    "M": lambda inner: values_problem(inner),
}


def values_problem(values: Mapping[str, Any] | None) -> str | None:
    return _first_problem(attribute_problem, (values or {}).values())


def _refuse_invalid_input(*problems: str | None) -> None:
    for problem in problems:
        if problem:
            raise MockValidationException(problem)


def _exact(operation: Callable[[Decimal, Decimal], Decimal], original: Callable[..., DynamoType]) -> Any:
    def apply(self: DynamoType, other: DynamoType) -> DynamoType:
        if not (self.is_number() and other.is_number()):
            return original(self, other)
        with localcontext(_EXACT):
            result = operation(Decimal(self.value), Decimal(other.value))
        problem = dynamodb_number_problem(result)
        if problem:
            raise ValidationError(problem)
        return DynamoType({"N": str(result)})

    return apply


def _arguments(original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    return dict(inspect.signature(original).bind(*args, **kwargs).arguments)


def _put_item(original: Callable[..., Any]) -> Any:
    def put_item(*args: Any, **kwargs: Any) -> Any:
        arguments = _arguments(original, args, kwargs)
        _refuse_invalid_input(
            values_problem(arguments.get("item_attrs")), values_problem(arguments.get("expression_attribute_values"))
        )
        return original(*args, **kwargs)

    return put_item


def _update_item(original: Callable[..., Any]) -> Any:
    def update_item(*args: Any, **kwargs: Any) -> Any:
        arguments = _arguments(original, args, kwargs)
        updates = arguments.get("attribute_updates") or {}
        _refuse_invalid_input(
            values_problem(arguments.get("key")),
            values_problem(arguments.get("expression_attribute_values")),
            values_problem({name: update.get("Value") for name, update in updates.items()}),
        )
        try:
            return original(*args, **kwargs)
        except ValidationError as exc:
            if getattr(_state, "in_transaction", False):
                raise  # the transaction turns it into its cancellation reason
            raise MockValidationException(str(exc)) from exc

    return update_item


def _transact_write_items(original: Callable[..., Any]) -> Any:
    def transact_write_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        for entry in transact_items:
            for operation in entry.values():
                _refuse_invalid_input(
                    values_problem(operation.get("Item")),
                    values_problem(operation.get("Key")),
                    values_problem(operation.get("ExpressionAttributeValues")),
                )
        _state.in_transaction = True
        try:
            original(backend, transact_items)
        finally:
            _state.in_transaction = False

    return transact_write_items


def enforce_number_rules() -> None:
    """Patch moto's DynamoDB backend, in this process, once."""
    global _installed
    if _installed:
        return
    _installed = True
    DynamoType.__add__ = _exact(lambda a, b: a + b, DynamoType.__add__)  # type: ignore[method-assign]
    DynamoType.__sub__ = _exact(lambda a, b: a - b, DynamoType.__sub__)  # type: ignore[method-assign]
    DynamoDBBackend.put_item = _put_item(DynamoDBBackend.put_item)  # type: ignore[method-assign]
    DynamoDBBackend.update_item = _update_item(DynamoDBBackend.update_item)  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _transact_write_items(DynamoDBBackend.transact_write_items)  # type: ignore[method-assign]
