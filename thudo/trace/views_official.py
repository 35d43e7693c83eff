"""The agriculture department's traceability pages, mounted at /workspace/trace/.

Officials signed in with their second factor who hold Perm.TRACE_VIEW (the food-safety
office) see: the overview (producers, products and OCOP products per ward, scans per product in
the last 30 days, batches without events for 30 days, recalls in force and lifted; the ward
table as CSV), the producers with filters, a producer's products and batches, and a batch's
page with its journey, its recalls and — with Perm.TRACE_RECALL — the recall and lift forms.

Thin views: the figures come from stats.py, the journey from consumer.build, the writes from
recalls.py (`PermissionDenied` → 403, `InvalidTransition` → 409 with the message,
`ValidationFailed` → 422 with the messages on the form's fields).
"""

from __future__ import annotations

import csv
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Count, Exists, OuterRef, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from thudo.accounts.permissions import can
from thudo.accounts.roles import Perm
from thudo.core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from thudo.core.models import AdminUnit
from thudo.web.access import official_required

from . import consumer, recalls, stats
from .identifiers import normalize_gtin
from .models import Batch, Producer, Product, Recall, RecallFlag
from .resolver import Key, Resolution, page_path

PAGE_SIZE = 25
LIST_LIMIT = 20
FLAGS_SHOWN = 500


def _require(request: HttpRequest, permission: str = Perm.TRACE_VIEW) -> None:
    if not can(request.user, permission):
        raise DjangoPermissionDenied


def _page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 1), 10_000))
    except ValueError:
        return 1


# --- forms -----------------------------------------------------------------------------------


class RecallForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (Vietnamese)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=recalls.REASON_MAX,
        help_text=_("Shown to consumers on the product's page and sent to the producers."),
    )
    reason_en = forms.CharField(
        label=_("Reason (English, optional)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=recalls.REASON_MAX,
        required=False,
    )


class LiftForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the recall is lifted"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=recalls.REASON_MAX,
    )


class ProducerFilterForm(forms.Form):
    q = forms.CharField(label=_("Name or enterprise code"), required=False, max_length=100)
    ward = forms.ModelChoiceField(
        label=_("Ward / commune"), queryset=AdminUnit.objects.none(), required=False
    )
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("All kinds")), *Producer.Kind.choices], required=False
    )
    ocop = forms.BooleanField(label=_("With OCOP products only"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        wards = Producer.objects.values("ward_id")
        self.fields["ward"].queryset = AdminUnit.objects.filter(pk__in=wards).order_by("name")  # type: ignore[attr-defined]


class BatchFindForm(forms.Form):
    gtin = forms.CharField(label=_("GTIN"), max_length=14)
    lot = forms.CharField(label=_("Lot"), max_length=20)


def _apply(form: forms.Form, error: ValidationFailed) -> None:
    for name, value in error.fields.items():
        values = value if isinstance(value, list) else [value]
        for message in values:
            form.add_error(name if name in form.fields else None, str(message))
    if not error.fields:
        form.add_error(None, str(error.message))


# --- overview --------------------------------------------------------------------------------


@never_cache
@require_GET
@official_required
def overview(request: HttpRequest) -> HttpResponse:
    _require(request)
    wards = stats.ward_table()
    if request.GET.get("format") == "csv":
        return _ward_csv(wards)
    stale = stats.stale_batches()
    context = {
        "totals": stats.totals(),
        "wards": wards,
        "top": stats.top_scanned(limit=LIST_LIMIT),
        "stale": list(stale[:LIST_LIMIT]),
        "active": list(stats.recalls(active=True)[:LIST_LIMIT]),
        "lifted": list(stats.recalls(active=False)[:LIST_LIMIT]),
        "find": BatchFindForm(),
        "stale_days": stats.STALE_DAYS,
        "scan_days": stats.SCAN_DAYS,
    }
    return render(request, "trace/official_overview.html", context)


def _ward_csv(rows: list[stats.WardRow]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="trace-wards.csv"'
    response.write("\ufeff")  # Excel reads UTF-8 with a BOM
    writer = csv.writer(response)
    writer.writerow(
        [
            _t("Ward / commune"),
            _t("Producers"),
            _t("Products"),
            _t("OCOP products"),
            _t("3 stars"),
            _t("4 stars"),
            _t("5 stars"),
            _t("Scans (30 days)"),
        ]
    )
    for r in rows:
        writer.writerow(
            [r.ward, r.producers, r.products, r.ocop, r.ocop3, r.ocop4, r.ocop5, r.scans]
        )
    return response


# --- producers -------------------------------------------------------------------------------


@never_cache
@require_GET
@official_required
def producers(request: HttpRequest) -> HttpResponse:
    _require(request)
    form = ProducerFilterForm(request.GET or None)
    found = Producer.objects.select_related("ward").annotate(
        products_count=Count("products", distinct=True),
        ocop_count=Count("products", filter=Q(products__ocop_stars__isnull=False), distinct=True),
    )
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            found = found.filter(Q(name__icontains=data["q"]) | Q(business_code=data["q"]))
        if data["ward"]:
            found = found.filter(ward=data["ward"])
        if data["kind"]:
            found = found.filter(kind=data["kind"])
        if data["ocop"]:
            found = found.filter(
                Exists(Product.objects.filter(producer=OuterRef("pk"), ocop_stars__isnull=False))
            )
    page = _page_number(request.GET.get("page"))
    offset = (page - 1) * PAGE_SIZE
    rows = list(found.order_by("name", "pk")[offset : offset + PAGE_SIZE + 1])
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "rows": rows[:PAGE_SIZE],
        "page": page,
        "has_previous": page > 1,
        "has_next": len(rows) > PAGE_SIZE,
        "query": query.urlencode(),
    }
    return render(request, "trace/official_producers.html", context)


@never_cache
@require_GET
@official_required
def producer(request: HttpRequest, producer_id: int) -> HttpResponse:
    _require(request)
    item = get_object_or_404(Producer.objects.select_related("ward"), pk=producer_id)
    products = list(item.products.order_by("name"))
    flagged = RecallFlag.objects.filter(batch=OuterRef("pk"), recall__lifted_at__isnull=True)
    batches = list(
        Batch.objects.filter(product__producer=item)
        .select_related("product")
        .annotate(recalled=Exists(flagged))
        .order_by("-produced_on", "-pk")[:100]
    )
    context = {
        "producer": item,
        "products": products,
        "batches": batches,
        "places": list(item.places.select_related("ward")),
        "certifications": list(item.certifications.select_related("product")),
        "members": item.members.count(),
    }
    return render(request, "trace/official_producer.html", context)


# --- batches and recalls ---------------------------------------------------------------------


@never_cache
@require_GET
@official_required
def batch_find(request: HttpRequest) -> HttpResponse:
    """Find a batch by GTIN and lot (what is printed on the package)."""
    _require(request)
    form = BatchFindForm(request.GET or None)
    if form.is_valid():
        gtin = normalize_gtin(form.cleaned_data["gtin"])
        if gtin is None:
            form.add_error("gtin", _t("The GTIN's check digit is wrong."))
        else:
            found = Batch.objects.filter(product__gtin=gtin, lot=form.cleaned_data["lot"]).first()
            if found is not None:
                return redirect("trace_official:batch", batch_id=found.pk)
            form.add_error("lot", _t("No batch has this GTIN and lot."))
    return render(
        request, "trace/official_find.html", {"form": form}, status=404 if form.errors else 200
    )


def _batch_context(request: HttpRequest, batch: Batch) -> dict[str, Any]:
    resolution = Resolution(
        key=Key(gtin=batch.product.gtin, lot=batch.lot), product=batch.product, batch=batch
    )
    page = consumer.build(resolution)
    flags = list(
        RecallFlag.objects.filter(batch=batch)
        .select_related("recall", "recall__batch__product", "recall__agency", "via_event")
        .order_by("-recall__decided_at")
    )
    own = recalls.active_recall_of(batch)
    return {
        "batch": batch,
        "page": page,
        "flags": flags,
        "own_recall": own,
        "can_recall": can(request.user, Perm.TRACE_RECALL),
        "consumer_url": page_path(batch.product.gtin, batch.lot),
    }


def _batch(batch_id: int) -> Batch:
    return get_object_or_404(
        Batch.objects.select_related(
            "product", "product__producer", "product__producer__ward", "place"
        ),
        pk=batch_id,
    )


@never_cache
@require_GET
@official_required
def batch(request: HttpRequest, batch_id: int) -> HttpResponse:
    _require(request)
    item = _batch(batch_id)
    context = _batch_context(request, item)
    context["recall_form"] = RecallForm()
    context["lift_form"] = LiftForm()
    return render(request, "trace/official_batch.html", context)


@require_POST
@official_required
def batch_recall(request: HttpRequest, batch_id: int) -> HttpResponse:
    _require(request)
    item = _batch(batch_id)
    form = RecallForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            recall = recalls.recall_batch(
                batch=item,
                reason=form.cleaned_data["reason"],
                reason_en=form.cleaned_data["reason_en"],
                user=request.user,
            )
        except PermissionDenied as error:
            raise DjangoPermissionDenied(str(error.message)) from None
        except InvalidTransition as error:
            form.add_error(None, str(error.message))
            status = 409
        except ValidationFailed as error:
            _apply(form, error)
        else:
            count = recall.flags.count()
            messages.success(
                request,
                _t("The batch is recalled; %(count)d batches are flagged, the producers told.")
                % {"count": count},
            )
            return redirect("trace_official:recall", recall_id=recall.pk)
    elif not can(request.user, Perm.TRACE_RECALL):
        raise DjangoPermissionDenied
    context = _batch_context(request, item)
    context["recall_form"] = form
    context["lift_form"] = LiftForm()
    return render(request, "trace/official_batch.html", context, status=status)


@never_cache
@require_GET
@official_required
def recall_list(request: HttpRequest) -> HttpResponse:
    _require(request)
    active = request.GET.get("state") != "lifted"
    page = _page_number(request.GET.get("page"))
    offset = (page - 1) * PAGE_SIZE
    rows = list(stats.recalls(active=active)[offset : offset + PAGE_SIZE + 1])
    context = {
        "rows": rows[:PAGE_SIZE],
        "active": active,
        "page": page,
        "has_previous": page > 1,
        "has_next": len(rows) > PAGE_SIZE,
    }
    return render(request, "trace/official_recalls.html", context)


def _recall(recall_id: int) -> Recall:
    return get_object_or_404(
        Recall.objects.select_related(
            "batch", "batch__product", "agency", "decided_by", "lifted_by"
        ),
        pk=recall_id,
    )


def _recall_context(request: HttpRequest, recall: Recall) -> dict[str, Any]:
    flags = list(
        recall.flags.select_related("batch", "batch__product", "batch__product__producer").order_by(
            "depth", "batch__product__name", "batch__lot"
        )[:FLAGS_SHOWN]
    )
    return {
        "recall": recall,
        "flags": flags,
        "flag_count": recall.flags.count(),
        "shown": FLAGS_SHOWN,
        "can_recall": can(request.user, Perm.TRACE_RECALL),
        "consumer_url": page_path(recall.batch.product.gtin, recall.batch.lot),
    }


@never_cache
@require_GET
@official_required
def recall(request: HttpRequest, recall_id: int) -> HttpResponse:
    _require(request)
    item = _recall(recall_id)
    context = _recall_context(request, item)
    context["lift_form"] = LiftForm()
    return render(request, "trace/official_recall.html", context)


@require_POST
@official_required
def recall_lift(request: HttpRequest, recall_id: int) -> HttpResponse:
    _require(request)
    item = _recall(recall_id)
    form = LiftForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            recalls.lift_recall(recall=item, reason=form.cleaned_data["reason"], user=request.user)
        except PermissionDenied as error:
            raise DjangoPermissionDenied(str(error.message)) from None
        except InvalidTransition as error:
            form.add_error(None, str(error.message))
            status = 409
        except ValidationFailed as error:
            _apply(form, error)
        else:
            messages.success(request, _t("The recall is lifted."))
            return redirect("trace_official:recall", recall_id=item.pk)
    elif not can(request.user, Perm.TRACE_RECALL):
        raise DjangoPermissionDenied
    item.refresh_from_db()
    context = _recall_context(request, item)
    context["lift_form"] = form
    return render(request, "trace/official_recall.html", context, status=status)
