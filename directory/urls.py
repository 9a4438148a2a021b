from django.urls import path

from . import views

app_name = "directory"

urlpatterns = [
    path("verify/", views.listing_verify, name="listing_verify"),
    path("verify/<str:token>/", views.listing_verify_link, name="listing_verify_link"),
]
