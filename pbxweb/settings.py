"""Django settings for pbxweb.

Everything is read from the environment (django-environ). With nothing set, the project runs
the **embedded default**: SQLite, the in-memory channel layer, Celery tasks run eagerly and
email goes to files under ``var/mail``. Setting ``DATABASE_URL`` and ``REDIS_URL`` switches to
the **production** shape (PostgreSQL, Redis channel layer + Celery broker + cache).
``PBXWEB_HTTPS=1`` turns on every HTTPS-only setting so that ``check --deploy`` is clean.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("PBXWEB_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)
(VAR_DIR / "static").mkdir(exist_ok=True)  # whitenoise warns about a missing STATIC_ROOT


def _embedded_secret_key() -> str:
    """A per-installation key kept in var/, so the embedded default needs no configuration."""
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _embedded_secret_key()
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "axes",
    "pbxweb.accounts",
    "pbxweb.history",
    "pbxweb.directory",
    "pbxweb.chat",
    "pbxweb.webclient",
    "softphone",
    "presence",
    "voicemail.apps.VoicemailConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "pbxweb.accounts.middleware.ExtensionLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "pbxweb.urls"
ASGI_APPLICATION = "pbxweb.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pbxweb.webclient.context_processors.webclient",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'pbxweb.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file-backed test database, so that a live daphne server in a subprocess (browser tests)
    # sees the same data as the test.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, Celery broker, cache ---------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNELS_PREFIX", "pbxweb")},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL, "KEY_PREFIX": "pbxweb"}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

SILENCED_SYSTEM_CHECKS = [
    # Django's own RedisCache increments atomically (INCR); django-ratelimit only lists
    # django-redis. LocMemCache is only used by the embedded default, which is one process.
    "django_ratelimit.W001",
    "django_ratelimit.E003",
]

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
# Embedded default: a failing task (e.g. SMTP down) is logged and retried, not raised into the
# request that queued it.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TIMEZONE = "Europe/Brussels"

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.Extension"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "pbxweb.accounts.backends.ExtensionBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "webclient:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Login with extension + PIN (the organisation's wording: "extension and PIN").
WEBCLIENT_PIN_LOGIN = env.bool("WEBCLIENT_PIN_LOGIN", default=True)
# Failed PIN logins allowed per extension (from any address) per window.
PIN_LOGIN_RATE = env.str("PIN_LOGIN_RATE", default="5/15m")
VOICEMAIL_PIN_MIN_LENGTH = 4
VOICEMAIL_PIN_MAX_LENGTH = 10

# django-axes: lock an *address* after repeated failures, never the extension itself, so that
# an attacker cannot lock a colleague out from elsewhere.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=8)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_USERNAME_FORM_FIELD = "username"
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)

# --- SIP identity (the engine reads the same settings) --------------------------------------
SIP_REALM = env.str("SIP_REALM", default="pbxweb")
SIP_DOMAIN = env.str("SIP_DOMAIN", default="127.0.0.1")
SIP_PUBLIC_HOST = env.str("SIP_PUBLIC_HOST", default="127.0.0.1")
SIP_UDP_PORT = env.int("SIP_UDP_PORT", default=5060)
SIP_TCP_PORT = env.int("SIP_TCP_PORT", default=5060)
SIP_TLS_PORT = env.int("SIP_TLS_PORT", default=5061)  # 0 switches TLS off
SIP_BIND_HOST = env.str("SIP_BIND_HOST", default="127.0.0.1")
SIP_TLS_CERT = env.str("SIP_TLS_CERT", default="")  # empty: a self-signed one in var/sip-tls
SIP_TLS_KEY = env.str("SIP_TLS_KEY", default="")
# MD5 only by default: SIPp 3.6 and baresip 1.0 (libre-based apps) cannot register when a
# SHA-256 challenge is offered at all (tests/interop keep that checked); "SHA-256,MD5" offers
# both in RFC 8760 order for installations whose phones all cope (Linphone does).
SIP_DIGEST_ALGORITHMS = env.list("SIP_DIGEST_ALGORITHMS", default=["MD5"])
SIP_DEFAULT_EXPIRES = env.int("SIP_DEFAULT_EXPIRES", default=3600)
SIP_MIN_EXPIRES = env.int("SIP_MIN_EXPIRES", default=60)
SIP_MAX_EXPIRES = env.int("SIP_MAX_EXPIRES", default=3600)
SIP_MAX_DEVICES_PER_EXTENSION = env.int("SIP_MAX_DEVICES_PER_EXTENSION", default=10)
# Brute-force bans: this many failed SIP authentications from one address within the window
# ban that address (its requests are dropped) for SIP_BAN_SECONDS.
SIP_BAN_FAILURES = env.int("SIP_BAN_FAILURES", default=20)
SIP_BAN_WINDOW = env.float("SIP_BAN_WINDOW", default=60.0)
SIP_BAN_SECONDS = env.float("SIP_BAN_SECONDS", default=600.0)
# Media relay (every call's RTP goes through the engine): the UDP port range (two ports per
# call leg: RTP and RTCP), the address announced in SDP (default: SIP_BIND_HOST) and how long
# a call may stay without any RTP from a phone before the engine hangs it up.
RTP_PORT_FIRST = env.int("RTP_PORT_FIRST", default=16000)
RTP_PORT_LAST = env.int("RTP_PORT_LAST", default=16999)
RTP_MEDIA_HOST = env.str("RTP_MEDIA_HOST", default="")
RTP_TIMEOUT = env.float("RTP_TIMEOUT", default=60.0)
# Voicemail: where message audio is kept (private: served only to the mailbox's owner), the
# longest and shortest message kept, and how many messages a box holds before callers hear
# "mailbox full".
VOICEMAIL_ENABLED = env.bool("VOICEMAIL_ENABLED", default=True)  # off: unanswered calls get 480
VOICEMAIL_DIR = Path(env.str("VOICEMAIL_DIR", default=str(VAR_DIR / "voicemail")))
VOICEMAIL_MAX_SECONDS = env.float("VOICEMAIL_MAX_SECONDS", default=120.0)
VOICEMAIL_MIN_SECONDS = env.float("VOICEMAIL_MIN_SECONDS", default=1.0)
VOICEMAIL_SILENCE_SECONDS = env.float("VOICEMAIL_SILENCE_SECONDS", default=10.0)
VOICEMAIL_MAX_MESSAGES = env.int("VOICEMAIL_MAX_MESSAGES", default=100)
# A personal greeting upload: largest file and longest greeting accepted (it is converted to
# 8 kHz mono WAV); messages older than VOICEMAIL_RETENTION_DAYS are removed nightly (0: kept).
VOICEMAIL_GREETING_MAX_BYTES = env.int("VOICEMAIL_GREETING_MAX_BYTES", default=5 * 1024 * 1024)
VOICEMAIL_GREETING_MAX_SECONDS = env.float("VOICEMAIL_GREETING_MAX_SECONDS", default=60.0)
VOICEMAIL_RETENTION_DAYS = env.int("VOICEMAIL_RETENTION_DAYS", default=90)
# A blind transfer's target rings at most this long before the call returns to the transferrer.
SIP_TRANSFER_RING_SECONDS = env.float("SIP_TRANSFER_RING_SECONDS", default=20.0)

# Web client addresses printed in the welcome email (inside / outside the office).
WEBCLIENT_URL_INSIDE = env.str("WEBCLIENT_URL_INSIDE", default="http://127.0.0.1:8000/webclient/")
WEBCLIENT_URL_OUTSIDE = env.str("WEBCLIENT_URL_OUTSIDE", default="")

# --- Uploads --------------------------------------------------------------------------------
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
AVATAR_MAX_BYTES = env.int("AVATAR_MAX_BYTES", default=2 * 1024 * 1024)
AVATAR_MAX_PIXELS = 4096 * 4096
AVATAR_SIZE = 256
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Chat: largest shared file, and how many chat frames one browser socket may send per second
# (bursts up to CHAT_SOCKET_BURST); beyond that frames are refused with a rate_limited error.
CHAT_ATTACHMENT_MAX_BYTES = env.int("CHAT_ATTACHMENT_MAX_BYTES", default=20 * 1024 * 1024)
CHAT_SOCKET_RATE = env.float("CHAT_SOCKET_RATE", default=20.0)
CHAT_SOCKET_BURST = env.int("CHAT_SOCKET_BURST", default=40)

# --- Email ----------------------------------------------------------------------------------
if env.str("EMAIL_URL", default=""):
    # e.g. smtp+tls://user:password@smtp.example.org:587
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="pbxweb <noreply@pbxweb.invalid>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", _("Dutch")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Brussels")
USE_I18N = True
USE_TZ = True

# --- Static ---------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_RATES": {"user": "120/min"},
}

# --- Security -------------------------------------------------------------------------------
HTTPS = env.bool("PBXWEB_HTTPS", default=False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if HTTPS:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}, "daphne": {"level": "WARNING"}},
}
