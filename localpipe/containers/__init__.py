"""The functions in SAM's Lambda containers (``sam local``), and the sample events they are checked with."""
