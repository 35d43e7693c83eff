"""The operator's forms: a GTFS upload (type and size checked before the importer reads it), a
vehicle, a device, a service alert and the vehicle search. The services judge every value
again; their field errors are put back on these forms' fields (`apply_errors`)."""

from __future__ import annotations

import re
import zipfile
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import ThudoError

from .models import Route, ServiceAlert

MB = 1024 * 1024
DEFAULT_GTFS_MAX_BYTES = 20 * MB
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first entry, or an empty zip


def gtfs_max_bytes() -> int:
    """The largest GTFS zip the page accepts (settings.TRANSIT_GTFS_MAX_BYTES, 20 MB)."""
    return int(getattr(settings, "TRANSIT_GTFS_MAX_BYTES", DEFAULT_GTFS_MAX_BYTES))


def apply_errors(form: forms.Form, error: ThudoError) -> None:
    """Put a service's field errors on the form's fields (or on the form when it has no such
    field), and its message when it names no field."""
    for name, value in error.fields.items():
        values = value if isinstance(value, list) else [value]
        for message in values:
            form.add_error(name if name in form.fields else None, str(message))
    if not error.fields:
        form.add_error(None, str(error.message))


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format=DATETIME_FORMAT, **kwargs)


def _when(label: Any, help_text: Any = "") -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        widget=DateTimeInput(),
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M"],
        help_text=help_text,
    )


# --- timetables -------------------------------------------------------------------------------


class GtfsUploadForm(forms.Form):
    file = forms.FileField(
        label=_("GTFS file (.zip)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
    name = forms.CharField(
        label=_("Name of this version"),
        max_length=200,
        help_text=_("For example: Hanoi bus network, timetable from 1 June."),
    )
    activate = forms.BooleanField(
        label=_("Switch this version on as soon as it is imported"),
        required=False,
        initial=True,
        help_text=_("Leave unticked to check the version first and switch it on later."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "A GTFS feed as one zip file (agency.txt, routes.txt, stops.txt, trips.txt, "
            "stop_times.txt, calendar.txt…), at most %(limit)s MB."
        ) % {"limit": f"{gtfs_max_bytes() / MB:g}"}

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit = gtfs_max_bytes()
        if not upload.size:
            raise ValidationError(_("The file is empty."), code="empty")
        if upload.size > limit:
            raise ValidationError(
                _("The file is %(size)s MB: the limit is %(limit)s MB."),
                code="too_large",
                params={"size": f"{upload.size / MB:.1f}", "limit": f"{limit / MB:g}"},
            )
        if not str(upload.name or "").lower().endswith(".zip"):
            raise ValidationError(
                _("The file must be a zip file whose name ends in .zip (a GTFS feed)."),
                code="type",
            )
        upload.seek(0)
        head = upload.read(4)
        upload.seek(0)
        if head not in ZIP_MAGIC or not zipfile.is_zipfile(upload):
            upload.seek(0)
            raise ValidationError(
                _("The file is not a zip archive, or it is damaged: export the feed again."),
                code="type",
            )
        upload.seek(0)
        return upload


# --- vehicles and devices ---------------------------------------------------------------------


class VehicleForm(forms.Form):
    code = forms.CharField(
        label=_("Vehicle id"),
        max_length=64,
        help_text=_("The id its devices report, e.g. HN-B01 (letters, digits, . _ -)."),
    )
    label = forms.CharField(label=_("Fleet number shown to riders"), max_length=64, required=False)
    license_plate = forms.CharField(
        label=_("Licence plate"), max_length=20, required=False, help_text=_("e.g. 29B-123.45")
    )
    operator = forms.CharField(label=_("Operator"), max_length=200, required=False)


class DeviceForm(forms.Form):
    device_id = forms.CharField(
        label=_("Device id"),
        max_length=64,
        help_text=_(
            "The id the device uses in its MQTT topic, e.g. GPS-B01 (letters, digits, . _ -)."
        ),
    )


class VehicleSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Vehicle id, fleet number, plate or device id"), required=False, max_length=64
    )
    status = forms.ChoiceField(
        label=_("Devices"),
        required=False,
        choices=[
            ("", _("All vehicles")),
            ("silent", _("With a silent device")),
            ("rejected", _("With rejected reports")),
            ("none", _("Without a device")),
        ],
    )


# --- service alerts ---------------------------------------------------------------------------


def route_choices(feed_id: int | None) -> list[tuple[str, str]]:
    if feed_id is None:
        return []
    rows = Route.objects.filter(feed_id=feed_id).values_list("route_id", "short_name", "long_name")
    return [
        (route_id, " — ".join(part for part in (short, long) if part) or route_id)
        for route_id, short, long in rows
    ]


class AlertForm(forms.Form):
    header = forms.CharField(label=_("Headline (Vietnamese)"), max_length=200)
    header_en = forms.CharField(label=_("Headline (English)"), max_length=200, required=False)
    description = forms.CharField(
        label=_("Description (Vietnamese)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    description_en = forms.CharField(
        label=_("Description (English)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    url = forms.URLField(label=_("Link to more information"), required=False, assume_scheme="https")
    cause = forms.ChoiceField(
        label=_("Cause"), choices=[("", _("— choose —")), *ServiceAlert.Cause.choices]
    )
    effect = forms.ChoiceField(
        label=_("Effect"), choices=[("", _("— choose —")), *ServiceAlert.Effect.choices]
    )
    severity = forms.ChoiceField(
        label=_("Severity"), choices=ServiceAlert.Severity.choices, initial="WARNING"
    )
    route_ids = forms.MultipleChoiceField(
        label=_("Routes affected"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[],
    )
    stop_ids = forms.CharField(
        label=_("Stops affected"),
        required=False,
        max_length=2000,
        help_text=_(
            "Stop ids separated by commas or spaces. With no route and no stop, the alert is "
            "for the whole network."
        ),
    )
    active_from = _when(_("From"), _("Leave empty for now."))
    active_until = _when(_("Until"), _("Leave empty while the end is not known."))

    def __init__(self, *args: Any, feed_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["route_ids"].choices = route_choices(feed_id)  # type: ignore[attr-defined]

    def clean_stop_ids(self) -> list[str]:
        raw = self.cleaned_data.get("stop_ids") or ""
        ids = [part for part in re.split(r"[\s,;]+", raw) if part]
        return list(dict.fromkeys(ids))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("active_from"), data.get("active_until")
        if start and end and end <= start:
            self.add_error("active_until", _("The end must be after the start."))
        return data
