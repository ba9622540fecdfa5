"""``make up`` / ``make down`` / ``make send``: this stack deployed with SAM on MiniStack, a local AWS."""
