"""The clinic's screening pages: record an AHC HRSN screening of a client, and its result."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from consent.models import AccessPurpose
from network.decorators import member_required
from network.middleware import TenantRequest
from referrals.forms import (
    ScreeningForm,
    question_field_name,
)
from referrals.screening import QUESTIONS, InvalidScreening
from referrals.selectors.clients import (
    client_screenings,
)
from referrals.services.clients import screening_record
from referrals.views.clients import (
    NAME_ONLY,
    SCREENING_FIELDS,
    category_labels,
    clients_seen,
    domain_labels,
    refer_url,
    screening_domains,
    visible_client,
)


@require_http_methods(["GET", "POST"])
@member_required
def screening_new(request: TenantRequest, pk: int) -> HttpResponse:
    clinic, client = visible_client(request, pk)
    form = ScreeningForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            screening = screening_record(
                client=client, by=request.user, organization=clinic, answers=form.answers()
            )
        except InvalidScreening as exc:
            form.add_error(None, exc.problems)
        else:
            messages.success(request, _("The screening was recorded."))
            return redirect("referrals:screening_detail", pk=client.pk, screening_pk=screening.pk)
    questions = [(form[question_field_name(code)], q) for code, q in QUESTIONS.items()]
    clients_seen(
        request, clinic, purpose=AccessPurpose.SCREENING, fields=NAME_ONLY, seen=[(client.pk, None)]
    )
    return render(
        request,
        "referrals/clinic/screening_new.html",
        {"client": client, "form": form, "questions": questions},
        status=400 if form.is_bound else 200,
    )


@require_GET
@member_required
def screening_detail(request: TenantRequest, pk: int, screening_pk: int) -> HttpResponse:
    """A screening's result: the domains that screened positive, the needs they suggest and
    the search for services that meet them."""
    clinic, client = visible_client(request, pk)
    screening = get_object_or_404(client_screenings(client=client), pk=screening_pk)
    clients_seen(
        request,
        clinic,
        purpose=AccessPurpose.SCREENING,
        fields=SCREENING_FIELDS,
        seen=[(client.pk, None)],
    )
    answers = []
    for code, question in QUESTIONS.items():
        given = screening.answers.get(code)
        chosen = set([given] if isinstance(given, str) else given or [])
        answers.append(
            (question.text, [label for value, label in question.answers if value in chosen])
        )
    consent_url = reverse("referrals:consent_new", kwargs={"pk": client.pk})
    if screening.positive_categories:
        consent_url += "?" + urlencode([("categories", c) for c in screening.positive_categories])
    return render(
        request,
        "referrals/clinic/screening_detail.html",
        {
            "client": client,
            "screening": screening,
            "domains": screening_domains(screening),
            "categories": category_labels(screening.positive_categories),
            "incomplete": domain_labels(screening.incomplete),
            "answers": answers,
            "search_url": refer_url(client=client, screening=screening),
            "consent_url": consent_url,
        },
    )
