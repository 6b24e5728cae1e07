"""The FastAPI service and CLI: authentication, routes, the query broker, access requests."""
