"""Archiving old log entries: their content moves to a gzip file of JSON lines, their leaf
hashes and the tree stay, so every proof keeps working and `verify-log --archive FILE` can
still recompute the archived entries' hashes (docs/exchange-log.md)."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Min
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from thudo.core.audit import audit_record
from thudo.core.errors import ValidationFailed

from . import log, merkle
from .models import LogEntry

CHUNK = 5000


def archive(*, before: datetime, to: Path | str, actor: Any = None) -> int:
    """Write every entry logged before `before` that is not archived yet to `to` (gzip JSON
    lines: a header line, then {"index", "entry", "leaf_hash" (hex), …} per entry) and its
    SHA-256 to `to`.sha256, then blank those entries' content and mark them archived.
    Returns how many entries were archived (0: nothing written).

    A tree head is signed first, so everything archived is covered by a signed head. Refuses
    (ValidationFailed, nothing written or changed) an existing file, or an entry whose content
    no longer matches its leaf hash."""
    to = Path(to)
    checksum = log.archive_checksum_path(to)
    if to.exists() or checksum.exists():
        raise ValidationFailed(fields={"to": _("This file already exists; choose a new name.")})
    if not to.parent.is_dir():
        raise ValidationFailed(fields={"to": _("This folder does not exist.")})
    if timezone.is_naive(before):
        before = timezone.make_aware(before)
    before = min(before, timezone.now())

    log.sign_tree_head()
    selection = LogEntry.objects.filter(archived=False, logged_at__lt=before)
    span = selection.aggregate(first=Min("index"), last=Max("index"), count=Count("id"))
    if not span["count"]:
        return 0
    first, last, count = int(span["first"]), int(span["last"]), int(span["count"])
    selection = selection.filter(index__gte=first, index__lte=last)

    partial = to.with_name(f".{to.name}.partial")
    try:
        written = _write(partial, selection, first=first, last=last, count=count, before=before)
        if written != count:
            raise ValidationFailed(
                _("Entries changed while they were being archived; run the archive again.")
            )
        digest = log.file_sha256(partial)
        os.replace(partial, to)
        checksum.write_text(f"{digest}  {to.name}\n")
        with transaction.atomic():
            updated = selection.update(entry="", archived=True)
            if updated != count:
                raise ValidationFailed(
                    _("Another archive run took some of these entries; nothing was archived.")
                )
            audit_record(
                actor=actor or "thudo exchange archive",
                action="exchange.log_archived",
                object_type="exchange.logentry",
                object_id=f"{first}-{last}",
                object_repr=f"log entries #{first}–#{last}",
                data={
                    "first": first,
                    "last": last,
                    "count": count,
                    "before": before.isoformat(),
                    "file": to.name,
                    "sha256": digest,
                },
            )
    except BaseException:
        for path in (partial, to, checksum):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        raise
    return count


def _write(
    path: Path, selection: Any, *, first: int, last: int, count: int, before: datetime
) -> int:
    header = {
        "typ": log.ARCHIVE_TYPE,
        "v": 1,
        "node": settings.EXCHANGE_NODE_CODE,
        "first": first,
        "last": last,
        "count": count,
        "before": log.iso(before),
        "created": log.iso(timezone.now()),
    }
    written = 0
    after = first - 1
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as out:
        out.write(json.dumps(header, ensure_ascii=False).encode() + b"\n")
        while True:
            rows = list(
                selection.filter(index__gt=after)
                .order_by("index")
                .values_list(
                    "index", "entry", "leaf_hash", "message_id", "kind", "subject", "logged_at"
                )[:CHUNK]
            )
            if not rows:
                break
            for index, entry, leaf_hash, message_id, kind, subject, logged_at in rows:
                leaf = bytes(leaf_hash)
                if merkle.leaf_hash(entry.encode()) != leaf:
                    raise ValidationFailed(
                        _(
                            "Entry %(index)s no longer matches its leaf hash; run "
                            "`thudo exchange verify-log` before archiving."
                        )
                        % {"index": index}
                    )
                line = {
                    "index": index,
                    "entry": entry,
                    "leaf_hash": leaf.hex(),
                    "message_id": message_id,
                    "kind": kind,
                    "subject": subject,
                    "logged_at": log.iso(logged_at),
                }
                out.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
                written += 1
            after = rows[-1][0]
        out.flush()
        raw.flush()
        os.fsync(raw.fileno())
    return written
