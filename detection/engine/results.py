"""Result objects: the decision and the message-end event, with the vocabulary they use."""

from __future__ import annotations

from dataclasses import dataclass, field

ANSWERED_BY = (
    "human", "human_gatekeeper", "voicemail", "live_voicemail", "screening", "ivr", "sit_invalid", "fax",
    "silence", "unknown",
)

TWILIO_MAP: dict[str, str] = {
    "human": "human",
    "human_gatekeeper": "human",
    "voicemail": "machine_start",
    "live_voicemail": "machine_start",
    "screening": "machine_start",
    "ivr": "machine_start",
    "sit_invalid": "machine_start",
    "fax": "fax",
    "silence": "unknown",
    "unknown": "unknown",
}
"""Twilio ``AnsweredBy`` value of each ``answered_by`` class."""

BILLABLE: dict[str, bool] = {cls: cls != "sit_invalid" for cls in ANSWERED_BY}
"""Whether an outcome is billable (a dead number is not)."""

MACHINE_CLASSES = frozenset({"voicemail", "live_voicemail", "screening", "ivr"})
"""Classes that get a message-end event when it is asked for."""

MESSAGE_END_VALUES = ("machine_end_beep", "machine_end_silence", "machine_end_other")


def seconds(ms: int | float) -> str:
    """Format a time in ms as seconds with one decimal: 1234 → '1.2s'."""
    return f"{ms / 1000:.1f}s"


@dataclass(frozen=True, slots=True)
class Decision:
    """Who or what answered, with the evidence behind it."""

    answered_by: str
    confidence: float
    decision_ms: int
    reason: str
    evidence: list[dict] = field(default_factory=list)
    answered_by_twilio: str = ""  # filled from TWILIO_MAP

    def __post_init__(self) -> None:
        if self.answered_by not in TWILIO_MAP:
            raise ValueError(f"unknown answered_by: {self.answered_by!r}")
        twilio = TWILIO_MAP[self.answered_by]
        if self.answered_by_twilio and self.answered_by_twilio != twilio:
            raise ValueError(f"answered_by_twilio for {self.answered_by!r} is {twilio!r}")
        object.__setattr__(self, "answered_by_twilio", twilio)
        object.__setattr__(self, "confidence", round(min(1.0, max(0.0, float(self.confidence))), 2))

    @property
    def billable(self) -> bool:
        return BILLABLE[self.answered_by]

    @property
    def is_machine(self) -> bool:
        return self.answered_by_twilio == "machine_start"

    def to_dict(self) -> dict:
        return {
            "answered_by": self.answered_by,
            "answered_by_twilio": self.answered_by_twilio,
            "confidence": self.confidence,
            "decision_ms": self.decision_ms,
            "reason": self.reason,
            "evidence": [dict(item) for item in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class MessageEnd:
    """End of a machine's greeting: a beep, silence, or neither before the stream ended."""

    answered_by_twilio: str
    beep_ms: int | None
    message_end_ms: int
    reason: str
    evidence: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.answered_by_twilio not in MESSAGE_END_VALUES:
            raise ValueError(f"unknown message end: {self.answered_by_twilio!r}")

    def to_dict(self) -> dict:
        return {
            "answered_by_twilio": self.answered_by_twilio,
            "beep_ms": self.beep_ms,
            "message_end_ms": self.message_end_ms,
            "reason": self.reason,
            "evidence": [dict(item) for item in self.evidence],
        }
