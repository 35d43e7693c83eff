"""Administrative units: loading the national list, boundaries, and finding the unit of a point."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from shapely.geometry import Point, shape
from vietnam_provinces import Province, Ward

from .errors import NotFound, ValidationFailed
from .models import AdminUnit


def province_code(code: int) -> str:
    return f"{code:02d}"


def commune_code(code: int) -> str:
    return f"{code:05d}"


@transaction.atomic
def units_load(*, provinces: Iterable[int] | None = None) -> tuple[int, int]:
    """Create or refresh provinces and their commune-level units from `vietnam-provinces`.

    Returns (created, updated). Idempotent: names are refreshed, nothing else is touched.
    """
    wanted = set(provinces) if provinces is not None else None
    existing = {u.code: u for u in AdminUnit.objects.all()}
    created = updated = 0
    parents: dict[int, AdminUnit] = {}
    for p in Province.iter_all():
        if wanted is not None and int(p.code) not in wanted:
            continue
        values: dict[str, Any] = {
            "name": p.name,
            "codename": p.codename,
            "division_type": p.division_type.value,
            "level": AdminUnit.Level.PROVINCE,
            "parent": None,
        }
        unit, was_created = _upsert(existing, province_code(int(p.code)), values)
        created += was_created
        updated += not was_created
        parents[int(p.code)] = unit
    new_units: list[AdminUnit] = []
    for w in Ward.iter_all():
        parent = parents.get(int(w.province_code))
        if parent is None:
            continue
        code = commune_code(int(w.code))
        values = {
            "name": w.name,
            "codename": w.codename,
            "division_type": w.division_type.value,
            "level": AdminUnit.Level.COMMUNE,
            "parent": parent,
        }
        if code in existing:
            _upsert(existing, code, values)
            updated += 1
        else:
            new_units.append(AdminUnit(code=code, **values))
    AdminUnit.objects.bulk_create(new_units, batch_size=500)
    return created + len(new_units), updated


def _upsert(
    existing: dict[str, AdminUnit], code: str, values: dict[str, Any]
) -> tuple[AdminUnit, bool]:
    unit = existing.get(code)
    if unit is None:
        unit = AdminUnit.objects.create(code=code, **values)
        existing[code] = unit
        return unit, True
    changed = [k for k, v in values.items() if getattr(unit, k) != v]
    for k in changed:
        setattr(unit, k, values[k])
    if changed:
        unit.save(update_fields=changed)
    return unit, False


def unit_get(code: str) -> AdminUnit:
    """The unit with this code, or a clear error naming the field."""
    if not code or not code.isdigit() or len(code) not in (2, 5):
        raise ValidationFailed(
            fields={
                "admin_unit": _(
                    "An administrative unit code has 2 (province) or 5 (ward/commune) digits."
                )
            }
        )
    try:
        # Boundaries can be large GeoJSON: a unit read does not carry them along.
        return (
            AdminUnit.objects.select_related("parent")
            .defer("boundary", "parent__boundary")
            .get(code=code)
        )
    except AdminUnit.DoesNotExist:
        raise NotFound(
            _("Unknown administrative unit code."),
            fields={"admin_unit": _("No administrative unit has this code.")},
            code="unknown_admin_unit",
        ) from None


def _validate_geometry(geometry: dict[str, Any]) -> Any:
    if not isinstance(geometry, dict) or geometry.get("type") not in {"Polygon", "MultiPolygon"}:
        raise ValidationFailed(
            fields={"boundary": _("A boundary is a GeoJSON Polygon or MultiPolygon.")}
        )
    try:
        geom = shape(geometry)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise ValidationFailed(
            fields={"boundary": _("The GeoJSON geometry is malformed.")}
        ) from None
    if geom.is_empty or not geom.is_valid:
        raise ValidationFailed(fields={"boundary": _("The polygon is empty or intersects itself.")})
    return geom


@transaction.atomic
def boundaries_load(*, feature_collection: dict[str, Any], code_property: str = "code") -> int:
    """Attach GeoJSON boundaries to units. All or nothing: one bad feature loads none."""
    if feature_collection.get("type") != "FeatureCollection":
        raise ValidationFailed(fields={"file": _("Expected a GeoJSON FeatureCollection.")})
    count = 0
    for index, feature in enumerate(feature_collection.get("features") or []):
        props = feature.get("properties") or {}
        code = str(props.get(code_property, ""))
        try:
            unit = unit_get(code)
            geom = _validate_geometry(feature.get("geometry"))
        except (ValidationFailed, NotFound) as exc:
            raise ValidationFailed(
                _("Feature %(index)s could not be loaded.") % {"index": index},
                fields={
                    f"features[{index}]": [
                        str(m)
                        for ms in exc.fields.values()
                        for m in (ms if isinstance(ms, list) else [ms])
                    ]
                },
            ) from None
        min_lng, min_lat, max_lng, max_lat = geom.bounds
        centroid = geom.representative_point()
        unit.boundary = feature["geometry"]
        unit.min_lat, unit.max_lat, unit.min_lng, unit.max_lng = min_lat, max_lat, min_lng, max_lng
        if unit.latitude is None:
            unit.latitude, unit.longitude = centroid.y, centroid.x
        unit.save()
        count += 1
    return count


def unit_at(
    *, latitude: float, longitude: float, province: str | None = None
) -> tuple[AdminUnit | None, bool]:
    """The commune-level unit containing a point, and whether that is certain.

    With boundaries loaded the answer is exact (True). Without, the nearest unit by position
    is returned with False, and the caller asks the person to confirm it.
    """
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValidationFailed(fields={"position": _("Latitude or longitude is out of range.")})
    units = AdminUnit.objects.filter(level=AdminUnit.Level.COMMUNE)
    if province:
        units = units.filter(parent__code=province)
    point = Point(longitude, latitude)
    candidates = units.filter(
        min_lat__lte=latitude, max_lat__gte=latitude, min_lng__lte=longitude, max_lng__gte=longitude
    )
    for unit in candidates:
        if unit.boundary and shape(unit.boundary).covers(point):
            return unit, True
    best: AdminUnit | None = None
    best_d = math.inf
    for unit in units.exclude(latitude=None).only("id", "code", "name", "latitude", "longitude"):
        d = haversine_m(latitude, longitude, unit.latitude or 0.0, unit.longitude or 0.0)
        if d < best_d:
            best, best_d = unit, d
    return best, False


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))
