"""The billable rule: a second of inbound audio, a billable outcome, a live key, AMD not bundled."""

import pytest

from detection.models import Call
from detection.streams import is_billable


@pytest.mark.parametrize(("answered_by", "audio_ms", "livemode", "bundled", "billable"), [
    ("human", 1000, True, False, True),
    ("voicemail", 5000, True, False, True),
    ("silence", 3000, True, False, True),
    ("unknown", 3000, True, False, True),
    ("fax", 3000, True, False, True),
    ("sit_invalid", 3000, True, False, False),
    ("human", 999, True, False, False),
    ("human", 3000, False, False, False),
    ("human", 3000, True, True, False),
])
def test_the_billable_rule(answered_by, audio_ms, livemode, bundled, billable):
    call = Call(answered_by=answered_by, audio_ms=audio_ms, livemode=livemode, aggressiveness=0.25)
    assert is_billable(call, amd_bundled=bundled) is billable
