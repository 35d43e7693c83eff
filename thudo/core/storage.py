"""Stored files that no row refers to any more, swept after a grace period."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.core.files.storage import default_storage
from django.utils import timezone


def unreferenced_files_sweep(
    *, root: str, referenced: Callable[[list[str]], set[str]], older_than: timedelta
) -> int:
    """Delete the files in `root/<folder>/` that `referenced(paths)` does not return.

    Files are left when a caller's transaction rolled back after they were written, or a
    process died between file and row. Only files older than `older_than` are touched, so a
    write in progress is never swept. Returns how many were deleted."""
    storage = default_storage
    cutoff = timezone.now() - older_than
    try:
        folders, _files = storage.listdir(root)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    deleted = 0
    for folder in folders:
        _sub, names = storage.listdir(f"{root}/{folder}")
        paths = [f"{root}/{folder}/{name}" for name in names]
        known = referenced(paths) if paths else set()
        for path in paths:
            if path in known or storage.get_modified_time(path) > cutoff:
                continue
            storage.delete(path)
            deleted += 1
    return deleted
