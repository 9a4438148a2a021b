"""The agency portal: the referral inbox and the agency's own listings."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
