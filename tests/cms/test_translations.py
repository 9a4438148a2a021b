"""Spanish everywhere: the catalogue is complete, the compiled file is current, pages speak it.

`make check` refreshes the catalogue from the code and fails when it is stale; these tests check
the catalogue itself and that a page really renders in Spanish.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from cms.categories import NEED_LABELS, need_label
from cms.languages import language_name
from consent.models import AccessPurpose, ClientField
from network.models import Role
from referrals.models import (
    ContactPreference,
    EventKind,
    ReasonCode,
    ReferralOutcome,
    ReferralStatus,
    Urgency,
)
from search.results import BACKEND_LABELS

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES"
MSGFMT = shutil.which("msgfmt")
needs_gettext = pytest.mark.skipif(
    MSGFMT is None, reason="GNU gettext (msgfmt) is not installed: apt-get install gettext"
)


def po_entries(path: Path) -> list[tuple[str, list[str], bool]]:
    """(msgid, its translations (one per plural form), fuzzy) of each entry; the header left
    out. Entries are separated by blank lines; a quoted line continues the keyword above it."""
    entries: list[tuple[str, list[str], bool]] = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        parts: dict[str, str] = {}
        keyword = ""
        fuzzy = False
        for line in block.splitlines():
            if line.startswith("#,"):
                fuzzy = fuzzy or "fuzzy" in line
            elif line.startswith("msg"):
                keyword, _, quoted = line.partition(" ")
                parts[keyword] = quoted[1:-1]
            elif line.startswith('"') and keyword:
                parts[keyword] += line[1:-1]
        if parts.get("msgid"):
            translations = [v for k, v in parts.items() if k.startswith("msgstr")]
            entries.append((parts["msgid"], translations, fuzzy))
    return entries


def test_every_message_has_a_spanish_translation():
    entries = po_entries(CATALOGUE / "django.po")
    assert len(entries) > 300  # the whole product, not a sample
    missing = [m for m, translations, _ in entries if not all(translations)]
    fuzzy = [m for m, _, f in entries if f]
    assert missing == []
    assert fuzzy == []


def test_placeholders_survive_translation():
    """A translation that drops or renames %(name)s would crash or mislead at run time."""
    import re

    named = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
    broken = [
        (m, s)
        for m, translations, _ in po_entries(CATALOGUE / "django.po")
        for s in translations[:1]
        if sorted(named.findall(m)) != sorted(named.findall(s))
    ]
    assert broken == []


@needs_gettext
def test_the_compiled_catalogue_matches_the_source(tmp_path):
    compiled = tmp_path / "django.mo"
    subprocess.run(
        [str(MSGFMT), "--check-format", "-o", str(compiled), str(CATALOGUE / "django.po")],
        check=True,
    )
    assert compiled.read_bytes() == (CATALOGUE / "django.mo").read_bytes(), (
        "locale/es/LC_MESSAGES/django.mo is stale: run `make messages` and commit it"
    )


def test_a_translated_string_is_found():
    with translation.override("es"):
        assert translation.gettext("Sign out") != "Sign out"
        assert translation.gettext("Workspace") != "Workspace"


@pytest.mark.django_db
def test_pages_render_in_spanish_for_a_spanish_speaker(client, tenant_a):
    client.force_login(tenant_a.users[Role.CLINIC_STAFF])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    response = client.get(reverse("network:workspace"))
    html = response.content.decode()

    assert response.status_code == 200
    assert '<html lang="es">' in html
    with translation.override("es"):
        for english in ("Sign out", "Workspace", "Skip to content"):
            assert translation.gettext(english) in html
    assert "Sign out" not in html


@pytest.mark.django_db
def test_a_refusal_is_explained_in_spanish(client, tenant_a):
    # Agency staff may not use the clinic's search: the 403 page says why, in their language.
    client.force_login(tenant_a.users[Role.AGENCY_STAFF])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    response = client.get("/workspace/search/")
    assert response.status_code == 403
    assert "Solo el personal de la clínica busca para remitir clientes." in (
        response.content.decode()
    )


# Labels people read in place of codes: each one must exist in Spanish (issue 15, bug 9).
def _labels() -> dict[str, list[str]]:
    """The English labels (the msgids) of the needs and of every choice shown for a code."""
    with translation.override("en"):
        return _labels_now()


def _labels_now() -> dict[str, list[str]]:
    labels: dict[str, list[str]] = {"needs": [str(label) for label in NEED_LABELS.values()]}
    for choices in (
        ReferralStatus,
        ReferralOutcome,
        ReasonCode,
        ContactPreference,
        EventKind,
        Urgency,
        AccessPurpose,
        ClientField,
    ):
        labels[choices.__name__] = [str(label) for label in choices.labels]
    return labels


def test_every_label_shown_instead_of_a_code_is_in_the_catalogue():
    msgids = {m for m, _translations, _fuzzy in po_entries(CATALOGUE / "django.po")}
    missing = {
        kind: [label for label in labels if label not in msgids]
        for kind, labels in _labels().items()
    }
    assert {kind: found for kind, found in missing.items() if found} == {}


def test_the_23_needs_have_spanish_names():
    assert len(NEED_LABELS) == 23
    with translation.override("en"):
        english = {code: need_label(code) for code in NEED_LABELS}
    with translation.override("es"):
        spanish = {code: need_label(code) for code in NEED_LABELS}
    assert [code for code in NEED_LABELS if spanish[code] == english[code]] == []
    assert spanish["food-insecurity"] == "Alimentación"


def test_language_names_follow_the_interface():
    with translation.override("es"):
        assert language_name("en") == "Inglés"
        assert language_name("hmn") == "Hmong"
        assert language_name("es") == "Español"
    with translation.override("en"):
        assert language_name("es") == "Spanish"


def test_the_search_backend_is_named_in_spanish():
    with translation.override("es"):
        assert str(BACKEND_LABELS["database"]) != "database"
