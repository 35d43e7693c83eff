"""Helpers for tests that need a real server or program.

On a developer's machine without the server such a test skips with a clear reason; where
THUDO_REQUIRE_SERVICES=1 (CI) a missing server fails the test instead, so CI cannot go green by
skipping what it must prove.
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest


def services_required() -> bool:
    return os.environ.get("THUDO_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}


def _missing(reason: str) -> None:
    if services_required():
        pytest.fail(f"{reason} (THUDO_REQUIRE_SERVICES=1, so this is a failure, not a skip)")
    pytest.skip(reason)


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or, in CI, fail) unless something listens at host:port."""
    if not port_open(host, port):
        _missing(f"{name} is not reachable at {host}:{port}")


def require_program(path_or_name: str, why: str = "") -> str:
    """Skip (or, in CI, fail) unless the program exists; returns its path."""
    found = (
        path_or_name
        if os.path.isabs(path_or_name) and os.path.exists(path_or_name)
        else shutil.which(path_or_name)
    )
    if not found:
        _missing(f"{path_or_name} is not installed{': ' + why if why else ''}")
    return str(found)
