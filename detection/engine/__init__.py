"""Streaming answering-machine detection on 8 kHz μ-law audio (numpy only, no Django).

    det = Detector(aggressiveness=0.25, detect_message_end=False)
    res = det.push(payload, timestamp_ms)   # Decision (once), later MessageEnd (at most once), else None
    dec = det.finish()                      # end of stream: the decision, made now if need be
    end = det.finish_message_end()          # after finish(): the message end, or None

Modules: ``ulaw`` (G.711 codec), ``audio`` (files, resampling, framing), ``vad`` (voice activity),
``tones`` (Goertzel bank: SIT, fax, beeps), ``features`` (speech timing), ``model`` (streaming features
and the ONNX speech classifier in ``models/``), ``policy`` (the decision under the aggressiveness dial),
``phrases`` (key phrases and their classes), ``words`` (the word classifier over a transcript),
``recognizer`` (optional Whisper stage, imported lazily),
``detector`` (the streaming Detector), ``baseline`` (Asterisk app_amd).
"""

from .baseline import AsteriskAMD, AsteriskAMDParams, AsteriskAMDResult
from .detector import Detector
from .policy import OperatingPoint
from .results import ANSWERED_BY, BILLABLE, MACHINE_CLASSES, TWILIO_MAP, Decision, MessageEnd

__all__ = [
    "ANSWERED_BY",
    "BILLABLE",
    "MACHINE_CLASSES",
    "TWILIO_MAP",
    "AsteriskAMD",
    "AsteriskAMDParams",
    "AsteriskAMDResult",
    "Decision",
    "Detector",
    "MessageEnd",
    "OperatingPoint",
]
