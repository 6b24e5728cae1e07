"""A failure's log line names where it happened and what kind of failure it was, never
the values its message carries (red team 34's left row: ``unhandled_error`` and
``comparison_run_crashed`` printed whole tracebacks, and a driver's or a library's
message prints the value it choked on — an ID number and a name, in clear, in a log
that operators ship to a log service, where the trail itself never holds a raw one)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import structlog
from fastapi.testclient import TestClient

from gateway.core.logs import configure_logging
from tests.gateway.demo_app import demo_gateway

ID_NUMBER = "430121199202022345"
NAME = "李四"


def _driver_fails() -> None:
    raise ValueError(f'invalid input syntax for type integer: "{ID_NUMBER} {NAME}"')


def _read_fails() -> None:
    try:
        _driver_fails()
    except ValueError as exc:
        raise RuntimeError(f"could not read row {ID_NUMBER}") from exc


def _logged(env: str, capsys: pytest.CaptureFixture[str], *, stdlib: bool = False) -> str:
    configure_logging(env=env)
    try:
        _read_fails()
    except RuntimeError as exc:
        if stdlib:  # a library's record, as the gateway's root handler formats it (read
            # from the handler itself: whether a record reaches it is the logging tree's
            # state, which other tests of a worker's run may have changed)
            handler = next(h for h in logging.getLogger().handlers if h.get_name() == "sluice")
            record = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1,
                                       "Exception in ASGI application", None,
                                       (type(exc), exc, exc.__traceback__))  # fmt: skip
            return handler.format(record)
        else:
            log = structlog.get_logger("sluice.test")
            log.error("unhandled_error", incident="i1", exc_info=exc)
    return capsys.readouterr().err


@pytest.mark.parametrize("env", ["production", "development"])
@pytest.mark.parametrize("stdlib", [False, True], ids=["structlog", "stdlib"])
def test_a_logged_failure_names_its_place_and_kind_not_its_values(
    env: str, stdlib: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _logged(env, capsys, stdlib=stdlib)
    assert ID_NUMBER not in err and NAME not in err, err
    # where and what: every frame, both exceptions' types, the words before the value
    assert "_driver_fails" in err and "_read_fails" in err, err
    assert "ValueError" in err and "RuntimeError" in err, err
    assert "invalid input syntax for type integer" in err, err
    assert "direct cause" in err, err
    if env == "production":
        line = json.loads(err.strip().splitlines()[-1])
        assert "exception" in line and "exc_info" not in line


def test_a_failure_behind_a_request_is_logged_without_its_values(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Through the HTTP API: a route failing with a value in its message (the stand-in
    for a bug: every known 500 is fixed) answers an incident number, and the gateway's
    log line for that incident names no value."""
    with demo_gateway(tmp_path / "home", env="production") as gw:

        def broken() -> None:
            _read_fails()

        app = gw.client.app
        app.add_api_route("/api/v1/broken", broken)  # type: ignore[attr-defined]
        response = TestClient(app, raise_server_exceptions=False).get("/api/v1/broken")
        assert response.status_code == 500
        incident = response.json()["message"].rsplit(" ", 1)[-1].rstrip(")")
    err = capfd.readouterr().err
    assert incident in err
    assert ID_NUMBER not in err and NAME not in err, err
    assert "_driver_fails" in err and "invalid input syntax for type integer" in err
