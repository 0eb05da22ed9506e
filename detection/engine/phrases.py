"""Key phrases that reveal who answered, and how to find them in text or in timed words."""

from __future__ import annotations

from collections.abc import Sequence

from .words import normalise

PHRASE_CLASSES: tuple[tuple[str, str], ...] = (  # key phrases, most specific class first
    ("screening service", "screening"),
    ("call assist", "screening"),
    ("record your name", "screening"),
    ("say your name", "screening"),
    ("state your name", "screening"),
    ("reason for calling", "screening"),
    ("reason for your call", "screening"),
    ("what you're calling about", "screening"),
    ("why you're calling", "screening"),
    ("see if this person is available", "screening"),
    ("can see it as you speak", "live_voicemail"),
    ("as you speak", "live_voicemail"),
    ("may pick up", "live_voicemail"),
    ("stay on the line", "live_voicemail"),
    ("press one", "ivr"),
    ("press two", "ivr"),
    ("press zero", "ivr"),
    ("press 1", "ivr"),
    ("press 2", "ivr"),
    ("press 0", "ivr"),
    ("press the pound", "ivr"),
    ("for english", "ivr"),
    ("main menu", "ivr"),
    ("menu options", "ivr"),
    ("extension", "ivr"),
    ("not in service", "sit_invalid"),
    ("no longer in service", "sit_invalid"),
    ("has been disconnected", "sit_invalid"),
    ("leave a message", "voicemail"),
    ("leave your message", "voicemail"),
    ("leave your name", "voicemail"),
    ("record your message", "voicemail"),
    ("after the tone", "voicemail"),
    ("at the tone", "voicemail"),
    ("after the beep", "voicemail"),
    ("you've reached", "voicemail"),
    ("you have reached", "voicemail"),
    ("not available", "voicemail"),
    ("is unavailable", "voicemail"),
    ("can't come to the phone", "voicemail"),
    ("can't take your call", "voicemail"),
    ("missed you", "voicemail"),
    ("voicemail", "voicemail"),
    ("voice mail", "voicemail"),
    ("mailbox", "voicemail"),
    ("messaging system", "voicemail"),
    ("how may i direct your call", "human_gatekeeper"),
    ("how can i help you", "human_gatekeeper"),
    ("how may i help you", "human_gatekeeper"),
    ("what can i do for you", "human_gatekeeper"),
)
"""Wording changes with OS updates, so these are short keys, not whole prompts. "Thank you for calling"
opens menus and receptionists alike, so it names neither."""



def classify_phrase(phrase: str) -> str | None:
    """The class a phrase reveals, from the most specific key phrase it contains."""
    text = " ".join(normalise(word) for word in phrase.split())
    padded = f" {' '.join(text.split())} "
    for key, cls in PHRASE_CLASSES:
        if f" {key} " in padded:
            return cls
    return None


def find_words(timed_words: Sequence[tuple[str, int, int]]) -> list[tuple[str, int, int, str]]:
    """Key phrases among timed words as (phrase, start_ms, end_ms, class), earliest class rank first."""
    words = [(normalise(w), s, e) for w, s, e in timed_words]
    words = [item for item in words if item[0]]
    tokens = [w for w, _, _ in words]
    found = []
    for rank, (key, cls) in enumerate(PHRASE_CLASSES):
        key_tokens = key.split()
        n = len(key_tokens)
        for i in range(len(tokens) - n + 1):
            if tokens[i: i + n] == key_tokens:
                found.append((rank, key, words[i][1], words[i + n - 1][2], cls))
                break
    found.sort()
    return [(key, start, end, cls) for _, key, start, end, cls in found]


