"""The enforcement point: every read of partner data passes here (the query broker,
comparisons, masks, limits, grants as read, and the guarded opening of sources).

Imports only ``gateway.auth`` and ``gateway.core`` from the gateway."""
