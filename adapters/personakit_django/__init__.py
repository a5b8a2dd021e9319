"""personakit for Django: an app, a middleware, URL patterns, ``manage.py personakit``, checks.

::

    INSTALLED_APPS = [..., "personakit_django"]
    MIDDLEWARE = [..., "django.contrib.auth.middleware.AuthenticationMiddleware",
                  "personakit_django.middleware.PersonakitMiddleware"]
    PERSONAKIT = {"STORE": "/var/lib/shop/personakit"}  # master key: $PERSONAKIT_MASTER_KEY
    urlpatterns = [..., path("privacy/", include("personakit_django.urls"))]

Per request, ``request.personakit`` is the kit bound to the visitor. The app only translates;
the logic is :mod:`personakit.web`'s.
"""

try:
    import django  # noqa: F401 (fails early, with one line, when Django is missing)
except ImportError:  # pragma: no cover (exercised by the packaging test with Django absent)
    raise ImportError("personakit_django needs Django: pip install 'personakit[django]'") from None

__all__: list[str] = []
