"""The streaming detector: μ-law frames in, one decision (and optionally one message-end event) out."""

from __future__ import annotations

import numbers
from dataclasses import replace

import numpy as np

from .model import SpeechFeatures, SpeechModel, load_default
from .policy import DEFAULT_AGGRESSIVENESS, GUESS_MIN_AGGRESSIVENESS, MessageEndWatch, Policy
from .recognizer import RecognizerSession, find_phrases
from .results import MACHINE_CLASSES, Decision, MessageEnd
from .tones import ToneDetector
from .ulaw import DECODE_TABLE_F32, SAMPLE_RATE, SILENCE_BYTE
from .vad import VoiceActivityDetector
from .words import WordModel
from .words import load_default as load_word_model

FRAME_SAMPLES = 160  # 20 ms analysis frame at 8 kHz
SAMPLES_PER_MS = SAMPLE_RATE // 1000  # 8 samples per ms
TIMESTAMP_TOLERANCE_SAMPLES = SAMPLES_PER_MS  # integer-ms timestamps of odd-sized frames are off by < 1 ms
MAX_GAP_MS = 60_000  # a timestamp jump beyond this is analysed as this much silence, then skipped
WORDS_AFTER_SPEECH_MS = 2500  # undecided after this much speech: ask the recognizer for the words...
WORDS_AFTER_ONSET_MS = 3500  # ...or this long after speech began (neither depends on the aggressiveness)...
WORDS_EARLY_SPEECH_MS = 700  # ...or as soon as this much speech (longer than "hello?")...
WORDS_EARLY_PAUSE_MS = 200  # ...pauses this long: settings up to 0.5 wait for the words before calling it a person
WORDS_AGAIN_AT_MS = 8000  # words that did not settle the call: ask again for the first this many ms of audio...
WORDS_AGAIN_AFTER_SPEECH_MS = 3000  # ...or sooner, once this much speech has ended in...
WORDS_AGAIN_PAUSE_MS = 400  # ...this much silence (the end of a greeting, or of a long opener)
WORDS_AGAIN_NEW_AUDIO_MS = 1500  # a new request needs at least this much more audio than the previous one
WORDS_MAX_REQUESTS = 4  # transcriptions per call at most (a fourth, 1.5 s or more after the third, names the class of
# long prompts whose first seconds left it unsure)
WORDS_MAX_AUDIO_MS = WORDS_AGAIN_AT_MS  # audio kept for the recognizer (the words of the first seconds are enough)
WORDS_MAX_WAIT_MS = 2500  # words arriving later than this after the request are given up
WITHOUT_WORDS_NOTE = " (speech recognizer busy: decided without words)"
RECOGNIZER_OFF_NOTE = " (speech recognizer off: decided without words)"
RECOGNIZER_FAILED_NOTE = " (speech recognizer failed or late: decided without words)"


class Detector:
    """Answering-machine detector for one call.

    ``push`` raw μ-law payloads with Twilio's ``media.timestamp`` (ms since the stream started). Audio
    time comes only from timestamps: a gap is silence, a frame starting before audio already consumed is
    dropped. Times in results are ms from the first frame's timestamp.
    """

    def __init__(self, aggressiveness: float = DEFAULT_AGGRESSIVENESS, detect_message_end: bool = False,
                 recognizer: RecognizerSession | None = None, model: SpeechModel | None | str = "default",
                 word_model: WordModel | None | str = "default") -> None:
        if not isinstance(detect_message_end, bool):
            raise ValueError("detect_message_end must be a bool")
        self._policy = Policy(aggressiveness, load_default() if model == "default" else model)
        self.aggressiveness = self._policy.point.aggressiveness
        self.detect_message_end = detect_message_end
        self._tones = ToneDetector()
        self._vad = VoiceActivityDetector()
        self.decision: Decision | None = None
        self.message_end: MessageEnd | None = None
        self.dropped_frames = 0
        self.frames_analysed = 0
        self._origin_ms: int | None = None
        self._samples = 0  # audio samples consumed since the origin, gaps included
        self._pending = bytearray()  # μ-law bytes not yet forming a full analysis frame
        self._pending_start = 0  # timeline sample index of the first pending byte
        self._watch: MessageEndWatch | None = None
        self._outbox: list[Decision | MessageEnd] = []
        self._finished = False
        self._words_useful = self.aggressiveness < GUESS_MIN_AGGRESSIVENESS  # above, timing decides first (measured)
        self._words_missed = False  # without a recognizer, the call reached the moment words would be asked for
        if not self._words_useful:
            recognizer = None
        self._recognizer = recognizer
        self._speech = SpeechFeatures()
        self._heard = bytearray()  # the first seconds of audio, kept for the recognizer
        self._policy.words_pending = recognizer is not None  # words are expected until they come or fail
        self._word_model = (load_word_model() if word_model == "default" else word_model) if recognizer else None
        self._words_settled = False  # the words decided the call
        self._words_may_decide = False  # the pending transcript covers enough speech to decide a machine class

    # -- public ------------------------------------------------------------------------------------
    @property
    def audio_ms(self) -> int:
        """Audio time covered so far (ms)."""
        return self._samples // SAMPLES_PER_MS

    @property
    def speech_segments(self) -> list[tuple[int, int]]:
        """Speech heard while listening, as (start_ms, end_ms)."""
        return self._vad.segments

    @property
    def recognizer(self) -> RecognizerSession | None:
        """This call's speech recognizer session, if words were asked for."""
        return self._recognizer

    @property
    def p_machine(self) -> float | None:
        """The speech model's latest P(machine), None before speech or without a model."""
        return self._policy.p_machine

    @property
    def listening(self) -> bool:
        """Whether frames are still analysed (no decision yet, or a message end is being watched)."""
        return not self._finished and (self.decision is None or self._watch is not None)

    def push(self, payload: bytes | bytearray | memoryview, timestamp_ms: int) -> Decision | MessageEnd | None:
        """Feed one media payload; return the decision or message end made by it, else None."""
        if not isinstance(timestamp_ms, numbers.Integral) or isinstance(timestamp_ms, bool) or timestamp_ms < 0:
            raise ValueError("timestamp_ms must be a non-negative int")
        timestamp_ms = int(timestamp_ms)
        data = bytes(payload)
        if self._origin_ms is None:
            self._origin_ms = timestamp_ms
        start = (timestamp_ms - self._origin_ms) * SAMPLES_PER_MS
        if start + TIMESTAMP_TOLERANCE_SAMPLES <= self._samples:
            self.dropped_frames += 1
            return self._pop()
        gap = start - self._samples
        if gap > TIMESTAMP_TOLERANCE_SAMPLES:
            filled = min(gap, MAX_GAP_MS * SAMPLES_PER_MS)
            self._feed(bytes([SILENCE_BYTE]) * filled if self.listening else b"", self._samples)
            self._samples += gap
        self._feed(data, self._samples)
        self._samples += len(data)
        return self._pop()

    def finish(self) -> Decision:
        """End of stream: the decision made, or one made now from what was heard."""
        if self._recognizer is not None and self._recognizer.pending:
            self._recognizer.abandon()  # words that can no longer be used
        if self.decision is None:
            now = self.audio_ms
            self._vad.finish()
            decision = self._policy.tone_decision(self._tones.flush(), self._vad.segments, now)
            if decision is None:
                decision = self._policy.finish(self._vad.segments, now, self._tones.call_progress_ms,
                                               self._vad.last_voice_ms)
            self._set_decision(decision)
            self._outbox = [item for item in self._outbox if not isinstance(item, Decision)]
        self._finished = True
        return self.decision

    def finish_message_end(self) -> MessageEnd | None:
        """After ``finish``: the message end found or resolved now (machine_end_other), or None."""
        if self.decision is None:
            self.finish()
        if self.message_end is None and self._watch is not None:
            self.message_end = self._watch.finish(self.audio_ms)
            self._watch = None
        self._finished = True
        self._outbox.clear()
        return self.message_end

    def add_phrase_evidence(self, phrase: str, start_ms: int, end_ms: int, answered_by: str | None = None) -> None:
        """Feed a phrase from a speech recognizer (times in ms on this detector's timeline)."""
        self._policy.add_phrase_evidence(phrase, start_ms, end_ms, answered_by)

    # -- internals ---------------------------------------------------------------------------------
    def _pop(self) -> Decision | MessageEnd | None:
        return self._outbox.pop(0) if self._outbox else None

    def _feed(self, data: bytes, at: int) -> None:
        """Append μ-law bytes starting at timeline sample ``at`` and analyse complete frames."""
        if not data or not self.listening:
            return
        pending = self._pending
        if pending and self._pending_start + len(pending) != at:
            pending.clear()  # the timeline jumped past a skipped gap
        if not pending:
            self._pending_start = at
        if self._recognizer is not None and len(self._heard) < WORDS_MAX_AUDIO_MS * SAMPLES_PER_MS:
            self._heard += data[: WORDS_MAX_AUDIO_MS * SAMPLES_PER_MS - len(self._heard)]
        pending += data
        usable = len(pending) // FRAME_SAMPLES * FRAME_SAMPLES
        if usable == 0:
            return
        block = DECODE_TABLE_F32[np.frombuffer(bytes(pending[:usable]), dtype=np.uint8)]
        first_end = self._pending_start + FRAME_SAMPLES
        del pending[:usable]
        self._pending_start += usable
        for i in range(usable // FRAME_SAMPLES):
            if not self.listening:
                pending.clear()
                break
            frame = block[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]
            self._analyse(frame, (first_end + i * FRAME_SAMPLES) // SAMPLES_PER_MS)

    def _analyse(self, frame: np.ndarray, end_ms: int) -> None:
        events = self._observe(frame, end_ms)
        if self.decision is None:
            if self._recognizer is not None:
                self._poll_recognizer(end_ms)
            elif self._words_useful and not self._words_missed and self._vad.segments:
                self._words_missed = self._first_words_due(*self._speech_so_far(end_ms))
            decision = self._policy.evaluate(self._vad.segments, end_ms, events, self._tones.call_progress_ms,
                                             self._vad.last_voice_ms, self._speech)
            if decision is None:
                return
            self._set_decision(decision)
        if self._watch is not None:
            end = self._watch.update(end_ms, self._vad.last_speech_end_ms, self._tones.tone_active, events)
            if end is not None:
                self.message_end = end
                self._watch = None
                self._outbox.append(end)

    def _observe(self, frame: np.ndarray, end_ms: int) -> list:
        """Run the tone bank and the VAD on one frame; return the tone events it ended."""
        self.frames_analysed += 1
        events = self._tones.process(frame, end_ms)
        if self._tones.confirmed_from_ms is not None:
            self._vad.retract(self._tones.confirmed_from_ms)
        if self._vad.process(frame, end_ms, tone=self._tones.tone_active):
            feats = self._vad.last_features
            self._speech.add_frame(feats.level_dbfs, feats.snr_db, feats.flatness)
        if events and any(event.kind == "beep" for event in events):
            self._speech.beep_seen = True
        return events

    def _poll_recognizer(self, end_ms: int) -> None:
        """Ask for the words once the call stays undecided after enough speech; apply them when ready.

        The moment of the request depends on the audio alone, so every setting gets the same words at the
        same time and the dial stays monotone."""
        rec, policy = self._recognizer, self._policy
        self._poll_words(rec, policy, end_ms)
        policy.words_in_flight = rec.pending

    def _poll_words(self, rec: RecognizerSession, policy: Policy, end_ms: int) -> None:
        if rec.pending:
            transcript = rec.poll(end_ms)
            if transcript is None:
                if end_ms - rec.requested_ms > WORDS_MAX_WAIT_MS:
                    rec.abandon()
                    policy.words_pending = False
                return
            self._read(transcript)
            policy.words_pending = (not self._words_settled and rec.requests < WORDS_MAX_REQUESTS
                                    and rec.requested_ms <= WORDS_AGAIN_AT_MS - WORDS_AGAIN_NEW_AUDIO_MS)
            return
        if rec.refused or rec.failed:
            policy.words_pending = False
            return
        if not self._vad.segments or not (rec.requests == 0 or policy.words_pending):
            return
        speech, pause, enough = self._speech_so_far(end_ms)
        if rec.requests == 0:
            due = self._first_words_due(speech, pause, enough)
        else:
            due = end_ms - rec.requested_ms >= WORDS_AGAIN_NEW_AUDIO_MS and (
                enough or end_ms >= WORDS_AGAIN_AT_MS
                or (speech >= WORDS_AGAIN_AFTER_SPEECH_MS and pause >= WORDS_AGAIN_PAUSE_MS))
        if due:
            self._words_may_decide = enough  # the first words of a short opener need to be surer
            policy.words_pending = rec.request(bytes(self._heard), end_ms)

    def _speech_so_far(self, end_ms: int) -> tuple[int, int, bool]:
        """Speech heard (ms), the pause since it (ms), and whether that is enough to ask for words at once."""
        segments = self._vad.segments
        speech = sum(end - start for start, end in segments)
        pause = end_ms - max(segments[-1][1], self._vad.last_voice_ms or 0)
        return speech, pause, end_ms - segments[0][0] >= WORDS_AFTER_ONSET_MS or speech >= WORDS_AFTER_SPEECH_MS

    @staticmethod
    def _first_words_due(speech: int, pause: int, enough: bool) -> bool:
        """Whether the first words are due: enough speech, or more than a "hello?" that pauses."""
        return enough or (speech >= WORDS_EARLY_SPEECH_MS and pause >= WORDS_EARLY_PAUSE_MS)

    def _read(self, transcript) -> None:
        """Hand a transcript to the policy: the word classifier's reading, or key phrases without one."""
        found = find_phrases(transcript)
        if any(cls == "human_gatekeeper" for *_, cls in found):  # a business greeting is not a voicemail
            found = [item for item in found if item[3] != "voicemail"]
        if self._word_model is None:
            for phrase, start_ms, end_ms, cls in found:
                self._policy.add_phrase_evidence(phrase, start_ms, end_ms, cls)
            self._words_settled = bool(found)
            return
        reading = self._word_model.read(transcript.words)
        if reading is not None:
            self._words_settled = self._policy.add_words(reading, found, may_decide=self._words_may_decide)

    def _set_decision(self, decision: Decision) -> None:
        rec = self._recognizer
        note = ""
        if rec is not None and rec.refused:
            note = WITHOUT_WORDS_NOTE
        elif rec is not None and rec.failed and not rec.received:
            note = RECOGNIZER_FAILED_NOTE
        elif rec is None and self._words_missed:
            note = RECOGNIZER_OFF_NOTE
        if note and decision.answered_by not in ("sit_invalid", "fax", "silence"):
            decision = replace(decision, reason=decision.reason + note)
        self.decision = decision
        self._outbox.append(decision)
        if self.detect_message_end and decision.answered_by in MACHINE_CLASSES and not self._finished:
            self._watch = MessageEndWatch(decision)
