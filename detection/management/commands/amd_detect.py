import json
import wave
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from detection.detector_factory import recognizer
from detection.engine import Detector, audio
from detection.engine.recognizer import OfflineSession


def detect(ulaw: bytes, aggressiveness: float, detect_message_end: bool, words: bool = True) -> list[dict]:
    """Stream μ-law through a Detector in 20 ms frames as the socket does; return the events it yields.

    With ``words`` and the speech recognizer on, transcripts come from an offline session that hands
    them over at the audio time a live call would have them (request time plus compute time).
    """
    shared = recognizer() if words else None
    session = OfflineSession(shared.transcribe) if shared is not None else None
    detector = Detector(aggressiveness=aggressiveness, detect_message_end=detect_message_end, recognizer=session)
    for payload, timestamp in audio.frames(ulaw):
        detector.push(payload, timestamp)
    events = [{"event": "amd", **detector.finish().to_dict(), "audio_ms": detector.audio_ms}]
    if detect_message_end:
        message_end = detector.finish_message_end()
        if message_end is not None:
            events.append({"event": "amd.message_end", **message_end.to_dict()})
    return events


class Command(BaseCommand):
    help = ("Run an audio file (WAV at any common rate, or raw 8 kHz μ-law: .ulaw/.mulaw/.raw/.ul) through the "
            "streaming detector and print the decision (and the message end) as JSON lines.")

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--aggressiveness", type=float, default=None,
                            help=f"0–1 (default {settings.AMD_DEFAULT_AGGRESSIVENESS}).")
        parser.add_argument("--detect-message-end", action="store_true",
                            help="Also watch for the end of a machine's greeting.")
        parser.add_argument("--no-recognizer", action="store_true",
                            help="Decide without the speech recognizer's words (timing and tones only).")

    def handle(self, *args, file: Path, aggressiveness: float | None, detect_message_end: bool,
               no_recognizer: bool, **options):
        if aggressiveness is None:
            aggressiveness = settings.AMD_DEFAULT_AGGRESSIVENESS
        if not 0.0 <= aggressiveness <= 1.0:
            raise CommandError("--aggressiveness must be from 0 to 1.")
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        try:
            ulaw = audio.load_ulaw(file)
        except (wave.Error, EOFError, ValueError) as exc:
            raise CommandError(f"Cannot read {file} as WAV or raw μ-law: {exc}")
        for event in detect(ulaw, aggressiveness, detect_message_end, words=not no_recognizer):
            self.stdout.write(json.dumps(event))
