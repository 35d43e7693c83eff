"""The producers' pages (mounted at /trace/): my producers, a producer with its places,
certifications, products and people, a product with its batches, a batch with the timeline of
its stages, the registration forms, one form per stage, corrections and label sheets.

Every write goes through `services` / `stages`, every read through `selectors`. Officials with
Perm.TRACE_VIEW may open every producer's pages but record nothing; the people of a producer
that a batch was shipped to see that batch and record their own steps (receiving, selling,
processing)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods

from thudo.core.errors import NotFound, PermissionDenied, ThudoError

from . import identifiers, labels, selectors, services, stages
from .forms import (
    STAGE_FORMS,
    BatchForm,
    CertificationForm,
    CorrectionForm,
    LabelForm,
    MemberForm,
    PlaceForm,
    ProducerForm,
    ProductForm,
    apply_errors,
    error_summary,
)
from .models import Batch, Event, Place, Producer, ProducerMember, Product
from .stages import Stage
from .uploads import content_type

# Stages offered on a batch page, in the order of a season.
OWN_STAGES = [
    Stage.PLANTING,
    Stage.FERTILISING,
    Stage.SPRAYING,
    Stage.HARVESTING,
    Stage.PROCESSING,
    Stage.PACKING,
    Stage.SHIPPING,
    Stage.RECEIVING,
    Stage.SELLING,
]
RECEIVED_STAGES = [Stage.RECEIVING, Stage.PROCESSING, Stage.SELLING]

# --- helpers -----------------------------------------------------------------------------------


def _get(fetch: Any, **kwargs: Any) -> Any:
    try:
        return fetch(**kwargs)
    except NotFound:
        raise Http404 from None


def _member_or_403(request: HttpRequest, producer: Producer, *, owner: bool = False) -> None:
    if not services.is_member(request.user, producer, owner=owner):
        raise DjangoPermissionDenied


def _form_page(
    request: HttpRequest,
    *,
    form: Any,
    title: str,
    back_url: str,
    back_label: str,
    submit: str,
    lead: str = "",
    errors: list[str] | None = None,
    template: str = "trace/producer_form_page.html",
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = {
        "form": form,
        "title": title,
        "lead": lead,
        "back_url": back_url,
        "back_label": back_label,
        "submit": submit,
        "errors": error_summary([form], errors or []) if (form.is_bound or errors) else [],
        **extra,
    }
    return render(request, template, context, status=status)


def _post_form(
    request: HttpRequest,
    form: Any,
    action: Any,
) -> tuple[Any, list[str]]:
    """Validate `form`, run `action(cleaned_data)`; (result, []) or (None, messages)."""
    if not form.is_valid():
        return None, []
    try:
        return action(form.cleaned_data), []
    except ThudoError as exc:
        if isinstance(exc, PermissionDenied):
            raise DjangoPermissionDenied from None
        return None, apply_errors(form, exc)


# --- home and producers ------------------------------------------------------------------------


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    producers = list(selectors.producers_mine(request.user).order_by("name"))
    incoming = selectors.incoming_shipments([p.pk for p in producers]) if producers else []
    return render(
        request,
        "trace/home.html",
        {
            "producers": producers,
            "incoming": _incoming_rows(incoming),
            "sees_all": selectors.sees_all(request.user),
        },
    )


def _incoming_rows(incoming: list[tuple[Event, Place]]) -> list[dict[str, Any]]:
    """Shipments to my places with the batches they carry."""
    from .models import EventLink

    links = EventLink.objects.filter(event__in=[e for e, _p in incoming]).select_related(
        "batch__product"
    )
    by_event: dict[int, list[Batch]] = {}
    for link in links:
        by_event.setdefault(link.event_id, []).append(link.batch)
    return [
        {
            "event": event,
            "place": place,
            "batches": by_event.get(event.pk, []),
            "moment": timezone.localtime(event.event_time, stages.TZ),
        }
        for event, place in incoming
    ]


@login_required
@require_http_methods(["GET", "POST"])
def producer_new(request: HttpRequest) -> HttpResponse:
    form = ProducerForm(request.POST or None)
    errors: list[str] = []
    if request.method == "POST":
        producer, errors = _post_form(
            request,
            form,
            lambda d: services.producer_register(user=request.user, **d),
        )
        if producer is not None:
            messages.success(request, _("The producer is registered. Now add its places."))
            return redirect("trace:producer", producer.pk)
    return _form_page(
        request,
        form=form,
        title=_("Register a producer"),
        lead=_(
            "A business, a cooperative or a household that grows, processes or sells food. "
            "You become its owner and can add the people who keep its records."
        ),
        back_url=reverse("trace:home"),
        back_label=_("Traceability"),
        submit=_("Register"),
        errors=errors,
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_GET
def producer_detail(request: HttpRequest, producer_id: int) -> HttpResponse:
    producer = _get(selectors.producer_get_for, user=request.user, producer_id=producer_id)
    member = selectors.membership(request.user, producer)
    incoming = selectors.incoming_shipments([producer.pk]) if member else []
    return render(
        request,
        "trace/producer_detail.html",
        {
            "producer": producer,
            "member": member,
            "is_owner": member is not None and member.role == ProducerMember.Role.OWNER,
            "places": list(producer.places.select_related("ward").order_by("name")),
            "certifications": list(
                producer.certifications.select_related("product").order_by("scheme", "number")
            ),
            "products": list(producer.products.order_by("name")),
            "members": list(
                producer.members.select_related("user").order_by("role", "user__full_name")
            ),
            "incoming": _incoming_rows(incoming),
        },
    )


def _producer_form_view(
    request: HttpRequest,
    producer_id: int,
    *,
    form_class: Any,
    action: Any,
    title: str,
    submit: str,
    success: str,
    owner: bool = False,
    form_kwargs: dict[str, Any] | None = None,
    lead: str = "",
    redirect_to: Any = None,
) -> HttpResponse:
    producer = _get(selectors.producer_get_for, user=request.user, producer_id=producer_id)
    _member_or_403(request, producer, owner=owner)
    kwargs = dict(form_kwargs or {})
    if form_class in (CertificationForm, BatchForm):
        kwargs["producer"] = producer
    form = form_class(request.POST or None, request.FILES or None, **kwargs)
    errors: list[str] = []
    if request.method == "POST":
        result, errors = _post_form(request, form, lambda d: action(producer, d))
        if result is not None:
            messages.success(request, success)
            if redirect_to is not None:
                return redirect(redirect_to(result))
            return redirect("trace:producer", producer.pk)
    return _form_page(
        request,
        form=form,
        title=title,
        lead=lead,
        back_url=reverse("trace:producer", args=[producer.pk]),
        back_label=producer.name,
        submit=submit,
        errors=errors,
        producer=producer,
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def member_new(request: HttpRequest, producer_id: int) -> HttpResponse:
    return _producer_form_view(
        request,
        producer_id,
        form_class=MemberForm,
        owner=True,
        action=lambda producer, d: services.member_add(
            producer=producer, actor=request.user, personal_id=d["personal_id"], role=d["role"]
        ),
        title=_("Add a person"),
        lead=_("The person must already have an account on this portal."),
        submit=_("Add"),
        success=_("The person can now keep this producer's records."),
    )


@login_required
@require_http_methods(["GET", "POST"])
def place_new(request: HttpRequest, producer_id: int) -> HttpResponse:
    return _producer_form_view(
        request,
        producer_id,
        form_class=PlaceForm,
        action=lambda producer, d: services.place_add(producer=producer, actor=request.user, **d),
        title=_("Add a place"),
        lead=_("A field or farm, a processing plant, a warehouse or a shop."),
        submit=_("Add the place"),
        success=_("The place is added."),
    )


@login_required
@require_http_methods(["GET", "POST"])
def certification_new(request: HttpRequest, producer_id: int) -> HttpResponse:
    return _producer_form_view(
        request,
        producer_id,
        form_class=CertificationForm,
        action=lambda producer, d: services.certification_add(
            producer=producer, actor=request.user, **d
        ),
        title=_("Add a certificate"),
        lead=_("VietGAP, organic, HACCP or another certificate the producer holds."),
        submit=_("Add the certificate"),
        success=_("The certificate is added."),
    )


@login_required
@require_http_methods(["GET", "POST"])
def product_new(request: HttpRequest, producer_id: int) -> HttpResponse:
    return _producer_form_view(
        request,
        producer_id,
        form_class=ProductForm,
        action=lambda producer, d: services.product_register(
            producer=producer, actor=request.user, **d
        ),
        title=_("Register a product"),
        lead=_("Each product has its own GTIN (the number under its barcode)."),
        submit=_("Register the product"),
        success=_("The product is registered. Now add its first batch."),
        redirect_to=lambda product: reverse("trace:product", args=[product.pk]),
    )


# --- products and batches ----------------------------------------------------------------------


@login_required
@require_GET
def product_detail(request: HttpRequest, product_id: int) -> HttpResponse:
    product = _get(selectors.product_get_for, user=request.user, product_id=product_id)
    member = selectors.membership(request.user, product.producer)
    return render(
        request,
        "trace/product_detail.html",
        {
            "product": product,
            "producer": product.producer,
            "member": member,
            "batches": list(selectors.batches_of(product)[:200]),
            "certifications": list(product.certifications.order_by("scheme")),
            "public_url": identifiers.digital_link(product.gtin),
        },
    )


@require_GET
def product_image(request: HttpRequest, product_id: int) -> HttpResponseBase:
    """A product's photo (public: it is shown on the consumer page)."""
    product = Product.objects.filter(pk=product_id).only("image").first()
    if product is None or not product.image:
        raise Http404
    try:
        handle = default_storage.open(product.image, "rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    response = FileResponse(handle, content_type=content_type(product.image))
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "public, max-age=3600"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def batch_new(request: HttpRequest, product_id: int) -> HttpResponse:
    product = _get(selectors.product_get_for, user=request.user, product_id=product_id)
    producer = product.producer
    _member_or_403(request, producer)
    form = BatchForm(request.POST or None, producer=producer)
    errors: list[str] = []
    if request.method == "POST":
        batch, errors = _post_form(
            request,
            form,
            lambda d: services.batch_register(
                product=product,
                actor=request.user,
                lot=d["lot"],
                produced_on=d["produced_on"],
                expires_on=d.get("expires_on"),
                quantity=d.get("quantity"),
                unit=d.get("unit") or "",
                place=d.get("place"),
                serial_count=d.get("serial_count") or 0,
            ),
        )
        if batch is not None:
            messages.success(request, _("The batch is registered. Record its stages below."))
            return redirect("trace:batch", batch.pk)
    return _form_page(
        request,
        form=form,
        title=_("New batch"),
        lead=product.name,
        back_url=reverse("trace:product", args=[product.pk]),
        back_label=product.name,
        submit=_("Register the batch"),
        errors=errors,
        status=400 if request.method == "POST" else 200,
    )


def _qr_svg(uri: str) -> str:
    import segno

    return str(
        segno.make(uri, error="m", micro=False).svg_inline(
            scale=4, border=4, omitsize=True, title=uri
        )
    )


@login_required
@require_GET
def batch_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = _get(selectors.batch_get_for, user=request.user, batch_id=batch_id)
    actors = selectors.batch_actors(request.user, batch)
    own = batch.product.producer in actors
    steps = selectors.batch_timeline(batch)
    actor_ids = {p.pk for p in actors}
    rows = [
        {
            "step": step,
            "label": Stage(step.stage).label if step.stage in Stage.values else step.stage,
            "moment": timezone.localtime(step.event.event_time, stages.TZ),
            "quantity": stages.event_quantity(step.document, batch),
            "can_correct": step.event.producer_id in actor_ids and not step.corrected_by,
            "destination": _destination(step.document),
            "details": _details(step.document),
        }
        for step in steps
    ]
    offered: list[tuple[Producer, list[dict[str, str]]]] = []
    for producer in actors:
        names = OWN_STAGES if producer.pk == batch.product.producer_id else RECEIVED_STAGES
        links = [
            {
                "label": str(Stage(s).label),
                "url": reverse("trace:stage", args=[batch.pk, s]) + f"?as={producer.pk}",
            }
            for s in names
        ]
        offered.append((producer, links))
    public_url = identifiers.digital_link(batch.product.gtin, batch.lot)
    return render(
        request,
        "trace/batch_detail.html",
        {
            "batch": batch,
            "product": batch.product,
            "producer": batch.product.producer,
            "own": own,
            "rows": rows,
            "offered": offered,
            "public_url": public_url,
            "qr_svg": _qr_svg(public_url),
        },
    )


DETAILS = [
    ("thudo:variety", _lazy("Crop and variety")),
    ("thudo:area", _lazy("Area planted")),
    ("thudo:seedSource", _lazy("Seed or seedlings from")),
    ("thudo:input", _lazy("Input")),
    ("thudo:dose", _lazy("Dose")),
    ("thudo:preHarvestDays", _lazy("Days to wait before harvest")),
    ("thudo:process", _lazy("What was done")),
    ("thudo:packaging", _lazy("Packaging")),
    ("thudo:deliveryNote", _lazy("Delivery note")),
    ("thudo:note", _lazy("Note")),
    ("thudo:correctionNote", _lazy("What was wrong")),
]


def _details(document: dict[str, Any]) -> list[tuple[str, str]]:
    """The stage's own values (our thudo: fields, also inside ilmd) as (label, value)."""
    ilmd = document.get("ilmd") or {}
    found = []
    for key, label in DETAILS:
        value = document.get(key, ilmd.get(key))
        if value not in (None, ""):
            found.append((str(label), str(value)))
    if "parentID" in document:
        found.append((str(_lazy("Packed into")), str(document["parentID"])))
    return found


def _destination(document: dict[str, Any]) -> Place | None:
    for item in document.get("destinationList") or []:
        if item.get("type") == "location":
            return selectors.place_by_uri(str(item.get("destination", "")))
    return None


def _acting_producer(request: HttpRequest, batch: Batch, stage: str) -> Producer:
    """The producer the user records for: `?as=` when given, else the batch's own producer,
    else the only producer it was shipped to."""
    actors = selectors.batch_actors(request.user, batch)
    wanted = request.GET.get("as") or request.POST.get("as")
    if wanted:
        actors = [p for p in actors if str(p.pk) == str(wanted)]
    for producer in actors:
        if stages.may_record(request.user, producer, batch, stage):
            return producer
    raise DjangoPermissionDenied


@login_required
@require_http_methods(["GET", "POST"])
def stage_record(request: HttpRequest, batch_id: int, stage: str) -> HttpResponse:
    if stage not in STAGE_FORMS:
        raise Http404
    batch = _get(selectors.batch_get_for, user=request.user, batch_id=batch_id)
    producer = _acting_producer(request, batch, stage)
    form_class = STAGE_FORMS[stage]
    form = form_class(request.POST or None, batch=batch, producer=producer)
    errors: list[str] = []
    if request.method == "POST":
        recorded, errors = _post_form(
            request,
            form,
            lambda _d: stages.stage_record(
                stage=stage, batch=batch, producer=producer, user=request.user, values=form.values()
            ),
        )
        if recorded is not None:
            messages.success(
                request,
                _("Recorded: %(stage)s.") % {"stage": Stage(stage).label},
            )
            return redirect("trace:batch", batch.pk)
    places = list(Place.objects.filter(producer=producer))
    return _form_page(
        request,
        form=form,
        title=str(Stage(stage).label),
        lead=f"{batch.product.name} — {_('lot')} {batch.lot}",
        back_url=reverse("trace:batch", args=[batch.pk]),
        back_label=_("Back to the batch"),
        submit=_("Record"),
        errors=errors,
        template="trace/stage_form.html",
        status=400 if request.method == "POST" else 200,
        producer=producer,
        batch=batch,
        stage=stage,
        no_places=not places,
        destinations=selectors.destination_places(producer) if stage == Stage.SHIPPING else [],
    )


@login_required
@require_http_methods(["GET", "POST"])
def correction(request: HttpRequest, batch_id: int, event_id: int) -> HttpResponse:
    batch = _get(selectors.batch_get_for, user=request.user, batch_id=batch_id)
    event = Event.objects.filter(pk=event_id, links__batch=batch).first()
    if event is None:
        raise Http404
    producer = event.producer
    if not services.is_member(request.user, producer):
        raise DjangoPermissionDenied
    form = CorrectionForm(request.POST or None, batch=batch, producer=producer, event=event)
    errors: list[str] = []
    if request.method == "POST":

        def record(data: dict[str, Any]) -> Any:
            original = stages.event_moment(event).replace(second=0, microsecond=0)
            when = data.get("when")
            changed_when = when is not None and when.replace(tzinfo=None) != original.replace(
                tzinfo=None
            )
            old_quantity, _uom = stages.event_quantity(event.document, batch)
            quantity = data.get("quantity")
            changed_quantity = quantity is not None and (
                old_quantity is None or float(quantity) != float(old_quantity)
            )
            return stages.correction_record(
                event=event,
                batch=batch,
                producer=producer,
                user=request.user,
                reason=data["reason"],
                when=when if changed_when else None,
                quantity=quantity if changed_quantity else None,
                place=data.get("place"),
                note=data.get("note"),
            )

        recorded, errors = _post_form(request, form, record)
        if recorded is not None:
            messages.success(request, _("The correction is recorded; the original is kept."))
            return redirect("trace:batch", batch.pk)
    stage = selectors.event_stage(event)
    return _form_page(
        request,
        form=form,
        title=_("Correct a step"),
        lead=_(
            "Events are never changed: the correction is recorded as a new event that points "
            "to the one it corrects, and both stay visible."
        ),
        back_url=reverse("trace:batch", args=[batch.pk]),
        back_label=_("Back to the batch"),
        submit=_("Record the correction"),
        errors=errors,
        template="trace/stage_correct.html",
        status=400 if request.method == "POST" else 200,
        event=event,
        stage_label=Stage(stage).label if stage in Stage.values else stage,
        moment=stages.event_moment(event),
        batch=batch,
    )


# --- labels ------------------------------------------------------------------------------------


def _label_batch(request: HttpRequest, batch_id: int) -> Batch:
    batch = _get(selectors.batch_get_for, user=request.user, batch_id=batch_id)
    if not services.is_member(request.user, batch.product.producer):
        raise DjangoPermissionDenied
    return batch


@login_required
@require_GET
def label_sheet(request: HttpRequest, batch_id: int) -> HttpResponse:
    """Choose how many labels to print (the PDF opens in a new page)."""
    batch = _label_batch(request, batch_id)
    form = LabelForm(
        initial={"count": min(labels.PER_SHEET, batch.serial_count or labels.PER_SHEET)}
    )
    return render(
        request,
        "trace/label_sheet.html",
        {
            "batch": batch,
            "product": batch.product,
            "form": form,
            "public_url": identifiers.digital_link(batch.product.gtin, batch.lot),
        },
    )


@login_required
@require_GET
def labels_pdf(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = _label_batch(request, batch_id)
    count = _int_param(request, "count", labels.PER_SHEET)
    start = _int_param(request, "start", 1)
    if count is None or not 1 <= count <= labels.MAX_LABELS:
        return HttpResponse(
            _("The number of labels is from 1 to 500."), status=400, content_type="text/plain"
        )
    if start is None or start < 1 or (batch.serial_count and start > batch.serial_count):
        return HttpResponse(
            _("The first serial number is not in this batch."),
            status=400,
            content_type="text/plain",
        )
    pdf = labels.labels_pdf(batch, count=count, start=start)
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"labels-{batch.product.gtin}-{batch.lot}.pdf".replace("/", "-")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _int_param(request: HttpRequest, name: str, default: int) -> int | None:
    value = request.GET.get(name, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        return None
