"""Shared code of the risk pipeline (deployed as the SharedLayer), in layers; a module imports only from the layers
below its own (import-linter checks it: ``make imports``, the contracts in pyproject.toml):

* wiring (what the functions share): ``wiring.py``, the cold-start builder, Powertools, the batch handler;
* data access (boto3: the only AWS calls): ``aws.py`` (clients), ``state_store.py``, ``aggregate_store.py``,
  ``reduce_store.py``, ``poison.py``, ``parameters.py``, ``publisher.py`` (Kinesis ``put_records``);
* config: ``config.py``, environment variables validated once;
* domain (pure: decisions, no boto3): ``state_service.py``, ``aggregation.py``, ``partials.py``,
  ``aggregate_service.py``, ``reduce_service.py``, ``outcomes.py``, ``producer.py`` (traffic generation),
  ``game.py``, ``chaos.py``, ``throttling.py``, ``versions.py``;
* models: ``models.py``, ``errors.py``, ``numbers.py``.
"""
