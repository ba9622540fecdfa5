"""What a run prints and measures: the pipeline's report, the aggregate tree, metrics, latency and costs."""
