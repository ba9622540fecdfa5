"""``make redrive``: what the pipeline's stages gave up, brought back with one command, exactly once, safe to run
twice and while the event source mappings run (docs/operations.md).

* ``messages``: the queues' messages as typed values (AWS's on-failure invocation records, poison records, changes
  and partials set aside);
* ``plan``: the decisions, pure (which records go back on the stream, which trades lag their StateTable item, what
  becomes of each message, the report and its last line);
* ``access``: the data access (queues, the risk stream, the tables' streams, the tables, the map's and the reduce's
  own services);
* ``run``: one redrive, in order: records (``records``), the combining lanes and the reduce (``partials``), the map;
  then a reconcile;
* ``stack``: the stack it works on; ``drift``: the reconcile and its repair (``make reconcile``); the command is
  ``localpipe/commands/redrive.py``.
"""
