"""The staff workspace: the acting organization, switching it, partners, members, invitations
and the network overview."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from network import selectors, services
from network.decorators import member_required
from network.forms import MemberAddForm
from network.middleware import ACTIVE_MEMBERSHIP_SESSION_KEY, TenantRequest
from network.models import Membership, Network, Organization, Role
from network.permissions import NetworkPerm, permissions_prefetch, user_has_network_perm
from network.workspace_panels import workspace_panels

View = Callable[..., HttpResponse]


def _acting_network(request: TenantRequest) -> Network:
    if request.network is None:  # member_required guarantees an active membership
        raise PermissionDenied
    return request.network


def _organization_or_404(request: TenantRequest, slug: str) -> Organization:
    """An organization of the acting network; any other network's is simply not found."""
    return get_object_or_404(
        selectors.organizations_visible(
            user=request.user,
            network=_acting_network(request),
            include_inactive=True,
            memberships=request.memberships,
        ),
        slug=slug,
    )


@require_GET
@member_required
def workspace(request: TenantRequest) -> HttpResponse:
    network = _acting_network(request)
    return render(
        request,
        "network/workspace.html",
        {
            "panels": workspace_panels(request, timezone.now()),
            "is_network_admin": user_has_network_perm(
                request.user, NetworkPerm.ADMINISTER, network, checker=request.permission_checker
            ),
            "can_manage_members": request.organization is not None
            and selectors.members_manageable(
                user=request.user,
                organization=request.organization,
                checker=request.permission_checker,
            ),
        },
    )


@require_POST
@member_required
def membership_switch(request: TenantRequest) -> HttpResponse:
    try:
        wanted = int(request.POST.get("membership", ""))
    except ValueError:
        wanted = -1
    membership = next((m for m in request.memberships if m.pk == wanted), None)
    if membership is None:
        messages.error(request, _("Choose one of your own organizations."))
        return redirect("network:workspace")
    request.session[ACTIVE_MEMBERSHIP_SESSION_KEY] = membership.pk
    services.membership_use(membership=membership)
    messages.success(request, _("You are now working as %(place)s.") % {"place": membership.label})
    return redirect("network:workspace")


@require_GET
@member_required
def organization_list(request: TenantRequest) -> HttpResponse:
    kind = request.GET.get("kind") if request.GET.get("kind") in {"clinic", "agency"} else None
    organizations = list(
        selectors.organizations_visible(
            user=request.user,
            network=_acting_network(request),
            kind=kind,
            memberships=request.memberships,
        )
    )
    checker = request.permission_checker
    permissions_prefetch(checker, organizations)
    is_network_admin = user_has_network_perm(
        request.user, NetworkPerm.ADMINISTER, _acting_network(request), checker=checker
    )
    rows = [
        (
            org,
            is_network_admin
            or selectors.members_manageable(user=request.user, organization=org, checker=checker),
        )
        for org in organizations
    ]
    return render(request, "network/organization_list.html", {"rows": rows, "kind": kind})


@require_GET
@member_required
def organization_detail(request: TenantRequest, slug: str) -> HttpResponse:
    organization = _organization_or_404(request, slug)
    return render(
        request,
        "network/organization_detail.html",
        {
            "organization": organization,
            "can_manage_members": selectors.members_manageable(
                user=request.user, organization=organization, checker=request.permission_checker
            ),
        },
    )


def _members_page(
    request: TenantRequest, organization: Organization, form: MemberAddForm, status: int = 200
) -> HttpResponse:
    members = selectors.organization_members(
        user=request.user, organization=organization, checker=request.permission_checker
    )
    invitations = selectors.organization_invitations_pending(
        user=request.user,
        organization=organization,
        now=timezone.now(),
        checker=request.permission_checker,
    )
    return render(
        request,
        "network/organization_members.html",
        {
            "organization": organization,
            "members": members,
            "invitations": invitations,
            "form": form,
        },
        status=status,
    )


def _organization_managed_or_403(request: TenantRequest, slug: str) -> Organization:
    organization = _organization_or_404(request, slug)
    if not selectors.members_manageable(
        user=request.user, organization=organization, checker=request.permission_checker
    ):
        raise PermissionDenied(_("Only this organization's admins can manage its members."))
    return organization


@require_GET
@member_required
def organization_members(request: TenantRequest, slug: str) -> HttpResponse:
    organization = _organization_managed_or_403(request, slug)
    return _members_page(request, organization, MemberAddForm(organization=organization))


@require_POST
@member_required
def member_add(request: TenantRequest, slug: str) -> HttpResponse:
    organization = _organization_managed_or_403(request, slug)
    form = MemberAddForm(request.POST, organization=organization)
    if not form.is_valid():
        return _members_page(request, organization, form, status=400)
    data = form.cleaned_data
    # A current member's role changes at once: the page already lists them by name. Anyone else
    # is invited, and the answer is the same whether or not the address has an account.
    member = (
        selectors.organization_members(
            user=request.user, organization=organization, checker=request.permission_checker
        )
        .filter(user__email__iexact=data["email"])
        .first()
    )
    try:
        if member is not None:
            services.membership_grant(
                user=member.user, organization=organization, role=data["role"], by=request.user
            )
        else:
            services.invitation_create(
                organization=organization,
                email=data["email"],
                role=data["role"],
                by=request.user,
                first_name=data["first_name"],
                last_name=data["last_name"],
            )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _members_page(request, organization, form, status=400)
    if member is not None:
        messages.success(
            request,
            _("%(user)s now has the role %(role)s.")
            % {"user": member.user, "role": Role(data["role"]).label},
        )
    else:
        messages.success(
            request,
            _(
                "We sent an invitation to %(email)s. The person joins %(org)s as %(role)s once "
                "they sign in and accept it."
            )
            % {"email": data["email"], "org": organization.name, "role": Role(data["role"]).label},
        )
    return redirect("network:organization_members", slug=organization.slug)


@require_POST
@member_required
def invitation_withdraw(request: TenantRequest, slug: str, pk: int) -> HttpResponse:
    organization = _organization_managed_or_403(request, slug)
    invitation = get_object_or_404(
        selectors.organization_invitations_pending(
            user=request.user,
            organization=organization,
            now=timezone.now(),
            checker=request.permission_checker,
        ),
        pk=pk,
    )
    try:
        services.invitation_withdraw(invitation=invitation, by=request.user)
    except services.InvitationClosed as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("The invitation to %(email)s was withdrawn.") % {"email": invitation.email}
        )
    return redirect("network:organization_members", slug=organization.slug)


@require_POST
@member_required
def member_remove(request: TenantRequest, slug: str, membership_id: int) -> HttpResponse:
    organization = _organization_managed_or_403(request, slug)
    membership: Membership = get_object_or_404(
        selectors.organization_members(
            user=request.user, organization=organization, checker=request.permission_checker
        ),
        pk=membership_id,
    )
    services.membership_revoke(membership=membership, by=request.user)
    messages.success(
        request,
        _("%(user)s no longer has access to %(org)s.")
        % {"user": membership.user, "org": organization},
    )
    if membership.user_id == request.user.pk:
        return HttpResponseRedirect("/")
    return redirect("network:organization_members", slug=organization.slug)


@require_GET
@member_required
def network_overview(request: TenantRequest) -> HttpResponse:
    network = _acting_network(request)
    if not user_has_network_perm(
        request.user, NetworkPerm.ADMINISTER, network, checker=request.permission_checker
    ):
        raise PermissionDenied(_("Only network admins can see the network overview."))
    return render(
        request,
        "network/network_overview.html",
        {
            "organizations": selectors.network_overview(user=request.user, network=network),
            "admins": selectors.network_admins(user=request.user, network=network),
        },
    )


# --- invitations: answered by the invited person, signed in -----------------------------------


@require_GET
@login_required
def invitation_list(request: TenantRequest) -> HttpResponse:
    """The invitations waiting for this person's answer (reachable before any membership)."""
    invitations = selectors.invitations_pending_for_user(user=request.user, now=timezone.now())
    return render(request, "network/invitation_list.html", {"invitations": invitations})


def _invitation_answer(request: TenantRequest, pk: int, *, accept: bool) -> HttpResponse:
    # Another person's invitation is simply not found.
    invitation = get_object_or_404(
        selectors.invitations_pending_for_user(user=request.user, now=timezone.now()), pk=pk
    )
    try:
        if accept:
            membership = services.invitation_accept(invitation=invitation, by=request.user)
        else:
            services.invitation_decline(invitation=invitation, by=request.user)
    except services.InvitationClosed as exc:
        messages.error(request, str(exc))
        return redirect("network:invitation_list")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("network:invitation_list")
    if not accept:
        messages.success(
            request,
            _("You declined to join %(org)s.") % {"org": invitation.organization.name},
        )
        return redirect("network:invitation_list")
    messages.success(
        request,
        _("You joined %(org)s (%(network)s) as %(role)s.")
        % {
            "org": invitation.organization.name,
            "network": invitation.network.name,
            "role": membership.get_role_display(),
        },
    )
    if request.membership is not None:
        messages.info(
            request,
            _("You are still working as %(place)s; switch in the header to work there.")
            % {"place": request.membership.label},
        )
    return redirect("network:workspace")


@require_POST
@login_required
def invitation_accept(request: TenantRequest, pk: int) -> HttpResponse:
    return _invitation_answer(request, pk, accept=True)


@require_POST
@login_required
def invitation_decline(request: TenantRequest, pk: int) -> HttpResponse:
    return _invitation_answer(request, pk, accept=False)
