"""Speech clips rendered once per test session (cached on disk between sessions)."""

from __future__ import annotations

import pytest

from . import synth

HELLO_VOICES_ESPEAK = ("en-us", "en+f3", "en-gb", "en+m3")
HELLO_VOICES_FLITE = ("slt", "awb", "kal")
OPENERS = ("Hello?", "Hi, this is Sam.", "Yeah, hello, who is this?")
GREETINGS = (
    "Hi, you've reached the voicemail of John Smith. I can't take your call right now, "
    "please leave a message after the tone.",
    "You have reached the voicemail box of Jennifer Lopez. Please leave your name, number and a short "
    "message, and I will call you back as soon as possible.",
)


def _require_tools() -> None:
    if not (synth.HAVE_ESPEAK and synth.HAVE_FLITE and synth.HAVE_ASTERISK_SOUNDS):
        pytest.skip("espeak-ng, flite and asterisk-core-sounds-en-wav are needed for speech tests")


@pytest.fixture(scope="session")
def hello_clips() -> list[tuple[str, object]]:
    """A short "hello" in several synthetic voices plus the recorded Asterisk prompt."""
    _require_tools()
    clips = [(f"espeak {v}", synth.espeak("Hello?", v)) for v in HELLO_VOICES_ESPEAK]
    clips += [(f"flite {v}", synth.flite("Hello?", v)) for v in HELLO_VOICES_FLITE]
    clips.append(("asterisk hello", synth.trim(synth.asterisk("hello"))))
    return clips


@pytest.fixture(scope="session")
def opener_clips() -> list[tuple[str, object]]:
    """Human-like openers in several voices."""
    _require_tools()
    clips = []
    for text in OPENERS:
        clips += [(f"espeak {v}: {text}", synth.espeak(text, v)) for v in ("en-us", "en+f3", "en-gb")]
        clips += [(f"flite {v}: {text}", synth.flite(text, v)) for v in ("slt", "rms")]
    return clips


@pytest.fixture(scope="session")
def greeting_clips() -> list[tuple[str, object]]:
    """Long voicemail greetings: synthetic voices and the recorded Asterisk prompt."""
    _require_tools()
    clips = []
    for i, text in enumerate(GREETINGS):
        clips += [(f"espeak {v} #{i}", synth.espeak(text, v)) for v in ("en-us", "en+f3", "en-gb")]
        clips += [(f"flite {v} #{i}", synth.flite(text, v)) for v in ("slt", "kal")]
    clips.append(("asterisk vm-intro", synth.trim(synth.asterisk("vm-intro"))))
    return clips
