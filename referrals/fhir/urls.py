"""The FHIR API and its SMART sign-in (``/fhir/r4/`` on every network's host)."""

from django.urls import URLPattern, URLResolver, path

from . import api
from .views import smart_configuration, token

urlpatterns: list[URLPattern | URLResolver] = [
    path(".well-known/smart-configuration", smart_configuration, name="smart_configuration"),
    path("auth/token", token, name="fhir_token"),
    path("", api.urls),
]
