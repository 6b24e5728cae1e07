"""A NATS JetStream stream as a witness: checkpoints kept where the audit database's
owner cannot rewrite them.

Configured as ``nats://host:port/<stream>`` in ``SLUICE_WITNESSES``. This gateway
publishes each envelope (``audit.witness_envelope.make_envelope``: the signed
checkpoint, sender, epoch and public keys) to the subject
``sluice.witness.<stream>.<gateway-id>`` of the stream ``<stream>``.

The stream is made append-only as far as JetStream allows: ``deny_delete`` and
``deny_purge`` (which JetStream never lets anyone clear again), ``discard: new`` (a
full stream refuses new messages instead of dropping old ones), no age limit, no
roll-ups, no per-message TTL. A stream found with weaker settings is tightened, and
refused as a witness (an error in status) if it cannot be. JetStream cannot forbid
deleting the whole stream to an account allowed to: that is an operator's NATS
permission, stated in ``THREAT_MODEL.md``; the monitor treats a stream that lost the
checkpoints it had seen as evidence.

A stream does not countersign or refuse anything by itself, so the checks an HTTP
witness makes (``audit.witness_book``) are made here, by both sides of the gateway:

- **publishing** reads the subject's last message first and refuses (``Conflict``) a
  checkpoint whose epoch or sequence goes backwards or whose hash at the same sequence
  changed; an identical one is already witnessed. The publish carries
  ``Nats-Expected-Last-Subject-Sequence``, so the read and the write are one
  compare-and-set: a concurrent publisher cannot slip a message in between.
- **reading** (the monitor, ``latest``) takes every message added since its last read,
  ignores any not signed with this gateway's keys (anyone with publish rights on the
  subject could post one), and raises ``WitnessEvidence`` when a signed one goes
  backwards from the highest seen (epoch, sequence, or hash at a sequence). The
  highest is what the monitor compares with the database, exactly as it does with an
  HTTP witness's newest countersigned checkpoint.

Byte-identical repeats of the newest message are harmless. An older genuine message
replayed by someone with publish rights seals the gateway (fail closed: a denial of
service, never a hidden truncation); restricting publish rights on the subject to
the gateway is therefore part of the deployment (``THREAT_MODEL.md``).

At start the reader scans at most ``scan_back`` of the stream's newest messages, and
from this gateway's last message on its subject when that is older (other senders'
messages on a shared stream pushed it out of the window: red team 60); it reads
incrementally after that.

nats-py is asyncio-only; each witness runs its client on a private event loop thread
and the sender and monitor threads call into it with a bounded wait.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import nats
import orjson
from nats.errors import Error as NatsError
from nats.js.api import DiscardPolicy, RawStreamMsg, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from audit.signing import checkpoint_payload, verify_signature
from audit.witness_envelope import envelope_payload
from audit.witness_errors import WitnessEvidence, WitnessUnreachable
from audit.witness_urls import NatsTarget
from catalog.errors import Conflict

WRONG_LAST_SEQUENCE = 10071  # JetStream's err_code for a failed expected-last-sequence
T = TypeVar("T")


def stream_config(target: NatsTarget) -> StreamConfig:
    """The stream as this gateway creates it: append-only as far as JetStream allows."""
    return StreamConfig(
        name=target.stream,
        description="Sluice audit checkpoints (witness): append-only",
        subjects=[f"sluice.witness.{target.stream}.>"],
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        deny_delete=True,
        deny_purge=True,
        allow_rollup_hdrs=False,
        max_age=0,
        duplicate_window=120.0,
    )


def weaknesses(config: StreamConfig) -> list[str]:
    """What makes an existing stream less than append-only."""
    out = []
    if not config.deny_delete:
        out.append("deny_delete is off")
    if not config.deny_purge:
        out.append("deny_purge is off")
    if config.discard != DiscardPolicy.NEW:
        out.append("discard is not 'new' (old checkpoints would be dropped)")
    if config.allow_rollup_hdrs:
        out.append("roll-ups are allowed")
    if config.max_age:
        out.append("messages expire (max_age)")
    if getattr(config, "allow_msg_ttl", None):
        out.append("per-message TTLs are allowed")
    return out


@dataclass(frozen=True, slots=True)
class Witnessed:
    """One checkpoint of this gateway read from the stream."""

    stream_seq: int
    epoch: int
    checkpoint: dict[str, Any]
    envelope: dict[str, Any]

    @property
    def seq(self) -> int:
        return int(self.checkpoint["seq"])

    @property
    def hash(self) -> str:
        return str(self.checkpoint["hash"])

    def receipt(self) -> dict[str, Any]:
        """The shape of an HTTP witness's answer, so the monitor checks both alike."""
        env = self.envelope
        return {
            "sender": env["sender"],
            "epoch": self.epoch,
            "checkpoint": self.checkpoint,
            "envelope": {"kid": env["kid"], "signature": env["signature"]},
            "stream_seq": self.stream_seq,
        }


def signed_by(envelope: Any, sender: str, keys: Mapping[str, str]) -> Witnessed | None:
    """The envelope's checkpoint if both signatures verify with ``keys``; else None."""
    try:
        if not isinstance(envelope, dict) or envelope.get("sender") != sender:
            return None
        cp, epoch, kid = envelope["checkpoint"], envelope["epoch"], envelope["kid"]
        if type(epoch) is not int or type(cp.get("seq")) is not int:
            return None
        payload = checkpoint_payload(seq=cp["seq"], hash_hex=cp["hash"], ts=cp["ts"],
                                     kid=cp["kid"])  # fmt: skip
        if cp["kid"] not in keys or not verify_signature(keys[cp["kid"]], payload,
                                                         cp["signature"]):  # fmt: skip
            return None
        signed = envelope_payload(sender=sender, epoch=epoch, checkpoint=cp, kid=kid)
        if kid not in keys or not verify_signature(keys[kid], signed, envelope["signature"]):
            return None
    except (KeyError, TypeError, AttributeError):
        return None
    return Witnessed(stream_seq=0, epoch=epoch, checkpoint=dict(cp), envelope=envelope)


def backwards(best: Witnessed, new: Witnessed) -> str | None:
    """Why ``new`` (after ``best``) goes backwards, or None (ahead, or identical)."""
    if new.epoch < best.epoch:
        return f"epoch goes backwards: {new.epoch} after {best.epoch}"
    if new.epoch > best.epoch:
        return None
    if new.seq < best.seq:
        return f"sequence goes backwards: {new.seq} after {best.seq}"
    if new.seq == best.seq and new.hash != best.hash:
        return f"hash at witnessed seq {new.seq} changed"
    return None


class _Loop:
    """A private asyncio loop on a daemon thread; ``run`` waits with a bound."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise WitnessUnreachable(f"no answer within {timeout_s} s") from exc

    def close(self) -> None:
        """Cancel what the client left running (its flusher, reader, inbox tasks) and
        stop: a loop closed with pending tasks logs "Task was destroyed"."""

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(WitnessUnreachable, RuntimeError):
            self.run(cancel_all(), 5.0)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()


class NatsWitness:
    """One JetStream stream witnessing this gateway's checkpoints."""

    def __init__(
        self,
        target: NatsTarget,
        *,
        sender: str,
        public_keys: Callable[[], dict[str, str]],
        timeout_s: float = 2.0,
        scan_back: int = 10_000,
    ) -> None:
        self.target = target
        self.sender = sender
        self.subject = target.subject(sender)
        self.public_keys = public_keys
        self.timeout_s = timeout_s
        self.scan_back = scan_back
        self._loop = _Loop(f"audit-witness-nats-{target.stream}")
        self._nc: Any = None
        self._js: Any = None
        self._ready = False  # the stream exists with append-only settings
        # the reader's state (monitor thread only)
        self._cursor: int | None = None  # the last stream seq read
        self._created: Any = None  # the stream's creation time when first read
        self._best: Witnessed | None = None
        self.foreign = 0  # messages on the subject not signed by this gateway

    # -- connection and stream -----------------------------------------------------

    async def _connect(self) -> Any:
        if self._nc is not None and self._nc.is_connected:
            return self._js
        if self._nc is not None:
            with contextlib.suppress(NatsError, OSError, TimeoutError):
                await self._nc.close()
        self._nc = self._js = None
        self._ready = False

        async def quiet(_exc: Exception) -> None:  # failures surface through calls
            return None

        self._nc = await nats.connect(
            servers=[self.target.server],
            connect_timeout=self.timeout_s,
            allow_reconnect=False,
            error_cb=quiet,
            name=f"sluice-witness-{self.sender}",
        )
        self._js = self._nc.jetstream(timeout=self.timeout_s)
        return self._js

    async def _stream(self) -> Any:
        js = await self._connect()
        if self._ready:
            return js
        try:
            info = await js.stream_info(self.target.stream)
        except NotFoundError:
            info = await js.add_stream(stream_config(self.target))
        weak = weaknesses(info.config)
        if weak:
            wanted = info.config
            wanted.deny_delete, wanted.deny_purge = True, True
            wanted.discard, wanted.allow_rollup_hdrs, wanted.max_age = DiscardPolicy.NEW, False, 0
            try:
                info = await js.update_stream(wanted)
            except NatsError as exc:
                raise WitnessUnreachable(
                    f"stream {self.target.stream} is not append-only ({', '.join(weak)}) "
                    f"and cannot be made so: {exc}"
                ) from exc
            weak = weaknesses(info.config)
            if weak:
                raise WitnessUnreachable(
                    f"stream {self.target.stream} is not append-only: {', '.join(weak)}"
                )
        self._ready = True
        return js

    def _call(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run one operation on the loop; any NATS or socket failure is unreachable."""
        try:
            return self._loop.run(make(), self.timeout_s * 3)
        except (NatsError, OSError, TimeoutError) as exc:
            self._ready = False
            raise WitnessUnreachable(f"{type(exc).__name__}: {exc}") from exc

    def _decode(self, msg: RawStreamMsg) -> Witnessed | None:
        try:
            envelope = orjson.loads(msg.data or b"")
        except orjson.JSONDecodeError:
            return None
        found = signed_by(envelope, self.sender, self.public_keys())
        if found is None:
            return None
        return Witnessed(stream_seq=int(msg.seq or 0), epoch=found.epoch,
                         checkpoint=found.checkpoint, envelope=envelope)  # fmt: skip

    # -- publishing (the sender's thread) ------------------------------------------

    def publish(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """Append ``envelope`` to the stream unless it goes backwards (``Conflict``).

        Returns a receipt: the stream, its sequence for the message, the checkpoint."""
        mine = signed_by(envelope, self.sender, self.public_keys())
        if mine is None:
            raise ValueError("the envelope is not signed by this gateway's keys")
        return self._call(lambda: self._publish(envelope, mine))

    async def _publish(self, envelope: dict[str, Any], mine: Witnessed) -> dict[str, Any]:
        js = await self._stream()
        data = orjson.dumps(envelope)
        cp = mine.checkpoint
        msg_id = f"{self.sender}:{mine.epoch}:{cp['seq']}:{cp['hash'][:32]}"
        for _ in range(5):
            last_seq, last = await self._last(js)
            if last is not None:
                why = backwards(last, mine)
                if why is not None:
                    raise Conflict(f"{self.target.url}: {why}")
                if last.epoch == mine.epoch and last.seq == mine.seq:
                    return self._receipt(last.stream_seq, mine, duplicate=True)
            headers = {"Nats-Expected-Last-Subject-Sequence": str(last_seq),
                       "Nats-Msg-Id": msg_id}  # fmt: skip
            try:
                ack = await js.publish(self.subject, data, headers=headers)
            except BadRequestError as exc:
                if exc.err_code == WRONG_LAST_SEQUENCE:
                    continue  # someone published in between: read again
                raise
            return self._receipt(int(ack.seq), mine, duplicate=bool(ack.duplicate))
        raise WitnessUnreachable("the subject kept changing under the publisher")

    async def _last(self, js: Any) -> tuple[int, Witnessed | None]:
        """The subject's last stream seq (0: none) and the newest signed checkpoint
        there (a foreign last message is no checkpoint, but still the seq to expect)."""
        try:
            msg = await js.get_last_msg(self.target.stream, self.subject)
        except NotFoundError:
            return 0, None
        return int(msg.seq or 0), self._decode(msg)

    def _receipt(self, stream_seq: int, mine: Witnessed, *, duplicate: bool) -> dict[str, Any]:
        return {"witness": self.target.url, "stream": self.target.stream,
                "subject": self.subject, "stream_seq": stream_seq, "epoch": mine.epoch,
                "checkpoint": mine.checkpoint, "duplicate": duplicate}  # fmt: skip

    # -- reading (the monitor's thread) --------------------------------------------

    def latest(self) -> dict[str, Any] | None:
        """The highest checkpoint of this gateway in the stream, shaped like an HTTP
        witness's answer (None: none yet). Raises ``WitnessEvidence`` if a signed
        checkpoint went backwards or the stream lost what was read before."""
        best = self._call(self._read)
        return None if best is None else best.receipt()

    async def _read(self) -> Witnessed | None:
        js = await self._stream()
        info = await js.stream_info(self.target.stream)
        state = info.state
        if self._created is not None and info.created != self._created:
            self._lost(f"stream {self.target.stream} was replaced (created {info.created})")
        if self._cursor is not None and state.last_seq < self._cursor:
            self._lost(f"stream {self.target.stream} went back to seq {state.last_seq}")
        self._created = info.created
        if self._cursor is None:
            self._cursor = await self._start(js, state)
        while self._cursor < state.last_seq:
            try:
                msg = await js.get_msg(self.target.stream, self._cursor + 1,
                                       subject=self.subject, next=True)  # fmt: skip
            except NotFoundError:
                break
            self._cursor = int(msg.seq or 0)
            found = self._decode(msg)
            if found is None:
                self.foreign += 1
                continue
            if self._best is not None:
                why = backwards(self._best, found)
                if why is not None:
                    raise WitnessEvidence(
                        f"witness {self.target.url}: {why}",
                        {"witness": self.target.url, "stream_seq": found.stream_seq,
                         "witnessed_seq": self._best.seq, "witnessed_hash": self._best.hash,
                         "witnessed_epoch": self._best.epoch, "new_seq": found.seq,
                         "new_hash": found.hash, "new_epoch": found.epoch},
                    )  # fmt: skip
                if found.epoch == self._best.epoch and found.seq == self._best.seq:
                    continue  # an identical repeat
            self._best = found
        if self._best is not None:
            await self._still_there(js, self._best)
        return self._best

    async def _start(self, js: Any, state: Any) -> int:
        """Where the first read starts: the newest ``scan_back`` messages of the stream,
        or just before this subject's last message if that is older. Other senders'
        messages count in the stream's seqs, and ten thousand of them after this
        gateway's last checkpoint hid it: the doctor said "nothing witnessed yet" of a
        stream holding a checkpoint the chain lacks (red team 60)."""
        window = int(max(0, state.first_seq - 1, state.last_seq - self.scan_back))
        last, _ = await self._last(js)
        return min(window, last - 1) if last else window

    async def _still_there(self, js: Any, best: Witnessed) -> None:
        """The highest checkpoint read is still in the stream (no delete got through)."""
        try:
            msg = await js.get_msg(self.target.stream, best.stream_seq)
        except NotFoundError:
            msg = None
        if msg is None or self._decode(msg) != best:
            self._lost(f"stream {self.target.stream} lost witnessed seq {best.seq} "
                       f"(stream seq {best.stream_seq})")  # fmt: skip

    def _lost(self, reason: str) -> None:
        best = self._best
        raise WitnessEvidence(
            f"witness {self.target.url}: {reason}",
            {"witness": self.target.url,
             "witnessed_seq": None if best is None else best.seq,
             "witnessed_hash": None if best is None else best.hash},
        )  # fmt: skip

    def status(self) -> dict[str, Any]:
        best = self._best
        return {"stream": self.target.stream, "subject": self.subject,
                "stream_seq": None if best is None else best.stream_seq,
                "foreign_messages": self.foreign}  # fmt: skip

    def close(self) -> None:
        async def shutdown() -> None:
            if self._nc is not None:
                with contextlib.suppress(NatsError, OSError, TimeoutError):
                    await self._nc.close()

        with contextlib.suppress(WitnessUnreachable):
            self._loop.run(shutdown(), self.timeout_s * 2)
        self._loop.close()
