"""What every page of the shell needs: the city, the language and the menus."""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise, SimpleLazyObject
from django.utils.translation import get_language, get_language_info
from django.utils.translation import gettext_lazy as _

from thudo.core.registry import MenuEntry, registry

from .access import can_use_workspace, can_view_dashboards, has_permission

logger = logging.getLogger(__name__)

AUDIENCES: list[tuple[str, str | Promise]] = [
    ("citizen", _("For citizens")),
    ("official", _("For officials")),
    ("leader", _("For leaders")),
]

# Icons drawn in web/icons.html; an entry naming another icon gets the generic one.
ICONS = frozenset(
    {
        "home", "briefcase", "chart", "file", "chat", "bus", "ticket", "car", "leaf", "heart",
        "building", "coins", "user", "shield", "bell", "map", "globe", "search", "key", "lock",
    }
)  # fmt: skip


@dataclass(frozen=True)
class MenuLink:
    label: str | Promise
    url: str
    url_name: str
    icon: str
    current: bool


@dataclass(frozen=True)
class MenuGroup:
    audience: str
    label: str | Promise
    links: list[MenuLink]


def _url(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def menu_links(request: HttpRequest, audience: str) -> list[MenuLink]:
    """The registry's entries for one audience that this user may see, resolved to URLs."""
    match = getattr(request, "resolver_match", None)
    current = match.view_name if match else ""
    links = []
    for entry in registry.menu(audience):
        if not has_permission(request, entry.permission):
            continue
        url = _url(entry.url_name)
        if url is None:
            logger.debug("menu entry %s: no URL named %s", entry.label, entry.url_name)
            continue
        links.append(_link(entry, url, current))
    return links


def _link(entry: MenuEntry, url: str, current: str) -> MenuLink:
    icon = entry.icon if entry.icon in ICONS else "dot"
    return MenuLink(entry.label, url, entry.url_name, icon, entry.url_name == current)


def _local_name(code: str) -> str:
    """The language's name in itself, composed (Django's "Tiếng Việt" has combining marks)."""
    return unicodedata.normalize("NFC", get_language_info(code)["name_local"])


def _on_accounts_page(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    return bool(match and match.namespace == "accounts")


def shell(request: HttpRequest) -> dict[str, Any]:
    code = get_language() or settings.LANGUAGE_CODE
    other = next((c for c, _name in settings.LANGUAGES if c != code), settings.LANGUAGE_CODE)
    user = getattr(request, "user", None)
    visible = {
        "citizen": True,
        "official": can_use_workspace(user),
        "leader": can_view_dashboards(user),
    }
    menus = {audience: menu_links(request, audience) for audience, _label in AUDIENCES}
    nav = [
        MenuGroup(audience, label, menus[audience])
        for audience, label in AUDIENCES
        if visible[audience] and menus[audience]
    ]
    return {
        "thudo_city": settings.THUDO_CITY["NAME"],
        "thudo_language": code,
        "thudo_other_language": {"code": other, "name": _local_name(other)},
        "thudo_menus": menus,
        "thudo_nav": nav,
        # accounts' URLs may not exist yet in a partial checkout: the shell then shows no link.
        # No "Sign in" button on the sign-in pages themselves.
        "thudo_login_url": None if _on_accounts_page(request) else _url("accounts:login"),
        "thudo_logout_url": _url("accounts:logout"),
        # Counted only when a page shows it (signed-in users' header).
        "thudo_unread": SimpleLazyObject(lambda: _unread(user)),
    }


def _unread(user: Any) -> int:
    from thudo.notifications.selectors import unread_count

    return unread_count(user)
