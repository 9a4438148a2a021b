"""The browser tests' screenshot helper: a refused capture is asked again, other errors are not."""

from __future__ import annotations

import pytest
from playwright.sync_api import Error

from tests.e2e import conftest
from tests.e2e.conftest import CAPTURE_REFUSED, CAPTURE_TRIES, screenshot


class Tab:
    """Stands in for a Playwright page whose captures fail with the errors given, in turn."""

    def __init__(self, *errors: str) -> None:
        self.errors = list(errors)
        self.captures = 0
        self.waits = 0

    def screenshot(self, path: str, full_page: bool) -> None:
        assert full_page
        self.captures += 1
        if self.errors:
            raise Error(self.errors.pop(0))

    def evaluate(self, script: str) -> None:
        assert "requestAnimationFrame" in script
        self.waits += 1


@pytest.fixture(autouse=True)
def artifacts(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(conftest, "ARTIFACTS", tmp_path)


def test_a_refused_capture_is_asked_again_after_a_drawn_frame(tmp_path):  # type: ignore[no-untyped-def]
    tab = Tab(f"Page.screenshot: Protocol error (Page.captureScreenshot): {CAPTURE_REFUSED}")
    assert screenshot(tab, "shot") == tmp_path / "shot.png"
    assert (tab.captures, tab.waits) == (2, 1)


def test_a_capture_refused_every_time_fails_the_test():  # type: ignore[no-untyped-def]
    tab = Tab(*[CAPTURE_REFUSED] * CAPTURE_TRIES)
    with pytest.raises(Error, match=CAPTURE_REFUSED):
        screenshot(tab, "shot")
    assert (tab.captures, tab.waits) == (CAPTURE_TRIES, CAPTURE_TRIES - 1)


def test_any_other_error_fails_at_once():  # type: ignore[no-untyped-def]
    tab = Tab("Target page, context or browser has been closed")
    with pytest.raises(Error, match="has been closed"):
        screenshot(tab, "shot")
    assert (tab.captures, tab.waits) == (1, 0)
