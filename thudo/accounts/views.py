"""Sign-in (password, then the second factor for officials), enrolment, sign-out, tokens."""

from __future__ import annotations

import base64
import time
from typing import Any

import segno
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from thudo.core.errors import Throttled, ThudoError
from thudo.core.middleware import client_ip

from . import selectors, services
from .forms import LoginForm, OtpForm, TokenForm, apply_error
from .models import User

PENDING = "_thudo_pending_2fa"
PENDING_TTL = 300  # seconds between the password and the second factor


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("web:home")


def _pending_user(request: HttpRequest) -> User | None:
    pending = request.session.get(PENDING)
    if not pending or time.time() - pending.get("at", 0) > PENDING_TTL:
        request.session.pop(PENDING, None)
        return None
    return User.objects.filter(pk=pending["user"], is_active=True).first()


def _complete_sign_in(request: HttpRequest, user: User, device: TOTPDevice) -> HttpResponse:
    """Password and code both checked: open the session, mark the device verified, go on."""
    target = request.session.pop(PENDING)["next"]
    login(request, user)
    otp_login(request, device)
    return HttpResponseRedirect(target)


def _status_for(exc: ThudoError) -> int:
    return 429 if isinstance(exc, Throttled) else 200


@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = services.password_login(
                request=request,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                ip=client_ip(request),
            )
        except ThudoError as exc:
            apply_error(form, exc)
            status = _status_for(exc)
        else:
            if services.needs_second_factor(user):
                request.session.cycle_key()
                request.session[PENDING] = {
                    "user": user.pk,
                    "at": time.time(),
                    "next": _next_url(request),
                }
                has_device = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
                return redirect("accounts:otp" if has_device else "accounts:otp_setup")
            login(request, user)
            return HttpResponseRedirect(_next_url(request))
    return render(
        request, "accounts/login.html", {"form": form, "next": _next_url(request)}, status=status
    )


@never_cache
def otp_view(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        messages.info(request, _("Please sign in again."))
        return redirect("accounts:login")
    form = OtpForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            device = services.totp_verify(
                user=user, code=form.cleaned_data["otp_token"], ip=client_ip(request)
            )
        except ThudoError as exc:
            apply_error(form, exc)
            status = _status_for(exc)
        else:
            return _complete_sign_in(request, user, device)
    return render(request, "accounts/otp.html", {"form": form, "user_name": user}, status=status)


@never_cache
def otp_setup_view(request: HttpRequest) -> HttpResponse:
    """First sign-in of an official without an authenticator: enrol one, then continue."""
    user = _pending_user(request)
    if user is None:
        return redirect("accounts:login")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = services.totp_device_create(user=user)
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.totp_confirm(
                user=user, code=form.cleaned_data["otp_token"], ip=client_ip(request)
            )
        except ThudoError as exc:
            apply_error(form, exc)
        else:
            return _complete_sign_in(request, user, device)
    uri = device.config_url  # django-otp's; the issuer comes from OTP_TOTP_ISSUER
    qr_svg = segno.make(uri, error="m").svg_inline(scale=5, title=_("Authenticator QR code"))
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return render(
        request, "accounts/otp_setup.html", {"form": form, "qr_svg": qr_svg, "secret": secret}
    )


def admin_login(request: HttpRequest, extra_context: Any = None) -> HttpResponse:
    """The admin's sign-in is ours: password, then the second factor."""
    target = request.GET.get("next") or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("admin:index")
    if request.user.is_authenticated and getattr(request.user, "is_verified", bool)():
        return HttpResponseRedirect(target)
    return redirect_to_login(target, reverse("accounts:login"))


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("web:home")


@login_required
@never_cache
def security_view(request: HttpRequest) -> HttpResponse:
    """The signed-in person's second factor and API tokens."""
    form = TokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        try:
            _token, new_token = services.api_token_create(
                user=request.user,  # type: ignore[arg-type]
                name=form.cleaned_data["name"],
            )
        except ThudoError as exc:
            apply_error(form, exc)
        else:
            form = TokenForm()
    context: dict[str, Any] = {
        "form": form,
        "new_token": new_token,
        "tokens": selectors.tokens_of(request.user),
        "memberships": selectors.memberships_of(request.user),
        "has_totp": TOTPDevice.objects.filter(user=request.user, confirmed=True).exists(),
    }
    return render(request, "accounts/security.html", context)


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(selectors.tokens_of(request.user), pk=pk)
    services.api_token_revoke(token=token, actor=request.user)
    messages.success(request, _("The token was revoked."))
    return redirect("accounts:security")
