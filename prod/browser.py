"""A person at the pages over HTTPS, without a browser engine: it reads a page's forms and links
(stdlib ``html.parser``), fills a form the way a browser would (hidden fields, checked boxes and
selected options as they are, then what the person changes), and submits it with the session's
cookies and the page's CSRF token. Used by `make prod-smoke` to go through the referral loop as
the real roles over the proxy."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests


@dataclass
class Field:
    name: str
    kind: str  # input type, "select", "textarea"
    value: str
    checked: bool = False
    options: list[str] = field(default_factory=list)  # a select's option values
    selected: list[str] = field(default_factory=list)


@dataclass
class Form:
    action: str
    method: str
    fields: list[Field] = field(default_factory=list)
    buttons: list[tuple[str, str, str]] = field(default_factory=list)  # (name, value, text)

    def names(self) -> set[str]:
        return {f.name for f in self.fields}

    def values(self, *, button: str | None = None) -> list[tuple[str, str]]:
        """What a browser posts, before changes: hidden and text fields, checked boxes and
        radios, selected options (the first when none is marked), and the pressed button."""
        posted: list[tuple[str, str]] = []
        for item in self.fields:
            if item.kind in {"checkbox", "radio"}:
                if item.checked:
                    posted.append((item.name, item.value))
            elif item.kind == "select":
                chosen = item.selected or item.options[:1]
                posted.extend((item.name, value) for value in chosen)
            elif item.kind not in {"file", "submit", "button", "reset", "image"}:
                posted.append((item.name, item.value))
        for name, value, text in self.buttons:
            if name and button is not None and button in {text, value, name}:
                posted.append((name, value))
        return posted


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[tuple[str, str]] = []  # (href, text)
        self._form: Form | None = None
        self._select: Field | None = None
        self._option: str | None = None
        self._textarea: Field | None = None
        self._link: list[str] | None = None
        self._button: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self._form = Form(action=a.get("action", ""), method=a.get("method", "get").lower())
            self.forms.append(self._form)
        elif tag == "a" and "href" in a:
            self._link = [a["href"], ""]
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in {"submit", "image"}:
                self._form.buttons.append((a["name"], a.get("value", ""), a.get("value", "")))
            else:
                # A box without a value attribute posts "on", as browsers do.
                default = "on" if kind in {"checkbox", "radio"} else ""
                self._form.fields.append(
                    Field(a["name"], kind, a.get("value", default), checked="checked" in a)
                )
        elif tag == "button":
            self._button = [a.get("name", ""), a.get("value", ""), ""]
        elif tag == "select" and a.get("name"):
            self._select = Field(a["name"], "select", "")
            self._form.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            self._option = a.get("value")
            if self._option is not None:
                self._select.options.append(self._option)
                if "selected" in a:
                    self._select.selected.append(self._option)
        elif tag == "textarea" and a.get("name"):
            self._textarea = Field(a["name"], "textarea", "")
            self._form.fields.append(self._textarea)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data
        if self._link is not None:
            self._link[1] += data
        if self._button is not None:
            self._button[2] += data
        if self._option is None and self._select is not None and self._select.options:
            return

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "option":
            self._option = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "a" and self._link is not None:
            self.links.append((self._link[0], " ".join(self._link[1].split())))
            self._link = None
        elif tag == "button" and self._button is not None and self._form is not None:
            name, value, text = self._button
            self._form.buttons.append((name, value, " ".join(text.split())))
            self._button = None


class PageError(AssertionError):
    """The page was not what the person expected."""


@dataclass
class Page:
    url: str
    status: int
    text: str
    forms: list[Form]
    links: list[tuple[str, str]]

    def form(self, *, action: str | None = None, button: str | None = None) -> Form:
        """The form posting to a URL containing ``action``, or having a button ``button``."""
        for candidate in self.forms:
            if action is not None and action not in candidate.action:
                continue
            if button is not None and not any(button in text for _n, _v, text in candidate.buttons):
                continue
            return candidate
        raise PageError(f"{self.url}: no form (action={action!r}, button={button!r})")

    def link(self, pattern: str) -> str:
        """The first link whose address matches the regular expression ``pattern``."""
        for href, _text in self.links:
            if re.search(pattern, href):
                return urljoin(self.url, href)
        raise PageError(f"{self.url}: no link matching {pattern!r}")


class Person:
    """A signed-in (or anonymous) person at one site, over HTTPS."""

    def __init__(self, session: requests.Session, base_url: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")

    def _page(self, response: requests.Response) -> Page:
        parser = _Page()
        if "html" in response.headers.get("Content-Type", ""):
            parser.feed(response.text)
        return Page(response.url, response.status_code, response.text, parser.forms, parser.links)

    def get(self, path: str, *, expect: int = 200) -> Page:
        response = self.session.get(urljoin(self.base_url + "/", path), timeout=30)
        page = self._page(response)
        if page.status != expect:
            raise PageError(f"GET {path}: {page.status}, expected {expect}")
        return page

    def submit(
        self,
        page: Page,
        form: Form,
        changes: dict[str, str | list[str]] | None = None,
        *,
        button: str | None = None,
        expect: int = 200,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> Page:
        """Post ``form`` as a browser would, with ``changes`` (a list sets every value of a
        multiple field, an empty list clears it) and ``files`` (field: name, content, type; the
        form is then sent as multipart); follows the redirect after a post."""
        posted = form.values(button=button)
        for name, value in (changes or {}).items():
            posted = [(k, v) for k, v in posted if k != name]
            values = value if isinstance(value, list) else [value]
            posted.extend((name, v) for v in values)
        url = urljoin(page.url, form.action) if form.action else page.url
        if urlsplit(url).scheme != "https":
            raise PageError(f"{page.url}: form posts to {url}, not over HTTPS")
        headers = {"Referer": page.url}
        if form.method == "post":
            response = self.session.post(
                url, data=posted, files=files or None, headers=headers, timeout=30
            )
        else:
            response = self.session.get(url, params=posted, headers=headers, timeout=30)
        result = self._page(response)
        if result.status != expect:
            raise PageError(
                f"{form.method.upper()} {url}: {result.status}, expected {expect}"
                + (f": {_problems(result.text)}" if result.status == 400 else "")
            )
        return result

    def sign_in(self, username: str, password: str) -> Page:
        page = self.get("/accounts/login/")
        form = page.form(button="Sign in")
        result = self.submit(page, form, {"username": username, "password": password})
        if "/accounts/login/" in result.url:
            raise PageError(f"{username} could not sign in")
        return result


def _problems(html: str) -> str:
    """The error messages a form page shows (for the report of a refused form)."""
    found = re.findall(r'class="[^"]*(?:error|errorlist)[^"]*"[^>]*>(.*?)</', html, flags=re.S)
    texts = [" ".join(re.sub(r"<[^>]+>", " ", t).split()) for t in found]
    return "; ".join(t for t in texts if t)[:500] or html[:300]
