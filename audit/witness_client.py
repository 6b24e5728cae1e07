"""Sending checkpoints to remote witnesses, off the request path: other Sluice gateways
(``https://…``) and NATS JetStream streams (``nats://host:port/<stream>``,
``audit.witness_nats``).

The writer hands each checkpoint over with ``submit`` — an assignment under a lock,
no I/O — and one background thread posts it to every witness gateway
(``POST <url>/api/v1/witness/checkpoints``) and publishes it to every witness stream.
Only the newest checkpoint matters to a witness (seqs only go up), so a witness that
was down gets the latest one when it is back, not a backlog. Failures are retried with
a capped back-off and shown in ``status()`` (``GET /api/v1/audit/status``); they never
fail an append.

Every witness is asked at once (``_at_once``: a small pool of threads, one per
witness), the sends of a round as the monitor's asks, so the round lasts one bound
(``timeout_s``), not one per witness: one after another, several slow witnesses added
up and held the monitor — with it the local witness file's check and the walk of the
chain that seal on an insider's edit — for a bound each (left by red team 23, closed in
the twenty-seventh pass).

Each message is an envelope signed with the audit key (``audit.witness_envelope``): the
checkpoint, the sender's name, its epoch and its public keys, so a witness can pin the
key on first use and no one can replay a genuine checkpoint under another name or epoch.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from audit.canonical import canonical_json
from audit.jsonl import append_line
from audit.lazy_log import get_logger
from audit.signing import Signer
from audit.witness_envelope import make_envelope
from audit.witness_errors import WitnessUnreachable
from audit.witness_urls import is_nats_url, parse_nats_url, redacted
from catalog.errors import Conflict

if TYPE_CHECKING:
    import httpx

    from audit.witness_nats import NatsWitness

log = get_logger("sluice.audit")
PATH = "/api/v1/witness/checkpoints"
MAX_BACKOFF_S = 5.0
GRACE_S = 0.5  # past the bound: a deadline's own expiry may run that much late
MAX_ANSWER_BYTES = 64 * 1024  # a receipt, a checkpoint: a few hundred bytes


@dataclass
class WitnessStatus:
    url: str
    kind: str = "http"
    acked_seq: int | None = None
    acked_epoch: int | None = None
    acked_at: float | None = None
    pending_seq: int | None = None
    last_error: str | None = None
    failures: int = 0
    receipt: dict[str, Any] | None = None
    next_try: float = 0.0
    backoff: float = field(default=0.25)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "url": self.url,
            "ok": self.last_error is None and self.pending_seq is None,
            "acked_seq": self.acked_seq,
            "acked_epoch": self.acked_epoch,
            "acked_age_s": None
            if self.acked_at is None
            else round(time.monotonic() - self.acked_at, 3),
            "pending_seq": self.pending_seq,
            "last_error": self.last_error,
            "failures": self.failures,
        }


class WitnessSender:
    """One thread delivering the newest checkpoint to each configured witness."""

    def __init__(
        self,
        *,
        urls: list[str],
        sender: str,
        signer: Signer,
        epoch: Callable[[], int],
        receipts: Path,
        timeout_s: float = 2.0,
    ) -> None:
        self.sender = sender
        # every witness is known by its URL without credentials (shown in status, the
        # logs, the monitor's and the seal's evidence); HTTP ones are reached by the URL
        # as configured (``_targets``), which may carry basic-auth credentials
        self._nats: dict[str, NatsWitness] = {}
        self._targets: dict[str, str] = {}
        self.urls: list[str] = []
        for raw in urls:
            if is_nats_url(raw):
                from audit.witness_nats import NatsWitness  # only with a NATS witness

                target = parse_nats_url(raw)
                self._nats[target.url] = NatsWitness(target, sender=sender,
                                                     public_keys=signer.public_keys,
                                                     timeout_s=timeout_s)  # fmt: skip
                self.urls.append(target.url)
            else:
                name = redacted(raw.rstrip("/"))
                self._targets[name] = raw.rstrip("/")
                self.urls.append(name)
        self.signer = signer
        self.epoch = epoch
        self.receipts = receipts
        self.timeout_s = timeout_s
        self.cond = threading.Condition()
        self._pending: dict[str, tuple[int, dict[str, Any]]] = {}
        self._sending: set[str] = set()  # witnesses with a send in flight
        self.status = {u: WitnessStatus(u, kind="nats" if u in self._nats else "http")
                       for u in self.urls}  # fmt: skip
        self._closing = False
        import httpx  # only a log with witnesses has a sender: not every process that opens one

        # no connection kept between exchanges: each is whole within ``timeout_s``
        # (``catalog.http_deadline``), and its deadline may cut only a socket it opened
        limits = httpx.Limits(max_keepalive_connections=0)
        self._http = httpx.Client(timeout=timeout_s, limits=limits)
        self._probe = httpx.Client(timeout=timeout_s, limits=limits)  # the monitor's thread
        # each witness asked (and sent to) in a thread of its own, all at once
        workers = max(1, len(self.urls))
        self._asks = ThreadPoolExecutor(workers, thread_name_prefix="audit-witness-ask")
        self._sends = ThreadPoolExecutor(workers, thread_name_prefix="audit-witness-send")
        self._thread = threading.Thread(target=self._run, name="audit-witness", daemon=True)
        self._thread.start()

    def submit(self, checkpoint: dict[str, Any]) -> None:
        """Queue ``checkpoint`` for every witness (replacing an older one not yet sent)."""
        epoch = self.epoch()
        with self.cond:
            for url in self.urls:
                self._pending[url] = (epoch, checkpoint)
                self.status[url].pending_seq = checkpoint["seq"]
                self.status[url].next_try = 0.0
            self.cond.notify()

    def statuses(self) -> list[dict[str, Any]]:
        with self.cond:
            out = [s.to_dict() for s in self.status.values()]
        for item in out:
            stream = self._nats.get(item["url"])
            if stream is not None:
                item.update(stream.status())
        return out

    def flush(self, timeout_s: float) -> bool:
        """Wait (bounded) until every witness has the newest checkpoint; for shutdown."""
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while self._pending and time.monotonic() < deadline:
                self.cond.wait(min(0.05, max(0.0, deadline - time.monotonic())))
            return not self._pending

    def close(self, timeout_s: float = 2.0) -> None:
        self.flush(timeout_s)
        with self.cond:
            self._closing = True
            self.cond.notify_all()
        self._thread.join(timeout_s + self.timeout_s)
        with self.cond:  # the sends in flight end within their own bound
            self.cond.wait_for(lambda: not self._sending, timeout=self.timeout_s + GRACE_S)
        for pool in (self._asks, self._sends):
            pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()
        self._probe.close()
        for stream in self._nats.values():
            stream.close()

    def latest_of_all(self) -> dict[str, dict[str, Any] | Exception | None]:
        """What every witness last witnessed (``latest``), or why it could not say
        (the exception), asked at once: answered within one bound whatever the number
        of slow witnesses; one still asking past it answers ``httpx.ReadTimeout``."""
        import httpx  # loaded by __init__ already

        calls = [functools.partial(self.latest, url) for url in self.urls]
        found = self._at_once(self._asks, calls, bound_s=self.timeout_s + GRACE_S)
        return {url: httpx.ReadTimeout("the witness did not answer in time")
                if isinstance(got, TimeoutError) else got
                for url, got in zip(self.urls, found, strict=True)}  # fmt: skip

    @staticmethod
    def _at_once(pool: ThreadPoolExecutor, calls: Sequence[Callable[[], Any]], *,
                 bound_s: float | None) -> list[Any]:  # fmt: skip
        """Each call's result or exception, in order, the calls run at once in ``pool``
        (one alone runs here: no hop); a call not done within ``bound_s`` gives a
        ``TimeoutError`` (each exchange is bounded on its own: this is the net)."""
        if len(calls) == 1:
            try:
                return [calls[0]()]
            except Exception as exc:
                return [exc]
        futures: list[Future[Any]] = [pool.submit(call) for call in calls]
        done, _ = wait(futures, timeout=bound_s)
        return [(f.exception() or f.result()) if f in done else TimeoutError() for f in futures]

    def latest(self, url: str) -> dict[str, Any] | None:
        """What ``url`` last witnessed from this gateway (None if nothing yet).

        For a stream: the highest checkpoint there; raises ``WitnessEvidence`` when one
        went backwards in the stream (``audit.witness_nats``)."""
        stream = self._nats.get(url)
        if stream is not None:
            return stream.latest()
        target = self._targets.get(url, url)
        # whole within the timeout (red team 23: a witness answering a byte at a time
        # held the monitor's thread, so neither the local witness file, nor the other
        # witnesses, nor the walk of the chain sealed on an insider's edit meanwhile),
        # and read to a cap (red team 35: a witness's 48 MB answer was read whole)
        status, body = self._exchange(
            self._probe, "GET", f"{target.rstrip('/')}{PATH}/{self.sender}"
        )
        if status == 404:
            return None
        if not 200 <= status < 300:
            raise ValueError(f"HTTP {status}")
        found = orjson.loads(body)
        return found if isinstance(found, dict) else None

    def _exchange(self, client: httpx.Client, method: str, url: str,
                  **sent: Any) -> tuple[int, bytes]:  # fmt: skip
        """One exchange with a witness: whole within ``timeout_s`` and its answer read to
        ``MAX_ANSWER_BYTES`` (``catalog.http_read_within``, as the OIDC provider's and
        the JWKS are): a receipt or a checkpoint is a few hundred bytes, and a witness
        answering more — hundreds of megabytes within the bound on a LAN, a thousand
        times what it sends gzip-encoded — was read whole into memory at every
        checkpoint and every monitor tick (red team 35). Past the cap: ``ValueError``;
        past the deadline: ``httpx.ReadTimeout``."""
        import httpx  # loaded by __init__ already

        from catalog.http_read_within import BodyTooLarge, DeadlinePassed, read_within

        try:
            return read_within(client, method, url, seconds=self.timeout_s,
                               max_bytes=MAX_ANSWER_BYTES, **sent)  # fmt: skip
        except BodyTooLarge:
            raise ValueError(f"the witness answered over {MAX_ANSWER_BYTES} bytes") from None
        except DeadlinePassed:
            raise httpx.ReadTimeout("the witness did not answer in time") from None

    # -- the thread ----------------------------------------------------------------

    def _due(self) -> list[tuple[str, int, dict[str, Any]]]:
        now = time.monotonic()
        return [(u, e, cp) for u, (e, cp) in self._pending.items()
                if u not in self._sending and self.status[u].next_try <= now]  # fmt: skip

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self._closing and not self._due():
                    self.cond.wait(0.05)
                if self._closing:
                    return
                work = self._due()
                self._sending.update(url for url, _, _ in work)
            # each witness on its own schedule, never waiting for another's send: sends
            # gathered in rounds ran one witness per round once two slow witnesses' retry
            # times drifted apart by a tick, one bound after the other (red team 23's
            # serial sends again, seen under load)
            for item in work:
                self._sends.submit(self._send_and_free, *item)

    def _send_and_free(self, url: str, epoch: int, checkpoint: dict[str, Any]) -> None:
        try:
            self._send(url, epoch, checkpoint)
        finally:
            with self.cond:
                self._sending.discard(url)
                self.cond.notify_all()

    def _send(self, url: str, epoch: int, checkpoint: dict[str, Any]) -> None:
        envelope = make_envelope(
            sender=self.sender, epoch=epoch, checkpoint=checkpoint, signer=self.signer
        )
        stream = self._nats.get(url)
        error: str | None
        receipt: dict[str, Any] | None = None
        if stream is not None:
            error = None
            try:
                receipt = stream.publish(envelope)
            except Conflict as exc:
                error = f"refused: {exc.message}"
            except (WitnessUnreachable, ValueError) as exc:
                error = str(exc)
        else:
            error, receipt = self._post(url, envelope)
        with self.cond:
            state = self.status[url]
            if error is None and receipt is not None:
                state.acked_seq, state.acked_epoch = checkpoint["seq"], epoch
                state.acked_at, state.receipt, state.last_error = time.monotonic(), receipt, None
                state.backoff = 0.25
                if self._pending.get(url, (None, None))[1] is checkpoint:
                    del self._pending[url]
                    state.pending_seq = None
            else:
                state.failures += 1
                state.last_error = error
                state.next_try = time.monotonic() + state.backoff
                state.backoff = min(MAX_BACKOFF_S, state.backoff * 2)
            self.cond.notify_all()
        if receipt is not None:
            if stream is None:  # a stream's receipt is no countersignature: not kept
                self._keep(url, receipt)
        else:
            log.warning("audit_witness_send_failed", witness=url, seq=checkpoint["seq"],
                        error=error)  # fmt: skip

    def _post(self, url: str, envelope: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
        """POST to a witness gateway: (error, countersigned receipt)."""
        import httpx  # loaded by __init__ already

        try:
            target = self._targets.get(url, url)  # one witness holds no other
            status, raw = self._exchange(self._http, "POST", target + PATH,
                                         content=orjson.dumps(envelope),
                                         headers={"content-type": "application/json"})  # fmt: skip
            if status != 200:
                return f"HTTP {status}: {raw[:300].decode(errors='replace')}", None
            body = orjson.loads(raw)
        except (httpx.HTTPError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}", None
        if not isinstance(body, dict):
            return "the witness answered something other than a receipt", None
        return None, body

    def _keep(self, url: str, receipt: dict[str, Any]) -> None:
        """Countersigned receipts, for an offline verifier (``--witness``)."""
        line = canonical_json({"witness_url": url, **receipt}) + b"\n"
        try:
            append_line(self.receipts, line.rstrip(b"\n"))
        except OSError as exc:
            log.error("audit_witness_receipt_not_kept", error=str(exc))
