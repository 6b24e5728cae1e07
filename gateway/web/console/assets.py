"""Front-end files: the console's own (``static/``, in git) and the third-party
packages `make install` put in ``node_modules`` (``npm ci``, from ``package-lock.json``).

Third-party files are served from an allow-list, by name: the gateway never serves the
package folder as a tree (``node_modules`` holds far more than three files, and none of
the rest is meant for a browser). No CDN is involved at run time, so the console works
on an offline network; a gateway installed without ``npm ci`` still serves every page
(forms work without script), and the missing file is a 404 that says what to run.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response

from gateway.web.console.runtime import get_console

STATIC = Path(__file__).parent / "static"
REPO_NODE_MODULES = Path(__file__).resolve().parents[3] / "node_modules"
VENDOR: dict[str, tuple[str, str]] = {
    "htmx.min.js": ("htmx.org/dist/htmx.min.js", "text/javascript"),
    "echarts.min.js": ("echarts/dist/echarts.min.js", "text/javascript"),
    "pico.min.css": ("@picocss/pico/css/pico.min.css", "text/css"),
}

router = APIRouter(include_in_schema=False)


def default_assets_dir(configured: Path | None) -> Path:
    return configured if configured is not None else REPO_NODE_MODULES


@router.get("/console/vendor/{name}")
def vendor_file(name: str, request: Request) -> Response:
    """One allow-listed third-party file (see the module docstring)."""
    entry = VENDOR.get(name)
    if entry is None:
        return PlainTextResponse("not found", status_code=404)
    assets = get_console(request).assets
    path = (assets / entry[0]) if assets is not None else None
    if path is None or not path.is_file():
        return PlainTextResponse(f"{name} is not installed: run `make install` (npm ci)",
                                 status_code=404)  # fmt: skip
    return FileResponse(path, media_type=entry[1],
                        headers={"Cache-Control": "public, max-age=3600"})  # fmt: skip
