"""Fixtures for the tests of the programme loader, the demo, the exports and the API: the
agencies the programme names (the city committee "HN" and its departments), created with the
accounts services. Imported by the test modules that use them."""

from __future__ import annotations

from typing import Any

import pytest

from thudo.monitoring.programme import agency_codes

NAMES = {
    "HN": ("Ủy ban nhân dân thành phố Hà Nội", "city_committee"),
    "HN-TTPVHCC": ("Trung tâm Phục vụ hành chính công thành phố Hà Nội", "one_stop_centre"),
    "HN-STP": ("Sở Tư pháp", "department"),
    "HN-SNNMT": ("Sở Nông nghiệp và Môi trường", "department"),
    "HN-SYT": ("Sở Y tế", "department"),
    "HN-SKHCN": ("Sở Khoa học và Công nghệ", "department"),
    "HN-STC": ("Sở Tài chính", "department"),
    "HN-SCT": ("Sở Công Thương", "department"),
    "HN-SGDDT": ("Sở Giáo dục và Đào tạo", "department"),
    "HN-SNV": ("Sở Nội vụ", "department"),
}


@pytest.fixture
def hn_agencies(make_agency: Any) -> dict[str, Any]:
    """Every agency the programme names, the departments under the city committee."""
    name, kind = NAMES["HN"]
    city = make_agency("HN", kind=kind, name=name)
    found = {"HN": city}
    for code in agency_codes():
        if code == "HN":
            continue
        name, kind = NAMES.get(code, (f"Cơ quan {code}", "department"))
        found[code] = make_agency(code, kind=kind, parent=city, name=name)
    return found


@pytest.fixture
def programme(hn_agencies: dict[str, Any]) -> Any:
    from thudo.monitoring.programme import programme_load

    return programme_load()
