"""The capacity model (`make capacity`): a discrete-event simulation, in simulated time, of the pipeline as deployed,
for today's aggregate design and the Map/Reduce one, fed with the workshop generator's traffic and planned by the
project's own planning code (``riskpipe.aggregation`` today, ``riskpipe.partials`` for the new design)."""
