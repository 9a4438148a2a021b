"""Two-factor sign-in pages, under /accounts/two-factor/ next to the sign-in form."""

from django.urls import path

from .views import two_factor

app_name = "two_factor"

urlpatterns = [
    path("", two_factor.two_factor_overview, name="overview"),
    path("set-up/", two_factor.two_factor_setup, name="setup"),
    path("verify/", two_factor.two_factor_verify, name="verify"),
    path("recovery-codes/", two_factor.recovery_codes_new, name="recovery_codes"),
]
