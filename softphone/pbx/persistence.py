"""Write-behind persistence of registrations and call records: batched, written every interval.

A REGISTER is answered from memory at once; the database sees the change within
``interval`` seconds (and at shutdown). That keeps the registrar fast on SQLite and PostgreSQL
alike, while registrations still survive a restart.
"""

from __future__ import annotations

import asyncio
import logging

from softphone.pbx.cdr import CallRecord
from softphone.pbx.location import Binding
from softphone.pbx.storage import PbxStore

logger = logging.getLogger("softphone.persistence")


class _BatchWriter:
    """Collects changes and hands them to the store every ``interval``, in one call; a
    failed write is kept for the next round (``flush`` decides how)."""

    name = "batch-writer"

    def __init__(self, store: PbxStore, interval: float) -> None:
        self.store = store
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            await asyncio.sleep(self.interval)
            await self.flush()

    async def flush(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # gather() reports the task's own cancellation as a result, but still raises if
            # stop() itself is being cancelled.
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.flush()


class BindingWriter(_BatchWriter):
    name = "binding-writer"

    def __init__(self, store: PbxStore, interval: float) -> None:
        super().__init__(store, interval)
        self._upserts: dict[tuple[str, str], Binding] = {}
        self._removals: set[tuple[str, str]] = set()

    def upsert(self, binding: Binding) -> None:
        key = (binding.aor, binding.contact)
        self._removals.discard(key)
        self._upserts[key] = binding
        self._wakeup.set()

    def remove(self, binding: Binding) -> None:
        key = (binding.aor, binding.contact)
        self._upserts.pop(key, None)
        self._removals.add(key)
        self._wakeup.set()

    @property
    def pending(self) -> int:
        return len(self._upserts) + len(self._removals)

    async def flush(self) -> None:
        if not self.pending:
            return
        upserts, removals = list(self._upserts.values()), list(self._removals)
        self._upserts, self._removals = {}, set()
        try:
            await self.store.save_bindings(upserts, removals)
        except Exception:
            # Keep the changes for the next round rather than lose them; newer changes win.
            logger.exception("writing %d registration changes failed; will retry",
                             len(upserts) + len(removals))
            for binding in upserts:
                self._upserts.setdefault((binding.aor, binding.contact), binding)
            self._removals |= {key for key in removals if key not in self._upserts}
            self._wakeup.set()


class CallRecordWriter(_BatchWriter):
    """Call records, written in batches like registrations (one transaction per batch): at
    150 calls/s one ``save`` per call made SQLite refuse writes ("database is locked").
    A failed batch stays queued and is tried again; a record is never dropped silently."""

    name = "call-record-writer"

    def __init__(self, store: PbxStore, interval: float) -> None:
        super().__init__(store, interval)
        self._queue: list[CallRecord] = []

    def add(self, record: CallRecord) -> None:
        self._queue.append(record)
        self._wakeup.set()

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def flush(self) -> None:
        if not self._queue:
            return
        batch, self._queue = self._queue, []
        try:
            await self.store.save_call_records(batch)
        except Exception:
            logger.exception("writing %d call records failed; will retry", len(batch))
            self._queue = batch + self._queue
            self._wakeup.set()
