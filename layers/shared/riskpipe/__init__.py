"""Shared code of the risk pipeline (deployed as the SharedLayer): models, configuration, data access, domain."""
