"""A deterministic, labelled corpus of answered-call audio (8 kHz μ-law).

Every class of the decision vocabulary is generated from real recorded prompts
(Debian ``asterisk-core-sounds-en-wav``, ``pocketsphinx-testdata``), synthetic
voices (``espeak-ng``, ``flite``) and synthesized tones, then passed through a
telephone channel: band-pass 300–3400 Hz, a level from quiet to loud, noise at
10–40 dB SNR, μ-law coding and occasional lost frames.

Voices are split, not clips: a voice is either in ``train`` or in ``test``,
never in both, so held-out figures measure voices the model has not heard.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from detection.engine import audio, ulaw

RATE = 8000
ASTERISK_DIR = Path("/usr/share/asterisk/sounds/en")
POCKETSPHINX_DIR = Path("/usr/share/pocketsphinx/test/data")

BAND_LOW_HZ = 300  # telephone channel pass band, lower edge
BAND_HIGH_HZ = 3400  # telephone channel pass band, upper edge
LEVEL_DBFS = (-32.0, -8.0)  # active-speech level range, quiet handset to loud
SNR_DB = (10.0, 40.0)  # line noise below the active signal
LOST_FRAME_CLIP_SHARE = 0.3  # share of clips that lose some 20 ms frames
LOST_FRAMES_PER_CLIP = (1, 4)  # how many frames such a clip loses
TRAILING_S = (2.5, 4.0)  # line audio kept after the last event of a clip
MIN_CLIP_S = 6.0  # every clip covers at least the analysis deadline and some margin
ACTIVE_THRESHOLD = 0.02  # share of the clip peak envelope that counts as speech for the labels

# espeak-ng base voices and flite voices, each assigned to one split.
ESPEAK_TRAIN = ["en-us", "en-gb", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd"]
ESPEAK_TEST = ["en-gb-scotland", "en-029", "en-us-nyc"]
ESPEAK_VARIANTS = ["", "+f2", "+f3", "+f4", "+m3", "+m5", "+klatt", "+klatt2"]
FLITE_TRAIN = ["kal", "kal16", "rms"]
FLITE_TEST = ["awb", "slt"]

CLASS_SHARES = {  # relative frequency of each class in the corpus
    "human": 0.30,
    "human_gatekeeper": 0.06,
    "voicemail": 0.24,
    "live_voicemail": 0.05,
    "screening": 0.08,
    "ivr": 0.08,
    "sit_invalid": 0.07,
    "fax": 0.06,
    "silence": 0.06,
}

NAMES = ["Sam", "Maria", "John", "Priya", "Alex", "Chen", "Olivia", "Marcus", "Fatima", "Dave", "Laura", "Tom"]
BUSINESSES = ["Acme Dental", "Riverside Plumbing", "Northwind Insurance", "Bright Smile Clinic",
              "City Auto Repair", "Green Valley Realty", "Summit Legal", "Harbor Vet Hospital"]
HUMAN_SHORT = ["Hello?", "Hi.", "Yeah?", "Hello.", "Hey.", "Yes?", "Hello, who's this?", "Hi, it's {name}.",
               "Yeah, hello?", "Good morning.", "This is {name}.", "Speaking.", "Hello, {name} here."]
HUMAN_LONG = ["Hello, this is {name}, who am I speaking with?", "Hi, {name} speaking, how can I help?",
              "Yeah hi, sorry, I was just in the car, who is this?", "Hello? Hi, yes, this is {name}."]
HUMAN_SECOND = ["Hello?", "Hello? Anyone there?", "Hi, can you hear me?", "Who is this?", "Hello, are you there?"]
GATEKEEPER = ["Thank you for calling {biz}, this is {name}, how can I help you?",
              "Good afternoon, {biz}, {name} speaking.", "{biz}, how may I direct your call?",
              "Hi, you've reached {biz}, this is {name}, what can I do for you today?"]
VOICEMAIL_PERSONAL = [
    "Hi, you've reached {name}. I can't come to the phone right now. Please leave a message after the tone.",
    "Hey, this is {name}. Sorry I missed you. Leave your name and number and I'll call you back.",
    "Hi, it's {name}. I'm not available right now, but if you leave a message I'll get back to you as soon as I can.",
    "You have reached the voicemail of {name}. Please leave a message.",
    "This is {name}. I'm away from my phone. Leave a message after the beep.",
]
VOICEMAIL_CARRIER = [
    "The person you are trying to reach is not available. At the tone, please record your message. "
    "When you have finished recording, you may hang up.",
    "The number you have called is not available. Please leave a message after the tone.",
    "Your call has been forwarded to an automated voice messaging system. {digits} is not available. "
    "At the tone, please record your message.",
    "The subscriber you have dialed is not available. Please leave a message after the beep.",
]
LIVE_VOICEMAIL = [
    "Hi, the person you're calling is unavailable. Leave a message, they can see it as you speak and may pick up.",
    "The person you're calling can't answer right now. Please leave a message and stay on the line, "
    "they may pick up.",
]
SCREENING = [
    "Hi, the person you're calling is using a screening service from Google, and will get a copy of this "
    "conversation. Go ahead and say your name and why you're calling.",
    "Hi, I'm Call Assist by Google, recording this call for the person you're trying to reach. Before I try to "
    "connect you, can I ask what you're calling about?",
    "Hi, if you record your name and reason for calling, I'll see if this person is available.",
    "Please say your name and the reason for your call, and stay on the line.",
]
IVR = [
    "Thank you for calling {biz}. For appointments, press one. For billing, press two. "
    "For all other questions, press three.",
    "Welcome to {biz}. If you know your party's extension, you may dial it at any time. "
    "For sales, press one. For support, press two.",
    "Thank you for calling {biz}. Please listen carefully as our menu options have changed. "
    "To speak with a representative, press zero.",
    "You have reached {biz}. For English, press one. Para español, oprima dos.",
]
INTERCEPT = [
    "The number you have dialed is not in service. Please check the number and try again.",
    "We're sorry, you have reached a number that has been disconnected or is no longer in service.",
    "The number you have dialed has been changed, disconnected, or is no longer in service.",
]
ASTERISK_TEST_PROMPTS = {  # real recordings (one speaker, held out) per class
    "human": [["hello"], ["hello-world"]],
    "voicemail": [["vm-theperson", "vm-isunavail", "vm-intro"], ["vm-nobodyavail", "vm-intro"],
                  ["vm-intro"], ["vm-theperson", "vm-isunavail"]],
    "screening": [["privacy-prompt"], ["priv-recordintro"]],
    "ivr": [["basic-pbx-ivr-main"], ["dir-welcome", "basic-pbx-ivr-main"]],
    "sit_invalid": [["ss-noservice"]],
}
POCKETSPHINX_HUMAN = ["cards/001.wav", "cards/002.wav", "cards/003.wav", "cards/004.wav"]  # short real speech
BEEP_HZ = [440, 660, 700, 740, 850, 880, 1000, 1400, 1800, 2000]  # observed voicemail beep tones
SIT_CODES = {  # (segment 1, segment 2) frequency (Hz) and duration (ms); segment 3 is 1776.7 Hz, 380 ms
    "IC": ((913.8, 274), (1370.6, 274)),
    "VC": ((985.2, 380), (1370.6, 274)),
    "RO": ((913.8, 274), (1428.5, 380)),
    "RO2": ((985.2, 274), (1370.6, 380)),
    "NC": ((913.8, 380), (1370.6, 380)),
}


@dataclass
class Clip:
    id: str
    file: str
    answered_by: str
    split: str
    voice: str
    source: str
    text: str = ""
    onset_ms: int | None = None  # first speech or tone
    first_utterance_end_ms: int | None = None  # humans: end of the opener
    greeting_end_ms: int | None = None  # machines: end of the message before beep or silence
    beep_ms: int | None = None
    beep_hz: float | None = None
    duration_ms: int = 0
    snr_db: float = 0.0
    level_dbfs: float = 0.0
    lost_frames: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Voice:
    engine: str  # espeak, flite, asterisk, pocketsphinx
    name: str
    split: str

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}"


def voices() -> list[Voice]:
    found = []
    for split, bases in (("train", ESPEAK_TRAIN), ("test", ESPEAK_TEST)):
        for base in bases:
            for variant in ESPEAK_VARIANTS:
                found.append(Voice("espeak", base + variant, split))
    for split, names in (("train", FLITE_TRAIN), ("test", FLITE_TEST)):
        found.extend(Voice("flite", name, split) for name in names)
    return found


class Synth:
    """Renders text with a voice, cached per (voice, text, rate) in a scratch folder."""

    def __init__(self, scratch: Path):
        self.scratch = scratch

    def say(self, voice: Voice, text: str, speed: int = 160, pitch: int = 50) -> np.ndarray:
        digest = hashlib.sha1(f"{voice.id}|{text}|{speed}|{pitch}".encode()).hexdigest()[:16]
        path = self.scratch / f"{digest}.wav"
        if not path.exists():
            if voice.engine == "espeak":
                cmd = ["espeak-ng", "-v", voice.name, "-s", str(speed), "-p", str(pitch), "-w", str(path), text]
            else:
                cmd = ["flite", "-voice", voice.name, "-t", text, "-o", str(path)]
            subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        samples, rate = audio.read_wav(path)
        return audio.resample(samples, rate, RATE)


def recording(path: Path) -> np.ndarray:
    samples, rate = audio.read_wav(path)
    return audio.resample(samples, rate, RATE)


def asterisk(names: list[str], gap_s: float = 0.15) -> np.ndarray:
    parts = []
    for name in names:
        samples, rate = audio.read_wav(ASTERISK_DIR / f"{name}.wav")
        parts.append(audio.resample(samples, rate, RATE))
        parts.append(np.zeros(int(gap_s * RATE)))
    return np.concatenate(parts[:-1])


def tone(freqs, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    wave = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)
    ramp = min(len(t) // 2, int(0.005 * RATE))  # 5 ms ramps avoid clicks
    envelope = np.ones(len(t))
    if ramp:
        envelope[:ramp] = np.linspace(0, 1, ramp)
        envelope[-ramp:] = np.linspace(1, 0, ramp)
    return amplitude * 32767 * wave * envelope


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE))


def trim(samples: np.ndarray) -> np.ndarray:
    """Cut the synthesizer's leading and trailing silence."""
    active = np.flatnonzero(np.abs(samples) > 0.01 * (np.max(np.abs(samples)) + 1e-9))
    return samples[active[0]: active[-1] + 1] if len(active) else samples


def active_span(samples: np.ndarray, start: int) -> tuple[int, int]:
    """Start and end (ms) of the audible part of ``samples`` placed at sample ``start``."""
    frame = RATE // 100
    n = len(samples) // frame
    env = np.abs(samples[: n * frame]).reshape(n, frame).mean(axis=1)
    on = np.flatnonzero(env > ACTIVE_THRESHOLD * env.max()) if n else np.array([])
    if not len(on):
        return start * 1000 // RATE, start * 1000 // RATE
    return int((start + on[0] * frame) * 1000 // RATE), int((start + (on[-1] + 1) * frame) * 1000 // RATE)


def telephone_channel(clean: np.ndarray, rng: np.random.Generator, level_dbfs: float, snr_db: float) -> np.ndarray:
    """Band-limit, set the active level, add line noise at ``snr_db``."""
    spectrum = np.fft.rfft(clean)
    freqs = np.fft.rfftfreq(len(clean), 1 / RATE)
    spectrum[(freqs < BAND_LOW_HZ) | (freqs > BAND_HIGH_HZ)] = 0
    band = np.fft.irfft(spectrum, len(clean))
    active = np.abs(band) > 0.05 * (np.max(np.abs(band)) + 1e-9)
    rms = np.sqrt(np.mean(band[active] ** 2)) if active.any() else 1.0
    target = 32767 * 10 ** (level_dbfs / 20)
    band = band * (target / max(rms, 1e-9))
    noise_rms = target / 10 ** (snr_db / 20)
    white = rng.standard_normal(len(band))
    pink = np.fft.irfft(np.fft.rfft(white) / np.sqrt(np.maximum(freqs, 50) / 50), len(band))
    noise = 0.5 * white / white.std() + 0.5 * pink / pink.std()
    hum = 0.2 * np.sin(2 * np.pi * 60 * np.arange(len(band)) / RATE + rng.uniform(0, 6.3))
    return band + noise_rms * (noise + hum)


class Builder:
    """Builds the clean waveform and labels of one clip of a class."""

    def __init__(self, synth: Synth, rng: np.random.Generator):
        self.synth = synth
        self.rng = rng

    def pick(self, items):
        return items[int(self.rng.integers(len(items)))]

    def fill(self, text: str) -> str:
        digits = " ".join(str(int(d)) for d in self.rng.integers(0, 10, 7))
        return text.format(name=self.pick(NAMES), biz=self.pick(BUSINESSES), digits=digits)

    def speak(self, voice: Voice, text: str) -> np.ndarray:
        speed = int(self.rng.integers(140, 200))
        pitch = int(self.rng.integers(30, 70))
        return trim(self.synth.say(voice, text, speed, pitch))

    def build(self, label: str, voice: Voice | None, use_asterisk: bool) -> tuple[np.ndarray, dict]:
        method = getattr(self, f"_{label}")
        return method(voice, use_asterisk)

    def _lead(self, low=0.15, high=1.2) -> np.ndarray:
        return silence(self.rng.uniform(low, high))

    def _human(self, voice, use_asterisk):
        lead = self._lead(0.1, 1.5)
        if use_asterisk:
            names = self.pick(ASTERISK_TEST_PROMPTS["human"])
            first, text = trim(asterisk(names)), " ".join(names)
        elif voice.engine == "pocketsphinx":
            text = self.pick(POCKETSPHINX_HUMAN)
            first = trim(recording(POCKETSPHINX_DIR / text))
        else:
            text = self.fill(self.pick(HUMAN_SHORT if self.rng.random() < 0.7 else HUMAN_LONG))
            first = self.speak(voice, text)
        wait = silence(self.rng.uniform(1.5, 3.5))
        parts = [lead, first, wait]
        if self.rng.random() < 0.5 and voice.engine in {"espeak", "flite"}:
            second = self.fill(self.pick(HUMAN_SECOND))
            parts.append(self.speak(voice, second))
            text += " … " + second
        onset, end = active_span(first, len(lead))
        return np.concatenate(parts), {"text": text, "onset_ms": onset, "first_utterance_end_ms": end}

    def _human_gatekeeper(self, voice, use_asterisk):
        lead = self._lead(0.1, 1.0)
        text = self.fill(self.pick(GATEKEEPER))
        speech = self.speak(voice, text)
        onset, end = active_span(speech, len(lead))
        clean = np.concatenate([lead, speech, silence(self.rng.uniform(2.0, 3.5))])
        return clean, {"text": text, "onset_ms": onset, "first_utterance_end_ms": end}

    def _greeting_with_beep(self, speech: np.ndarray, lead: np.ndarray, text: str, beep_share: float):
        onset, end = active_span(speech, len(lead))
        labels = {"text": text, "onset_ms": onset, "greeting_end_ms": end}
        parts = [lead, speech]
        if self.rng.random() < beep_share:
            pause = silence(self.rng.uniform(0.2, 1.0))
            hz = float(self.pick(BEEP_HZ))
            beep = tone([hz], self.rng.uniform(0.15, 0.7), amplitude=self.rng.uniform(0.2, 0.6))
            labels["beep_ms"] = int((len(lead) + len(speech) + len(pause)) * 1000 // RATE)
            labels["beep_hz"] = hz
            parts += [pause, beep]
        parts.append(silence(self.rng.uniform(*TRAILING_S)))
        return np.concatenate(parts), labels

    def _voicemail(self, voice, use_asterisk):
        lead = self._lead(0.1, 0.8)
        if use_asterisk:
            names = self.pick(ASTERISK_TEST_PROMPTS["voicemail"])
            return self._greeting_with_beep(asterisk(names), lead, " ".join(names), 0.7)
        text = self.fill(self.pick(VOICEMAIL_PERSONAL if self.rng.random() < 0.6 else VOICEMAIL_CARRIER))
        return self._greeting_with_beep(self.speak(voice, text), lead, text, 0.7)

    def _live_voicemail(self, voice, use_asterisk):
        lead = self._lead(0.1, 0.6)
        text = self.pick(LIVE_VOICEMAIL)
        return self._greeting_with_beep(self.speak(voice, text), lead, text, 0.5)

    def _prompt(self, voice, use_asterisk, label, texts):
        lead = self._lead(0.1, 0.8)
        if use_asterisk:
            names = self.pick(ASTERISK_TEST_PROMPTS[label])
            speech, text = asterisk(names), " ".join(names)
        else:
            text = self.fill(self.pick(texts))
            speech = self.speak(voice, text)
        onset, end = active_span(speech, len(lead))
        clean = np.concatenate([lead, speech, silence(self.rng.uniform(*TRAILING_S))])
        return clean, {"text": text, "onset_ms": onset, "greeting_end_ms": end}

    def _screening(self, voice, use_asterisk):
        return self._prompt(voice, use_asterisk, "screening", SCREENING)

    def _ivr(self, voice, use_asterisk):
        return self._prompt(voice, use_asterisk, "ivr", IVR)

    def _sit_invalid(self, voice, use_asterisk):
        lead = self._lead(0.05, 0.6)
        code = self.pick(list(SIT_CODES))
        (f1, d1), (f2, d2) = SIT_CODES[code]
        jitter = lambda ms: ms * self.rng.uniform(0.97, 1.03) / 1000  # noqa: E731
        amp = self.rng.uniform(0.2, 0.5)
        sit = np.concatenate([tone([f1], jitter(d1), amp), tone([f2], jitter(d2), amp),
                              tone([1776.7], jitter(380), amp)])
        if use_asterisk:
            speech, text = asterisk(["ss-noservice"]), "ss-noservice"
        else:
            text = self.pick(INTERCEPT)
            speech = self.speak(voice, text)
        clean = np.concatenate([lead, sit, silence(self.rng.uniform(0.1, 0.3)), speech, silence(1.0)])
        return clean, {"text": f"SIT {code} + {text}", "onset_ms": len(lead) * 1000 // RATE}

    def _fax(self, voice, use_asterisk):
        amp = self.rng.uniform(0.15, 0.5)
        if self.rng.random() < 0.5:  # called fax answering: CED 2100 Hz after a pause
            lead = self._lead(1.8, 2.5)
            body = tone([2100.0], self.rng.uniform(2.6, 4.0), amp)
            text = "CED 2100 Hz"
        else:  # CNG 1100 Hz cadence: 0.5 s on, 3 s off
            lead = self._lead(0.1, 1.0)
            body = np.concatenate([tone([1100.0], 0.5, amp), silence(3.0), tone([1100.0], 0.5, amp)])
            text = "CNG 1100 Hz"
        clean = np.concatenate([lead, body, silence(1.0)])
        return clean, {"text": text, "onset_ms": len(lead) * 1000 // RATE}

    def _silence(self, voice, use_asterisk):
        return silence(self.rng.uniform(MIN_CLIP_S, MIN_CLIP_S + 2)), {"text": ""}


def _class_plan(count: int, rng: np.random.Generator) -> list[str]:
    labels = list(CLASS_SHARES)
    weights = np.array([CLASS_SHARES[label] for label in labels])
    counts = np.floor(weights / weights.sum() * count).astype(int)
    while counts.sum() < count:
        counts[int(rng.integers(len(labels)))] += 1
    plan = [label for label, n in zip(labels, counts, strict=True) for _ in range(n)]
    rng.shuffle(plan)
    return plan


def generate(out: Path, count: int = 1200, seed: int = 7, test_share: float = 0.4,
             scratch: Path | None = None) -> Iterator[Clip]:
    """Write ``count`` clips and ``labels.jsonl`` into ``out``; yield each clip's labels as written."""
    rng = np.random.default_rng(seed)
    out = Path(out)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    own_scratch = scratch is None
    scratch = Path(scratch or tempfile.mkdtemp(prefix="amd-corpus-"))
    scratch.mkdir(parents=True, exist_ok=True)
    synth = Synth(scratch)
    builder = Builder(synth, rng)
    all_voices = voices()
    by_split = {split: [v for v in all_voices if v.split == split] for split in ("train", "test")}
    asterisk_voice = Voice("asterisk", "allison", "test")
    try:
        with open(out / "labels.jsonl", "w") as labels_file:
            for index, label in enumerate(_class_plan(count, rng)):
                split = "test" if rng.random() < test_share else "train"
                use_asterisk = (split == "test" and label in ASTERISK_TEST_PROMPTS and rng.random() < 0.25)
                voice = asterisk_voice if use_asterisk else builder.pick(by_split[split])
                if label == "human" and split == "train" and rng.random() < 0.15:
                    voice = Voice("pocketsphinx", "cards", "train")
                if label in {"fax", "silence"}:
                    voice = Voice("tone", "synthetic", split)
                clean, labels = builder.build(label, voice, use_asterisk)
                tail = max(0.0, MIN_CLIP_S - len(clean) / RATE)
                clean = np.concatenate([clean, silence(tail)])
                level = float(rng.uniform(*LEVEL_DBFS))
                snr = float(rng.uniform(*SNR_DB))
                noisy = telephone_channel(clean if clean.any() else clean + 1e-3, rng, level, snr)
                if not clean.any():  # silence clips: line noise alone at a plausible floor
                    noisy = noisy * (10 ** ((level - snr) / 20) * 32767 / max(np.std(noisy), 1e-9))
                data = bytearray(ulaw.encode(np.clip(noisy, -32768, 32767)))
                lost: list[int] = []
                if rng.random() < LOST_FRAME_CLIP_SHARE:
                    n_frames = len(data) // audio.FRAME_BYTES
                    lost = sorted(int(i) for i in rng.choice(n_frames, int(rng.integers(*LOST_FRAMES_PER_CLIP)),
                                                             replace=False))
                    for frame in lost:
                        start = frame * audio.FRAME_BYTES
                        data[start: start + audio.FRAME_BYTES] = bytes([ulaw.SILENCE_BYTE]) * audio.FRAME_BYTES
                clip_id = f"{label}-{index:05d}"
                path = out / "clips" / f"{clip_id}.ulaw"
                path.write_bytes(bytes(data))
                clip = Clip(id=clip_id, file=f"clips/{clip_id}.ulaw", answered_by=label, split=split,
                            voice=voice.id, source=voice.engine, duration_ms=len(data) * 1000 // RATE,
                            snr_db=round(snr, 1), level_dbfs=round(level, 1), lost_frames=lost, **labels)
                labels_file.write(json.dumps(asdict(clip)) + "\n")
                yield clip
    finally:
        if own_scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def load_labels(corpus: Path, split: str | None = None) -> list[Clip]:
    clips = []
    with open(Path(corpus) / "labels.jsonl") as handle:
        for line in handle:
            clip = Clip(**json.loads(line))
            if split is None or clip.split == split:
                clips.append(clip)
    return clips
