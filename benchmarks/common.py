"""What every benchmark shares: a row of the result table, a fresh stack from template.yaml in moto, batches and
scratch tables. The records to send are built by ``localpipe.stack.shapes``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import boto3

from localpipe.stack.local import local_stack
from localpipe.stack.resources import Deployed


@dataclass
class Row:
    """One figure of the table: what, the figure, the target (if any), whether it is met, and how it was measured."""

    group: str
    what: str
    figure: float
    unit: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@contextlib.contextmanager
def moto_stack() -> Iterator[tuple[boto3.Session, Deployed]]:
    """The template's resources in moto, in process (fast, for counting calls; never for timing)."""
    with local_stack(in_process=True) as deployed:
        yield deployed.session, deployed


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def create_table(client: Any, name: str, *, stream: bool = False) -> None:
    """A table keyed by a string ``pk``-style key named ``id`` (or ``pk`` with a stream, like the StateTable)."""
    key = "pk" if stream else "id"
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        **({"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}} if stream else {}),
    )
