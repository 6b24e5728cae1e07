"""Connectors to partner departments' source systems: one interface, one module per kind."""
