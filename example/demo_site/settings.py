"""Settings of the signup demo: SQLite, backroom's database backend, email through the local SMTP sink.

The supervisor (run.py) and the tests choose ports and the data directory
through the DEMO_* environment variables read here.
"""

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# The SQLite database, the sink's outbox and the secret key: never committed.
DATA_DIR = Path(os.environ.get("DEMO_DATA_DIR", BASE_DIR / "var"))


def _secret_key(path: Path) -> str:
    """Read the demo's own key, made on first use, so that no key sits in the repository."""
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = os.environ.get("DEMO_SECRET_KEY") or _secret_key(DATA_DIR / "secret_key")
DEBUG = os.environ.get("DEMO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "backroom",
    "signup",
    "mailsink",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "demo_site.urls"
WSGI_APPLICATION = "demo_site.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
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

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("DEMO_SMTP_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("DEMO_SMTP_PORT", "8025"))
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = "backroom demo <welcome@example.com>"
# Where the SMTP sink (manage.py mailsink) keeps what it received, for /outbox/.
MAILSINK_OUTBOX = DATA_DIR / "outbox.jsonl"

USE_TZ = True
TIME_ZONE = "UTC"
