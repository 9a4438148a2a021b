"""The site's URLs plus media served at MEDIA_URL, the way a deployment exposes it.

In development ``cms/urls.py`` serves MEDIA_ROOT at MEDIA_URL (``static()``); in production a
proxy or an object store answers MEDIA_URL for anyone. Either way, a file stored in the default
storage has a public address. This URLconf adds that address for the isolation walk, so a file
of client data left in the default storage is found, whatever storage the tests run on.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.urls import path

from cms.urls import urlpatterns as site_urlpatterns


def media_serve(request: HttpRequest, path: str) -> FileResponse:
    if not default_storage.exists(path):
        raise Http404
    return FileResponse(default_storage.open(path))


urlpatterns = [
    path(settings.MEDIA_URL.strip("/") + "/<path:path>", media_serve, name="media"),
    *site_urlpatterns,
]
