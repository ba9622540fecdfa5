"""The moto server process the local pipeline runs against (``python -m localpipe.stack.motoserver PORT``).

moto's own server, strict about DynamoDB's number rules as DynamoDB is (``localpipe/strictnumbers.py``), with
three changes to how fast it works, nothing to what it emulates:
* it routes each request by listing its package directory (moto 5.2); the list is read once;
* werkzeug's development server speaks HTTP/1.0 and closes every connection; HTTP/1.1 keep-alive lets
  botocore reuse its pooled connections, as it does with AWS;
* ``TransactWriteItems`` backs up a table (a deep copy, for its rollback) once per transaction item, so a
  transaction of 100 items on one table copies it 100 times; here a table is copied once per transaction.
  The rollback is unchanged: it restores that one copy.
"""

from __future__ import annotations

import copy
import logging
import sys
import threading
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto import backends
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import MotoRequestHandler

from localpipe.stack.strictnumbers import enforce_number_rules

_MOTO_MODULES = tuple(backends.list_of_moto_modules())


def _cached_moto_modules() -> tuple[str, ...]:
    return _MOTO_MODULES


class _OnceCopiedTables:
    """Stands in for the ``copy`` module inside moto's DynamoDB backend: during a transaction, a table's
    backup copy is made once and handed back for the transaction's other items."""

    def __init__(self) -> None:
        self._local = threading.local()

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        backups = getattr(self._local, "backups", None)
        if backups is None or not isinstance(value, Table):
            return copy.deepcopy(value, memo)
        if id(value) not in backups:
            backups[id(value)] = copy.deepcopy(value, memo)
        return backups[id(value)]

    def transaction(self, original: Any) -> Any:
        def transact_write_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
            self._local.backups = {}
            try:
                original(backend, transact_items)
            finally:
                self._local.backups = None

        return transact_write_items

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def configure() -> None:
    enforce_number_rules()
    once = _OnceCopiedTables()
    dynamodb_models.copy = once  # type: ignore[assignment]
    DynamoDBBackend.transact_write_items = once.transaction(DynamoDBBackend.transact_write_items)  # type: ignore[method-assign]
    backends.list_of_moto_modules = _cached_moto_modules
    MotoRequestHandler.protocol_version = "HTTP/1.1"
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def main(port: int) -> None:
    configure()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    assert server._thread is not None
    server._thread.join()


if __name__ == "__main__":
    main(int(sys.argv[1]))
