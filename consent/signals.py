"""What the consent app announces, so that it never imports the apps that act on it."""

from django.dispatch import Signal

# Sent inside the revocation's transaction, after the consent is saved as revoked: whatever a
# receiver writes commits or rolls back with it, and an error in a receiver undoes the revocation.
# Arguments: consent (the revoked Consent), by (the User who revoked it).
consent_revoked = Signal()
