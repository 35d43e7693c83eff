"""Thudo settings, read from the environment (see README.md, "Configuration")."""

from __future__ import annotations

import importlib.util
import secrets
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("THUDO_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """A stable secret for the embedded demo: from the environment, else kept in var/."""
    from_env = env.str("SECRET_KEY", default="")
    if from_env:
        return from_env
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Behind a proxy: the header that carries the client's address (e.g. HTTP_X_FORWARDED_FOR),
# so the audit trail records the client, not the proxy. Empty: REMOTE_ADDR.
TRUSTED_PROXY_HEADER = env.str("TRUSTED_PROXY_HEADER", default="")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "ninja",
    "thudo.core",
    "thudo.accounts",
    "thudo.api",
    "thudo.web",
    "thudo.documents",
    "thudo.notifications",
    "thudo.procedures",
    "thudo.dossiers",
    "thudo.feedback",
    "thudo.monitoring",
    "oauth2_provider",
    "thudo.exchange",
    "thudo.registries",
    "thudo.eid",
    "thudo.trace",
    "thudo.transit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "thudo.core.middleware.RequestContextMiddleware",
    # The demo e-ID provider under /eid/ keeps its own session cookie (thudo.eid.middleware).
    "thudo.eid.middleware.SessionMiddleware",
    "thudo.core.middleware.LanguageMiddleware",
    "thudo.core.middleware.RequestSizeLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "thudo.web.context_processors.shell",
            ],
        },
    },
]

# --- Database: SQLite by default, PostgreSQL when DATABASE_URL says so (ADR 0002) ---
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'thudo.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets readers work while one writer writes; IMMEDIATE takes the write lock
            # at BEGIN so concurrent writers wait (busy timeout) instead of failing mid-way.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=20),
        }
    )
# Persistent connections on both engines: a new SQLite connection re-runs the PRAGMAs above,
# a new PostgreSQL one costs a round of authentication.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

# --- Accounts ---
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:home"
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Thudo")
# One throttle for passwords and codes (ours, ADR 0006), so django-otp's own is off.
OTP_TOTP_THROTTLE_FACTOR = 0
# Failed sign-ins: after THROTTLE_FREE failures each further attempt waits 2^n seconds
# (capped), and after THROTTLE_LOCK failures the account is locked for THROTTLE_LOCK_MINUTES.
LOGIN_THROTTLE_FREE = env.int("LOGIN_THROTTLE_FREE", default=3)
LOGIN_THROTTLE_LOCK = env.int("LOGIN_THROTTLE_LOCK", default=10)
LOGIN_THROTTLE_LOCK_MINUTES = env.int("LOGIN_THROTTLE_LOCK_MINUTES", default=15)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Internationalisation: Vietnamese first, English second (ADR 0005) ---
LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", _("Vietnamese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Asia/Ho_Chi_Minh"  # display; storage is UTC (USE_TZ)
LANGUAGE_COOKIE_NAME = "thudo_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600

# --- Static and media files ---
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Leaflet's JavaScript and CSS come from the django-leaflet package (served as /static/leaflet/);
# only its files are used, not the app, which would need GDAL.
_LEAFLET_SPEC = importlib.util.find_spec("leaflet")
STATICFILES_DIRS = (
    [str(Path(_LEAFLET_SPEC.origin).parent / "static")]
    if _LEAFLET_SPEC and _LEAFLET_SPEC.origin
    else []
)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_STORAGE",
            default="whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)

# --- Background work: Celery (ADR 0003) ---
# Embedded default: a broker kept in files under var/broker, served by the worker that
# `thudo run` starts beside the web server; no broker service is needed.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(BROKER_DIR / "control"),
    }
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Working-day calendar (core.calendar) ---
WORKING_CALENDAR = {
    "COUNTRY": env.str("CALENDAR_COUNTRY", default="VN"),
    # Office hours, local time: morning and afternoon sessions.
    "OFFICE_HOURS": [("08:00", "12:00"), ("13:00", "17:00")],
    # Other processes see an administrator's new exception within this many seconds.
    "CACHE_SECONDS": env.int("CALENDAR_CACHE_SECONDS", default=60),
}

# --- The city this deployment serves (every city fact is data) ---
THUDO_CITY = {
    "PROVINCE_CODE": env.int("CITY_PROVINCE_CODE", default=1),
    "NAME": env.str("CITY_NAME", default="Hà Nội"),
}

THUDO_REQUIRE_SERVICES = env.bool("THUDO_REQUIRE_SERVICES", default=False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # fontTools reports every font subset at INFO; PDF rendering and signing make many.
    # httpx logs every forwarded exchange call at INFO.
    "loggers": {"fontTools": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}

# --- Documents and signatures (docs/signatures.md) ---
# The address citizens and other systems reach this deployment at: QR codes on signed results
# and the CRL / OCSP / CA links inside certificates point here.
THUDO_PUBLIC_URL = env.str("THUDO_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")
# Private keys are kept only as encrypted PKCS#12; this is the passphrase. Without it, one is
# derived from SECRET_KEY (embedded demo only; production.py requires it).
THUDO_KEY_PASSPHRASE = env.str("THUDO_KEY_PASSPHRASE", default="")
# An external RFC 3161 time-stamping authority; empty: the city's own TSA (served at /pki/tsa).
THUDO_TSA_URL = env.str("THUDO_TSA_URL", default="")
DOCUMENT_MAX_UPLOAD_BYTES = env.int("DOCUMENT_MAX_UPLOAD_BYTES", default=20 * 1024 * 1024)
# No request body may be larger (the largest upload plus room for the form around it).
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=DOCUMENT_MAX_UPLOAD_BYTES + 1024 * 1024)
# Files: local disk by default; S3-compatible object storage when DOCUMENT_STORAGE=s3.
if env.str("DOCUMENT_STORAGE", default="local") == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("S3_BUCKET"),
            "endpoint_url": env.str("S3_ENDPOINT_URL", default="") or None,
            "access_key": env.str("S3_ACCESS_KEY", default="") or None,
            "secret_key": env.str("S3_SECRET_KEY", default="") or None,
            "region_name": env.str("S3_REGION", default="") or None,
            "default_acl": None,
            "querystring_auth": True,
        },
    }

# --- E-mail (notifications) ---
# EMAIL_URL: smtp://user:password@host:port (smtp+tls://, smtp+ssl://), or consolemail://.
# The embedded demo writes each message as a file under var/mail instead of sending it.
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Thudo <no-reply@thudo.local>")

# --- Public services (docs/dossiers.md) ---
# Largest upload of one paper in a dossier (a procedure may set a lower limit per paper).
DOSSIER_MAX_FILE_BYTES = env.int("DOSSIER_MAX_FILE_BYTES", default=10 * 1024 * 1024)
# Remind the holder when less than this share of the legal time is left.
DOSSIER_REMIND_AT_SHARE = env.float("DOSSIER_REMIND_AT_SHARE", default=0.2)
# The public look-up keeps its finished answers this long; a change to the dossier drops them at
# once in the process that made it and everywhere when CACHE_URL is shared (Redis); other
# processes with the default per-process cache may lag by up to this many seconds.
DOSSIER_LOOKUP_CACHE_SECONDS = env.int("DOSSIER_LOOKUP_CACHE_SECONDS", default=10)

# --- Citizen feedback (docs/feedback.md) ---
# Photos and a short video per report; the whole request stays under MAX_REQUEST_BYTES.
FEEDBACK_MAX_PHOTO_BYTES = env.int("FEEDBACK_MAX_PHOTO_BYTES", default=10 * 1024 * 1024)
FEEDBACK_MAX_VIDEO_BYTES = env.int("FEEDBACK_MAX_VIDEO_BYTES", default=20 * 1024 * 1024)
FEEDBACK_MAX_FILES = env.int("FEEDBACK_MAX_FILES", default=5)
# A flood of reports from one account is refused (429) beyond these counts.
FEEDBACK_MAX_REPORTS_PER_HOUR = env.int("FEEDBACK_MAX_REPORTS_PER_HOUR", default=5)
FEEDBACK_MAX_REPORTS_PER_DAY = env.int("FEEDBACK_MAX_REPORTS_PER_DAY", default=20)
# Open flags that hide a report from the public until a moderator reviews it.
FEEDBACK_FLAGS_TO_HIDE = env.int("FEEDBACK_FLAGS_TO_HIDE", default=3)
# An answered report the reporter has not rated is closed after this many working days.
FEEDBACK_AUTO_CLOSE_DAYS = env.int("FEEDBACK_AUTO_CLOSE_DAYS", default=7)
# Reports must lie inside the city: (min latitude, min longitude, max latitude, max longitude).
FEEDBACK_BOUNDS = tuple(env.list("FEEDBACK_BOUNDS", cast=float, default=[20.5, 105.2, 21.4, 106.1]))
# Map tiles: empty draws the offline base map (ward centres); else an XYZ URL such as
# https://tiles.example.vn/{z}/{x}/{y}.png with its attribution.
MAP_TILE_URL = env.str("MAP_TILE_URL", default="")
MAP_TILE_ATTRIBUTION = env.str("MAP_TILE_ATTRIBUTION", default="")
# Open311 GeoReport v2: the jurisdiction this deployment answers for.
OPEN311_JURISDICTION = env.str("OPEN311_JURISDICTION", default="hanoi.gov.vn")

# --- Digital-transformation monitoring (docs/monitoring.md) ---
# Days after a reporting period's due date during which agencies may still report for it.
MONITORING_GRACE_DAYS = env.int("MONITORING_GRACE_DAYS", default=15)
# Remind agencies this many days before a task or a report is due.
MONITORING_REMIND_DAYS = env.int("MONITORING_REMIND_DAYS", default=7)
MONITORING_MAX_EVIDENCE_BYTES = env.int("MONITORING_MAX_EVIDENCE_BYTES", default=10 * 1024 * 1024)

# Vietnamese short date formats (config/formats/vi/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]

# --- Data exchange (docs/exchange.md) ---------------------------------------------------------
# Which node this process is (a Node row's code), and its private signing key (a JWK file,
# created on first use when missing).
EXCHANGE_NODE_CODE = env.str("EXCHANGE_NODE_CODE", default="hanoi")
EXCHANGE_NODE_KEY_FILE = env.str(
    "EXCHANGE_NODE_KEY_FILE", default=str(VAR_DIR / "exchange-node-key.json")
)
# This node's public address (other nodes and clients use it; the client assertion's audience).
EXCHANGE_NODE_URL = env.str("EXCHANGE_NODE_URL", default="http://127.0.0.1:8000")
# Forwarding to a provider's node: retries on connection errors and 502/503/504 (same message id).
EXCHANGE_RETRIES = env.int("EXCHANGE_RETRIES", default=2)
# Allowed clock difference for signatures and client assertions (seconds).
EXCHANGE_CLOCK_SKEW_S = env.int("EXCHANGE_CLOCK_SKEW_S", default=300)
EXCHANGE_MAX_BODY_BYTES = env.int("EXCHANGE_MAX_BODY_BYTES", default=1024 * 1024)
# Bearer token for /exchange/metrics (Prometheus); empty: only from this machine (loopback).
EXCHANGE_METRICS_TOKEN = env.str("EXCHANGE_METRICS_TOKEN", default="")
# How long a node process keeps members, systems, services and grants read from the database
# (seconds; 0 reads them on every message). Changes saved on this process clear it at once.
EXCHANGE_CONFIG_CACHE_S = env.int("EXCHANGE_CONFIG_CACHE_S", default=5)

# --- Traceability (docs/trace.md) ---------------------------------------------------------------
# The domain printed in GS1 Digital Link QR codes: https://<domain>/01/<GTIN>/10/<lot>.
TRACE_DIGITAL_LINK_BASE = env.str("TRACE_DIGITAL_LINK_BASE", default="http://127.0.0.1:8000")
# How long a rendered consumer page (per batch version, language and day) is kept (0 = never).
TRACE_PAGE_CACHE_SECONDS = env.int("TRACE_PAGE_CACHE_SECONDS", default=300)
# The platform's key that signs the hourly anchors of every batch's event chain (a JWK file).
TRACE_ANCHOR_KEY_FILE = env.str(
    "TRACE_ANCHOR_KEY_FILE", default=str(VAR_DIR / "trace-anchor-key.json")
)

# --- Transit (docs/transit.md) ------------------------------------------------------------------
# The MQTT broker bus devices publish positions to (mqtt://user:pass@host:1883); empty: none, the
# devices post over HTTP (the embedded default). `thudo transit mqtt` is the ingest worker.
TRANSIT_MQTT_URL = env.str("TRANSIT_MQTT_URL", default="")
TRANSIT_MQTT_TOPIC = env.str("TRANSIT_MQTT_TOPIC", default="thudo/transit/v1/positions/+")
# Positions older than this (s) or ahead of the server clock by more than TRANSIT_MAX_FUTURE_S
# are refused; the largest batch one request or message may carry.
TRANSIT_MAX_AGE_S = env.int("TRANSIT_MAX_AGE_S", default=3600)
TRANSIT_MAX_FUTURE_S = env.int("TRANSIT_MAX_FUTURE_S", default=60)
TRANSIT_MAX_BATCH = env.int("TRANSIT_MAX_BATCH", default=5000)
# The service area (min lat, min lon, max lat, max lon): positions outside it are impossible.
TRANSIT_AREA = tuple(env.list("TRANSIT_AREA", cast=float, default=[20.5, 105.2, 21.5, 106.1]))
# PostgreSQL: wait for the disk on every ingest commit (true), or not (false: a server crash may
# lose the last fraction of a second of positions, never half of a batch).
TRANSIT_SYNCHRONOUS_COMMIT = env.bool("TRANSIT_SYNCHRONOUS_COMMIT", default=False)
# Track (match, predict) in the request or message that stored the positions (embedded); at scale
# set it off and run `thudo transit track` workers.
TRANSIT_TRACK_INLINE = env.bool("TRANSIT_TRACK_INLINE", default=True)
# A vehicle silent for this long (s) is a ghost: its predictions are withdrawn.
TRANSIT_GHOST_AFTER_S = env.int("TRANSIT_GHOST_AFTER_S", default=120)
# The largest GTFS zip the operator's timetables page accepts (under MAX_REQUEST_BYTES; larger
# feeds go through `thudo transit import`).
TRANSIT_GTFS_MAX_BYTES = env.int("TRANSIT_GTFS_MAX_BYTES", default=20 * 1024 * 1024)
# `thudo run` starts the bus simulator beside the server in the embedded set-up (the demo map).
TRANSIT_DEMO_SIMULATOR = env.bool("TRANSIT_DEMO_SIMULATOR", default=True)

# --- e-ID sign-in (docs/eid.md) --------------------------------------------------------------
# The portal is an OpenID Connect client of the e-ID provider (VNeID; in the demo, the provider
# Thudo serves at /eid/, backed by the population registry).
EID_ISSUER = env.str("EID_ISSUER", default="http://127.0.0.1:8000/eid")
EID_CLIENT_ID = env.str("EID_CLIENT_ID", default="thudo-portal")
EID_CLIENT_SECRET = env.str("EID_CLIENT_SECRET", default="thudo-portal-demo-secret-2026")
EID_PORTAL_BASE = env.str("EID_PORTAL_BASE", default=THUDO_PUBLIC_URL)
EID_DISCOVERY = env.bool("EID_DISCOVERY", default=False)
EID_TIMEOUT = env.int("EID_TIMEOUT", default=10)
# The demo provider: its RS256 key (a PEM file, created on first use) and its own session.
EID_OIDC_KEY_FILE = env.str("EID_OIDC_KEY_FILE", default=str(VAR_DIR / "eid-oidc-key.pem"))
EID_SESSION_COOKIE_NAME = env.str("EID_SESSION_COOKIE_NAME", default="vneid_session")
EID_SESSION_SECONDS = env.int("EID_SESSION_SECONDS", default=1800)

from thudo.eid.settings import OAUTH2_PROVIDER  # noqa: E402, F401 — django-oauth-toolkit
