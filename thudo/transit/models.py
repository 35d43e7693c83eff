"""Transit (PLATFORM.md, system 6): GTFS timetables by feed version, vehicles and their GPS
devices, the positions they report, each vehicle's matched state, observed stop arrivals, the
travel-time history predictions learn from, the predictions themselves and service alerts.

Timetable rows belong to a feed version (`Feed`); a re-import builds a new version beside the
active one and switches in one transaction (docs/transit.md). Live rows (positions, vehicle
states, arrivals, predictions) name trips, routes and stops by their GTFS ids, so that switching
versions never breaks them.

Times of day in a timetable are seconds after noon-minus-12h of the service day, as GTFS says
(they may pass 24:00:00); instants are aware datetimes (UTC in the database).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Feed(models.Model):
    """One imported version of a GTFS feed. Exactly one is active at a time."""

    class Status(models.TextChoices):
        IMPORTING = "importing", _("Importing")
        READY = "ready", _("Ready")  # imported, not (yet) switched on
        ACTIVE = "active", _("Active")
        REPLACED = "replaced", _("Replaced")
        FAILED = "failed", _("Failed")

    name = models.CharField(_("name"), max_length=200)
    version = models.PositiveIntegerField(_("version"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.IMPORTING
    )
    source_name = models.CharField(_("file"), max_length=255, blank=True)
    sha256 = models.CharField(_("SHA-256 of the file"), max_length=64, blank=True)
    feed_start = models.DateField(_("valid from"), null=True, blank=True)
    feed_end = models.DateField(_("valid until"), null=True, blank=True)
    # {"agency.txt": 1, "routes.txt": 12, ...} rows imported per file
    counts = models.JSONField(_("rows per file"), default=dict, blank=True)
    # [{"file": "stops.txt", "row": 12, "field": "stop_lat", "code": "...", "message": "..."}]
    errors = models.JSONField(_("errors"), default=list, blank=True)
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("imported"), default=timezone.now)
    activated_at = models.DateTimeField(_("switched on"), null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("GTFS feed version")
        verbose_name_plural = _("GTFS feed versions")
        constraints = [
            models.UniqueConstraint(fields=["version"], name="transit_feed_version_unique"),
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="active"),
                name="transit_feed_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Agency(models.Model):
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="agencies")
    agency_id = models.CharField(_("agency id"), max_length=64)
    name = models.CharField(_("name"), max_length=255)
    url = models.URLField(_("website"), blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, default="Asia/Ho_Chi_Minh")
    lang = models.CharField(_("language"), max_length=8, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("transit agency")
        verbose_name_plural = _("transit agencies")
        constraints = [
            models.UniqueConstraint(fields=["feed", "agency_id"], name="transit_agency_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Route(models.Model):
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="routes")
    route_id = models.CharField(_("route id"), max_length=64)
    agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.CASCADE, related_name="routes"
    )
    short_name = models.CharField(_("number"), max_length=32, blank=True)
    long_name = models.CharField(_("name"), max_length=255, blank=True)
    description = models.TextField(_("description"), blank=True)
    route_type = models.PositiveSmallIntegerField(_("type"), default=3)  # 3 = bus
    color = models.CharField(_("colour"), max_length=6, blank=True)
    text_color = models.CharField(_("text colour"), max_length=6, blank=True)
    sort_order = models.IntegerField(_("order"), null=True, blank=True)

    class Meta:
        ordering = ["sort_order", "short_name"]
        verbose_name = _("route")
        verbose_name_plural = _("routes")
        constraints = [
            models.UniqueConstraint(fields=["feed", "route_id"], name="transit_route_unique")
        ]

    def __str__(self) -> str:
        return f"{self.short_name} {self.long_name}".strip()


class Stop(models.Model):
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="stops")
    stop_id = models.CharField(_("stop id"), max_length=64)
    code = models.CharField(_("stop code"), max_length=32, blank=True)
    name = models.CharField(_("name"), max_length=255)
    description = models.CharField(_("description"), max_length=255, blank=True)
    lat = models.FloatField(_("latitude"))
    lon = models.FloatField(_("longitude"))
    location_type = models.PositiveSmallIntegerField(_("location type"), default=0)
    parent_station = models.CharField(_("parent station"), max_length=64, blank=True)
    wheelchair_boarding = models.PositiveSmallIntegerField(_("wheelchair boarding"), default=0)

    class Meta:
        ordering = ["name"]
        verbose_name = _("stop")
        verbose_name_plural = _("stops")
        constraints = [
            models.UniqueConstraint(fields=["feed", "stop_id"], name="transit_stop_unique")
        ]
        indexes = [models.Index(fields=["feed", "code"], name="transit_stop_code")]

    def __str__(self) -> str:
        return self.name


class Calendar(models.Model):
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="calendars")
    service_id = models.CharField(_("service id"), max_length=64)
    monday = models.BooleanField(default=False)
    tuesday = models.BooleanField(default=False)
    wednesday = models.BooleanField(default=False)
    thursday = models.BooleanField(default=False)
    friday = models.BooleanField(default=False)
    saturday = models.BooleanField(default=False)
    sunday = models.BooleanField(default=False)
    start_date = models.DateField()
    end_date = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feed", "service_id"], name="transit_calendar_unique")
        ]

    def __str__(self) -> str:
        return self.service_id


class CalendarDate(models.Model):
    ADDED = 1
    REMOVED = 2

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="calendar_dates")
    service_id = models.CharField(max_length=64)
    date = models.DateField()
    exception_type = models.PositiveSmallIntegerField()  # 1 added, 2 removed

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["feed", "service_id", "date"], name="transit_calendar_date_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.date}"


class Shape(models.Model):
    """A shape's points in order, as [[lat, lon, dist_m], ...] (dist_m measured along the line
    from the first point, computed at import when shapes.txt has no shape_dist_traveled)."""

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="shapes")
    shape_id = models.CharField(_("shape id"), max_length=64)
    points = models.JSONField(default=list)
    length_m = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feed", "shape_id"], name="transit_shape_unique")
        ]

    def __str__(self) -> str:
        return self.shape_id


class Trip(models.Model):
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="trips")
    trip_id = models.CharField(_("trip id"), max_length=64)
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="trips")
    service_id = models.CharField(_("service id"), max_length=64)
    headsign = models.CharField(_("headsign"), max_length=255, blank=True)
    short_name = models.CharField(_("trip name"), max_length=64, blank=True)
    direction_id = models.PositiveSmallIntegerField(_("direction"), null=True, blank=True)
    block_id = models.CharField(_("block"), max_length=64, blank=True)
    shape = models.ForeignKey(
        Shape, null=True, blank=True, on_delete=models.SET_NULL, related_name="trips"
    )
    # first departure / last arrival in seconds of the service day (denormalised at import)
    start_s = models.IntegerField(_("first departure (s)"), default=0)
    end_s = models.IntegerField(_("last arrival (s)"), default=0)

    class Meta:
        verbose_name = _("trip")
        verbose_name_plural = _("trips")
        constraints = [
            models.UniqueConstraint(fields=["feed", "trip_id"], name="transit_trip_unique")
        ]
        indexes = [
            models.Index(fields=["feed", "service_id", "start_s"], name="transit_trip_start"),
        ]

    def __str__(self) -> str:
        return self.trip_id


class StopTime(models.Model):
    trip = models.ForeignKey(Trip, on_delete=models.CASCADE, related_name="stop_times")
    stop = models.ForeignKey(Stop, on_delete=models.CASCADE, related_name="stop_times")
    stop_sequence = models.PositiveIntegerField()
    arrival_s = models.IntegerField()  # seconds of the service day (may pass 86,400)
    departure_s = models.IntegerField()
    # distance of the stop along the trip's shape (from shape_dist_traveled, else projected)
    dist_m = models.FloatField(null=True, blank=True)
    timepoint = models.BooleanField(default=True)
    pickup_type = models.PositiveSmallIntegerField(default=0)
    drop_off_type = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["trip", "stop_sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["trip", "stop_sequence"], name="transit_stop_time_unique"
            )
        ]
        indexes = [models.Index(fields=["stop", "departure_s"], name="transit_stop_time_stop")]

    def __str__(self) -> str:
        return f"{self.trip_id} #{self.stop_sequence}"


class Vehicle(models.Model):
    """A bus. `code` is the id devices report (GTFS-realtime VehicleDescriptor.id)."""

    code = models.CharField(_("vehicle id"), max_length=64, unique=True)
    label = models.CharField(_("label"), max_length=64, blank=True)  # fleet number shown to riders
    license_plate = models.CharField(_("licence plate"), max_length=20, blank=True)
    operator = models.CharField(_("operator"), max_length=200, blank=True)
    is_active = models.BooleanField(_("in service"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["code"]
        verbose_name = _("vehicle")
        verbose_name_plural = _("vehicles")

    def __str__(self) -> str:
        return self.label or self.code


class Device(models.Model):
    """A GPS tracker fitted to a vehicle. It authenticates with a bearer token (HTTP) or the
    same token in its MQTT payload; only the token's SHA-256 is stored."""

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="devices")
    device_id = models.CharField(_("device id"), max_length=64, unique=True)
    token_hash = models.CharField(max_length=64, db_index=True)
    token_hint = models.CharField(_("token ends with"), max_length=8, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(_("last report"), null=True, blank=True)

    class Meta:
        ordering = ["device_id"]
        verbose_name = _("GPS device")
        verbose_name_plural = _("GPS devices")

    def __str__(self) -> str:
        return self.device_id


class IngestCounter(models.Model):
    """Positions accepted and rejected, per device and outcome ("accepted", "duplicate",
    "bad_token", "bad_coordinates", "too_old", "in_future", "unknown_vehicle", "malformed", ...).
    `device_key` is the device id as reported — also for devices we do not know."""

    device_key = models.CharField(max_length=64)
    outcome = models.CharField(max_length=32)
    count = models.BigIntegerField(default=0)
    last_at = models.DateTimeField(default=timezone.now)
    last_detail = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device_key", "outcome"], name="transit_ingest_counter_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.device_key} {self.outcome}: {self.count}"


class Position(models.Model):
    """One stored GPS report. (vehicle, recorded_at) is unique: a repeated report is dropped."""

    class Source(models.TextChoices):
        MQTT = "mqtt", "MQTT"
        HTTP = "http", "HTTP"
        SIMULATOR = "sim", _("Simulator")

    id = models.BigAutoField(primary_key=True)
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="+")
    recorded_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    lat = models.FloatField()
    lon = models.FloatField()
    speed = models.FloatField(null=True, blank=True)  # m/s
    bearing = models.FloatField(null=True, blank=True)  # degrees clockwise from north
    trip_id = models.CharField(max_length=64, blank=True)  # as the device reported it
    source = models.CharField(max_length=4, choices=Source.choices, default=Source.HTTP)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["vehicle", "recorded_at"], name="transit_position_unique"
            )
        ]
        indexes = [models.Index(fields=["recorded_at"], name="transit_position_time")]

    def __str__(self) -> str:
        return f"{self.vehicle_id} @ {self.recorded_at:%Y-%m-%d %H:%M:%S}"


class VehicleState(models.Model):
    """The hot row per vehicle: its latest position and what the tracker made of it."""

    class Status(models.TextChoices):
        UNASSIGNED = "unassigned", _("Not on a trip")
        IN_SERVICE = "in_service", _("In service")
        LAYOVER = "layover", _("At the terminus")
        OFF_ROUTE = "off_route", _("Off route (detour)")
        GHOST = "ghost", _("Stopped reporting")

    vehicle = models.OneToOneField(
        Vehicle, on_delete=models.CASCADE, primary_key=True, related_name="state"
    )
    # latest position (kept by the ingest)
    recorded_at = models.DateTimeField(null=True, blank=True)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    speed = models.FloatField(null=True, blank=True)
    bearing = models.FloatField(null=True, blank=True)
    reported_trip_id = models.CharField(max_length=64, blank=True)
    # what the tracker made of it
    tracked_at = models.DateTimeField(null=True, blank=True)  # recorded_at of the last tracked
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.UNASSIGNED, db_index=True
    )
    trip_id = models.CharField(max_length=64, blank=True, db_index=True)
    route_id = models.CharField(max_length=64, blank=True, db_index=True)
    direction_id = models.PositiveSmallIntegerField(null=True, blank=True)
    service_date = models.DateField(null=True, blank=True)
    dist_m = models.FloatField(null=True, blank=True)  # along the trip's shape
    next_stop_sequence = models.PositiveIntegerField(null=True, blank=True)
    next_stop_id = models.CharField(max_length=64, blank=True)
    deviation_s = models.IntegerField(null=True, blank=True)  # + late, - early
    # the matcher's and filter's own state (engine.types.VehicleTrack.to_dict())
    track = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("vehicle state")
        verbose_name_plural = _("vehicle states")

    def __str__(self) -> str:
        return f"{self.vehicle_id} ({self.status})"


class StopArrival(models.Model):
    """An observed arrival at (and departure from) a stop of a trip, as the matcher saw it."""

    id = models.BigAutoField(primary_key=True)
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="+")
    trip_id = models.CharField(max_length=64)
    route_id = models.CharField(max_length=64)
    direction_id = models.PositiveSmallIntegerField(null=True, blank=True)
    service_date = models.DateField()
    stop_id = models.CharField(max_length=64)
    stop_sequence = models.PositiveIntegerField()
    arrived_at = models.DateTimeField()
    departed_at = models.DateTimeField(null=True, blank=True)
    scheduled_arrival = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["trip_id", "service_date", "stop_sequence"],
                name="transit_stop_arrival_unique",
            )
        ]
        indexes = [
            models.Index(fields=["stop_id", "arrived_at"], name="transit_arrival_stop"),
            models.Index(fields=["route_id", "arrived_at"], name="transit_arrival_route"),
        ]

    def __str__(self) -> str:
        return f"{self.trip_id} #{self.stop_sequence} {self.service_date}"


class SegmentStat(models.Model):
    """What the predictor learned about one stop-to-stop segment (or one stop's dwell, with
    to_stop_id == "") in one band of the day: running mean and variance of observed seconds, and
    the latest observation (the "last vehicle" a Kalman filter leans on)."""

    from_stop_id = models.CharField(max_length=64)
    to_stop_id = models.CharField(max_length=64, blank=True)  # "" = dwell at from_stop
    day_type = models.PositiveSmallIntegerField(
        default=0
    )  # 0 weekday, 1 Saturday, 2 Sunday/holiday
    band = models.PositiveSmallIntegerField()  # index of the band of the day (engine.types.band_of)
    n = models.PositiveIntegerField(default=0)
    mean_s = models.FloatField(default=0)
    var_s = models.FloatField(default=0)
    last_s = models.FloatField(null=True, blank=True)
    last_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["from_stop_id", "to_stop_id", "day_type", "band"],
                name="transit_segment_stat_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.from_stop_id}→{self.to_stop_id or 'dwell'} b{self.band}"


class Prediction(models.Model):
    """A predicted arrival of a vehicle's trip at a downstream stop; a vehicle's rows are
    replaced each time it is tracked and deleted when it turns ghost or ends its trip."""

    id = models.BigAutoField(primary_key=True)
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="+")
    trip_id = models.CharField(max_length=64)
    route_id = models.CharField(max_length=64)
    direction_id = models.PositiveSmallIntegerField(null=True, blank=True)
    service_date = models.DateField()
    stop_id = models.CharField(max_length=64)
    stop_sequence = models.PositiveIntegerField()
    arrival = models.DateTimeField()
    departure = models.DateTimeField()
    uncertainty_s = models.PositiveIntegerField(default=0)  # one standard deviation
    scheduled_arrival = models.DateTimeField(null=True, blank=True)
    made_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["stop_id", "arrival"], name="transit_prediction_stop"),
            models.Index(fields=["vehicle"], name="transit_prediction_vehicle"),
            models.Index(fields=["trip_id", "service_date"], name="transit_prediction_trip"),
        ]

    def __str__(self) -> str:
        return f"{self.trip_id} #{self.stop_sequence} {self.arrival:%H:%M:%S}"


class ServiceAlert(models.Model):
    """A service alert (GTFS-realtime Alert) written by the operator, in Vietnamese and English."""

    class Cause(models.TextChoices):
        UNKNOWN_CAUSE = "UNKNOWN_CAUSE", _("Unknown cause")
        TECHNICAL_PROBLEM = "TECHNICAL_PROBLEM", _("Technical problem")
        ACCIDENT = "ACCIDENT", _("Accident")
        WEATHER = "WEATHER", _("Weather")
        MAINTENANCE = "MAINTENANCE", _("Maintenance")
        CONSTRUCTION = "CONSTRUCTION", _("Construction")
        DEMONSTRATION = "DEMONSTRATION", _("Event or demonstration")
        POLICE_ACTIVITY = "POLICE_ACTIVITY", _("Police activity")
        OTHER_CAUSE = "OTHER_CAUSE", _("Other cause")

    class Effect(models.TextChoices):
        NO_SERVICE = "NO_SERVICE", _("No service")
        REDUCED_SERVICE = "REDUCED_SERVICE", _("Reduced service")
        SIGNIFICANT_DELAYS = "SIGNIFICANT_DELAYS", _("Significant delays")
        DETOUR = "DETOUR", _("Detour")
        STOP_MOVED = "STOP_MOVED", _("Stop moved")
        MODIFIED_SERVICE = "MODIFIED_SERVICE", _("Modified service")
        OTHER_EFFECT = "OTHER_EFFECT", _("Other effect")
        UNKNOWN_EFFECT = "UNKNOWN_EFFECT", _("Unknown effect")

    class Severity(models.TextChoices):
        INFO = "INFO", _("Information")
        WARNING = "WARNING", _("Warning")
        SEVERE = "SEVERE", _("Severe")

    header = models.CharField(_("headline"), max_length=200)
    header_en = models.CharField(_("headline in English"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    description_en = models.TextField(_("description in English"), blank=True)
    url = models.URLField(_("more information"), blank=True)
    cause = models.CharField(
        _("cause"), max_length=20, choices=Cause.choices, default=Cause.UNKNOWN_CAUSE
    )
    effect = models.CharField(
        _("effect"), max_length=20, choices=Effect.choices, default=Effect.UNKNOWN_EFFECT
    )
    severity = models.CharField(
        _("severity"), max_length=8, choices=Severity.choices, default=Severity.WARNING
    )
    route_ids = models.JSONField(_("routes"), default=list, blank=True)
    stop_ids = models.JSONField(_("stops"), default=list, blank=True)
    active_from = models.DateTimeField(_("from"), default=timezone.now)
    active_until = models.DateTimeField(_("until"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)

    class Meta:
        ordering = ["-active_from"]
        verbose_name = _("service alert")
        verbose_name_plural = _("service alerts")

    def __str__(self) -> str:
        return self.header


class RealtimeStamp(models.Model):
    """The last header timestamp served per GTFS-realtime feed, so that it never goes back,
    whichever process serves the next request."""

    feed = models.CharField(max_length=32, unique=True)  # "vehicle_positions", ...
    timestamp = models.BigIntegerField(default=0)  # POSIX seconds

    def __str__(self) -> str:
        return f"{self.feed}: {self.timestamp}"
