"""The local pipeline: its run loop and wiring, where the functions run, and the choices of a run."""
