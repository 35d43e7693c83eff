import pytest

from thudo.core.errors import NotFound, ValidationFailed
from thudo.core.models import AdminUnit
from thudo.core.units import boundaries_load, unit_at, unit_get, units_load

pytestmark = pytest.mark.django_db


def test_the_whole_country_is_loaded_by_migration() -> None:
    assert AdminUnit.objects.filter(level="province").count() == 34
    assert AdminUnit.objects.filter(level="commune").count() == 3321
    hanoi = AdminUnit.objects.get(code="01")
    assert hanoi.name == "Thành phố Hà Nội"
    assert hanoi.children.count() == 126
    assert hanoi.children.filter(division_type="phường").count() == 51
    assert hanoi.children.filter(division_type="xã").count() == 75


def test_reloading_is_idempotent() -> None:
    created, updated = units_load(provinces=[1])
    assert created == 0 and updated == 127
    assert AdminUnit.objects.count() == 3355


def test_unit_get_names_the_field() -> None:
    assert unit_get("00070").name == "Phường Hoàn Kiếm"
    with pytest.raises(ValidationFailed) as exc:
        unit_get("7")
    assert "admin_unit" in exc.value.fields
    with pytest.raises(NotFound) as nf:
        unit_get("99999")
    assert nf.value.code == "unknown_admin_unit"


def _square(lng: float, lat: float, size: float = 0.01) -> dict:
    return {
        "type": "Polygon",
        "coordinates": [
            [[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]
        ],
    }


def test_point_in_boundary_is_exact_and_nearest_is_a_guess() -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "00070"},
                "geometry": _square(105.84, 21.02),
            },
            {
                "type": "Feature",
                "properties": {"code": "00004"},
                "geometry": _square(105.82, 21.02),
            },
        ],
    }
    assert boundaries_load(feature_collection=fc) == 2
    unit, exact = unit_at(latitude=21.025, longitude=105.845)
    assert unit is not None and unit.code == "00070" and exact
    # Outside every boundary: the nearest unit by position, flagged as not exact.
    unit, exact = unit_at(latitude=21.025, longitude=105.80)
    assert unit is not None and unit.code == "00004" and not exact


def test_bad_boundaries_load_nothing() -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "00070"},
                "geometry": _square(105.84, 21.02),
            },
            {"type": "Feature", "properties": {"code": "99999"}, "geometry": _square(1, 1)},
        ],
    }
    with pytest.raises(ValidationFailed) as exc:
        boundaries_load(feature_collection=fc)
    assert "features[1]" in exc.value.fields
    assert AdminUnit.objects.get(code="00070").boundary is None
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    with pytest.raises(ValidationFailed):
        boundaries_load(
            feature_collection={
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"code": "00070"}, "geometry": bowtie}
                ],
            }
        )


def test_point_out_of_range() -> None:
    with pytest.raises(ValidationFailed) as exc:
        unit_at(latitude=123, longitude=0)
    assert "position" in exc.value.fields
