"""The clinic workspace: clients, screenings, consents and the tracker of referrals sent."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
