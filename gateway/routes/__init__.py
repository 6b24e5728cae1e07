"""Thin FastAPI routers, one module per resource; ``gateway.app`` mounts them all."""
