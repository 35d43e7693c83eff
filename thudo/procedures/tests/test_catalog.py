"""Search, versions and the demo catalog."""

from __future__ import annotations

from typing import Any

import pytest

from thudo.core.errors import NotFound
from thudo.core.models import AuditEvent
from thudo.procedures import selectors, services
from thudo.procedures.models import FormField, LifeEvent, Procedure, ProcedureVersion, Sector
from thudo.procedures.selectors import procedure_search, search_fold
from thudo.procedures.specs import form_validate


def _codes(qs: Any) -> set[str]:
    return set(qs.values_list("code", flat=True))


def test_fold_drops_diacritics_and_case() -> None:
    assert search_fold("ĐĂNG KÝ Khai sinh — Hộ tịch") == "dang ky khai sinh ho tich"
    assert search_fold("đường") == "duong"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "q", ["dang ky khai sinh", "Đăng ký khai sinh", "DANG KY", "khai  sinh", "birth", "1.001193"]
)
def test_search_with_or_without_diacritics(catalog: None, q: str) -> None:
    assert "1.001193" in _codes(procedure_search(q=q))


@pytest.mark.django_db
def test_search_narrows_by_every_word(catalog: None) -> None:
    assert _codes(procedure_search(q="dang ky khai tu")) == {"1.000656"}
    assert not procedure_search(q="khai sinh xay dung").exists()


@pytest.mark.django_db
def test_search_finds_by_sector_and_life_event_names(catalog: None) -> None:
    assert "1.004222" in _codes(procedure_search(q="chuyen noi o"))  # life event name
    assert "2.000488" in _codes(procedure_search(q="ly lich tu phap"))


@pytest.mark.django_db
def test_filters_by_sector_and_event(catalog: None) -> None:
    civil = _codes(procedure_search(sector="ho-tich"))
    assert {"1.001193", "1.000656", "1.000894", "1.004873"} <= civil
    assert "2.000720" not in civil
    sector = Sector.objects.get(code="ho-tich")
    assert _codes(procedure_search(sector=sector)) == civil
    marriage = _codes(procedure_search(life_event="ket-hon"))
    assert {"1.000894", "1.004873"} <= marriage and "1.000656" not in marriage
    both = procedure_search(q="khai sinh", sector="ho-tich", life_event="sinh-con")
    assert "1.001193" in _codes(both)


@pytest.mark.django_db
def test_inactive_procedures_are_hidden_unless_asked(catalog: None) -> None:
    Procedure.objects.filter(code="1.001193").update(is_active=False)
    assert "1.001193" not in _codes(procedure_search(q="khai sinh"))
    assert "1.001193" in _codes(procedure_search(q="khai sinh", include_inactive=True))


@pytest.mark.django_db
def test_search_text_follows_renames_and_life_events(make_procedure: Any) -> None:
    p = make_procedure()
    assert "sinh con" in Procedure.objects.get(pk=p.pk).search_text
    p.name = "Đăng ký giám hộ"
    p.save()
    assert _codes(procedure_search(q="giam ho")) == {p.code}
    event = LifeEvent.objects.create(code="x", name="Tuổi già", name_en="Old age")
    p.life_events.add(event)
    assert _codes(procedure_search(q="tuoi gia")) == {p.code}
    event.name = "Nghỉ hưu"
    event.save()
    assert _codes(procedure_search(q="nghi huu")) == {p.code}
    Sector.objects.filter(code="ho-tich").get().save()  # a no-op rename keeps it findable
    assert _codes(procedure_search(q="ho tich")) == {p.code}


@pytest.mark.django_db
def test_counts_of_sectors_and_events(catalog: None) -> None:
    counts = {s.code: s.procedure_count for s in selectors.sectors_with_counts()}
    assert counts["ho-tich"] == Procedure.objects.filter(sector__code="ho-tich").count() >= 4
    events = {e.code: e.procedure_count for e in selectors.life_events_with_counts()}
    assert events["sinh-con"] >= 2


@pytest.mark.django_db
def test_procedure_get_and_not_found(catalog: None) -> None:
    assert selectors.procedure_get(code="1.001193").name == "Đăng ký khai sinh"
    with pytest.raises(NotFound):
        selectors.procedure_get(code="nope")


@pytest.mark.django_db
def test_publish_makes_a_version_only_when_rules_change(make_procedure: Any) -> None:
    p = make_procedure()
    v1 = selectors.procedure_current_version(p)  # publishes the first
    assert v1.number == 1 and v1.spec["code"] == p.code
    assert services.procedure_publish(procedure=p) == v1  # unchanged: same version
    assert AuditEvent.objects.filter(action="procedure.publish").count() == 1

    field = p.fields.get(name="child_name")
    field.max_length = 5
    field.save()
    v2 = services.procedure_publish(procedure=p)
    assert v2.number == 2 and v2.spec["fields"][0]["max_length"] == 5
    assert selectors.procedure_current_version(p) == v2
    assert AuditEvent.objects.filter(action="procedure.publish").count() == 2

    # The old version keeps the old rules: a dossier submitted under v1 validates by v1.
    v1.refresh_from_db()
    assert form_validate(v1.spec, {"child_name": "Nguyễn Văn An"})["child_name"]
    from thudo.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        form_validate(v2.spec, {"child_name": "Nguyễn Văn An"})


@pytest.mark.django_db
def test_adding_a_field_or_changing_the_fee_is_a_new_version(make_procedure: Any) -> None:
    p = make_procedure()
    services.procedure_publish(procedure=p)
    FormField.objects.create(procedure=p, name="phone", label="Điện thoại", type="phone")
    assert services.procedure_publish(procedure=p).number == 2
    p.fee = 1000
    p.save()
    assert services.procedure_publish(procedure=p).number == 3
    assert ProcedureVersion.objects.filter(procedure=p).count() == 3


@pytest.mark.django_db
def test_demo_loads_a_real_catalog_and_is_idempotent() -> None:
    from thudo.procedures.demo import demo_load

    demo_load()
    count = Procedure.objects.count()
    versions = ProcedureVersion.objects.count()
    assert count >= 12 and versions == count
    demo_load()
    assert Procedure.objects.count() == count
    assert ProcedureVersion.objects.count() == versions  # nothing changed: no new version

    birth = selectors.procedure_current_version(Procedure.objects.get(code="1.001193")).spec
    assert birth["name"] == "Đăng ký khai sinh" and birth["cutoff"] == "15:00"
    assert birth["deadline_days"] == "1.0" and birth["agency_kind"] == "commune_committee"
    names = {f["name"] for f in birth["fields"]}
    assert {"child_name", "birth_date", "sex", "mother_name", "mother_personal_id"} <= names
    judicial = Procedure.objects.get(code="2.000488")
    assert judicial.department_code == "HN-STP" and judicial.deadline_days == 10
    for p in Procedure.objects.prefetch_related("steps", "fields"):
        assert sum(s.share for s in p.steps.all()) == 100, p.code
        field_names = {f.name for f in p.fields.all()}
        assert set(p.result_fields) <= field_names, p.code
        assert p.papers.filter(required=True).exists(), p.code
