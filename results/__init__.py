"""Results of the commands that measure (``make demo``, ``pipeline``, ``capacity``, ``send``, ``bench``, ``soak``,
``workshop-rounds``), each written as JSON with its commit, date and machine, and published by ``make results``.

``record.py`` writes a result (every command calls ``ResultStore.publish``), ``git.py`` says which commit it was
measured on and whether the code changed since, ``kinds.py`` renders each kind, ``page.py`` writes
docs/results.md. Nothing here imports the project: every command can import it.
"""
