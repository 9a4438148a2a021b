"""prod.smoke's count of the email notifications (`make prod-smoke`): the one copy it lets
through is a message the killed worker had sent in the moment before the kill and could not
record, sent again with the same Message-ID once its claim lapsed; any other copy fails."""

from __future__ import annotations

import pytest

from prod.smoke import KILL_WINDOW_SECONDS, Kill, copies_explained

KILL = Kill(at=1000.0, in_flight=2)
LAPSE = 60.0


def test_a_copy_of_the_message_taken_in_the_moment_before_the_kill_is_explained():
    ok, why = copies_explained([999.96, 1092.5], KILL, LAPSE)
    assert ok
    assert "0.040 s before worker-1 was killed" in why
    assert "92.5 s later" in why


@pytest.mark.parametrize(
    ("copies", "why"),
    [
        # taken long before the kill: the worker had had time to record it
        (
            [1000.0 - KILL_WINDOW_SECONDS - 0.5, 1100.0],
            "its first copy was taken 1.50 s before the kill",
        ),
        # taken after the kill: not the killed worker's
        ([1000.2, 1100.0], "its first copy was taken 0.20 s after the kill"),
        # sent again while the claim was live: a second worker took a live claim
        ([999.9, 1008.0], "sent again 8.1 s later, before its claim lapsed"),
        # three copies are never one kill's
        ([999.9, 1070.0, 1140.0], "3 copies"),
    ],
)
def test_any_other_copy_is_not(copies, why):
    assert copies_explained(copies, KILL, LAPSE) == (False, why)
