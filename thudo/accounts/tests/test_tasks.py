from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from thudo.accounts import tasks
from thudo.accounts.models import LoginThrottle


@pytest.mark.django_db
def test_purge_login_throttles_deletes_only_old_unlocked_rows() -> None:
    now = timezone.now()
    old = now - timedelta(hours=25)
    recent = now - timedelta(hours=23)
    rows = {
        "old, never locked": (old, None),
        "old, lock expired": (old, now - timedelta(hours=24, minutes=45)),
        "old, still locked": (old, now + timedelta(minutes=5)),
        "recent, never locked": (recent, None),
        "recent, lock expired": (recent, now - timedelta(hours=22)),
        "no failure time": (None, None),
    }
    for key, (last_failure_at, blocked_until) in rows.items():
        LoginThrottle.objects.create(
            key=key, failures=3, last_failure_at=last_failure_at, blocked_until=blocked_until
        )

    assert settings.CELERY_TASK_ALWAYS_EAGER  # ordinary tests run tasks in-process
    deleted = tasks.purge_login_throttles.delay().get()

    assert deleted == 2
    assert set(LoginThrottle.objects.values_list("key", flat=True)) == {
        "old, still locked",
        "recent, never locked",
        "recent, lock expired",
        "no failure time",
    }
