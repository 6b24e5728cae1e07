"""The web console (issue 14): pages served by the gateway itself, one module per page."""
