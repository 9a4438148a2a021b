"""The clinic's tracker: every referral it sent, filterable, with status and age at a glance."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
