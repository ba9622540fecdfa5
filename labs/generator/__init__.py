"""The DynamoDB workshop's own generator, deployed beside a workshop-mode stack as a small stack of its own
(``template.yaml`` here, ``make workshop-generator``): see ``deploy.py`` and docs/labs/workshop.md."""
