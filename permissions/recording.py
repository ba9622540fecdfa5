"""The recording: every AWS request each principal made, as the check reads it (``permissions/recording.json``).

A request is kept as what authorization depends on, never as what varied from run to run: the principal (by its
name in ``principals.py``), the API operation, the resources it names (by their logical ids in template.yaml:
``StateTable``, ``StateTable.StreamArn``, ``AWS::StackName``, so the recording holds for any stack), the parameters
that condition keys read (``Select``, ``ReturnValues``), and for a transaction or a batch the kind and table of each
item. Distinct requests only, sorted: the file is stable and a diff shows what changed.

It also keeps a hash of every file whose code makes requests (``REQUEST_MAKERS``): when one changes after the
recording, the check says the recording is stale and ``make permissions-record`` must run again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RECORDING_PATH = Path(__file__).resolve().parent / "recording.json"

# The code that makes AWS requests on behalf of a principal: the layer's data access, the functions, and the
# operator commands. A change to any of them may change the requests: the recording must be made again.
REQUEST_MAKERS = (
    "layers/shared/riskpipe/aws.py",
    "layers/shared/riskpipe/state_store.py",
    "layers/shared/riskpipe/aggregate_store.py",
    "layers/shared/riskpipe/reduce_store.py",
    "layers/shared/riskpipe/combine_store.py",
    "layers/shared/riskpipe/parameters.py",
    "layers/shared/riskpipe/poison.py",
    "layers/shared/riskpipe/publisher.py",
    "functions/producer/app.py",
    "functions/state/app.py",
    "functions/aggregate/app.py",
    "functions/reduce/app.py",
    "functions/combine/app.py",
    "functions/game/app.py",
    "localpipe/commands/reconcile.py",
    "localpipe/commands/redrive.py",
    "localpipe/redrive/drift.py",
    "localpipe/redrive/access.py",
    "localpipe/redrive/run.py",
    "localpipe/redrive/records.py",
    "localpipe/redrive/partials.py",
    "localpipe/stack/readback.py",
    "localpipe/stack/deployed.py",
)


@dataclass(frozen=True, order=True)
class Request:
    """One distinct request of one principal."""

    principal: str
    service: str  # the SDK's service name (``dynamodbstreams``)
    prefix: str  # its IAM service prefix (``dynamodb``): the SDK's signing name
    operation: str  # the API operation (``UpdateItem``)
    resources: tuple[tuple[str, str], ...] = ()  # (parameter, logical reference), sorted
    parameters: tuple[tuple[str, str], ...] = ()  # (parameter, value) that condition keys read, sorted
    items: tuple[tuple[str, str], ...] = ()  # a transaction's or batch's items: (kind, logical table), sorted
    # The template parameters of the stack it was made on that decide which tables a function writes (``WHEN``):
    # the check judges it only in the configurations that have those values.
    when: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "principal": self.principal,
            "service": self.service,
            "prefix": self.prefix,
            "operation": self.operation,
        }
        for key in ("resources", "parameters"):
            if getattr(self, key):
                document[key] = dict(getattr(self, key))
        if self.items:
            document["items"] = [list(item) for item in self.items]
        if self.when:
            document["when"] = dict(self.when)
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Request:
        return cls(
            principal=document["principal"],
            service=document["service"],
            prefix=document["prefix"],
            operation=document["operation"],
            resources=tuple(sorted(document.get("resources", {}).items())),
            parameters=tuple(sorted(document.get("parameters", {}).items())),
            items=tuple(sorted(tuple(item) for item in document.get("items", []))),
            when=tuple(sorted(document.get("when", {}).items())),
        )

    def resource(self, parameter: str) -> str | None:
        return dict(self.resources).get(parameter)

    def describe(self) -> str:
        names = ", ".join(f"{k}={v}" for k, v in self.resources)
        items = ", ".join(f"{kind} {table}" for kind, table in self.items)
        when = "".join(f" [{k}={v}]" for k, v in self.when)
        return f"{self.service}.{self.operation}({names}{'; ' + items if items else ''}){when}"


# The parameters that change which tables a principal's requests name: with Combining "true" the map puts its
# partials into the PartialTable, else into the ReduceTable (both tables exist with it on).
WHEN = ("Combining",)


def code_hashes(root: Path = ROOT) -> dict[str, str]:
    """Each request maker's SHA-256 ("missing" for one that is not there: moved, it must be listed anew)."""
    return {
        path: hashlib.sha256((root / path).read_bytes()).hexdigest() if (root / path).is_file() else "missing"
        for path in REQUEST_MAKERS
    }


@dataclass
class Recording:
    requests: list[Request] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # what was run to record them, and how
    code: dict[str, str] = field(default_factory=dict)  # the request makers' hashes when recorded

    def add(self, requests: Iterable[Request]) -> None:
        self.requests = sorted(set(self.requests) | set(requests))

    def principals(self) -> set[str]:
        return {r.principal for r in self.requests}

    def stale(self, root: Path = ROOT) -> list[str]:
        """The request makers changed (or added, or gone) since the recording."""
        now = code_hashes(root)
        return sorted(path for path in set(now) | set(self.code) if now.get(path) != self.code.get(path))

    def to_json(self) -> str:
        document = {
            "about": "Every AWS request each principal made, recorded by make permissions-record; read by make "
            "permissions (permissions/README.md).",
            "sources": dict(sorted(self.sources.items())),
            "code": dict(sorted(self.code.items())),
            "requests": [r.to_json() for r in sorted(set(self.requests))],
        }
        return json.dumps(document, indent=1, sort_keys=False) + "\n"

    @classmethod
    def load(cls, path: Path = RECORDING_PATH) -> Recording:
        document = json.loads(path.read_text())
        return cls(
            requests=sorted(Request.from_json(r) for r in document["requests"]),
            sources=dict(document.get("sources", {})),
            code=dict(document.get("code", {})),
        )

    def save(self, path: Path = RECORDING_PATH) -> None:
        path.write_text(self.to_json())
