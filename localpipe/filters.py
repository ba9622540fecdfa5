"""Lambda event filtering (``FilterCriteria``) as the local mappings apply it: records matching no pattern are
dropped before any invocation."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

_MISSING = object()


def matches_filter(pattern: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Lambda event filtering: every key of the pattern must match; a list holds the allowed values. A field the
    record lacks has no leaves: under it only ``{"exists": false}`` matches (as in a DynamoDB image without the
    attribute: ``{"Combined": {"BOOL": [{"exists": false}]}}``)."""
    for key, rule in pattern.items():
        value = record.get(key, _MISSING)
        if isinstance(rule, Mapping):
            if value is _MISSING:
                value = {}
            if not isinstance(value, Mapping) or not matches_filter(rule, value):
                return False
        elif isinstance(rule, list):
            if not any(_matches_rule(r, value) for r in rule):
                return False
        else:
            raise ValueError(f"filter rule for {key!r} must be an object or a list, got {rule!r}")
    return True


def _matches_rule(rule: Any, value: Any) -> bool:
    if isinstance(rule, Mapping):
        if "prefix" in rule:
            return isinstance(value, str) and value.startswith(rule["prefix"])
        if "exists" in rule:  # on leaves only: an object is not a value that exists (AWS's documented rule)
            return (value is not _MISSING and not isinstance(value, Mapping)) is bool(rule["exists"])
        if "anything-but" in rule:
            excluded = rule["anything-but"] if isinstance(rule["anything-but"], list) else [rule["anything-but"]]
            return value is not _MISSING and value not in excluded
        raise ValueError(f"filter operator not supported locally: {dict(rule)}")
    return bool(value == rule)


def filterable(record: Mapping[str, Any]) -> dict[str, Any]:
    """Kinesis filters see the data decoded as JSON, as Lambda does."""
    if "kinesis" not in record:
        return dict(record)
    try:
        data = json.loads(base64.b64decode(record["kinesis"]["data"]))
    except ValueError:
        data = _MISSING
    return {**record, "data": data} if data is not _MISSING else dict(record)
