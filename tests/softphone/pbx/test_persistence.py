"""Write-behind persistence: call records are batched and never dropped when a write fails."""

from __future__ import annotations

import asyncio

from softphone.pbx.cdr import CallDirection, CallRecord
from softphone.pbx.persistence import CallRecordWriter
from softphone.pbx.storage import MemoryStore


class FlakyStore(MemoryStore):
    """Refuses the first ``failures`` batches, like a locked SQLite database."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.batches: list[int] = []

    async def save_call_records(self, records: list[CallRecord]) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database is locked")
        self.batches.append(len(records))
        await super().save_call_records(records)


def record(number: int) -> CallRecord:
    return CallRecord(call_id=f"c{number}", direction=CallDirection.INTERNAL,
                      caller_number="201", callee_number="202", started_at=float(number))


async def test_records_are_written_in_batches_and_kept_when_a_write_fails() -> None:
    store = FlakyStore(failures=2)
    writer = CallRecordWriter(store, interval=0.01)
    writer.start()
    for number in range(5):
        writer.add(record(number))
    for _ in range(200):
        if len(store.call_records) == 5:
            break
        await asyncio.sleep(0.01)
    writer.add(record(5))
    await writer.stop()  # flushes what is left
    assert [r.call_id for r in store.call_records] == [f"c{n}" for n in range(6)]
    assert store.batches[0] == 5  # the five came in one batch, after two refusals
    assert writer.pending == 0
