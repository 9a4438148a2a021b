"""Signals other apps listen to, so tenancy does not import them."""

from django.dispatch import Signal

# Sent inside the transaction after a membership is granted, changed or revoked.
# Arguments: user, organization (None for a network-admin membership), network.
membership_changed = Signal()
