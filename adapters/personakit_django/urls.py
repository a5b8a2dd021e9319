"""URL patterns of the privacy center: ``path("privacy/", include("personakit_django.urls"))``."""

from __future__ import annotations

from django.urls import URLPattern, path

from personakit.web import ROUTES
from personakit_django.views import privacy_view

__all__ = ["app_name", "urlpatterns"]

app_name = "personakit"
urlpatterns: list[URLPattern] = [
    path(route.path, privacy_view(route.operation), name=route.operation) for route in ROUTES
]
