"""`thudo exchange verify-log | sign-tree-head | archive`: the log's subcommands.

thudo exchange verify-log [--archive FILE ...]   exit 0 when intact, 1 naming the first
                                                 bad entry and why
thudo exchange sign-tree-head                    sign the current size and root (if grown)
thudo exchange archive --before YYYY-MM-DD --to FILE
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from django.utils import timezone

from thudo.core.errors import ThudoError

from . import log


def register(subparsers: Any) -> None:
    """Add this module's subcommands; each sets `func(options, stdout) -> int`."""
    verify = subparsers.add_parser(
        "verify-log",
        help="recompute the whole log; exit 1 naming the first edited, deleted or reordered entry",
    )
    verify.add_argument(
        "--archive",
        dest="archives",
        action="append",
        default=[],
        metavar="FILE",
        help="an archive file written by `archive` (repeatable): recheck those entries too",
    )
    verify.set_defaults(func=verify_log_command)

    sign = subparsers.add_parser(
        "sign-tree-head", help="sign the log's current size and root, if it grew"
    )
    sign.set_defaults(func=sign_tree_head_command)

    arch = subparsers.add_parser(
        "archive",
        help="move the content of entries logged before a date to a file (proofs keep working)",
    )
    arch.add_argument(
        "--before",
        required=True,
        type=_date,
        metavar="YYYY-MM-DD",
        help="archive entries logged before this day (00:00 in the site's time zone)",
    )
    arch.add_argument(
        "--to", dest="to", required=True, metavar="FILE", help="the new archive file (.jsonl.gz)"
    )
    arch.set_defaults(func=archive_command)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def verify_log_command(options: dict[str, Any], stdout: Any) -> int:
    archives = [Path(p) for p in options.get("archives") or []]
    result = log.verify_log(archives=archives)
    recomputed = result.entries_checked - result.archived_checked - result.archived_unchecked
    summary = (
        f"{result.tree_size} entries ({recomputed} "
        f"recomputed from their content, {result.archived_checked} from archives, "
        f"{result.archived_unchecked} archived and not checked), {result.nodes_checked} "
        f"tree hashes, {result.heads_checked} signed tree heads"
    )
    if result.ok:
        stdout.write(f"Log intact: {summary}.")
        if result.latest_head_size is None:
            stdout.write("No signed tree head yet: run `thudo exchange sign-tree-head`.")
        elif result.unsigned_entries:
            stdout.write(
                f"The latest signed head has size {result.latest_head_size}; "
                f"{result.unsigned_entries} newer entries are not signed yet."
            )
        if result.archived_unchecked:
            stdout.write(
                f"{result.archived_unchecked} archived entries were not checked: "
                "give their archive files with --archive FILE."
            )
        return 0
    first = result.first
    assert first is not None
    stdout.write(f"Log NOT intact: first bad {first}")
    stdout.write(f"Checked {summary}.")
    if len(result.problems) > 1:
        stdout.write(f"All problems found ({len(result.problems)}):")
        for problem in sorted(
            result.problems, key=lambda p: (p.index is None, p.index or 0, p.kind)
        ):
            stdout.write(f"  - {problem}")
    return 1


def sign_tree_head_command(options: dict[str, Any], stdout: Any) -> int:
    head = log.sign_tree_head()
    if head is None:
        latest = log.latest_tree_head()
        size = log.tree_size()
        if latest is not None and size < latest.tree_size:
            stdout.write(
                f"NOT signed: the log has {size} entries, fewer than the signed head of size "
                f"{latest.tree_size}. Run `thudo exchange verify-log`."
            )
            return 1
        stdout.write(
            f"Nothing new to sign: {size} entries"
            + (f", signed head of size {latest.tree_size}." if latest else ".")
        )
        return 0
    stdout.write(
        f"Signed tree head: size {head.tree_size}, root {log.b64(bytes(head.root_hash))}, "
        f"at {log.iso(head.timestamp)}."
    )
    return 0


def archive_command(options: dict[str, Any], stdout: Any) -> int:
    from .archive import archive

    day: date = options["before"]
    before = timezone.make_aware(datetime.combine(day, time.min))
    to = Path(options["to"])
    try:
        count = archive(before=before, to=to)
    except ThudoError as exc:
        body = exc.as_dict()
        reasons = [f"{name}: {m}" for name, ms in body["fields"].items() for m in ms]
        stdout.write("Archive failed: " + ("; ".join(reasons) or body["message"]))
        return 1
    if not count:
        stdout.write(f"Nothing to archive: no unarchived entry was logged before {day}.")
        return 0
    stdout.write(
        f"Archived {count} entries to {to} (SHA-256 in {log.archive_checksum_path(to).name}). "
        "Keep the file: `verify-log --archive` rechecks them."
    )
    return 0
