"""Services: the role table becomes guardian grants; bad input is refused with nothing written."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from wagtail.models import Page, Site

from network import services
from network.models import (
    Membership,
    Network,
    NetworkUserObjectPermission,
    Organization,
    OrganizationUserObjectPermission,
    Role,
)
from network.permissions import (
    ROLE_PERMISSIONS,
    NetworkPerm,
    OrgPerm,
    checker_for,
    organizations_with_perm,
    user_has_network_perm,
    user_has_org_perm,
)
from tests.network.factories import UserFactory, network_make, organization_make


def _org_grants(user, org) -> set[str]:
    return set(
        OrganizationUserObjectPermission.objects.filter(user=user, content_object=org).values_list(
            "permission__codename", flat=True
        )
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role", [Role.CLINIC_STAFF, Role.CLINIC_ADMIN, Role.AGENCY_STAFF, Role.AGENCY_ADMIN]
)
def test_role_becomes_exactly_its_object_permissions(tenant_a, role):
    user = tenant_a.users[role]
    org = tenant_a.clinic if role.startswith("clinic") else tenant_a.agency
    assert _org_grants(user, org) == set(ROLE_PERMISSIONS[role])
    for perm in OrgPerm:
        assert user_has_org_perm(user, perm, org) == (perm.value in ROLE_PERMISSIONS[role])
    other = tenant_a.agency if org == tenant_a.clinic else tenant_a.clinic
    assert _org_grants(user, other) == set()
    assert not user_has_network_perm(user, NetworkPerm.ADMINISTER, tenant_a.network)


@pytest.mark.django_db
def test_the_requests_checker_answers_from_one_query_and_then_from_its_cache(
    tenant_a, django_assert_num_queries
):
    """The first check on an organization reads the user's grants on it (one query: nobody's
    grants are held through groups); the request's later checks read the checker's cache."""
    user = tenant_a.users[Role.AGENCY_STAFF]
    checker = checker_for(user)
    with django_assert_num_queries(1):
        assert user_has_org_perm(user, OrgPerm.RECEIVE_REFERRALS, tenant_a.agency, checker=checker)
    with django_assert_num_queries(0):
        assert user_has_org_perm(user, OrgPerm.VIEW, tenant_a.agency, checker=checker)
        assert not user_has_org_perm(user, OrgPerm.EDIT_LISTING, tenant_a.agency, checker=checker)
    # Another organization is read once too, and holds nothing for this user.
    with django_assert_num_queries(1):
        assert not user_has_org_perm(user, OrgPerm.VIEW, tenant_a.clinic, checker=checker)


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
def test_a_checker_given_the_memberships_answers_as_the_grant_table_without_a_query(
    tenant_a, tenant_b, role, django_assert_num_queries
):
    """The request's checker knows the grants on the user's own organizations and networks from
    their memberships (the middleware reads them anyway): the same answers as the grant table,
    for every permission, with no query; anything else is still read from the grant table."""
    from network.selectors import memberships_for_user

    user = tenant_a.users[role]
    # A second membership elsewhere in the network, so that two targets are seeded.
    services.membership_grant(
        user=user, role=Role.AGENCY_STAFF, organization=tenant_a.agency, notify=False
    )
    memberships = list(memberships_for_user(user=user))
    seeded = checker_for(user, memberships=memberships)
    targets = [tenant_a.network, tenant_a.clinic, tenant_a.agency]
    for target in targets:
        perms = list(OrgPerm if isinstance(target, Organization) else NetworkPerm)
        answers = {perm: checker_for(user).has_perm(perm.value, target) for perm in perms}
        mine = any(
            (m.organization_id or m.network_id) == target.pk
            and isinstance(target, Organization) == (m.organization_id is not None)
            for m in memberships
        )
        with django_assert_num_queries(0 if mine else 1):
            assert {perm: seeded.has_perm(perm.value, target) for perm in perms} == answers
    # Another network's organization: read from the grant table, and nothing there.
    with django_assert_num_queries(1):
        assert not seeded.has_perm(OrgPerm.VIEW.value, tenant_b.clinic)


@pytest.mark.django_db
def test_a_checker_seeds_nothing_for_an_inactive_user_or_from_someone_elses_memberships(
    tenant_a,
):
    from network.selectors import memberships_for_user

    staff = tenant_a.users[Role.AGENCY_STAFF]
    other = tenant_a.users[Role.CLINIC_STAFF]
    theirs = list(memberships_for_user(user=staff))
    # Someone else's memberships grant this user nothing.
    assert not checker_for(other, memberships=theirs).has_perm(
        OrgPerm.RECEIVE_REFERRALS.value, tenant_a.agency
    )
    staff.is_active = False
    assert not checker_for(staff, memberships=theirs).has_perm(
        OrgPerm.RECEIVE_REFERRALS.value, tenant_a.agency
    )


@pytest.mark.django_db
def test_network_admin_holds_network_permissions_and_wagtail_group(tenant_a):
    admin = tenant_a.users[Role.NETWORK_ADMIN]
    grants = set(
        NetworkUserObjectPermission.objects.filter(user=admin).values_list(
            "permission__codename", flat=True
        )
    )
    assert grants == {"view_network", "administer_network"}
    assert admin.groups.filter(pk=tenant_a.network.admin_group_id).exists()
    assert admin.has_perm("wagtailadmin.access_admin")


@pytest.mark.django_db
def test_role_change_replaces_grants(tenant_a):
    user = tenant_a.users[Role.CLINIC_STAFF]
    services.membership_grant(
        user=user, role=Role.CLINIC_ADMIN, organization=tenant_a.clinic, notify=False
    )
    assert _org_grants(user, tenant_a.clinic) == set(ROLE_PERMISSIONS[Role.CLINIC_ADMIN])
    services.membership_grant(
        user=user, role=Role.CLINIC_STAFF, organization=tenant_a.clinic, notify=False
    )
    assert _org_grants(user, tenant_a.clinic) == set(ROLE_PERMISSIONS[Role.CLINIC_STAFF])
    assert Membership.objects.filter(user=user, organization=tenant_a.clinic).count() == 1


@pytest.mark.django_db
def test_revoke_withdraws_every_grant(tenant_a):
    admin = tenant_a.users[Role.NETWORK_ADMIN]
    services.membership_revoke(membership=admin.memberships.get())
    assert not NetworkUserObjectPermission.objects.filter(user=admin).exists()
    assert not admin.groups.exists()
    staff = tenant_a.users[Role.AGENCY_STAFF]
    services.membership_revoke(membership=staff.memberships.get())
    assert _org_grants(staff, tenant_a.agency) == set()
    assert not organizations_with_perm(staff, OrgPerm.VIEW).exists()


@pytest.mark.django_db
def test_inactive_user_holds_nothing(tenant_a):
    user = tenant_a.users[Role.AGENCY_ADMIN]
    user.is_active = False
    user.save()
    assert not user_has_org_perm(user, OrgPerm.VIEW, tenant_a.agency)
    assert not organizations_with_perm(user, OrgPerm.VIEW).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "role"), [("clinic", Role.AGENCY_STAFF), ("agency", Role.CLINIC_ADMIN)]
)
def test_role_must_fit_organization_kind(tenant_a, kind, role):
    org = tenant_a.clinic if kind == "clinic" else tenant_a.agency
    user = UserFactory()
    with pytest.raises(ValidationError) as err:
        services.membership_grant(user=user, role=role, organization=org, notify=False)
    assert "cannot have the role" in str(err.value)
    assert not Membership.objects.filter(user=user).exists()
    assert not OrganizationUserObjectPermission.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_both_kind_takes_clinic_and_agency_roles(tenant_a):
    both = organization_make(tenant_a.network, "both")
    for role in (Role.CLINIC_STAFF, Role.AGENCY_ADMIN):
        membership = services.membership_grant(
            user=UserFactory(), role=role, organization=both, notify=False
        )
        assert membership.role == role


@pytest.mark.django_db
def test_network_admin_role_needs_a_network_not_an_organization(tenant_a):
    user = UserFactory()
    with pytest.raises(ValidationError):
        services.membership_grant(
            user=user, role=Role.NETWORK_ADMIN, organization=tenant_a.clinic, notify=False
        )
    with pytest.raises(ValidationError):
        services.membership_grant(
            user=user, role=Role.CLINIC_STAFF, network=tenant_a.network, notify=False
        )
    with pytest.raises(ValidationError):
        services.membership_grant(user=user, role="mayor", network=tenant_a.network, notify=False)
    assert not Membership.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_organization_of_another_network_is_refused(tenant_a, tenant_b):
    user = UserFactory()
    with pytest.raises(ValidationError):
        services.membership_grant(
            user=user,
            role=Role.CLINIC_STAFF,
            organization=tenant_b.clinic,
            network=tenant_a.network,
            notify=False,
        )
    assert not Membership.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_staff_cannot_grant_and_org_admin_cannot_appoint_network_admin(tenant_a):
    newcomer = UserFactory()
    with pytest.raises(PermissionDenied):
        services.membership_grant(
            user=newcomer,
            role=Role.CLINIC_STAFF,
            organization=tenant_a.clinic,
            by=tenant_a.users[Role.CLINIC_STAFF],
            notify=False,
        )
    with pytest.raises(PermissionDenied):
        services.membership_grant(
            user=newcomer,
            role=Role.NETWORK_ADMIN,
            network=tenant_a.network,
            by=tenant_a.users[Role.CLINIC_ADMIN],
            notify=False,
        )
    with pytest.raises(PermissionDenied):  # an agency admin has no say over the clinic
        services.membership_grant(
            user=newcomer,
            role=Role.CLINIC_STAFF,
            organization=tenant_a.clinic,
            by=tenant_a.users[Role.AGENCY_ADMIN],
            notify=False,
        )
    assert not Membership.objects.filter(user=newcomer).exists()


@pytest.mark.django_db
def test_admin_of_network_a_cannot_grant_in_network_b(tenant_a, tenant_b):
    with pytest.raises(PermissionDenied):
        services.membership_grant(
            user=UserFactory(),
            role=Role.AGENCY_STAFF,
            organization=tenant_b.agency,
            by=tenant_a.users[Role.NETWORK_ADMIN],
            notify=False,
        )


@pytest.mark.django_db
def test_network_create_builds_site_tree_collection_and_group():
    network = services.network_create(
        name="Lake County Network",
        slug="lake",
        hostname="lake.localhost",
        port=8000,
        time_zone="UTC",
    )
    assert network.site.root_page.specific.title == "Lake County Network"
    assert network.root_page.depth == 2
    assert network.admin_group.page_permissions.filter(page=network.root_page).count() == 5
    assert network.admin_group.collection_permissions.count() == 6


@pytest.mark.django_db
def test_network_create_refuses_bad_input_and_writes_nothing():
    network_make("Existing")
    existing = Network.objects.get()
    counts = (
        Network.objects.count(),
        Site.objects.count(),
        Page.objects.count(),
        Group.objects.count(),
    )
    with pytest.raises(ValidationError) as err:
        services.network_create(
            name="Existing",
            slug=existing.slug,
            hostname=existing.site.hostname,
            port=existing.site.port,
            time_zone="Mars/Olympus",
        )
    assert set(err.value.message_dict) == {"name", "slug", "hostname", "time_zone"}
    assert counts == (
        Network.objects.count(),
        Site.objects.count(),
        Page.objects.count(),
        Group.objects.count(),
    )


@pytest.mark.django_db
def test_organization_create_validates_and_writes_nothing_on_error(tenant_a):
    before = Organization.objects.count()
    with pytest.raises(ValidationError) as err:
        services.organization_create(
            network=tenant_a.network,
            name=tenant_a.clinic.name,
            kind="hospital",
            email="not-an-email",
        )
    assert {"kind", "email"} <= set(err.value.message_dict)
    assert Organization.objects.count() == before


@pytest.mark.django_db
def test_organization_kind_change_cannot_strand_members(tenant_a):
    with pytest.raises(ValidationError) as err:
        services.organization_update(organization=tenant_a.clinic, kind="agency")
    assert "change their roles first" in str(err.value)
    tenant_a.clinic.refresh_from_db()
    assert tenant_a.clinic.kind == "clinic"
    services.organization_update(organization=tenant_a.clinic, kind="both")
    tenant_a.clinic.refresh_from_db()
    assert tenant_a.clinic.kind == "both"


@pytest.mark.django_db
def test_organization_changes_only_by_network_admins(tenant_a, tenant_b):
    with pytest.raises(PermissionDenied):
        services.organization_update(
            organization=tenant_a.clinic, phone="1", by=tenant_a.users[Role.CLINIC_ADMIN]
        )
    with pytest.raises(PermissionDenied):
        services.organization_create(
            network=tenant_b.network, name="X", kind="agency", by=tenant_a.users[Role.NETWORK_ADMIN]
        )
    with pytest.raises(TypeError):
        services.organization_update(organization=tenant_a.clinic, network=tenant_b.network)


@pytest.mark.django_db
def test_user_create_refuses_duplicate_email(tenant_a):
    existing = tenant_a.users[Role.CLINIC_STAFF]
    with pytest.raises(ValidationError):
        services.user_create(username="someone-else", email=existing.email.upper())


@pytest.mark.django_db
def test_wagtail_policy_lists_network_admins_and_superusers(tenant_a, superuser):
    from network.wagtail_hooks import organization_policy

    users = set(organization_policy.users_with_permission("change"))
    assert users == {tenant_a.users[Role.NETWORK_ADMIN], superuser}
    assert organization_policy.user_has_permission_for_instance(
        tenant_a.users[Role.NETWORK_ADMIN], "change", tenant_a.clinic
    )
    assert not organization_policy.user_has_permission(tenant_a.users[Role.CLINIC_ADMIN], "add")
