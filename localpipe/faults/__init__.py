"""Every fault a local run injects, from one seeded ``FaultPlan`` (``plan.py``), and the traffic it shapes."""
