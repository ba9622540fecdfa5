"""The moto server process the local pipeline runs against (``python -m localpipe.motoserver PORT``).

moto's own server with two changes to its transport only, nothing to what it emulates:
* it routes each request by listing its package directory (moto 5.2); the list is read once;
* werkzeug's development server speaks HTTP/1.0 and closes every connection; HTTP/1.1 keep-alive lets
  botocore reuse its pooled connections, as it does with AWS.
"""

from __future__ import annotations

import logging
import sys

from moto import backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import MotoRequestHandler

_MOTO_MODULES = tuple(backends.list_of_moto_modules())


def _cached_moto_modules() -> tuple[str, ...]:
    return _MOTO_MODULES


def configure() -> None:
    backends.list_of_moto_modules = _cached_moto_modules  # type: ignore[assignment]
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
