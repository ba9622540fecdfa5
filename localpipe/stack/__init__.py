"""The stack on moto: template.yaml read and deployed, the moto server, and the shapes read back from it."""
