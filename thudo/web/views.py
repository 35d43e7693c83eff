"""The shell's pages: home, the officials' workspace, the leaders' dashboard, and the PWA files."""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import numberformat, timezone
from django.utils.formats import get_format
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from thudo.core.registry import registry

from .access import leader_required, official_required
from .context_processors import menu_links

logger = logging.getLogger(__name__)

THEME_COLOUR = "#a1121a"
BACKGROUND_COLOUR = "#ffffff"


def home(request: HttpRequest) -> HttpResponse:
    services = [link for link in menu_links(request, "citizen") if link.url_name != "web:home"]
    return render(request, "web/home.html", {"services": services})


@never_cache
@official_required
def workspace(request: HttpRequest) -> HttpResponse:
    tools = [link for link in menu_links(request, "official") if link.url_name != "web:workspace"]
    return render(request, "web/workspace.html", {"tools": tools})


@dataclass(frozen=True)
class IndicatorValue:
    code: str
    label: str | Promise
    value: str | None  # formatted for the active language; None means "no data"
    unit: str


def _format(value: Any) -> str | None:
    """A number in the active language's notation (1.234.567 / 97,46), or None for no data."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    if not math.isfinite(float(value)):
        return None
    rounded: int | float | Decimal = round(value, 2)
    if rounded == int(rounded):
        rounded = int(rounded)
    return numberformat.format(
        rounded,
        get_format("DECIMAL_SEPARATOR"),
        grouping=3,  # Vietnamese groups thousands too (1.234.567); Django's vi formats omit it
        thousand_sep=get_format("THOUSAND_SEPARATOR"),
        force_grouping=True,
    )


def indicator_values() -> list[IndicatorValue]:
    values = []
    for indicator in registry.indicators():
        try:
            raw = indicator.compute()
        except Exception:  # one broken indicator must not take the dashboard down
            logger.exception("indicator %s failed", indicator.code)
            raw = None
        values.append(IndicatorValue(indicator.code, indicator.label, _format(raw), indicator.unit))
    return values


def _indicator_context() -> dict[str, Any]:
    return {"indicators": indicator_values(), "computed_at": timezone.localtime()}


@never_cache
@leader_required
def dashboard(request: HttpRequest) -> HttpResponse:
    boards = [link for link in menu_links(request, "leader") if link.url_name != "web:dashboard"]
    return render(request, "web/dashboard.html", {"boards": boards, **_indicator_context()})


@never_cache
@leader_required
def indicators(request: HttpRequest) -> HttpResponse:
    """The dashboard's indicator cards alone, for htmx to swap in."""
    return render(request, "web/partials/indicators.html", _indicator_context())


def offline(request: HttpRequest) -> HttpResponse:
    """What the service worker shows when a page cannot be fetched.

    The worker caches it for whoever uses the browser next, so it is rendered as for a visitor:
    no menus of the signed-in user, no forms with CSRF tokens, no flash messages.
    """
    request.user = AnonymousUser()
    return render(request, "web/offline.html", {"shell_offline": True})


def _precache_urls() -> list[str]:
    return [
        reverse("web:offline"),
        static("web/thudo.css"),
        static("web/thudo.js"),
        static("django_htmx/htmx-2.min.js"),
        static("web/icons/icon.svg"),
    ]


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, served from the root so that its scope is the whole site."""
    precache = _precache_urls()
    version = hashlib.sha256("\n".join(precache).encode()).hexdigest()[:12]
    body = render_to_string(
        "web/sw.js",
        {"precache": precache, "offline_url": reverse("web:offline"), "version": version},
    )
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def web_manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest, in the visitor's language (the page links it with credentials)."""
    city = settings.THUDO_CITY["NAME"]
    data = {
        "id": "/",
        "name": _("Digital %(city)s") % {"city": city},
        "short_name": city,
        "description": _("Public services, reports and information from the city government."),
        "lang": get_language() or settings.LANGUAGE_CODE,
        "dir": "ltr",
        "start_url": reverse("web:home"),
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": [
            {"src": static("web/icons/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
            {"src": static("web/icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("web/icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": static("web/icons/maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    return JsonResponse(
        data,
        content_type="application/manifest+json",
        json_dumps_params={"ensure_ascii": False},
    )
