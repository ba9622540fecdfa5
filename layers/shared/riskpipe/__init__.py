"""Shared code of the risk pipeline (deployed as the SharedLayer), in layers; a module imports only from the layers
below its own (import-linter checks it: ``make imports``, the contracts in pyproject.toml):

* the stream consumers' handler: ``batching.py`` (injected failures, the domain's decisions, Powertools'
  ``batchItemFailures``), shared by the StateLambda, the map, the combining lanes and the reduce;
* wiring (what the functions share): ``wiring.py``, the cold-start builder, Powertools;
* data access (boto3: the only AWS calls): ``aws.py`` (clients), ``state_store.py``, ``aggregate_store.py``,
  ``reduce_store.py``, ``combine_store.py``, ``poison.py``, ``parameters.py``, ``publisher.py`` (Kinesis
  ``put_records``);
* config: ``config.py``, environment variables validated once;
* domain (pure: decisions, no boto3): ``state_service.py``, ``aggregation.py``, ``partials.py``,
  ``aggregate_service.py``, ``partials_service.py`` (what the combine and the reduce share), ``reduce_service.py``,
  ``combine_service.py``, ``outcomes.py``, ``producer.py`` (traffic generation), ``game.py``, ``chaos.py``,
  ``throttling.py`` (waiting out DynamoDB's throttling), ``versions.py``;
* models: ``models.py``, ``identifiers.py`` (the hierarchy levels, ``message_count``), ``errors.py``, ``numbers.py``.
"""
