from django.urls import URLPattern, path

from . import views

app_name = "consent"

urlpatterns: list[URLPattern] = [
    path(
        "consents/<int:pk>/signed-form/",
        views.signed_form_download,
        name="signed_form_download",
    ),
]
