"""The numeric domain: DynamoDB's number rules, and the bound on risk values that keeps every sum inside them.

DynamoDB stores a number with at most 38 significant digits and a magnitude from 1E-130 to below 1E+126, and
it refuses anything else with a ValidationException, the result of an ``ADD`` included. An aggregate is a
sum of trade values, so a bound on each value must also hold for the sums:

* a Value is below 1E+18 in magnitude and has at most 6 decimal places;
* the StateTable holds one item per trade; at most 1E+14 of them (100 trillion; at about 150 bytes an item,
  15 PB) can ever be summed into one aggregate;
* so any aggregate is below 1E+14 x 1E+18 = 1E+32 in magnitude, a multiple of 1E-6: at most 32 digits before
  the decimal point and 6 after, 38 significant digits, and far inside DynamoDB's range.

No dependencies, so that every stage (and the local AWS) applies the same rules.
"""

from __future__ import annotations

from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow, Underflow

DYNAMODB_MAX_DIGITS = 38
DYNAMODB_MAX_ADJUSTED_EXPONENT = 125  # below 1E+126
DYNAMODB_MIN_ADJUSTED_EXPONENT = -130  # from 1E-130

VALUE_MAX_EXCLUSIVE = Decimal("1E+18")
VALUE_MAX_DECIMAL_PLACES = 6
MAX_TRADES = 10**14

# DynamoDB's own arithmetic: 38 significant digits, and a result that does not fit is an error, never a
# rounding (Python's default context would round silently to 28 digits).
DYNAMODB_ARITHMETIC = Context(
    prec=DYNAMODB_MAX_DIGITS,
    Emax=DYNAMODB_MAX_ADJUSTED_EXPONENT,
    Emin=DYNAMODB_MIN_ADJUSTED_EXPONENT,
    traps=[Inexact, Overflow, Underflow, InvalidOperation, DivisionByZero],
)

TOO_MANY_DIGITS = f"Attempting to store more than {DYNAMODB_MAX_DIGITS} significant digits in a Number"
OVERFLOW = "Number overflow. Attempting to store a number with magnitude larger than supported range"
UNDERFLOW = "Number underflow. Attempting to store a number with magnitude smaller than supported range"


def significant_digits(number: Decimal) -> int:
    """Significant digits of a finite number, leading and trailing zeros trimmed (never through normalize(),
    which would first round to the context's precision)."""
    return len("".join(map(str, number.as_tuple().digits)).strip("0"))


def decimal_places(number: Decimal) -> int:
    """Digits after the decimal point once trailing zeros are trimmed: 1.50 has 1, 100 has 0."""
    if not number:
        return 0
    _sign, digit_tuple, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # a finite number
    digits = "".join(map(str, digit_tuple))
    return max(0, -(exponent + len(digits) - len(digits.rstrip("0"))))


def dynamodb_number_problem(number: Decimal) -> str | None:
    """DynamoDB's reason for refusing this number (its own message), or None when it can be stored."""
    if not number.is_finite():
        return "The parameter cannot be converted to a numeric value"
    if significant_digits(number) > DYNAMODB_MAX_DIGITS:
        return TOO_MANY_DIGITS
    if number:
        adjusted = number.adjusted()
        if adjusted > DYNAMODB_MAX_ADJUSTED_EXPONENT:
            return OVERFLOW
        if adjusted < DYNAMODB_MIN_ADJUSTED_EXPONENT:
            return UNDERFLOW
    return None


def risk_value_problem(number: Decimal) -> str | None:
    """Why this number is outside the domain of risk values, or None when any sum of such values fits."""
    if not number.is_finite():
        return "must be finite"
    if abs(number) >= VALUE_MAX_EXCLUSIVE:
        return f"must be below {VALUE_MAX_EXCLUSIVE:E} in magnitude, so that the sums fit DynamoDB's numbers"
    if decimal_places(number) > VALUE_MAX_DECIMAL_PLACES:
        return f"has more than {VALUE_MAX_DECIMAL_PLACES} decimal places, so that the sums fit DynamoDB's numbers"
    return None
