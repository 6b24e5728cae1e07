"""Thin FastAPI routers, one module per resource; ``gateway.web.app`` mounts them all."""
