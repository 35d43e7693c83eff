"""Dossier codes: `<receiving unit code>-YYMMDD-XXXX` (Circular 01/2018, art. 19).

XXXX is the day's sequence at the receiving unit, counted in `DossierCounter`. The counter is
incremented inside the submitting transaction, so a submission that fails gives its number back
and the day's codes have no gaps:

- PostgreSQL: one ``INSERT ... ON CONFLICT (agency_id, day) DO UPDATE SET last = last + 1
  RETURNING last`` inserts the day's row or increments it under its row lock; concurrent
  submitters queue on that lock until the holder's transaction ends.
- SQLite: ``FOR UPDATE`` does not exist, but every transaction starts ``IMMEDIATE``
  (config/settings/base.py), so writers are already serialised for the whole transaction.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from thudo.accounts.models import Agency

from .models import DossierCounter

CODE_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
CODE_PATTERN = re.compile(r"^(?P<unit>\S{1,40})-(?P<day>\d{6})-(?P<seq>\d{4,})$")


def code_day(moment: datetime) -> date:
    """The calendar day a dossier code counts in: the local day in Vietnam."""
    return moment.astimezone(CODE_ZONE).date()


def code_format(*, agency_code: str, day: date, number: int) -> str:
    return f"{agency_code}-{day:%y%m%d}-{number:04d}"


def dossier_code_allocate(*, agency: Agency, moment: datetime) -> str:
    """The next code of `agency` on the local day of `moment`. Call it inside the transaction
    that stores the dossier: the number is taken for good only when that transaction commits."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("dossier_code_allocate must run inside the submitting transaction.")
    day = code_day(moment)
    # One statement on both engines: insert the day's row or increment it, and read the new
    # number back. On PostgreSQL the upsert takes the row lock (a concurrent submitter waits
    # for this transaction to end, then increments after it); under SQLite's IMMEDIATE
    # transactions nobody else is writing anyway.
    qn = connection.ops.quote_name
    table, last = qn(DossierCounter._meta.db_table), qn("last")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({qn('agency_id')}, {qn('day')}, {last}) "  # noqa: S608
            f"VALUES (%s, %s, 1) ON CONFLICT ({qn('agency_id')}, {qn('day')}) "
            f"DO UPDATE SET {last} = {table}.{last} + 1 RETURNING {last}",
            [agency.pk, connection.ops.adapt_datefield_value(day)],
        )
        number = int(cursor.fetchone()[0])
    return code_format(agency_code=agency.code, day=day, number=number)


def code_parse(code: str) -> tuple[str, date, int] | None:
    """(unit code, day, sequence) of a well-formed code, else None."""
    match = CODE_PATTERN.match(code.strip())
    if match is None:
        return None
    try:
        day = datetime.strptime(match["day"], "%y%m%d").date()  # noqa: DTZ007 — a date only
    except ValueError:
        return None
    return match["unit"], day, int(match["seq"])
