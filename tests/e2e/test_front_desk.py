"""A day at the front desk in a real browser: the flows issue 15 added, as the people who use
them go through them.

(a) Clinic staff open a client who screened positive and find services from her: the staff
    search opens with her needs ticked, near her ZIP code, nearest first, with results.
(b) An agency declined a referral with a coded reason; the clinic opens it, reads the reason,
    refers elsewhere, picks the alternative and reaches the send page, prefilled.
(c) The agency's inbox keeps the declined referral on its "Closed" tab, and its search box finds
    it by the referral's number.
(d) A clinic admin finds a duplicate client by a misspelt name ("hernandes"), compares the two
    records and merges them; the duplicate is gone and its screening shows under the kept one.

Like the referral loop it runs in English on a desktop and in Spanish on a phone (375 px), with
the words from the project's catalogue (tests/e2e/words.py), one world and one sign-in per
person for all four journeys; a screenshot of every step lands in
test-artifacts/desk-<language>-<width>-*.png.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest

from network.models import Role
from referrals.models import Client, Referral, Screening
from referrals.services.clients import client_create, screening_record
from referrals.services.transitions import referral_transition
from tests.directory.factories import ARCATA, Spec, directory_build
from tests.e2e.cast import Cast, client_find, two_factor_enrol
from tests.e2e.conftest import screenshot
from tests.e2e.walk import referrals_sent, signed_in
from tests.e2e.words import Words, words

DECLINE_NOTE = "Our rent fund is spent until July."
ALTERNATIVE = "Housing Navigation"


def desk_world(cast: Cast) -> dict[str, object]:
    """Maria was screened, consented and referred to both agencies; the housing agency declined
    (no capacity); a third agency offers the same need nearby. Rosa Hernandez is on file twice,
    the second time (with a screening) as "Rosa Maria"."""
    sent = referrals_sent(cast)
    housing = sent["housing"]
    referral_transition(
        referral=housing,
        to="rejected",
        by=cast.housing_staff,
        organization=cast.housing_agency,
        version=housing.version,
        reason=DECLINE_NOTE,
        reason_code="no-capacity",
    )
    directory_build(
        cast.tenant.network,
        [
            Spec(
                ALTERNATIVE,
                "Help finding and keeping housing.",
                places=[ARCATA],
                categories=["housing-instability"],
                languages=["en", "es"],
                agency="Coast Shelter",
            )
        ],
    )
    staff = cast.clinic_staff
    kept, duplicate = (
        client_create(
            organization=cast.clinic,
            by=staff,
            first_name=first,
            last_name="Hernandez",
            date_of_birth=date(1975, 3, 9),
            phone="707-555-0142",
            confirm_new=True,  # as the staff who typed it twice did
        )
        for first in ("Rosa", "Rosa Maria")
    )
    screening_record(
        client=duplicate,
        by=staff,
        organization=cast.clinic,
        answers={"88122-7": "LA28397-0"},  # food
    )
    two_factor_enrol(cast.tenant.users[Role.CLINIC_ADMIN])  # admins sign in with a code
    return {"housing": housing, "kept": kept, "duplicate": duplicate}


@pytest.mark.parametrize(
    ("language", "width"), [("en", 1280), ("es", 375)], ids=["en-desktop", "es-phone"]
)
@pytest.mark.django_db(transaction=True)
def test_front_desk_journeys(browser, site, cast: Cast, language: str, width: int):
    world = desk_world(cast)
    t = words(language)
    shot = f"desk-{language}-{width}"
    size = {"viewport": {"width": width, "height": 900}}
    addresses: list[str] = []  # every address the browser asked for, pages and fragments
    with signed_in(browser, site, cast.clinic_staff, language=language, **size) as page:
        page.on("request", lambda request: addresses.append(request.url))
        client_centred_search(page, site, cast, t, shot)
        refer_elsewhere(page, site, cast, world["housing"], t, shot)  # type: ignore[arg-type]
    with signed_in(browser, site, cast.housing_staff, language=language, **size) as page:
        page.on("request", lambda request: addresses.append(request.url))
        closed_tab(page, site, world["housing"], t, shot)  # type: ignore[arg-type]
    admin = cast.tenant.users[Role.CLINIC_ADMIN]
    with signed_in(browser, site, admin, language=language, **size) as page:
        page.on("request", lambda request: addresses.append(request.url))
        merge(page, site, world["kept"], world["duplicate"], t, shot)  # type: ignore[arg-type]
    # Every name typed into a search box was posted: none reached an address (the browser's
    # history, a proxy's or the server's access log).
    assert len(addresses) > 20
    typed = ("maria", "lopez", "rosa", "hernandez", "hernandes")
    leaked = [a for a in addresses if any(name in unquote_plus(a).lower() for name in typed)]
    assert leaked == []


def client_centred_search(page, site: str, cast: Cast, t: Words, shot: str) -> None:  # type: ignore[no-untyped-def]
    """(a) From the client's page to the search that starts from her."""
    main = page.get_by_role("navigation", name=t("Main"))
    main.get_by_role("link", name=t("Clients")).click()
    client_find(page, "Lopez", 1)
    page.get_by_role("link", name="Lopez, Maria").click()
    page.get_by_role("heading", level=1, name="Maria Lopez").wait_for()
    screenshot(page, f"{shot}-a1-client")
    page.get_by_role("link", name=t("Find services for %(name)s", name="Maria Lopez")).first.click()
    page.wait_for_url(re.compile(r"/workspace/search/\?"))
    params = parse_qs(urlsplit(page.url).query)
    assert set(params["category"]) == {"food-insecurity", "housing-instability"}
    assert params["near"] == ["95501"]
    assert params["sort"] == ["distance"]
    assert params["client"] == [str(cast.client.pk)]
    assert page.get_by_text(t("Referring %(name)s", name="Maria Lopez")).is_visible()
    assert page.get_by_label(t("Near (ZIP code, address or lat,lng)")).input_value() == "95501"
    for need in ("food-insecurity", "housing-instability"):
        assert page.locator(f"input[type=checkbox][name=category][value={need}]").first.is_checked()
    # Nearest first: the pantry in Eureka (her ZIP), then rent help in Arcata.
    names = [
        name.strip()
        for name in page.locator("h2.hit-title").all_inner_texts()
        if name.strip() in {"Harbor Food Pantry", "Rent Help", ALTERNATIVE}
    ]
    assert names[:1] == ["Harbor Food Pantry"], names
    assert "Rent Help" in names
    screenshot(page, f"{shot}-a2-search-from-client")


def refer_elsewhere(page, site: str, cast: Cast, housing: Referral, t: Words, shot: str) -> None:  # type: ignore[no-untyped-def]
    """(b) The declined referral, its reason, and the alternative's send page."""
    page.get_by_role("navigation", name=t("Main")).get_by_role(
        "link", name=t("Referrals sent")
    ).click()
    row = page.get_by_role("table").get_by_role("row").filter(has_text="Rent Help")
    assert t("Declined") in row.inner_text()
    row.get_by_role("link", name="Rent Help").click()
    page.wait_for_url(re.compile(rf"/workspace/referrals/{housing.pk}/$"))
    assert page.get_by_test_id("reason-code").inner_text() == t("No capacity")
    assert DECLINE_NOTE in page.get_by_test_id("status-reason").inner_text()
    screenshot(page, f"{shot}-b1-declined-referral")
    page.get_by_role("link", name=t("Refer elsewhere")).click()
    page.get_by_role(
        "heading", level=1, name=t("Refer %(name)s elsewhere", name="Maria Lopez")
    ).wait_for()
    alternative = page.locator("li.alternative").filter(has_text=ALTERNATIVE)
    assert "Rent Help" not in page.locator("ul.alternatives").inner_text()
    screenshot(page, f"{shot}-b2-alternatives")
    alternative.get_by_role("link", name=t("Refer to %(service)s", service=ALTERNATIVE)).click()
    page.get_by_role(
        "heading", level=1, name=t(("Send a referral", "Send %(n)s referrals"), 1, n=1)
    ).wait_for()
    assert page.get_by_label(t("Client"), exact=True).input_value() == str(cast.client.pk)
    assert ALTERNATIVE in page.locator("main").inner_text()
    screenshot(page, f"{shot}-b3-send-prefilled")


def closed_tab(page, site: str, housing: Referral, t: Words, shot: str) -> None:  # type: ignore[no-untyped-def]
    """(c) The agency's inbox: the declined referral on the Closed tab, found by its number."""
    page.get_by_role("navigation", name=t("Main")).get_by_role("link", name=t("Inbox")).click()
    assert page.get_by_role("row").filter(has_text="Rent Help").count() == 0  # not on "New"
    page.get_by_test_id("tab-closed").click()
    page.locator("[data-testid=tab-closed][aria-current=page]").wait_for()
    row = page.get_by_role("row").filter(has_text="Rent Help")
    row.wait_for()
    assert t("Declined") in row.inner_text()
    screenshot(page, f"{shot}-c1-closed-tab")
    search = page.get_by_label(t("Find a referral by the client's name or its number"))
    search.fill(f"#{housing.pk}")
    search.press("Enter")
    page.get_by_test_id("search-note").wait_for()
    page.get_by_role("link", name=f"#{housing.pk}").wait_for()
    screenshot(page, f"{shot}-c2-closed-search")
    # By the client's name (the agreement shows it), then on the Closed tab: the tab keeps
    # the search, which is posted again, never put in the address.
    search.fill("Lopez")
    search.press("Enter")
    page.get_by_test_id("search-note").filter(has_text="Lopez").wait_for()
    page.locator("[data-testid=tab-all][aria-current=page]").wait_for()
    page.get_by_role("link", name=f"#{housing.pk}").wait_for()
    page.get_by_test_id("tab-closed").click()
    page.locator("[data-testid=tab-closed][aria-current=page]").wait_for()
    assert page.get_by_test_id("search-note").is_visible()
    assert search.input_value() == "Lopez"
    assert page.get_by_test_id("inbox-row").count() == 1
    page.get_by_role("link", name=f"#{housing.pk}").wait_for()
    screenshot(page, f"{shot}-c3-closed-search-by-name")


def merge(page, site: str, kept: Client, duplicate: Client, t: Words, shot: str) -> None:  # type: ignore[no-untyped-def]
    """(d) Find the duplicate by a misspelt name, compare, merge."""
    main = page.get_by_role("navigation", name=t("Main"))
    main.get_by_role("link", name=t("Clients")).click()
    client_find(page, "hernandes", 2)
    page.get_by_role("link", name="Hernandez, Rosa Maria").wait_for()
    screenshot(page, f"{shot}-d1-misspelt-name-found")
    page.get_by_role("link", name="Hernandez, Rosa", exact=True).click()
    page.get_by_role("heading", level=1, name="Rosa Hernandez").wait_for()
    page.get_by_role("link", name=t("Merge a duplicate")).click()
    page.get_by_label(t("Find the duplicate by name, date of birth or record number")).fill(
        "hernandes"
    )
    page.get_by_role("button", name=t("Find")).click()
    page.get_by_role("link", name="Hernandez, Rosa Maria").click()
    page.get_by_role("heading", name=t("Confirm the merge")).wait_for()
    compare = page.get_by_role("table").inner_text()
    assert "Rosa Maria Hernandez" in compare
    screenshot(page, f"{shot}-d2-merge-compare")
    page.get_by_role(
        "button",
        name=t(
            "Merge %(removed)s into %(kept)s",
            removed="Rosa Maria Hernandez",
            kept="Rosa Hernandez",
        ),
    ).click()
    page.get_by_role("heading", level=1, name="Rosa Hernandez").wait_for()
    screenshot(page, f"{shot}-d3-merged")
    # The duplicate's screening is the kept client's now, and shows on her page.
    screening = Screening.objects.get(client=kept)
    assert page.locator(f"a[href$='/screenings/{screening.pk}/']").count() >= 1
    main.get_by_role("link", name=t("Clients")).click()
    client_find(page, "hernandes", 1)
    page.get_by_role("link", name="Hernandez, Rosa", exact=True).wait_for()
    assert page.get_by_role("link", name="Hernandez, Rosa Maria").count() == 0
    screenshot(page, f"{shot}-d4-duplicate-gone")
    assert not Client.objects.filter(pk=duplicate.pk, merged_into=None).exists()


@pytest.mark.django_db(transaction=True)
def test_typing_a_name_pausing_then_find_asks_once(browser, site, cast: Cast):
    """The typing pause asks for the name; pressing Find afterwards would ask for it again and
    swap the list under the pointer (a click on a name in that moment is lost). It does not."""
    with signed_in(browser, site, cast.clinic_staff) as page:
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Clients").click()
        page.wait_for_load_state()  # htmx has started: typing searches
        posts: list[str] = []
        page.on(
            "request",
            lambda request: posts.append(request.url) if request.method == "POST" else None,
        )
        page.get_by_label("Find a client").fill("Lopez")
        page.locator("#client-results").get_by_text("1 client found", exact=True).wait_for()
        assert len(posts) == 1, posts  # the pause (hx-trigger ... delay:400ms) asked
        page.get_by_role("button", name="Find").click()
        page.wait_for_timeout(1_000)  # time for an answer to a second request to land
        assert len(posts) == 1, posts
        # Another name is asked for.
        page.get_by_label("Find a client").fill("Hernandez")
        page.get_by_role("button", name="Find").click()
        page.locator("#client-results").get_by_text("No client matches").wait_for()
        assert len(posts) == 2, posts
        page.get_by_label("Find a client").fill("Lopez")
        page.get_by_role("button", name="Find").click()
        page.get_by_role("link", name="Lopez, Maria").click()
        page.get_by_role("heading", level=1, name="Maria Lopez").wait_for()
