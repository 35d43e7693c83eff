"""The GS1 Digital Link resolver's answers (resolver.py does the work; urls_resolver.py mounts
it at the site root: /01/<gtin>[/10/<lot>][/21/<serial>]).

Negotiation, in this order:

1. `linkType=gs1:epcis` (or its URI) → 307 to the EPCIS 2.0 query of the batch (not a scan);
2. `linkType=all`, or an Accept header that prefers `application/linkset+json` or
   `application/json` to `text/html` → the RFC 9264 linkset (200, counted as a scan);
3. anything else (a phone's browser, another linkType we know or not) → the consumer page
   itself, 200 with no redirect, so a scan costs one round trip (counted as a scan).

Errors answer in the negotiated form: a malformed key 400, an unknown GTIN 404 (HTML page or
RFC 7807 problem JSON naming the GTIN). Every answer varies on Accept and Cookie (the language).

The consumer page's own part is kept in Django's cache under consumer.page_key() of the page's
stamp (resolver.resolve_stamped: the rows it shows and what they depend on, read with the
product and batch in one query; a new event, a recall, a lifted recall, an anchor or an edited
product changes it), so a scan of a page already built costs that query, the scan counter's
UPDATE and the site's shell around the kept HTML.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_safe

from . import consumer
from .resolver import (
    LINK_EPCIS,
    LINKSET_TYPE,
    Key,
    Resolution,
    ResolverError,
    epcis_query_path,
    link_type_name,
    linkset,
    parse_key,
    record_scan,
    resolve,
    resolve_stamped,
)

JSON_TYPES = (LINKSET_TYPE, "application/json")


def _negotiated(request: HttpRequest, link_type: str) -> str:
    """ "json" (and which type), or "html"."""
    if link_type == "all":
        return LINKSET_TYPE
    preferred = request.get_preferred_type(["text/html", *JSON_TYPES])
    return preferred if preferred in JSON_TYPES else "text/html"


def _finish(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ["Accept", "Cookie"])
    # The recall banner must show at once: a browser may keep the page but asks again.
    response["Cache-Control"] = "no-cache"
    return response


def _error(request: HttpRequest, error: ResolverError, answer: str) -> HttpResponse:
    if answer != "text/html":
        response: HttpResponse = JsonResponse(
            error.problem(),
            status=error.status,
            content_type="application/problem+json",
            json_dumps_params={"ensure_ascii": False},
        )
    else:
        response = render(
            request, "trace/resolver_error.html", {"error": error}, status=error.status
        )
    return _finish(response)


@require_safe
def resolve_view(
    request: HttpRequest, gtin: str, lot: str | None = None, serial: str | None = None
) -> HttpResponse:
    link_type = link_type_name(request.GET.get("linkType", ""))
    answer = _negotiated(request, link_type)
    try:
        key = parse_key(gtin, lot, serial)
    except ResolverError as error:
        return _error(request, error, answer)
    stamped = None
    page_key = ""
    if answer == "text/html" and link_type != LINK_EPCIS:
        # The page's stamp with the product and batch (one query); a page kept since anything
        # it shows changed is served as it is.
        stamped = resolve_stamped(key)
        page_key = consumer.page_key(stamped.stamp if stamped else None, key.serial)
        kept = cache.get(page_key) if page_key else None
        if stamped is not None and isinstance(kept, consumer.KeptPage):
            if request.method == "GET":
                record_scan(stamped.product.pk)
            return _page_response(request, key, consumer.ServedPage(stamped, kept), kept)
    try:
        resolution = stamped or resolve(key)
    except ResolverError as error:
        return _error(request, error, answer)
    if link_type == LINK_EPCIS:
        lot_found = resolution.batch.lot if resolution.batch is not None else ""
        redirect = HttpResponseRedirect(epcis_query_path(key.gtin, lot_found))
        redirect.status_code = 307
        return _finish(redirect)
    if request.method == "GET":
        record_scan(resolution.product.pk)
    if answer != "text/html":
        response: HttpResponse = JsonResponse(
            linkset(resolution, request),
            content_type=answer,
            json_dumps_params={"ensure_ascii": False},
        )
        return _finish(response)
    page, kept = _build_page(resolution)
    if page_key:
        cache.set(page_key, kept, consumer.page_cache_seconds())
    return _page_response(request, key, page, kept)


def _build_page(resolution: Resolution) -> tuple[consumer.ConsumerPage, consumer.KeptPage]:
    """The page's own part: built and rendered without the request, since it may be kept and
    served to anyone (the site's header and menus around it are rendered per request)."""
    page = consumer.build(resolution)
    body = render_to_string(
        "trace/consumer_body.html",
        {
            "page": page,
            "notice": resolution.notice,
            "linkset_url": f"{resolution.key.path}?linkType=all",
            "epcis_url": epcis_query_path(
                resolution.key.gtin, page.batch.lot if page.batch else ""
            ),
            "thudo_language": translation.get_language() or settings.LANGUAGE_CODE,
        },
    )
    kept = consumer.KeptPage(
        title=consumer.page_title(page), body=body, integrity=page.integrity, recalled=page.recalled
    )
    return page, kept


def _page_response(
    request: HttpRequest, key: Key, page: Any, kept: consumer.KeptPage
) -> HttpResponse:
    body = mark_safe(kept.body)  # noqa: S308 — our own template's output (_build_page)
    context: dict[str, Any] = {"page": page, "title": kept.title, "body": body}
    response = render(request, "trace/consumer.html", context)
    response["Link"] = (
        f'<{request.build_absolute_uri(key.path)}?linkType=all>; rel="linkset"; '
        f'type="{LINKSET_TYPE}"'
    )
    return _finish(response)
