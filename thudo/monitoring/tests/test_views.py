"""The monitoring pages: who may open them, what they show (the headline, the charts with the
tables behind them, the ranking, the wards' heat table, the overdue work, the DTI), the report
form's refusals field by field, approval and return, the evidence download, the CSV, XLSX and PDF
answers, and a fixed number of queries on the overview whatever the number of targets."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from defusedxml import ElementTree as ET
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from thudo.accounts.roles import Role
from thudo.accounts.testing import login_verified
from thudo.monitoring import views
from thudo.monitoring.menus import LEADER_MENU, MENU, OFFICIAL_MENU
from thudo.monitoring.models import (
    DtiComponent,
    Pillar,
    ReportedValue,
    Status,
    Target,
)
from thudo.monitoring.tests import factories
from thudo.monitoring.tests.factories import (
    evidence,
    make_indicator,
    make_target,
    make_task,
    png_bytes,
    snap,
    upload,
)

# The domain's fixtures (assigned, not imported, so that test arguments may share the names).
mon = factories.mon
media_root = factories.media_root

pytestmark = pytest.mark.django_db
D = Decimal
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(autouse=True)
def english() -> Any:
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def empty_cache() -> Any:
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def _as(client: Any, user: Any) -> Any:
    login_verified(client, user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _evaluated(
    target: Target, status: str, current: str | None, forecast: str | None = None
) -> None:
    Target.objects.filter(pk=target.pk).update(
        status=status,
        current_value=D(current) if current is not None else None,
        forecast_value=D(forecast) if forecast is not None else None,
        evaluated_at=timezone.now(),
    )


def _svgs(html: str) -> list[Any]:
    return [
        ET.fromstring(m)
        for m in re.findall(r'<svg [^>]*class="mon-chart-svg".*?</svg>', html, flags=re.S)
    ]


def _submit(mon: Any, **changes: Any) -> ReportedValue:
    from thudo.monitoring import services

    data = {
        "user": mon.reporter,
        "indicator": mon.broadband_ind,
        "period": mon.current,
        "value": D("72.5"),
        "unit": "%",
        "evidence": evidence(),
        "note": "Số liệu của VNPT và Viettel.",
    }
    data.update(changes)
    return services.reported_value_submit(**data)


# --- access and menus ------------------------------------------------------------------------

DASHBOARDS: list[tuple[str, list[str]]] = [
    ("monitoring:overview", []),
    ("monitoring:ranking", []),
    ("monitoring:wards", []),
    ("monitoring:overdue", []),
    ("monitoring:dti", []),
]


def test_dashboards_need_a_verified_official_with_the_dashboard_permission(
    client: Any, mon: Any, citizen: Any
) -> None:
    urls = [reverse(name, args=args) for name, args in DASHBOARDS] + [
        reverse("monitoring:pillar", args=[mon.pillar.code]),
        reverse("monitoring:target", args=[mon.online.code]),
        reverse("monitoring:ward", args=["00070"]),
        reverse("monitoring:monthly_pdf"),
    ]
    for url in urls:
        assert client.get(url).status_code == 302, url  # to the sign-in page
    client.force_login(citizen)
    for url in urls:
        assert client.get(url).status_code == 403, url
    client.force_login(mon.leader)  # password only, no second factor
    assert client.get(urls[0]).status_code == 403
    c = _as(client, mon.outsider)  # a receiving officer: no dashboards
    for url in urls:
        assert c.get(url).status_code == 403, url
    c = _as(client, mon.leader)  # an approver: dashboards, no reporting
    for url in urls[:-1]:
        assert c.get(url).status_code == 200, url
    assert c.get(reverse("monitoring:report")).status_code == 403
    assert c.get(reverse("monitoring:review")).status_code == 403
    assert c.get(reverse("monitoring:report_form", args=["ho-cap-quang"])).status_code == 403


def test_reporting_pages_need_the_monitoring_permission(
    client: Any, mon: Any, citizen: Any
) -> None:
    report = reverse("monitoring:report")
    review = reverse("monitoring:review")
    client.force_login(citizen)
    assert client.get(report).status_code == 403
    assert client.get(review).status_code == 403
    c = _as(client, mon.reporter)
    assert c.get(report).status_code == 200
    assert c.get(review).status_code == 200  # nothing to review for a department
    c = _as(client, mon.office)
    assert c.get(review).status_code == 200


def test_menu_entries() -> None:
    for entry in MENU:
        assert reverse(entry.url_name)
    assert [(e.url_name, e.audience, e.permission) for e in LEADER_MENU] == [
        ("monitoring:overview", "leader", "dashboard.view"),
    ]
    assert [(e.url_name, e.audience, e.permission) for e in OFFICIAL_MENU] == [
        ("monitoring:report", "official", "monitoring.report"),
        ("monitoring:review", "official", "monitoring.report"),
    ]
    assert reverse("monitoring:overview") == "/monitoring/"
    assert reverse("monitoring:monthly_pdf") == "/monitoring/monthly.pdf"


def test_unknown_objects_are_404(client: Any, mon: Any) -> None:
    c = _as(client, mon.office)
    assert c.get(reverse("monitoring:pillar", args=["nope"])).status_code == 404
    assert c.get(reverse("monitoring:target", args=["nope"])).status_code == 404
    assert c.get(reverse("monitoring:ward", args=["99999"])).status_code == 404
    assert c.get(reverse("monitoring:report_form", args=["nope"])).status_code == 404
    assert c.get(reverse("monitoring:evidence", args=[999])).status_code == 404
    assert c.post(reverse("monitoring:approve", args=[999])).status_code == 404


def test_vietnamese_by_default(client: Any, mon: Any) -> None:
    login_verified(client, mon.leader)
    with translation.override("vi"):
        html = client.get(reverse("monitoring:overview")).content.decode()
    assert 'lang="vi"' in html
    assert "Nghị quyết 18-NQ/TU về chuyển đổi số" in html


# --- the overview, a pillar, a target --------------------------------------------------------


def test_overview_headline_counts_charts_and_targets(client: Any, mon: Any) -> None:
    _evaluated(mon.online, Status.ACHIEVED, "100", "100")
    _evaluated(mon.broadband, Status.AT_RISK, "61.5", "74")
    html = _as(client, mon.leader).get(reverse("monitoring:overview")).content.decode()
    assert "1 of 2 targets achieved" in html
    assert "Resolution 18-NQ/TU on digital transformation" in html  # the English name
    assert 'class="badge mon-status mon-status-achieved">Achieved<' in html
    assert 'class="badge mon-status mon-status-at_risk">At risk<' in html
    svgs = _svgs(html)
    assert len(svgs) == 2  # the status bar and the pillar's chart
    for svg in svgs:
        assert svg.get("role") == "img"
        assert svg.find("{http://www.w3.org/2000/svg}title") is not None
        assert svg.find("{http://www.w3.org/2000/svg}desc") is not None
    # Each chart is followed by the table of its numbers.
    assert html.count('<details class="mon-chart-data">') == 2
    assert '<th scope="row">Target dvc-truc-tuyen</th><td class="num">100</td>' in html
    assert '<th scope="row">Target cap-quang</th><td class="num">76.9</td>' in html
    assert '<th scope="row">Achieved</th><td class="num">1</td>' in html
    # The targets table: value, target, deadline, status, forecast.
    assert reverse("monitoring:target", args=["cap-quang"]) in html
    assert "61.5%" in html and "≥ 80%" in html and "74%" in html
    assert reverse("monitoring:pillar", args=["chinh-quyen-so"]) in html
    assert f"{reverse('monitoring:monthly_pdf')}?month=" in html
    assert "?format=csv" in html and "?format=xlsx" in html


def test_overview_without_a_programme(client: Any, make_agency: Any, make_official: Any) -> None:
    city = make_agency("HN", kind="city_committee")
    leader = make_official(Role.APPROVER, city)
    response = _as(client, leader).get(reverse("monitoring:overview"))
    assert response.status_code == 200
    assert "No digital-transformation programme has been set up yet." in response.content.decode()


def test_overview_queries_do_not_grow_with_the_targets(client: Any, mon: Any) -> None:
    c = _as(client, mon.leader)
    url = reverse("monitoring:overview")
    c.get(url)  # warm the session and the permission caches

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(url).status_code == 200
        return len(ctx.captured_queries)

    before = count()
    economy = Pillar.objects.create(
        programme=mon.programme, code="kinh-te-so", name="Kinh tế số", order=2
    )
    for n in range(12):
        pillar = economy if n % 2 else mon.pillar
        t = make_target(pillar, code=f"t-{n}", agency=mon.dept if n % 3 else mon.other)
        make_indicator(t, code=f"i-{n}", agency=mon.dept)
        _evaluated(t, [Status.ACHIEVED, Status.OFF_TRACK, Status.NO_DATA][n % 3], str(10 * n))
    after = count()
    assert after == before
    html = c.get(url).content.decode()
    assert "4 of 14 targets achieved" in html
    assert len(_svgs(html)) == 3


def test_pillar_page(client: Any, mon: Any) -> None:
    _evaluated(mon.online, Status.ON_TRACK, "70", "100")
    html = (
        _as(client, mon.leader)
        .get(reverse("monitoring:pillar", args=[mon.pillar.code]))
        .content.decode()
    )
    assert "Chính quyền số" in html
    assert "0 of 2 targets achieved" in html
    assert len(_svgs(html)) == 2
    assert '<th scope="row">On track</th><td class="num">1</td>' in html
    assert "Target dvc-truc-tuyen" in html and "Target cap-quang" in html


def test_target_page_line_chart_table_tasks_and_reported_values(client: Any, mon: Any) -> None:
    today = mon.today
    for n in range(6):
        snap(mon.online_ind, today - timedelta(days=30 * (5 - n)), 50 + 5 * n)
    snap(mon.online_ind, today - timedelta(days=10), None)
    _evaluated(mon.online, Status.ON_TRACK, "75", "96.5")
    make_task(mon.online, agency=mon.dept, due=today - timedelta(days=3), title="Nâng cấp cổng")
    make_task(mon.online, agency=mon.dept, due=today + timedelta(days=30), title="Đào tạo")
    html = (
        _as(client, mon.leader)
        .get(reverse("monitoring:target", args=[mon.online.code]))
        .content.decode()
    )
    [svg] = _svgs(html)
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "Target: 100%" in texts and "Forecast" in texts
    assert any(e.get("stroke-dasharray") for e in svg.iter())
    # The table behind the chart: every day, the target and the forecast.
    first = (today - timedelta(days=150)).strftime("%m/%d/%Y")
    assert f'<th scope="row">{first}</th><td class="num">50</td>' in html
    assert '<th scope="row">Target</th><td class="num">100</td>' in html
    assert "Forecast for" in html and '<td class="num">96.5</td>' in html
    assert html.count('<th scope="row">') >= 8
    # Tasks with owners and deadlines; the late one says so in words.
    assert "Nâng cấp cổng" in html and "Đào tạo" in html
    assert html.count('class="badge badge-late">Overdue<') == 1
    assert "Sở Khoa học và Công nghệ" in html


def test_target_page_reported_values_link_the_evidence_for_the_office_only(
    client: Any, mon: Any
) -> None:
    reported = _submit(mon)
    url = reverse("monitoring:target", args=[mon.broadband.code])
    link = reverse("monitoring:evidence", args=[reported.pk])
    html = _as(client, mon.office).get(url).content.decode()
    assert link in html and "Waiting for approval" in html and "72.5%" in html
    # A leader sees neither a value still waiting nor, once approved, its evidence.
    html = _as(client, mon.leader).get(url).content.decode()
    assert link not in html and "72.5%" not in html
    from thudo.monitoring import services

    services.reported_value_approve(user=mon.office2, reported=reported)
    html = _as(client, mon.leader).get(url).content.decode()
    assert link not in html and "72.5%" in html


# --- the ranking and the wards ---------------------------------------------------------------


@pytest.fixture
def dossiers(mon: Any, hanoi: Any, citizen: Any, make_agency: Any) -> Any:
    """Two ward committees with a few dossiers this month (the index reads columns)."""
    from thudo.core.models import AdminUnit
    from thudo.dossiers.models import Dossier
    from thudo.dossiers.models import Status as DossierStatus
    from thudo.procedures.models import Procedure, ProcedureVersion, Sector

    sector = Sector.objects.create(code="ho-tich", name="Hộ tịch", name_en="Civil status")
    proc = Procedure.objects.create(
        code="T-1",
        name="Đăng ký khai sinh",
        sector=sector,
        agency_kind="commune_committee",
        deadline_days="1.0",
        result_title="Giấy khai sinh",
    )
    version = ProcedureVersion.objects.create(procedure=proc, number=1, spec={"code": "T-1"})
    hoan_kiem = AdminUnit.objects.get(code="00070")
    other_unit = AdminUnit.objects.filter(parent=hanoi).exclude(code="00070").order_by("code")[0]
    ward_a = make_agency("HN-00070", unit=hoan_kiem, parent=mon.city, name="UBND Hoàn Kiếm")
    ward_b = make_agency(
        f"HN-{other_unit.code}", unit=other_unit, parent=mon.city, name="UBND phường B"
    )
    now = timezone.now()
    seq = {"n": 0}

    def make(agency: Any, unit: Any, *, on_time: bool, channel: str = "online") -> None:
        seq["n"] += 1
        submitted = now - timedelta(hours=5)
        Dossier.objects.create(
            code=f"X-{seq['n']:04d}",
            procedure=proc,
            version=version,
            applicant=citizen,
            applicant_name="Nguyễn Văn An",
            applicant_personal_id="001090123456",
            receiving_agency=agency,
            agency=agency,
            unit=unit,
            channel=channel,
            status=DossierStatus.RETURNED,
            submitted_at=submitted,
            received_at=submitted,
            settled_at=now - timedelta(hours=1),
            on_time=on_time,
        )

    for _ in range(9):
        make(ward_a, hoan_kiem, on_time=True)
    make(ward_a, hoan_kiem, on_time=False, channel="counter")  # 90% on time, 90% online
    make(ward_b, other_unit, on_time=True, channel="counter")
    make(ward_b, other_unit, on_time=False, channel="counter")  # 50%, 0% online
    return {"a": ward_a, "b": ward_b, "a_unit": hoan_kiem, "b_unit": other_unit}


def test_ranking_page_by_agency_and_by_ward(client: Any, mon: Any, dossiers: Any) -> None:
    c = _as(client, mon.leader)
    url = reverse("monitoring:ranking")
    html = c.get(url, {"period": "month", "order": "on_time"}).content.decode()
    assert html.index("UBND Hoàn Kiếm") < html.index("UBND phường B")
    [svg] = _svgs(html)
    assert any(t.text == "1. UBND Hoàn Kiếm" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    assert "90.0%" in html and "50.0%" in html
    html = c.get(url, {"period": "year", "group": "unit"}).content.decode()
    assert dossiers["a_unit"].name in html
    assert reverse("monitoring:ward", args=[dossiers["a_unit"].code]) in html
    assert "Every ward and commune, best first" in html


def test_ranking_csv_and_xlsx(client: Any, mon: Any, dossiers: Any) -> None:
    from openpyxl import load_workbook

    c = _as(client, mon.leader)
    url = reverse("monitoring:ranking")
    response = c.get(url, {"period": "month", "order": "on_time", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["Rank", "Code", "Agency"]
    assert rows[1][:3] == ["1", "HN-00070", "UBND Hoàn Kiếm"]
    response = c.get(url, {"period": "month", "order": "on_time", "format": "xlsx"})
    assert response["Content-Type"] == XLSX
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header = next(i for i, r in enumerate(values) if r[:3] == ["Rank", "Code", "Agency"])
    assert values[header + 1][1:3] == ["HN-00070", "UBND Hoàn Kiếm"]


def test_wards_heat_table_writes_the_numbers_and_bands(
    client: Any, mon: Any, dossiers: Any
) -> None:
    html = (
        _as(client, mon.leader)
        .get(reverse("monitoring:wards"), {"period": "month"})
        .content.decode()
    )
    name = dossiers["a_unit"].name
    row = re.search(
        rf"<tr>\s*<th scope=\"row\"><a [^>]*>{re.escape(name)}</a></th>(.*?)</tr>", html, re.S
    )
    assert row is not None
    cells = row.group(1)
    assert 'mon-heat mon-heat-good">90.0%<span class="visually-hidden"> (good)</span>' in cells
    assert 'mon-heat-none"><span aria-hidden="true">—</span>' in cells  # no reports
    row_b = re.search(
        rf"<th scope=\"row\"><a [^>]*>{re.escape(dossiers['b_unit'].name)}</a></th>(.*?)</tr>",
        html,
        re.S,
    )
    assert row_b is not None
    assert 'mon-heat-poor">50.0%' in row_b.group(1) and 'mon-heat-poor">0.0%' in row_b.group(1)
    assert "Good: 90% or more" in html  # the legend says what the colours mean
    assert html.count('<th scope="row"><a ') >= 100  # every ward of the city


def test_wards_csv(client: Any, mon: Any, dossiers: Any) -> None:
    response = _as(client, mon.leader).get(
        reverse("monitoring:wards"), {"period": "month", "format": "csv"}
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_code = {r[0]: r for r in rows[1:]}
    assert by_code["00070"][2] == "90.0"


def test_ward_drilldown(client: Any, mon: Any, dossiers: Any) -> None:
    html = (
        _as(client, mon.leader)
        .get(reverse("monitoring:ward", args=["00070"]), {"period": "month"})
        .content.decode()
    )
    assert dossiers["a_unit"].name in html
    assert "Handled by UBND Hoàn Kiếm." in html
    [svg] = _svgs(html)
    assert svg.get("role") == "img"
    assert '<th scope="row">Dossiers settled on time</th><td class="num">90</td>' in html


# --- overdue work ----------------------------------------------------------------------------


def test_overdue_lists_late_tasks_and_missing_reports_per_agency(client: Any, mon: Any) -> None:
    make_task(mon.online, agency=mon.dept, due=mon.today - timedelta(days=5), title="Việc trễ")
    make_task(mon.online, agency=mon.other, due=mon.today + timedelta(days=5), title="Chưa tới")
    mon.previous.due = mon.today - timedelta(days=1)
    mon.previous.save()
    c = _as(client, mon.leader)
    html = c.get(reverse("monitoring:overdue")).content.decode()
    assert "Việc trễ" in html and "Chưa tới" not in html
    assert "Report on Indicator ho-cap-quang" in html
    assert "Sở Khoa học và Công nghệ" in html
    response = c.get(reverse("monitoring:overdue"), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    kinds = sorted(r[2] for r in rows[1:])
    assert kinds == ["Indicator report", "Task"]
    assert rows[1][0] == "HN-SKHCN"


# --- reporting -------------------------------------------------------------------------------


def _form_url(mon: Any) -> str:
    return reverse("monitoring:report_form", args=[mon.broadband_ind.code])


def _post_value(client: Any, mon: Any, **changes: Any) -> Any:
    data: dict[str, Any] = {
        "period": mon.current.pk,
        "value": "72,5",
        "unit": "%",
        "evidence": evidence(),
        "note": "Theo số liệu nhà mạng.",
    }
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(_form_url(mon), data)


def test_report_page_lists_the_agencys_indicators_and_open_periods(client: Any, mon: Any) -> None:
    html = _as(client, mon.reporter).get(reverse("monitoring:report")).content.decode()
    assert "Indicator ho-cap-quang" in html
    assert "Indicator ty-le-truc-tuyen" not in html  # computed, not reported
    assert _form_url(mon) in html
    assert str(mon.current) in html
    html = _as(client, mon.other_reporter).get(reverse("monitoring:report")).content.decode()
    assert "Indicator ho-cap-quang" not in html
    assert "Your agency reports no indicator." in html


def test_report_page_queries_do_not_grow_with_the_indicators(client: Any, mon: Any) -> None:
    c = _as(client, mon.reporter)
    url = reverse("monitoring:report")
    c.get(url)  # warm the session and the permission caches

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(url).status_code == 200
        return len(ctx.captured_queries)

    before = count()
    for n in range(5):
        t = make_target(mon.pillar, code=f"t-{n}", agency=mon.dept)
        make_indicator(t, code=f"i-{n}", agency=mon.dept, kind="reported")
    assert count() == before
    html = c.get(url).content.decode()
    assert "Indicator i-4" in html and html.count(str(mon.current)) >= 6


def test_report_form_submits_a_value_for_approval(client: Any, mon: Any) -> None:
    c = _as(client, mon.reporter)
    html = c.get(_form_url(mon)).content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert f'<option value="{mon.current.pk}"' in html
    response = _post_value(c, mon)
    assert response.status_code == 302 and response["Location"] == reverse("monitoring:report")
    reported = ReportedValue.objects.get()
    assert reported.value == D("72.50") and reported.state == ReportedValue.State.SUBMITTED
    assert reported.evidence_name == "bao-cao.pdf"
    html = c.get(reverse("monitoring:report")).content.decode()
    assert "The value was sent to the monitoring office for approval." in html
    assert "Waiting for approval" in html


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"value": "150"}, "value", "at most 100"),
        ({"value": "-1"}, "value", "at least 0"),
        ({"value": "nhiều"}, "value", "Enter a number."),
        ({"unit": "points"}, "unit", "The unit must be %."),
        ({"evidence": None}, "evidence", "Attach the evidence"),
        ({"evidence": "text"}, "evidence", "not a PDF, JPEG, PNG or XLSX"),
    ],
)
def test_report_form_refusals_land_on_their_fields(
    client: Any, mon: Any, changes: dict[str, Any], field: str, message: str
) -> None:
    if changes.get("evidence") == "text":
        changes = {"evidence": upload("bao-cao.pdf", b"just some text", "application/pdf")}
    response = _post_value(_as(client, mon.reporter), mon, **changes)
    assert response.status_code == 422
    html = response.content.decode()
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in html
    assert 'id="error-summary"' in html and f'href="#id_{field}"' in html
    assert not ReportedValue.objects.exists()


def test_report_form_refuses_a_closed_period(client: Any, mon: Any) -> None:
    mon.current.closed_at = timezone.now()
    mon.current.save()
    c = _as(client, mon.reporter)
    html = c.get(_form_url(mon)).content.decode()
    assert f'<option value="{mon.current.pk}"' not in html  # not offered
    response = _post_value(c, mon)  # but sent anyway
    assert response.status_code == 422
    assert "period" in response.context["form"].errors
    assert not ReportedValue.objects.exists()


def test_report_form_refuses_a_second_value_while_one_waits(client: Any, mon: Any) -> None:
    _submit(mon)
    response = _post_value(_as(client, mon.reporter), mon, evidence=upload("a.png", png_bytes()))
    assert response.status_code == 422
    assert "period" in response.context["form"].errors


def test_another_agencys_indicator_is_refused(client: Any, mon: Any) -> None:
    c = _as(client, mon.other_reporter)
    assert c.get(_form_url(mon)).status_code == 403
    assert _post_value(c, mon).status_code == 403
    assert not ReportedValue.objects.exists()
    # A computed indicator cannot be reported at all.
    url = reverse("monitoring:report_form", args=[mon.online_ind.code])
    assert _as(client, mon.reporter).get(url).status_code == 404


# --- review ----------------------------------------------------------------------------------


def test_review_lists_waiting_values_with_their_evidence(client: Any, mon: Any) -> None:
    reported = _submit(mon)
    html = _as(client, mon.office).get(reverse("monitoring:review")).content.decode()
    assert "Indicator ho-cap-quang" in html and "72.5%" in html
    assert reverse("monitoring:evidence", args=[reported.pk]) in html
    assert reverse("monitoring:approve", args=[reported.pk]) in html
    assert reverse("monitoring:reject", args=[reported.pk]) in html
    html = _as(client, mon.reporter).get(reverse("monitoring:review")).content.decode()
    assert "Nothing is waiting for approval." in html


def test_approve(client: Any, mon: Any) -> None:
    reported = _submit(mon)
    c = _as(client, mon.office)
    response = c.post(reverse("monitoring:approve", args=[reported.pk]), {"note": "Đạt."})
    assert response.status_code == 302
    reported.refresh_from_db()
    assert reported.state == ReportedValue.State.APPROVED
    assert reported.reviewed_by == mon.office and reported.review_note == "Đạt."
    assert "The value was approved." in c.get(reverse("monitoring:review")).content.decode()
    # Approved already: no longer waiting.
    assert c.post(reverse("monitoring:approve", args=[reported.pk])).status_code == 404


def test_reject_needs_a_note(client: Any, mon: Any) -> None:
    reported = _submit(mon)
    c = _as(client, mon.office)
    url = reverse("monitoring:reject", args=[reported.pk])
    response = c.post(url, {"note": "  "})
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="error-summary"' in html
    assert f'href="#id_reject_{reported.pk}_note"' in html
    reported.refresh_from_db()
    assert reported.state == ReportedValue.State.SUBMITTED
    response = c.post(url, {"note": "Thiếu biên bản kiểm tra."})
    assert response.status_code == 302
    reported.refresh_from_db()
    assert reported.state == ReportedValue.State.REJECTED
    html = _as(client, mon.reporter).get(reverse("monitoring:report")).content.decode()
    assert "Returned" in html and "Thiếu biên bản kiểm tra." in html


def test_nobody_reviews_outside_the_office_or_their_own_value(client: Any, mon: Any) -> None:
    reported = _submit(mon)
    for user in (mon.reporter, mon.other_reporter):
        c = _as(client, user)
        assert c.post(reverse("monitoring:approve", args=[reported.pk])).status_code == 404
    assert (
        _as(client, mon.leader).post(reverse("monitoring:approve", args=[reported.pk])).status_code
        == 403
    )
    ReportedValue.objects.filter(pk=reported.pk).update(submitted_by=mon.office)
    c = _as(client, mon.office)
    assert c.post(reverse("monitoring:approve", args=[reported.pk])).status_code == 404
    reported.refresh_from_db()
    assert reported.state == ReportedValue.State.SUBMITTED
    assert c.get(reverse("monitoring:evidence", args=[reported.pk])).status_code == 200


def test_evidence_for_the_agency_and_the_office_only(client: Any, mon: Any) -> None:
    reported = _submit(mon)
    url = reverse("monitoring:evidence", args=[reported.pk])
    for user in (mon.office, mon.reporter):
        response = _as(client, user).get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith("attachment;")
        assert b"".join(response.streaming_content).startswith(b"%PDF")
    for user in (mon.other_reporter, mon.leader):
        assert _as(client, user).get(url).status_code == 403
    client.logout()
    assert client.get(url).status_code == 302


# --- DTI -------------------------------------------------------------------------------------


@pytest.fixture
def dti(mon: Any) -> Any:
    year = mon.today.year
    entered = DtiComponent.objects.create(
        year=year,
        group="government",
        code="cq-1",
        name="Dịch vụ công",
        max_points=D("400"),
        points=D("300"),
    )
    empty = DtiComponent.objects.create(
        year=year, group="economy", code="kt-1", name="Thương mại điện tử", max_points=D("300")
    )
    computed = DtiComponent.objects.create(
        year=year,
        group="society",
        code="xh-1",
        name="Cáp quang",
        max_points=D("300"),
        indicator=mon.broadband_ind,
    )
    snap(mon.broadband_ind, mon.today, 60)  # 60 of 80 → 225 of 300 points
    return {"entered": entered, "empty": empty, "computed": computed, "year": year}


def test_dti_page_sums_and_total(client: Any, mon: Any, dti: Any) -> None:
    html = (
        _as(client, mon.leader)
        .get(reverse("monitoring:dti"), {"year": dti["year"]})
        .content.decode()
    )
    assert "525 of 1,000 points" in html
    assert "Digital government: 300 of 400 points" in html
    assert "Digital society: 225 of 300 points" in html
    [svg] = _svgs(html)
    assert svg.get("role") == "img"
    assert '<th scope="row">Digital government</th><td class="num">75</td>' in html
    assert reverse("monitoring:dti_set", args=[dti["entered"].pk]) not in html  # not editable


def test_dti_shows_the_latest_year_with_components_by_default(client: Any, mon: Any) -> None:
    year = mon.today.year - 1
    DtiComponent.objects.create(
        year=year, group="government", code="cq-1", name="Dịch vụ công", max_points=D("400")
    )
    DtiComponent.objects.create(
        year=year - 1, group="government", code="cq-1", name="Dịch vụ công", max_points=D("400")
    )
    html = _as(client, mon.leader).get(reverse("monitoring:dti")).content.decode()
    assert f"Digital transformation index {year}" in html
    assert f'value="{year}"' in html  # the year field shows it
    assert f'href="?year={year - 1}"' in html
    assert "Digital government: 0 of 400 points" in html


def test_dti_points_are_entered_by_the_monitoring_office(client: Any, mon: Any, dti: Any) -> None:
    c = _as(client, mon.office)
    html = c.get(reverse("monitoring:dti"), {"year": dti["year"]}).content.decode()
    assert reverse("monitoring:dti_set", args=[dti["empty"].pk]) in html
    assert reverse("monitoring:dti_set", args=[dti["computed"].pk]) not in html
    url = reverse("monitoring:dti_set", args=[dti["empty"].pk])
    response = c.post(url, {"points": "301"})
    assert response.status_code == 422
    assert "points" in response.context["errors"][0]["href"]
    response = c.post(url, {"points": "150,5"})
    assert response.status_code == 302
    dti["empty"].refresh_from_db()
    assert dti["empty"].points == D("150.50")
    assert _as(client, mon.reporter).post(url, {"points": "1"}).status_code == 403
    assert _as(client, mon.leader).post(url, {"points": "1"}).status_code == 403
    dti["empty"].refresh_from_db()
    assert dti["empty"].points == D("150.50")


def test_dti_xlsx(client: Any, mon: Any, dti: Any) -> None:
    from openpyxl import load_workbook

    response = _as(client, mon.leader).get(
        reverse("monitoring:dti"), {"year": dti["year"], "format": "xlsx"}
    )
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    book = load_workbook(io.BytesIO(response.content))
    values = [[cell.value for cell in row] for row in book.worksheets[0].iter_rows()]
    totals = [r for r in values if "Total" in r]
    assert totals and float(totals[-1][3]) == 525


# --- exports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["monitoring:overview", "monitoring:pillar", "monitoring:overdue", "monitoring:wards"]
)
def test_table_pages_answer_csv_and_xlsx(client: Any, mon: Any, name: str) -> None:
    from openpyxl import load_workbook

    _evaluated(mon.broadband, Status.AT_RISK, "61.5", "74")
    args = [mon.pillar.code] if name == "monitoring:pillar" else []
    c = _as(client, mon.leader)
    response = c.get(reverse(name, args=args), {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'attachment; filename="' in response["Content-Disposition"]
    text = response.content.decode("utf-8-sig")
    assert next(csv.reader(io.StringIO(text)))
    response = c.get(reverse(name, args=args), {"format": "xlsx"})
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    assert ".xlsx" in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content))
    cells = [c.value for row in book.worksheets[0].iter_rows() for c in row]
    if name in ("monitoring:overview", "monitoring:pillar"):
        assert "cap-quang" in cells and "At risk" in cells


def test_monthly_pdf(client: Any, mon: Any) -> None:
    c = _as(client, mon.leader)
    response = c.get(reverse("monitoring:monthly_pdf"), {"month": mon.today.strftime("%Y-%m")})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.content.startswith(b"%PDF")
    assert c.get(reverse("monitoring:monthly_pdf"), {"month": "2025-13"}).status_code == 400
    assert c.get(reverse("monitoring:monthly_pdf"), {"month": "tháng 10"}).status_code == 400


# --- helpers ---------------------------------------------------------------------------------


def test_progress_for_both_directions(mon: Any) -> None:
    t = Target(target_value=D("80"), current_value=D("60"), direction="up")
    assert views.progress(t) == 75.0
    t = Target(target_value=D("5"), current_value=D("10"), direction="down")
    assert views.progress(t) == 50.0
    t = Target(target_value=D("5"), current_value=None, direction="down")
    assert views.progress(t) is None


def test_local_names_follow_the_language(mon: Any) -> None:
    assert views.local_name(mon.programme) == "Resolution 18-NQ/TU on digital transformation"
    with translation.override("vi"):
        assert views.local_name(mon.programme) == "Nghị quyết 18-NQ/TU về chuyển đổi số"
    assert views.local_name(mon.pillar) == "Chính quyền số"  # no English name
