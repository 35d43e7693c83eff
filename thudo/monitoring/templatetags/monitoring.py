"""Template filters of the monitoring pages."""

from __future__ import annotations

from typing import Any

from django import template

from thudo.monitoring.charts import number

register = template.Library()


@register.filter(name="num")
def num(value: Any, places: int = 2) -> str:
    """A number in the active language's notation without trailing zeros (72,5 / 1.234),
    "—" for no value."""
    try:
        return number(value, int(places))
    except (TypeError, ValueError, ArithmeticError):
        return "—"
