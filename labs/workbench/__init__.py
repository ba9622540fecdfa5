"""Your code for the labs. Each file has ONE marked place to edit; everything else is wired for you.

The files start as the naive versions the labs begin with. ``make labN-check`` runs the lab's scenario on
the local pipeline with your code in place, and ``make labN-check FINISHED=1`` with the project's own."""
