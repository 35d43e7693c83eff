"""Issue 5's journey, in Vietnamese on a 360 px phone: a resident signs in through the e-ID
provider at level 2, opens a procedure whose form is filled from the population registry through
the exchange (shown verified, not editable), submits it, then finds that access in "My data" and
opens its proof in the exchange log."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import translation

from .checks import contrast_failures, horizontal_overflow, unlabelled_controls

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
Url = Callable[..., str]
Shot = Callable[["Page", str], Path]

PERSON = "VN/GOV/BCA/CSDLQGDC/person"
PID = "001185000222"
NAME = "Lê Thị Minh Châu"


def vi(message: str) -> str:
    with translation.override("vi"):
        return str(translation.gettext(message))


def _checks(page: Page) -> None:
    assert horizontal_overflow(page) == []
    assert unlabelled_controls(page) == []
    assert contrast_failures(page) == []


@pytest.fixture
def city(
    live_server: Any, settings: Any, tmp_path: Path, ward: Any, make_agency: Any
) -> Iterator[Any]:
    """The live server as e-ID provider, portal and exchange node; the registries on it; a
    level-2 resident; a procedure that demands level 2 and fills three fields from the
    population registry."""
    from thudo.dossiers.tests.factories import make_procedure
    from thudo.eid import testing
    from thudo.eid.keys import generate_pem
    from thudo.exchange import keys
    from thudo.exchange.tests.test_tracker import exchange_topology
    from thudo.procedures.models import Procedure

    middleware = list(settings.MIDDLEWARE)
    pem = tmp_path / "eid-oidc-key.pem"
    pem.write_text(generate_pem())
    settings.EXCHANGE_NODE_KEY_FILE = str(tmp_path / "node-key.json")
    keys.reset_cache()
    testing.apply_settings(settings, key_file=pem, base_url=live_server.url)
    testing.reload_server_middleware(live_server)
    testing.register_portal()

    city_committee = make_agency("HN", kind="city_committee", name="UBND thành phố Hà Nội")
    make_agency("HN-00070", unit=ward, parent=city_committee, name="UBND phường Hoàn Kiếm")
    exchange_topology(portal_agency=city_committee)
    testing.make_resident(
        ward=ward,
        personal_id=PID,
        full_name=NAME,
        sex="female",
        birth_date=date(1985, 9, 12),
        eid_level=2,
        address="25 phố Hàng Bài",
    )
    from thudo.accounts.models import User

    User.objects.filter(personal_id=PID).update(home_unit=ward)
    procedure = make_procedure(
        code="2.000488",
        name="Cấp Phiếu lý lịch tư pháp",
        name_en="Judicial record certificate",
        fields=[
            {
                "name": "full_name",
                "label": "Họ, chữ đệm và tên",
                "label_en": "Full name",
                "type": "text",
                "max_length": 100,
                "source": f"{PERSON}#/full_name",
            },
            {
                "name": "birth_date",
                "label": "Ngày sinh",
                "label_en": "Date of birth",
                "type": "date",
                "source": f"{PERSON}#/birth_date",
            },
            {
                "name": "residence",
                "label": "Nơi thường trú",
                "label_en": "Permanent residence",
                "type": "text",
                "max_length": 300,
                "source": f"{PERSON}#/permanent_address/address",
            },
            {
                "name": "purpose",
                "label": "Mục đích yêu cầu cấp phiếu",
                "label_en": "Purpose",
                "type": "text",
                "max_length": 200,
            },
        ],
        papers=[],
        result_fields=["full_name"],
    )
    Procedure.objects.filter(pk=procedure.pk).update(eid_level_required=2)
    from thudo.procedures.services import procedure_publish

    procedure.refresh_from_db()
    procedure_publish(procedure=procedure, actor=None)
    try:
        yield procedure
    finally:
        settings.MIDDLEWARE = middleware
        testing.reload_server_middleware(live_server)
        keys.reset_cache()


def test_a_form_filled_from_the_registry_and_its_proof(
    browser_page: Page, live_url: Url, screenshot: Shot, city: Any
) -> None:
    from playwright.sync_api import expect

    from thudo.dossiers.models import Dossier
    from thudo.eid import testing
    from thudo.exchange import log
    from thudo.exchange.models import Message

    page = browser_page
    # The procedure demands e-ID level 2: the portal sends her to the provider.
    page.goto(live_url("dossiers:apply", city.code))
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.locator("#vneid-sign-in").click()
    expect(page).to_have_url(re.compile(r"/eid/login/"))
    page.locator("input[name=personal_id]").fill(PID)
    page.locator("input[name=password]").fill(testing.PASSWORD)
    page.get_by_role("button", name=vi("Sign in"), exact=True).click()

    # Back on the form: name, birth date and residence came from the population registry.
    expect(page).to_have_url(re.compile(rf"/dossiers/new/{re.escape(city.code)}/"))
    expect(page.get_by_text(NAME).first).to_be_visible()
    expect(page.get_by_text("25 phố Hàng Bài").first).to_be_visible()
    expect(page.get_by_text(vi("Verified")).first).to_be_visible()
    assert page.locator("input[name=full_name]").count() == 0  # not editable
    _checks(page)
    screenshot(page, "exchange-once-only-form-vi")
    page.locator("input[name=purpose]").fill("Bổ sung hồ sơ xin việc")
    page.locator("button[name=action][value=submit]").click()
    expect(page).to_have_url(re.compile(r"/dossiers/[0-9a-f-]{36}/"))

    dossier = Dossier.objects.get(applicant__personal_id=PID)
    assert dossier.data["full_name"] == NAME
    access = Message.objects.get(side="client", subject=PID, service=PERSON)
    assert access.status == 200 and access.log_index is not None
    log.sign_tree_head()  # the minute's signed tree head

    # "My data": the access, who made it and why, and its proof in the log.
    page.goto(live_url("exchange_tracker:index"))
    row = page.locator("tr, li, article").filter(has_text=access.message_id).first
    expect(row).to_be_visible()
    expect(page.get_by_text("2.000488").first).to_be_visible()
    _checks(page)
    screenshot(page, "exchange-tracker-vi")
    page.locator(f'a[href$="/exchange/log/entries/{access.log_index}/proof/"]').first.click()
    expect(page).to_have_url(re.compile(rf"/exchange/log/entries/{access.log_index}/proof/"))
    expect(page.get_by_text(PID).first).to_be_visible()  # she is the subject: she sees it
    expect(page.locator("[data-verdict=ok], .verdict-ok").first).to_be_visible()
    _checks(page)
    screenshot(page, "exchange-proof-vi")
