from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from thudo.core.registry import Registry, registry


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    """The live registry, with whatever a test registers removed afterwards."""
    monkeypatch.setattr(registry, "_manifests", dict(registry._manifests))
    yield registry


MakeUser = Callable[..., Any]


@pytest.fixture
def make_user(django_user_model: Any) -> MakeUser:
    """make_user(kind="official", is_staff=True, ...) -> a saved user with a unique username."""
    counter = iter(range(1, 10_000))

    def make(**fields: Any) -> Any:
        n = next(counter)
        fields.setdefault("username", f"user{n}")
        return django_user_model.objects.create_user(password="x-Secret-42", **fields)

    return make
