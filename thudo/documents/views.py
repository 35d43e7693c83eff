"""The public verification page, the signed-in person's documents, and downloads."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from thudo.accounts.forms import apply_error
from thudo.core.errors import NotFound, PermissionDenied, ThudoError

from . import selectors
from .forms import VerifyForm
from .verify import registered_document_facts, verify_upload


@require_http_methods(["GET", "POST"])
def verify_page(request: HttpRequest) -> HttpResponse:
    """Anyone uploads a PDF and sees whether its signatures hold and whether Thudo issued it."""
    form = VerifyForm(request.POST or None, request.FILES or None)
    report: dict[str, Any] | None = None
    status = 200
    if request.method == "POST" and not form.is_valid():
        status = 422
    elif request.method == "POST":
        upload = form.cleaned_data["file"]
        try:
            report = verify_upload(upload)
        except ThudoError as exc:
            apply_error(form, exc)
            status = 422
    return render(request, "documents/verify.html", {"form": form, "report": report}, status=status)


def verify_document_page(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Where a result's QR leads: the facts of the registered document, not its content."""
    try:
        document = selectors.document_for_verification(public_id=public_id)
        report = registered_document_facts(document)
    except NotFound:
        raise Http404 from None
    return render(
        request,
        "documents/verify.html",
        {"form": VerifyForm(), "report": report, "document": document},
    )


@login_required
def my_documents(request: HttpRequest) -> HttpResponse:
    documents = selectors.documents_visible_to(request.user).prefetch_related("versions")[:100]
    return render(request, "documents/list.html", {"documents": documents})


@login_required
def download(request: HttpRequest, public_id: UUID) -> FileResponse:
    try:
        document = selectors.document_get(user=request.user, public_id=public_id)
        version = selectors.latest_version(document)
    except NotFound:
        raise Http404 from None
    except PermissionDenied:
        raise DjangoPermissionDenied from None
    return FileResponse(
        version.file.open("rb"),
        content_type="application/pdf",
        as_attachment=False,
        filename=f"{document.reference or document.public_id}.pdf",
    )
