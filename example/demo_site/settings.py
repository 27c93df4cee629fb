"""Settings of the signup demo: SQLite, backroom's database backend, email through the local SMTP sink,
backroom's dashboard and Django's admin for the demo's staff user.

The supervisor (run.py) and the tests choose ports and the data directory
through the DEMO_* environment variables read here.
"""

import os
import secrets
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent.parent
# The SQLite database, the sink's outbox, the secret key and the staff password: never committed.
DATA_DIR = Path(os.environ.get("DEMO_DATA_DIR", BASE_DIR / "var"))


def _secret(path: Path, nbytes: int) -> str:
    """Read one of the demo's own secrets, made on first use, so that none sits in the repository."""
    if not path.exists():
        path.write_text(secrets.token_urlsafe(nbytes))
    return path.read_text().strip()


SECRET_KEY = os.environ.get("DEMO_SECRET_KEY") or _secret(DATA_DIR / "secret_key", 50)
#: The demo's staff user for the dashboard and the admin, made by ``manage.py demo_staff`` (run.py runs it).
DEMO_STAFF_USERNAME = "admin"
DEMO_STAFF_PASSWORD = _secret(DATA_DIR / "staff_password", 12)
DEBUG = os.environ.get("DEMO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "backroom",
    "signup",
    "mailsink",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "demo_site.urls"
WSGI_APPLICATION = "demo_site.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# Web server and worker share the file: WAL lets readers and one writer work at once.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "db.sqlite3",
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL;",
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
TASKS = {"default": {"BACKEND": "backroom.backends.DatabaseBackend"}}

DEMO_SMTP = {
    "host": os.environ.get("DEMO_SMTP_HOST", "127.0.0.1"),
    "port": int(os.environ.get("DEMO_SMTP_PORT", "8025")),
    "timeout": 10,
}
if django.VERSION >= (6, 1):  # MAILERS replaces the EMAIL_* settings (deprecated in 6.1)
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": DEMO_SMTP}}
else:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST, EMAIL_PORT, EMAIL_TIMEOUT = DEMO_SMTP["host"], DEMO_SMTP["port"], DEMO_SMTP["timeout"]
DEFAULT_FROM_EMAIL = "backroom demo <welcome@example.com>"
# Where the SMTP sink (manage.py mailsink) keeps what it received, for /outbox/.
MAILSINK_OUTBOX = DATA_DIR / "outbox.jsonl"

# runserver serves the admin's and the dashboard's static files itself while DEBUG is on.
STATIC_URL = "static/"

USE_TZ = True
TIME_ZONE = "UTC"
