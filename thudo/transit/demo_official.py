"""The demo city's bus operator (a DemoStep after the accounts and transit demos):
``dieuhanh.vantai``, Role.TRANSIT_OPERATOR at the Department of Construction (HN-SXD), with the
published demo password and authenticator key (`accounts.demo`), and one service alert in
force — road works that send a route of the demo network on a detour (through H5's
`alerts.alert_create`, so it has its audit row). Idempotent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from thudo.accounts.demo import DEMO_PASSWORD, demo_totp_key
from thudo.accounts.models import Agency, Membership, User
from thudo.accounts.roles import Role

from .models import Feed, Route, ServiceAlert

USERNAME = "dieuhanh.vantai"
FULL_NAME = "Phan Thị Hồng Nhung"
AGENCY_CODE = "HN-SXD"  # Sở Xây dựng: public transport is the Department of Construction's
ALERT_ROUTE = "32"  # the route the road works affect, when the network has it
ALERT_DAYS = 21


def _say(stdout: Any, message: str) -> None:
    if stdout:
        stdout.write(message)


@transaction.atomic
def demo_load(stdout: Any = None) -> None:
    agency = Agency.objects.filter(code=AGENCY_CODE).first()
    if agency is None:
        _say(stdout, f"  transit operator: agency {AGENCY_CODE} missing (load the accounts demo)")
        return
    user, created = User.objects.get_or_create(
        username=USERNAME,
        defaults={
            "full_name": FULL_NAME,
            "kind": User.Kind.OFFICIAL,
            "password": make_password(DEMO_PASSWORD),
            "email": f"{USERNAME}@demo.thudo.vn",
        },
    )
    Membership.objects.get_or_create(user=user, agency=agency, role=Role.TRANSIT_OPERATOR)
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        TOTPDevice.objects.create(
            user=user, name="demo", confirmed=True, key=demo_totp_key(USERNAME)
        )
    _say(stdout, f"  transit operator: {USERNAME} ({'new' if created else 'kept'})")
    _demo_alert(user, stdout)


def _demo_alert(user: User, stdout: Any) -> None:
    if ServiceAlert.objects.exists():
        return  # the operator's own alerts (or ours, from an earlier run) stay as they are
    feed = Feed.objects.filter(status=Feed.Status.ACTIVE).first()
    if feed is None:
        _say(stdout, "  transit alert: no timetable switched on (load the transit demo first)")
        return
    routes = Route.objects.filter(feed=feed)
    route = routes.filter(short_name=ALERT_ROUTE).first() or routes.first()
    if route is None:
        return
    from . import alerts  # H5's services

    now = timezone.now()
    number = route.short_name or route.route_id
    alerts.alert_create(
        actor=user,
        header=f"Tuyến {number} đi vòng do thi công đường",
        header_en=f"Route {number} detoured for road works",
        description=(
            f"Từ nay đến hết ngày {(now + timedelta(days=ALERT_DAYS)):%d/%m}, do thi công cải tạo "
            f"hè phố và cống thoát nước, xe buýt tuyến {number} đi vòng qua các phố lân cận. "
            "Một số điểm dừng trên đoạn thi công tạm dừng phục vụ; hành khách vui lòng đón xe "
            "tại điểm dừng gần nhất. Thời gian chạy xe có thể dài hơn 5–10 phút vào giờ cao điểm."
        ),
        description_en=(
            f"Until {(now + timedelta(days=ALERT_DAYS)):%d %B}, pavement and drainage works send "
            f"route {number} along nearby streets. Some stops on the works section are not "
            "served; please board at the nearest open stop. Trips may take 5–10 minutes longer "
            "at peak hours."
        ),
        cause=ServiceAlert.Cause.CONSTRUCTION,
        effect=ServiceAlert.Effect.DETOUR,
        severity=ServiceAlert.Severity.WARNING,
        route_ids=[route.route_id],
        active_from=now - timedelta(days=1),
        active_until=now + timedelta(days=ALERT_DAYS),
    )
    _say(stdout, f"  transit alert: road works on route {number}")
