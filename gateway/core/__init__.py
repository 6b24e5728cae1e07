"""Foundation of the gateway every other room may use: settings, logging, private files.

Imports nothing from the rest of ``gateway``."""
