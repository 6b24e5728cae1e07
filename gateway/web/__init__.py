"""The HTTP surface: the FastAPI app, routes, errors, request guards and the console.

Routes are thin: they parse, authorize and call stewardship or enforcement."""
