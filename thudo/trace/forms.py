"""The producers' forms: registration (producer, people, places, certifications, products,
batches), one short form per stage, the correction form and the label sheet. The services and
`stages` judge every value again; these forms carry the values, render labelled fields and
give the first, field-by-field messages. Errors of the services and of the EPCIS core are put
back on the fields they name (`apply_errors`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import ThudoError
from thudo.core.models import AdminUnit

from . import selectors, services
from .models import Batch, Certification, Event, Place, Producer, ProducerMember, Product
from .stages import TZ, Stage
from .uploads import ACCEPT

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
UNIT_CHOICES = [(code, f"{label} ({code})") for code, label in services.UNITS.items()]


def ward_choices() -> list[tuple[str, Any]]:
    units = (
        AdminUnit.objects.filter(level=AdminUnit.Level.COMMUNE, parent__code=services.city_code())
        .order_by("name")
        .values_list("code", "name")
    )
    return [("", _("— choose —")), *units]


def now_local() -> datetime:
    return timezone.localtime(timezone.now(), TZ).replace(second=0, microsecond=0)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format=DATETIME_FORMAT, **kwargs)


def _date_field(label: Any, *, required: bool = False, help_text: Any = "") -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        widget=DateInput(),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        help_text=help_text,
    )


def _when_field() -> forms.DateTimeField:
    return forms.DateTimeField(
        label=_("When"),
        required=False,
        widget=DateTimeInput(),
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M"],
        help_text=_("Leave as it is for now."),
    )


def _decimal_field(label: Any, *, required: bool = False) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=0,
        max_digits=14,
        decimal_places=3,
        localize=False,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )


def _uom_field(label: Any = None) -> forms.ChoiceField:
    return forms.ChoiceField(label=label or _("Unit"), choices=UNIT_CHOICES, required=False)


# --- errors ------------------------------------------------------------------------------------

# Names used by the services / the EPCIS core → the form field they belong to.
FIELD_ALIASES = {
    "eventTime": "when",
    "eventTimeZoneOffset": "when",
    "readPoint": "place",
    "bizLocation": "place",
    "quantityList": "quantity",
    "childQuantityList": "quantity",
    "childEPCs": "quantity",
    "epcList": "quantity",
    "outputQuantityList": "output_quantity",
    "outputEPCList": "output_quantity",
    "inputQuantityList": "input_quantity",
    "inputEPCList": "input_quantity",
    "destinationList": "destination",
    "sourceList": "place",
    "parentID": "sscc",
    "unit": "unit",
    "uom": "uom",
}


def _target(form: forms.Form, name: str) -> str:
    if name in form.fields:
        return name
    head = name.split("[", 1)[0].split(".", 1)[0]
    alias = FIELD_ALIASES.get(head, head)
    if alias in form.fields:
        return alias
    return ""


def apply_errors(form: forms.Form, exc: ThudoError) -> list[str]:
    """Put a domain error's messages on the form's fields; return the messages that belong to
    no field (shown at the top). The EPCIS core's errors (a list of {event, field, message})
    are placed by their field, else shown with the field's name."""
    left: list[str] = []
    detailed = getattr(exc, "errors", None)
    if isinstance(detailed, list) and detailed:
        for item in detailed:
            if not isinstance(item, dict):
                left.append(str(item))
                continue
            name = str(item.get("field") or "")
            message = str(item.get("message") or "")
            target = _target(form, name)
            if target:
                form.add_error(target, message)
            else:
                left.append(f"{name}: {message}" if name else message)
        return left
    fields = exc.as_dict()["fields"]
    for name, messages in fields.items():
        target = _target(form, name)
        for message in messages:
            if target:
                form.add_error(target, message)
            else:
                left.append(message)
    if not fields:
        left.append(exc.as_dict()["message"])
    return left


def error_summary(forms_: Iterable[forms.Form], extra: Iterable[str] = ()) -> list[dict[str, str]]:
    """[{href, label, message}] for the error summary at the top of a page."""
    items: list[dict[str, str]] = []
    for form in forms_:
        if not form.is_bound:
            continue
        for message in form.non_field_errors():
            items.append({"href": "", "label": "", "message": str(message)})
        for name, errors in form.errors.items():
            if name == NON_FIELD_ERRORS:
                continue
            bound = form[name]
            for message in errors:
                items.append(
                    {
                        "href": f"#{bound.id_for_label}" if bound.id_for_label else "",
                        "label": str(bound.label or ""),
                        "message": str(message),
                    }
                )
    items.extend({"href": "", "label": "", "message": m} for m in extra)
    return items


# --- registration ------------------------------------------------------------------------------


class ProducerForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind of producer"), choices=Producer.Kind.choices, widget=forms.RadioSelect
    )
    name = forms.CharField(label=_("Name"), max_length=255)
    name_en = forms.CharField(label=_("Name in English"), max_length=255, required=False)
    business_code = forms.CharField(
        label=_("Enterprise or cooperative code"),
        max_length=14,
        required=False,
        help_text=_("10 digits. A household may leave it empty."),
    )
    address = forms.CharField(label=_("Address"), max_length=300)
    ward = forms.ChoiceField(label=_("Ward or commune"), choices=())
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    gln = forms.CharField(
        label=_("GLN (if you have one)"),
        max_length=13,
        required=False,
        help_text=_("The 13-digit Global Location Number from GS1 Vietnam."),
    )
    gs1_company_prefix = forms.CharField(
        label=_("GS1 company prefix (if you have one)"),
        max_length=12,
        required=False,
        help_text=_("Starts with 893."),
    )
    description = forms.CharField(
        label=_("About the producer"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ward"].choices = ward_choices()  # type: ignore[attr-defined]
        self.fields["phone"].widget.attrs.update(inputmode="tel", autocomplete="tel")
        self.fields["email"].widget.attrs.update(autocomplete="email")
        for name in ("business_code", "gln", "gs1_company_prefix"):
            self.fields[name].widget.attrs.update(inputmode="numeric", autocomplete="off")


class MemberForm(forms.Form):
    personal_id = forms.CharField(
        label=_("Personal ID number"),
        max_length=14,
        help_text=_("The 12-digit number of a person who already has an account."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    role = forms.ChoiceField(
        label=_("Role"),
        choices=ProducerMember.Role.choices,
        initial=ProducerMember.Role.STAFF,
        widget=forms.RadioSelect,
    )


class PlaceForm(forms.Form):
    name = forms.CharField(label=_("Name of the place"), max_length=255)
    kind = forms.ChoiceField(label=_("Kind of place"), choices=Place.Kind.choices)
    address = forms.CharField(label=_("Address"), max_length=300)
    ward = forms.ChoiceField(label=_("Ward or commune"), choices=())
    gln = forms.CharField(
        label=_("GLN (if the place has one)"),
        max_length=13,
        required=False,
        help_text=_("Without a GLN the place gets a location code such as HN-00070-1."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    latitude = forms.FloatField(label=_("Latitude"), required=False)
    longitude = forms.FloatField(label=_("Longitude"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ward"].choices = ward_choices()  # type: ignore[attr-defined]
        for name in ("latitude", "longitude"):
            self.fields[name].widget.attrs.update(step="any", inputmode="decimal")


class CertificationForm(forms.Form):
    scheme = forms.ChoiceField(label=_("Certificate"), choices=Certification.Scheme.choices)
    number = forms.CharField(label=_("Certificate number"), max_length=60)
    issuer = forms.CharField(label=_("Issued by"), max_length=255)
    valid_from = _date_field(_("Valid from"), required=True)
    valid_to = _date_field(_("Valid to"))
    product = forms.ModelChoiceField(
        label=_("For which product"),
        queryset=Product.objects.none(),
        required=False,
        empty_label=_("The whole producer"),
    )

    def __init__(self, *args: Any, producer: Producer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.filter(producer=producer)  # type: ignore[attr-defined]


class ProductForm(forms.Form):
    gtin = forms.CharField(
        label=_("GTIN (barcode number)"),
        max_length=14,
        help_text=_("8, 12, 13 or 14 digits, starting with 893, with the check digit."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    name = forms.CharField(label=_("Product name"), max_length=255)
    name_en = forms.CharField(label=_("Name in English"), max_length=255, required=False)
    category = forms.ChoiceField(label=_("Category"), choices=Product.Category.choices)
    trademark = forms.CharField(label=_("Trademark"), max_length=200, required=False)
    standards = forms.CharField(
        label=_("Standards applied"),
        max_length=500,
        required=False,
        help_text=_("e.g. TCVN 5250:2015"),
    )
    shelf_life_days = forms.IntegerField(
        label=_("Shelf life (days)"), required=False, min_value=1, max_value=3650
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    description_en = forms.CharField(
        label=_("Description in English"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    ocop_stars = forms.TypedChoiceField(
        label=_("OCOP stars"),
        choices=[("", _("No OCOP rating")), ("3", "3 ★"), ("4", "4 ★"), ("5", "5 ★")],
        coerce=int,
        empty_value=None,
        required=False,
    )
    ocop_decision = forms.CharField(
        label=_("OCOP decision number"),
        max_length=120,
        required=False,
        help_text=_("e.g. 1234/QĐ-UBND"),
    )
    ocop_decided_on = _date_field(_("Date of the OCOP decision"))
    ocop_issuer = forms.CharField(label=_("OCOP granted by"), max_length=255, required=False)
    image = forms.FileField(
        label=_("Photo of the product"),
        required=False,
        help_text=_("JPEG, PNG or WebP, at most 5 MB."),
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
    )


class BatchForm(forms.Form):
    lot = forms.CharField(
        label=_("Lot number"),
        max_length=20,
        help_text=_("Up to 20 letters, digits or - . / _"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    produced_on = _date_field(_("Production date"), required=True)
    expires_on = _date_field(
        _("Expiry date"), help_text=_("Empty: the production date plus the shelf life.")
    )
    quantity = _decimal_field(_("Quantity"))
    unit = _uom_field()
    place = forms.ModelChoiceField(
        label=_("Produced at"), queryset=Place.objects.none(), required=False
    )
    serial_count = forms.IntegerField(
        label=_("Number of items with their own serial number"),
        required=False,
        min_value=0,
        max_value=services.MAX_SERIALS,
        initial=0,
        help_text=_("0 when items carry no serial number (one QR for the whole lot)."),
    )

    def __init__(self, *args: Any, producer: Producer, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("produced_on", timezone.localdate())
        super().__init__(*args, **kwargs)
        self.fields["place"].queryset = Place.objects.filter(producer=producer)  # type: ignore[attr-defined]
        self.fields["unit"].choices = [("", _("— none —")), *UNIT_CHOICES]  # type: ignore[attr-defined]


# --- stages ------------------------------------------------------------------------------------


class PlaceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.get_kind_display()})"


class StageForm(forms.Form):
    """The fields every stage has: when, where and a note."""

    stage: str = ""
    place_label: Any = _("Where")
    place_required = True

    when = _when_field()
    place = PlaceChoiceField(label=_("Where"), queryset=Place.objects.none())
    note = forms.CharField(
        label=_("Note"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, batch: Batch, producer: Producer, **kwargs: Any) -> None:
        initial = kwargs.setdefault("initial", {})
        initial.setdefault("when", now_local())
        self.batch, self.producer = batch, producer
        places = Place.objects.filter(producer=producer).order_by("name")
        from .stages import PLACE_KINDS

        kinds = PLACE_KINDS.get(self.stage)
        preferred = [p for p in places if not kinds or p.kind in kinds]
        if "place" not in initial:
            if batch.place_id and any(p.pk == batch.place_id for p in preferred):
                initial["place"] = batch.place_id
            elif preferred:
                initial["place"] = preferred[0].pk
        super().__init__(*args, **kwargs)
        self.fields["place"].queryset = places  # type: ignore[attr-defined]
        self.fields["place"].label = self.place_label
        self.fields["place"].required = self.place_required
        if "uom" in self.fields:
            self.fields["uom"].initial = batch.unit or "KGM"

    def values(self) -> dict[str, Any]:
        """The cleaned values as `stages.stage_record` takes them."""
        return dict(self.cleaned_data)


class QuantityMixin(forms.Form):
    quantity = _decimal_field(_("Quantity"), required=True)
    uom = _uom_field()


class PlantingForm(StageForm):
    stage = Stage.PLANTING
    place_label = _("Field or farm")
    variety = forms.CharField(label=_("Crop and variety"), max_length=120, required=False)
    area = forms.CharField(
        label=_("Area planted"), max_length=60, required=False, help_text=_("e.g. 2 sào, 0.5 ha")
    )
    seed_source = forms.CharField(
        label=_("Where the seed or seedlings came from"), max_length=200, required=False
    )


class FertilisingForm(StageForm):
    stage = Stage.FERTILISING
    place_label = _("Field or farm")
    input_name = forms.CharField(label=_("Fertiliser used"), max_length=200)
    dose = forms.CharField(label=_("Amount"), max_length=100, help_text=_("e.g. 20 kg per sào"))


class SprayingForm(StageForm):
    stage = Stage.SPRAYING
    place_label = _("Field or farm")
    input_name = forms.CharField(label=_("Product sprayed"), max_length=200)
    dose = forms.CharField(
        label=_("Dose"), max_length=100, help_text=_("e.g. 10 ml per 16-litre tank")
    )
    pre_harvest_days = forms.IntegerField(
        label=_("Days to wait before harvest"), required=False, min_value=0, max_value=365
    )


class HarvestingForm(QuantityMixin, StageForm):
    stage = Stage.HARVESTING
    place_label = _("Field or farm")
    field_order = ["when", "place", "quantity", "uom", "note"]


class PackingForm(QuantityMixin, StageForm):
    stage = Stage.PACKING
    place_label = _("Packed at")
    place_required = False
    packaging = forms.CharField(
        label=_("Packaging"), max_length=120, required=False, help_text=_("e.g. 500 g bag")
    )
    sscc = forms.CharField(
        label=_("SSCC of the carton or pallet (if any)"),
        max_length=18,
        required=False,
        help_text=_("18 digits."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    parent = forms.ModelChoiceField(
        label=_("Or packed into another of your batches"),
        queryset=Batch.objects.none(),
        required=False,
        empty_label=_("— none —"),
    )
    field_order = ["when", "place", "quantity", "uom", "packaging", "sscc", "parent", "note"]

    def __init__(self, *args: Any, batch: Batch, producer: Producer, **kwargs: Any) -> None:
        super().__init__(*args, batch=batch, producer=producer, **kwargs)
        self.fields["parent"].queryset = (  # type: ignore[attr-defined]
            Batch.objects.filter(product__producer=producer)
            .exclude(pk=batch.pk)
            .select_related("product")
            .order_by("-produced_on")[:200]
        )


class DestinationField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            label=_("Shipped to (location code or GLN)"),
            max_length=40,
            help_text=_("The code of a place of the buyer, e.g. HN-00070-3. Pick from the list."),
            widget=forms.TextInput(attrs={"list": "destinations", "autocomplete": "off"}),
            **kwargs,
        )


class ShippingForm(QuantityMixin, StageForm):
    stage = Stage.SHIPPING
    place_label = _("Shipped from")
    destination = DestinationField()
    delivery_note = forms.CharField(label=_("Delivery note number"), max_length=60, required=False)
    field_order = ["when", "place", "destination", "quantity", "uom", "delivery_note", "note"]

    def clean_destination(self) -> Place:
        value = self.cleaned_data.get("destination", "")
        place = selectors.place_by_code(value)
        if place is None:
            raise forms.ValidationError(str(_("No place has this location code or GLN.")))
        return place


class ShipmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        moment = timezone.localtime(obj.event_time, TZ)
        return f"{moment:%d/%m/%Y %H:%M} — {obj.producer.name}"


class ReceivingForm(QuantityMixin, StageForm):
    stage = Stage.RECEIVING
    place_label = _("Received at")
    shipment = ShipmentChoiceField(
        label=_("Which shipment"), queryset=Event.objects.none(), required=False
    )
    field_order = ["shipment", "when", "place", "quantity", "uom", "note"]

    def __init__(self, *args: Any, batch: Batch, producer: Producer, **kwargs: Any) -> None:
        shipments = selectors.shipped_to(batch, [producer.pk])
        initial = kwargs.setdefault("initial", {})
        if shipments:
            event, place = shipments[0]
            initial.setdefault("shipment", event.pk)
            initial.setdefault("place", place.pk)
            from .stages import event_quantity

            quantity, uom = event_quantity(event.document, batch)
            if quantity is not None:
                initial.setdefault("quantity", quantity)
            if uom:
                initial.setdefault("uom", uom)
        super().__init__(*args, batch=batch, producer=producer, **kwargs)
        self.fields["shipment"].queryset = Event.objects.filter(  # type: ignore[attr-defined]
            pk__in=[e.pk for e, _p in shipments]
        ).select_related("producer")
        self.fields["shipment"].required = batch.product.producer_id != producer.pk


class SellingForm(QuantityMixin, StageForm):
    stage = Stage.SELLING
    place_label = _("Shop")
    field_order = ["when", "place", "quantity", "uom", "note"]


class BatchChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.product.name} — {obj.lot}"


class ProcessingForm(StageForm):
    """This batch (and up to two more) → one output batch (an existing one or a new lot)."""

    stage = Stage.PROCESSING
    place_label = _("Processed at")
    input_quantity = _decimal_field(_("Quantity of this batch used"), required=True)
    input_uom = _uom_field()
    input2_batch = BatchChoiceField(
        label=_("Second input batch"), queryset=Batch.objects.none(), required=False
    )
    input2_quantity = _decimal_field(_("Quantity of the second batch"))
    input2_uom = _uom_field()
    input3_batch = BatchChoiceField(
        label=_("Third input batch"), queryset=Batch.objects.none(), required=False
    )
    input3_quantity = _decimal_field(_("Quantity of the third batch"))
    input3_uom = _uom_field()
    process = forms.CharField(
        label=_("What was done"), max_length=200, required=False, help_text=_("e.g. dried, milled")
    )
    output = BatchChoiceField(
        label=_("Into an existing batch"),
        queryset=Batch.objects.none(),
        required=False,
        empty_label=_("— a new batch —"),
    )
    output_product = forms.ModelChoiceField(
        label=_("Or a new batch of the product"), queryset=Product.objects.none(), required=False
    )
    output_lot = forms.CharField(
        label=_("Lot number of the new batch"), max_length=20, required=False
    )
    output_produced_on = _date_field(_("Production date of the new batch"))
    output_expires_on = _date_field(
        _("Expiry date of the new batch"),
        help_text=_("Empty: the production date plus the shelf life."),
    )
    output_quantity = _decimal_field(_("Quantity produced"), required=True)
    output_uom = _uom_field()
    field_order = [
        "when",
        "place",
        "input_quantity",
        "input_uom",
        "input2_batch",
        "input2_quantity",
        "input2_uom",
        "input3_batch",
        "input3_quantity",
        "input3_uom",
        "process",
        "output",
        "output_product",
        "output_lot",
        "output_produced_on",
        "output_expires_on",
        "output_quantity",
        "output_uom",
        "note",
    ]

    def __init__(self, *args: Any, batch: Batch, producer: Producer, **kwargs: Any) -> None:
        super().__init__(*args, batch=batch, producer=producer, **kwargs)
        usable = [b for b in selectors.batches_usable_by(producer) if b.pk != batch.pk]
        ids = [b.pk for b in usable]
        for name in ("input2_batch", "input3_batch"):
            self.fields[name].queryset = Batch.objects.filter(pk__in=ids).select_related(  # type: ignore[attr-defined]
                "product"
            )
        self.fields["output"].queryset = (  # type: ignore[attr-defined]
            Batch.objects.filter(product__producer=producer)
            .exclude(pk=batch.pk)
            .select_related("product")
            .order_by("-produced_on")[:200]
        )
        self.fields["output_product"].queryset = Product.objects.filter(producer=producer)  # type: ignore[attr-defined]
        for name in ("input_uom", "input2_uom", "input3_uom", "output_uom"):
            self.fields[name].initial = batch.unit or "KGM"

    def values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        inputs = [(self.batch, data.get("input_quantity"), data.get("input_uom") or "")]
        for n in (2, 3):
            item = data.get(f"input{n}_batch")
            if item is not None:
                inputs.append(
                    (item, data.get(f"input{n}_quantity"), data.get(f"input{n}_uom") or "")
                )
        data["inputs"] = inputs
        return data


STAGE_FORMS: dict[str, type[StageForm]] = {
    Stage.PLANTING: PlantingForm,
    Stage.FERTILISING: FertilisingForm,
    Stage.SPRAYING: SprayingForm,
    Stage.HARVESTING: HarvestingForm,
    Stage.PROCESSING: ProcessingForm,
    Stage.PACKING: PackingForm,
    Stage.SHIPPING: ShippingForm,
    Stage.RECEIVING: ReceivingForm,
    Stage.SELLING: SellingForm,
}


class CorrectionForm(forms.Form):
    """Correct one of the batch's events this producer recorded: a new event that points to
    it (the original is kept)."""

    when = forms.DateTimeField(
        label=_("Correct time"),
        required=False,
        widget=DateTimeInput(),
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M"],
    )
    quantity = _decimal_field(_("Correct quantity"))
    place = PlaceChoiceField(
        label=_("Correct place"), queryset=Place.objects.none(), required=False
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
    reason = forms.CharField(
        label=_("What was wrong"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(
        self, *args: Any, batch: Batch, producer: Producer, event: Event, **kwargs: Any
    ) -> None:
        from .stages import event_moment, event_quantity

        initial = kwargs.setdefault("initial", {})
        quantity, _uom = event_quantity(event.document, batch)
        initial.setdefault("when", event_moment(event).replace(tzinfo=None))
        if quantity is not None:
            initial.setdefault("quantity", quantity)
        place = selectors.place_by_uri(event.biz_location or event.read_point)
        if place is not None and place.producer_id == producer.pk:
            initial.setdefault("place", place.pk)
        initial.setdefault("note", event.document.get("thudo:note", ""))
        super().__init__(*args, **kwargs)
        self.fields["place"].queryset = Place.objects.filter(producer=producer)  # type: ignore[attr-defined]


class LabelForm(forms.Form):
    count = forms.IntegerField(
        label=_("Number of labels"),
        min_value=1,
        max_value=500,
        initial=24,
        help_text=_("24 labels fill one A4 sheet (3 × 8)."),
    )
