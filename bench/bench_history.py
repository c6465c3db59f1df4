"""Call history page with 100,000 call records: how long the page takes, in total and in SQL.

A fresh database is filled with 150 extensions, 600 contacts (company phonebook and one
extension's personal ones) and 100,000 call records over 90 days: the reception (201) is part
of a fifth of all calls (~20,000), every other extension of ~1,300. Then the history page is
fetched through Django's test client (URL routing, session, queries, name lookup, template)
for each filter, a name search, a number search, a date range and a deep page, and the
figures printed: p50/p95/max of the whole request and of the time spent in SQL.

    .venv/bin/python bench/bench_history.py                       # SQLite (temporary file)
    .venv/bin/python bench/bench_history.py --postgres postgres://postgres@127.0.0.1:5432
        # PostgreSQL: creates the database bench_history_<pid> there and drops it afterwards

Target (issue #8): p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RECORDS = 100_000
EXTENSIONS = 150
RECEPTION = "201"
UNUSABLE = "!"  # Django's mark for "no password": nobody logs in with these


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="URL",
                        help="server URL without a database name, e.g. "
                             "postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--records", type=int, default=RECORDS)
    parser.add_argument("--rounds", type=int, default=100, help="requests per scenario")
    return parser.parse_args()


@contextmanager
def database(postgres: str | None) -> Iterator[str]:
    """A DATABASE_URL for an empty database that is gone afterwards."""
    if not postgres:
        with tempfile.TemporaryDirectory(prefix="bench-history-") as folder:
            yield f"sqlite:///{folder}/bench.sqlite3"
        return
    import psycopg

    name = f"bench_history_{os.getpid()}"
    admin = f"{postgres.rstrip('/')}/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{postgres.rstrip('/')}/{name}"
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fill(records: int) -> None:
    from pbxweb.accounts.models import Extension
    from pbxweb.directory.models import Contact
    from pbxweb.history.models import CallRecord, Direction, Disposition

    rng = random.Random(8)
    numbers = [str(n) for n in range(201, 201 + EXTENSIONS)]
    Extension.objects.bulk_create([
        Extension(number=number, first_name=f"Dienst {number}", last_name="Invented",
                  mobile=f"+3247{rng.randrange(10**7):07d}" if rng.random() < 0.5 else "",
                  password=UNUSABLE) for number in numbers])
    outside = [f"+325{rng.randrange(10**7):07d}" for _ in range(3000)] + \
              [f"+324{rng.randrange(10**8):08d}" for _ in range(3000)]
    reception = Extension.objects.get(number=RECEPTION)
    contacts = [Contact(name=f"Firma {i} Invented", company=f"Bedrijf {i % 50}",
                        work_number=outside[i]) for i in range(500)]
    contacts += [Contact(owner=reception, name=f"Persoon {i} Invented",
                         mobile_number=outside[3000 + i]) for i in range(100)]
    for contact in contacts:
        contact.refresh_number_keys()
    Contact.objects.bulk_create(contacts)

    start = datetime(2026, 8, 1, tzinfo=UTC)
    dispositions = [Disposition.ANSWERED] * 7 + [Disposition.MISSED, Disposition.BUSY,
                                                 Disposition.CANCELLED]
    batch = []
    for i in range(records):
        this = RECEPTION if rng.random() < 0.2 else rng.choice(numbers)
        kind = rng.random()
        if kind < 0.4:  # internal
            other = rng.choice(numbers)
            caller, callee = (this, other) if rng.random() < 0.5 else (other, this)
            caller_ext, callee_ext, direction = caller, callee, Direction.INTERNAL
        elif kind < 0.75:  # from outside
            caller, callee = rng.choice(outside), this
            caller_ext, callee_ext, direction = None, callee, Direction.INBOUND
        else:
            caller, callee = this, rng.choice(outside)
            caller_ext, callee_ext, direction = caller, None, Direction.OUTBOUND
        disposition = rng.choice(dispositions)
        started = start + timedelta(seconds=i * 77.76)  # 100,000 calls over 90 days
        answered = disposition == Disposition.ANSWERED
        batch.append(CallRecord(
            call_id=f"bench-{i}", direction=direction, caller_number=caller,
            callee_number=callee, caller_extension=caller_ext, callee_extension=callee_ext,
            started_at=started, answered_at=started + timedelta(seconds=4) if answered else None,
            ended_at=started + timedelta(seconds=90), duration_seconds=86.0 if answered else 0,
            answered_by=callee if answered else "", disposition=disposition,
            seen=rng.random() < 0.9))
        if len(batch) == 5000:
            CallRecord.objects.bulk_create(batch)
            batch = []
    CallRecord.objects.bulk_create(batch)


class SqlTimer:
    """Sums the time spent in the database driver (connection.execute_wrapper)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.queries = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool,
                 context: Any) -> Any:
        begin = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - begin
            self.queries += 1


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(rounds: int) -> None:
    from django.db import connection
    from django.test import Client

    from pbxweb.accounts.models import Extension
    from pbxweb.history.models import CallRecord

    scenarios: list[tuple[str, str, dict[str, str]]] = [
        ("all calls, page 1", RECEPTION, {}),
        ("missed (marks seen)", RECEPTION, {"kind": "missed"}),
        ("incoming", RECEPTION, {"kind": "incoming"}),
        ("outgoing", RECEPTION, {"kind": "outgoing"}),
        ("aborted", RECEPTION, {"kind": "aborted"}),
        ("search by name", RECEPTION, {"q": "Firma 12"}),
        ("search by number", RECEPTION, {"q": "0470"}),
        ("date range (1 week)", RECEPTION, {"date_from": "2026-09-01",
                                            "date_to": "2026-09-07"}),
        ("all calls, page 100", RECEPTION, {"page": "100"}),
        ("typical extension, all", "250", {}),
        ("typical extension, missed", "250", {"kind": "missed"}),
    ]
    counts = {number: CallRecord.objects.for_extension(number).count()
              for number in (RECEPTION, "250")}
    print(f"{connection.vendor}: {CallRecord.objects.count():,} call records; "
          f"{RECEPTION} has {counts[RECEPTION]:,}, 250 has {counts['250']:,}")
    print(f"{'scenario':28} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'sql p95':>8} "
          f"{'queries':>7}")
    worst = 0.0
    for label, number, params in scenarios:
        client = Client()
        client.force_login(Extension.objects.get(number=number))
        client.get("/webclient/history/", params)  # warm up (templates, caches)
        totals, sqls, queries = [], [], 0
        for _ in range(rounds):
            timer = SqlTimer()
            with connection.execute_wrapper(timer):
                begin = time.perf_counter()
                response = client.get("/webclient/history/", params)
                totals.append((time.perf_counter() - begin) * 1000)
            assert response.status_code == 200, response.status_code
            sqls.append(timer.seconds * 1000)
            queries = timer.queries
        p95 = percentile(totals, 0.95)
        worst = max(worst, p95)
        print(f"{label:28} {statistics.median(totals):7.1f} {p95:7.1f} {max(totals):7.1f} "
              f"{percentile(sqls, 0.95):8.1f} {queries:7}")
    print(f"worst p95 of the whole request: {worst:.1f} ms (target < 100 ms)")


def main() -> None:
    args = parse_args()
    with database(args.postgres) as url:
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pbxweb.settings")
        os.environ.setdefault("ALLOWED_HOSTS", "testserver")
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        import django
        from django.core.management import call_command

        django.setup()
        from django.conf import settings

        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
        call_command("migrate", verbosity=0)
        begin = time.perf_counter()
        fill(args.records)
        if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        print(f"filled in {time.perf_counter() - begin:.0f} s")
        measure(args.rounds)


if __name__ == "__main__":
    main()
