"""Minimal Django settings for the django-ogc-sensorthings 1.2 benchmark peer (SQLite, no auth).

Follows the package README quick start; the only additions are noted inline.
"""
import os
from pathlib import Path
from uuid import UUID

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "bench-peer-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
PORT = int(os.environ.get("STA_PEER_PORT", "8019"))

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "sensorthings.versions.v1_1",
    "sensorthings.versions.v1_1.backends.django",
    "sensorthings.versions.v1_1.extensions.dataarray",  # POST /CreateObservations
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "benchsite.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
        # addition: wait for the write lock instead of failing at once (2 server processes share the file)
        "OPTIONS": {"timeout": 30},
    }
}
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"console": {"class": "logging.StreamHandler"}},
           "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}}}

SENSORTHINGS_V1_1_SERVICE_URL = f"http://127.0.0.1:{PORT}/sensorthings"
SENSORTHINGS_V1_1_BACKEND_ADAPTER = "sensorthings.versions.v1_1.backends.django.adapter.DjangoBackendAdapter"
SENSORTHINGS_V1_1_ID_TYPE = UUID
SENSORTHINGS_V1_1_ID_DELIMITER = "'"
# addition: the default (100) rejects the benchmark's $top=1000 with HTTP 400; documented setting
SENSORTHINGS_V1_1_MAX_TOP = 1000
