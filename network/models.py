"""Tenancy: networks, organizations, users and their memberships.

A Network is one regional referral network (the tenant). Organizations belong to one network and
people belong to organizations through memberships that carry a role. Roles become
django-guardian object permissions on the Organization or the Network (see ``permissions.py``).
"""

from __future__ import annotations

from typing import ClassVar

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase
from wagtail.models import Page

from cms.categories import SENSITIVE_CATEGORY_CODES


class User(AbstractUser):
    """A person who signs in: clinic staff, agency staff or a network admin."""

    preferred_language = models.CharField(
        _("preferred language"),
        max_length=8,
        blank=True,
        default="",
        help_text=_("Language of the interface and of emails sent to this person."),
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class Network(models.Model):
    """A tenant: one regional referral network with its own site, directory and organizations."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default="America/Los_Angeles",
        help_text=_("IANA time zone used for opening hours and due dates."),
    )
    site = models.OneToOneField(
        "wagtailcore.Site",
        on_delete=models.PROTECT,
        related_name="network",
        verbose_name=_("Wagtail site"),
    )
    admin_group = models.OneToOneField(
        "auth.Group",
        on_delete=models.PROTECT,
        related_name="administered_network",
        help_text=_("Wagtail group holding page and collection permissions for this network."),
    )
    collection = models.OneToOneField(
        "wagtailcore.Collection",
        on_delete=models.PROTECT,
        null=True,
        related_name="network",
        help_text=_(
            "Wagtail collection of the network's documents and images; its admin group holds "
            "the collection permissions, nobody else's does."
        ),
    )
    verification_interval_days = models.PositiveSmallIntegerField(
        _("listing verification interval (days)"),
        default=180,
        help_text=_("Agencies are asked to confirm listings older than this."),
    )
    consent_days = models.PositiveSmallIntegerField(
        _("consent lasts (days)"),
        default=365,
        validators=[MinValueValidator(1), MaxValueValidator(3660)],
        help_text=_("How long a client's consent lasts unless staff set another end date."),
    )
    sensitive_categories = models.JSONField(
        _("also sensitive"),
        default=list,
        blank=True,
        help_text=_(
            "SDOH categories this network treats as sensitive, besides interpersonal safety: "
            "shared only with organizations a consent names for them."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            (
                "administer_network",
                _("Administer the network: directory, organizations, agreements"),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def root_page(self) -> Page:
        return self.site.root_page

    def sensitive_category_codes(self) -> frozenset[str]:
        return SENSITIVE_CATEGORY_CODES | frozenset(self.sensitive_categories or ())


class OrganizationKind(models.TextChoices):
    CLINIC = "clinic", _("Clinic (sends referrals)")
    AGENCY = "agency", _("Agency (receives referrals)")
    BOTH = "both", _("Clinic and agency")


class Organization(models.Model):
    """A clinic, an agency, or both, inside one network."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="organizations")
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80)
    kind = models.CharField(_("kind"), max_length=10, choices=OrganizationKind.choices)
    description = models.TextField(_("description"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("email"), blank=True)
    website = models.URLField(_("website"), blank=True)
    address_1 = models.CharField(_("street address"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    state = models.CharField(_("state"), max_length=2, blank=True)
    postal_code = models.CharField(_("ZIP code"), max_length=10, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "slug"], name="organization_slug_per_network"
            ),
            models.UniqueConstraint(
                fields=["network", "name"], name="organization_name_per_network"
            ),
        ]
        permissions = [
            ("send_referrals", _("Screen clients and send referrals for this organization")),
            ("receive_referrals", _("Work referrals received by this organization")),
            ("update_capacity", _("Update this organization's service capacity")),
            ("edit_listing", _("Edit this organization's directory listing")),
            ("manage_members", _("Add and remove this organization's members")),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("network:organization_detail", kwargs={"slug": self.slug})

    @property
    def sends_referrals(self) -> bool:
        return self.kind in {OrganizationKind.CLINIC, OrganizationKind.BOTH}

    @property
    def receives_referrals(self) -> bool:
        return self.kind in {OrganizationKind.AGENCY, OrganizationKind.BOTH}


class Role(models.TextChoices):
    CLINIC_STAFF = "clinic_staff", _("Clinic staff")
    CLINIC_ADMIN = "clinic_admin", _("Clinic admin")
    AGENCY_STAFF = "agency_staff", _("Agency staff")
    AGENCY_ADMIN = "agency_admin", _("Agency admin")
    NETWORK_ADMIN = "network_admin", _("Network admin")


CLINIC_ROLES: frozenset[str] = frozenset({Role.CLINIC_STAFF, Role.CLINIC_ADMIN})
AGENCY_ROLES: frozenset[str] = frozenset({Role.AGENCY_STAFF, Role.AGENCY_ADMIN})


class Membership(models.Model):
    """A user's role in an organization, or (organization empty) as admin of a whole network."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="memberships",
        null=True,
        blank=True,
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the person last chose to act as this membership: a new sign-in acts where they left off.
    last_used_at = models.DateTimeField(null=True, blank=True)

    ROLES_FOR_KIND: ClassVar[dict[str, frozenset[str]]] = {
        OrganizationKind.CLINIC: CLINIC_ROLES,
        OrganizationKind.AGENCY: AGENCY_ROLES,
        OrganizationKind.BOTH: CLINIC_ROLES | AGENCY_ROLES,
    }

    class Meta:
        ordering = ["network__name", "organization__name", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"],
                condition=Q(organization__isnull=False),
                name="one_membership_per_user_and_organization",
            ),
            models.UniqueConstraint(
                fields=["user", "network"],
                condition=Q(role="network_admin"),
                name="one_network_admin_membership_per_user_and_network",
            ),
            models.CheckConstraint(
                condition=(Q(role="network_admin") & Q(organization__isnull=True))
                | (~Q(role="network_admin") & Q(organization__isnull=False)),
                name="network_admin_has_no_organization_others_have_one",
            ),
        ]

    def __str__(self) -> str:
        where = self.organization or self.network
        return f"{self.user} — {self.get_role_display()} — {where}"

    def clean(self) -> None:
        organization = self.organization if self.organization_id is not None else None
        if organization is not None and organization.network_id != self.network_id:
            raise ValidationError(
                {"organization": _("The organization belongs to another network.")}
            )
        if self.role != Role.NETWORK_ADMIN and organization is not None:
            allowed = self.ROLES_FOR_KIND[organization.kind]
            if self.role not in allowed:
                raise ValidationError(
                    {
                        "role": _("A %(kind)s cannot have the role %(role)s.")
                        % {
                            "kind": organization.get_kind_display(),
                            "role": self.get_role_display(),
                        }
                    }
                )

    @property
    def label(self) -> str:
        return str(self.organization) if self.organization else f"{self.network} (network admin)"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Invitation(models.Model):
    """An offer of a role in an organization, made to an account; no membership until accepted.

    The inviting admins see the address they typed and the state, never who owns the address.
    """

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="invitations")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("email"))
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"],
                condition=Q(status="pending"),
                name="one_pending_invitation_per_user_and_organization",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} — {self.get_role_display()} — {self.organization}"


# django-guardian direct foreign-key permission tables: one row per (user, permission, object),
# joined by a real foreign key instead of the generic content-type table.
class OrganizationUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Organization, on_delete=models.CASCADE)


class NetworkUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Network, on_delete=models.CASCADE)


# --- systems that sign in: SMART Backend Services clients ----------------------------------


class ApiClientRole(models.TextChoices):
    """What a system does for its organization: the role its account holds there."""

    CLINIC = "clinic_staff", _("Sends referrals (an EHR of a clinic)")
    AGENCY = "agency_staff", _("Works referrals received (an agency's case system)")


class ApiClient(models.Model):
    """A system (an EHR's integration engine) that signs in to the FHIR API with a signed JWT
    (SMART Backend Services), for one organization of one network.

    It acts through its own account (``user``: no password, a membership with ``role``), so
    every rule, selector and access-log row treats it like a person, under its name.
    """

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="api_clients")
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="api_clients"
    )
    user = models.OneToOneField(
        User, on_delete=models.PROTECT, related_name="api_client", editable=False
    )
    name = models.CharField(_("name"), max_length=120, help_text=_("E.g. “Epic at Eureka Clinic”."))
    client_id = models.CharField(_("client id"), max_length=64, unique=True, editable=False)
    role = models.CharField(_("acts as"), max_length=20, choices=ApiClientRole.choices)
    jwks = models.JSONField(
        _("public keys (JWKS)"),
        help_text=_("The system's JSON Web Key Set: public RS384 or ES384 keys, each with a kid."),
    )
    scopes = models.JSONField(
        _("scopes allowed"),
        default=list,
        help_text=_("SMART system scopes it may ask for, e.g. system/Task.rs."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("API client")
        constraints = [
            models.UniqueConstraint(fields=["network", "name"], name="api_client_name_per_network"),
        ]

    def __str__(self) -> str:
        return self.name


class ApiClientAssertion(models.Model):
    """A client assertion's ``jti`` seen, kept until the assertion expires: a replay is refused."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="+")
    jti = models.CharField(max_length=255)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "jti"], name="api_client_jti_once"),
        ]

    def __str__(self) -> str:
        return f"Assertion {self.jti} of {self.client_id}"


class ApiAccessToken(models.Model):
    """An access token issued to a client: only its SHA-256 is stored."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="tokens")
    digest = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"Token of {self.client_id} until {self.expires_at:%Y-%m-%d %H:%M}"
