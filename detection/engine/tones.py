"""Tone detection with a vectorised Goertzel bank: SIT, fax (CNG, CED, Bell ANS), beeps, call progress.

Every 20 ms the last two frames (a 40 ms, 320-sample block) are analysed. The Goertzel power of each bank
frequency is divided by the block's total energy (Parseval), so a value near 1 means one pure tone holds
almost all the energy; noise and speech spread their energy and stay low.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .ulaw import SAMPLE_RATE

FRAME_SAMPLES = 160  # one 20 ms analysis frame
FRAME_MS = 20  # analysis hop (ms)
BLOCK_SAMPLES = 2 * FRAME_SAMPLES  # 40 ms Goertzel block: 25 Hz resolution separates SIT low/high variants

GRID_MIN_HZ = 300.0  # lowest frequency of the search grid
GRID_MAX_HZ = 2300.0  # highest frequency of the search grid (covers Bell ANS at 2225 Hz)
GRID_STEP_HZ = 12.5  # half a bin: a tone between grid points loses at most ~20 % of its power

SIT_LOW_HZ = (913.8, 985.2)  # SIT segment 1, low and high variants
SIT_MID_HZ = (1370.6, 1428.5)  # SIT segment 2, low and high variants
SIT_HIGH_HZ = 1776.7  # SIT segment 3
ITU_SIT_HZ = (950.0, 1400.0, 1800.0)  # ITU generic SIT
FAX_CNG_HZ = 1100.0  # calling fax tone
FAX_CED_HZ = 2100.0  # answering fax / modem tone (CED, ANS, ANSam)
BELL_ANS_HZ = 2225.0  # Bell 103 answer tone
CALL_PROGRESS_PAIRS = ((440.0, 480.0), (350.0, 440.0), (480.0, 620.0))  # ringback, dial tone, busy/reorder
SPECIFIC_HZ = (
    *SIT_LOW_HZ, *SIT_MID_HZ, SIT_HIGH_HZ, *ITU_SIT_HZ, FAX_CNG_HZ, FAX_CED_HZ, BELL_ANS_HZ, 350.0, 440.0, 480.0, 620.0,
)

TONE_MIN_LEVEL_DBFS = -50.0  # blocks quieter than this are never tones (line noise)
TONE_MIN_SHARE = 0.55  # a tone holds at least this share of the block energy (survives ~5 dB SNR)
TONE_NEIGHBOUR_OFFSET_HZ = 50.0  # where the neighbour bins are checked (two bins away)
TONE_NEIGHBOUR_RATIO = 0.25  # neighbour share must stay under this fraction of the peak (one narrow line)
DUAL_TONE_MIN_SHARE = 0.15  # each tone of a call-progress pair holds at least this share
DUAL_TONE_MIN_TOTAL = 0.55  # the pair together holds at least this share
TONE_FREQ_TOLERANCE_HZ = 20.0  # a run continues while the peak stays this close to its frequency
TONE_MAX_DROPOUT_FRAMES = 3  # frames a run survives without its tone (phase reversals, μ-law glitches)
TONE_MAX_DRIFT_HZ = 15.0  # a steady tone's block estimates stay within this span (speech harmonics glide)
TONE_CONFIRM_BLOCKS = 5  # blocks of a steady tone before its frames are taken away from speech
TONE_CONFIRM_MIN_HZ = 430.0  # steady runs below this are voice harmonics, not signalling tones
HISTORY_MIN_BLOCKS = 3  # shorter runs are glitches and are not kept as SIT segment candidates
TONE_ONSET_LAG_MS = 30  # a tone is first seen about this long after it starts (block fill)
TONE_END_LAG_MS = 10  # a tone is last seen about this long after it stops

SIT_BAND_TOLERANCE_HZ = 50.0  # ITU SIT frequencies are ±50 Hz; the NA ones fall inside these bands
SIT_SEGMENT_MIN_MS = 200  # shortest SIT segment (274 ms −5 %, ITU 260 ms, minus measuring error)
SIT_SEGMENT_MAX_MS = 460  # longest SIT segment (380 ms +5 %, ITU 400 ms, plus measuring error)
SIT_SHORT_LONG_SPLIT_MS = 327  # midway between the short (274 ms) and long (380 ms) segments
SIT_MAX_GAP_MS = 100  # silence allowed between segments (≤ 4 ms NA, ≤ 30 ms ITU, plus measuring error)
SIT_THIRD_MIN_MS = 200  # the third segment is accepted once it has lasted this long
SIT_CODES = {  # (segment-1 frequency, length, segment-2 frequency, length) → NA SIT code
    (913.8, "S", 1370.6, "S"): "IC",
    (985.2, "L", 1370.6, "S"): "VC",
    (913.8, "S", 1428.5, "L"): "RO",
    (985.2, "S", 1370.6, "L"): "RO",
    (913.8, "L", 1370.6, "L"): "NC",
    (985.2, "S", 1428.5, "S"): "IO",
}

FAX_TONE_TOLERANCE_HZ = 25.0  # CED is 2100 ± 15 Hz; grid and estimate error added
FAX_CED_MIN_MS = 500  # sustained answer tone needed to call fax (CED lasts 2.6–4 s)
FAX_CNG_MIN_MS = 400  # CNG bursts are 0.5 s
FAX_CNG_MAX_MS = 800  # a longer 1100 Hz tone is not CNG

BEEP_MIN_HZ = 430.0  # lowest beep frequency accepted (beeps seen 440–2000 Hz)
BEEP_MAX_HZ = 2050.0  # highest beep frequency accepted
BEEP_MIN_MS = 150  # shortest beep
BEEP_MAX_MS = 2000  # longer steady tones are not beeps
BEEP_MIN_SHARE = 0.7  # mean energy share of a beep (sustained vowels stay lower)
BEEP_MAX_DRIFT_HZ = 4.0  # a beep is electronically steady: on the corpora's beeps at 10-40 dB SNR the block
# estimates spread at most 1.7 Hz (Asterisk's recorded beep 0.3 Hz); vowel harmonics that pass the other
# checks glide 5.9 Hz or more (detection.lab.beep_audit)


@dataclass(frozen=True, slots=True)
class ToneEvent:
    """A recognised tone pattern."""

    kind: str  # "sit", "fax", "fax_cng", "beep"
    start_ms: int
    end_ms: int
    freqs_hz: tuple[float, ...]
    share: float  # mean energy share of the tone(s) in their blocks
    label: str = ""  # SIT code, fax tone name, ...

    def as_evidence(self) -> dict:
        item = {"type": "sit" if self.kind == "sit" else ("beep" if self.kind == "beep" else "fax"),
                "start_ms": self.start_ms, "end_ms": self.end_ms}
        if len(self.freqs_hz) == 1:
            item["freq_hz"] = round(self.freqs_hz[0])
        else:
            item["freqs_hz"] = [round(f) for f in self.freqs_hz]
        if self.label:
            item["label"] = self.label
        item["share"] = round(self.share, 2)
        return item


@dataclass(slots=True)
class BlockReading:
    """What one 40 ms block holds."""

    tone_hz: float | None  # frequency of a single steady tone, if one dominates
    share: float  # its energy share (0 if none)
    call_progress: bool  # a call-progress pair (ringback, dial, busy) dominates
    specific: np.ndarray | None  # shares at SPECIFIC_HZ

    @property
    def tonal(self) -> bool:
        return self.tone_hz is not None or self.call_progress


class GoertzelBank:
    """Goertzel power at many frequencies over fixed-size blocks, as one matrix product.

    The Goertzel recursion's final state gives |Σ x[n]·e^{-j2πfn/fs}|²; the cosine and sine rows below
    produce the same sum for all frequencies at once.
    """

    def __init__(self, freqs_hz: np.ndarray, block_samples: int, rate: int = SAMPLE_RATE) -> None:
        self.freqs_hz = np.asarray(freqs_hz, dtype=np.float64)
        self.block_samples = block_samples
        n = np.arange(block_samples)
        phase = 2.0 * np.pi * self.freqs_hz[:, None] * n[None, :] / rate
        self._basis = np.vstack([np.cos(phase), np.sin(phase)]).astype(np.float32)
        self._count = len(self.freqs_hz)

    def shares(self, block: np.ndarray, energy: float) -> np.ndarray:
        """Share of the block energy at each frequency: (2/N)|X(f)|² / Σx² (1.0 for a pure on-bin tone)."""
        proj = self._basis @ block
        power = proj[: self._count] ** 2 + proj[self._count :] ** 2
        return power * (2.0 / (self.block_samples * max(energy, 1e-9)))


def goertzel_power(block: np.ndarray, freq_hz: float, rate: int = SAMPLE_RATE) -> float:
    """Reference Goertzel recursion for one frequency: |X(f)|² over the block."""
    coeff = 2.0 * math.cos(2.0 * math.pi * freq_hz / rate)
    s1 = s2 = 0.0
    for sample in np.asarray(block, dtype=np.float64):
        s0 = sample + coeff * s1 - s2
        s2, s1 = s1, s0
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


@dataclass(slots=True)
class ToneRun:
    """Consecutive blocks dominated by one steady tone."""

    freq_hz: float
    first_ms: int  # end of the first block that showed it
    last_ms: int  # end of the last block that showed it
    blocks: int = 0
    share_sum: float = 0.0
    freq_sum: float = 0.0
    specific_sum: np.ndarray = field(default_factory=lambda: np.zeros(len(SPECIFIC_HZ)))
    dropout: int = 0
    reported: set[str] = field(default_factory=set)  # patterns already reported for this run
    freq_min: float = math.inf
    freq_max: float = -math.inf

    @property
    def start_ms(self) -> int:
        return max(0, self.first_ms - TONE_ONSET_LAG_MS)

    @property
    def end_ms(self) -> int:
        return max(self.start_ms, self.last_ms - TONE_END_LAG_MS)

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def mean_share(self) -> float:
        return self.share_sum / max(self.blocks, 1)

    @property
    def drift_hz(self) -> float:
        """How far the block estimates of the frequency spread."""
        return self.freq_max - self.freq_min

    @property
    def steady(self) -> bool:
        """True when the frequency has held still (a signalling tone rather than a voice harmonic)."""
        return self.drift_hz <= TONE_MAX_DRIFT_HZ

    @property
    def confirmed(self) -> bool:
        """A steady tone that has lasted long enough to be taken away from speech."""
        return self.blocks >= TONE_CONFIRM_BLOCKS and self.steady and self.freq_hz >= TONE_CONFIRM_MIN_HZ

    @classmethod
    def start(cls, reading: BlockReading, end_ms: int) -> ToneRun:
        run = cls(reading.tone_hz, end_ms, end_ms, 0)
        run.add(reading, end_ms)
        return run

    def add(self, reading: BlockReading, end_ms: int) -> None:
        self.last_ms = end_ms
        self.blocks += 1
        self.share_sum += reading.share
        self.freq_sum += reading.tone_hz
        self.freq_hz = self.freq_sum / self.blocks
        self.freq_min = min(self.freq_min, reading.tone_hz)
        self.freq_max = max(self.freq_max, reading.tone_hz)
        if reading.specific is not None:
            self.specific_sum += reading.specific
        self.dropout = 0


def beep_shaped(run: ToneRun) -> bool:
    """Whether a tone run has all a beep needs but a steady frequency: its range, length and purity, and
    not a fax answer tone (``detection.lab.beep_audit`` measures the steadiness of such runs)."""
    return (
        BEEP_MIN_HZ <= run.freq_hz <= BEEP_MAX_HZ
        and BEEP_MIN_MS <= run.duration_ms <= BEEP_MAX_MS
        and run.mean_share >= BEEP_MIN_SHARE
        and not _near(run.freq_hz, FAX_CED_HZ, FAX_TONE_TOLERANCE_HZ)
    )


def _near(freq: float, target: float, tolerance: float) -> bool:
    return abs(freq - target) <= tolerance


class ToneDetector:
    """Streaming tone detector: feed every 20 ms frame, get tone events and a per-frame tonal verdict."""

    def __init__(self) -> None:
        grid = np.arange(GRID_MIN_HZ, GRID_MAX_HZ + GRID_STEP_HZ / 2, GRID_STEP_HZ)
        self._grid_count = len(grid)
        self._bank = GoertzelBank(np.concatenate([grid, np.array(SPECIFIC_HZ)]), BLOCK_SAMPLES)
        self._grid = grid
        self._neighbour_steps = int(round(TONE_NEIGHBOUR_OFFSET_HZ / GRID_STEP_HZ))
        self._specific_index = {f: i for i, f in enumerate(SPECIFIC_HZ)}
        self._min_energy = BLOCK_SAMPLES * (32768.0 * 10 ** (TONE_MIN_LEVEL_DBFS / 20)) ** 2
        self._prev = np.zeros(FRAME_SAMPLES, dtype=np.float32)
        self._block = np.zeros(BLOCK_SAMPLES, dtype=np.float32)
        self.run: ToneRun | None = None
        self.history: deque[ToneRun] = deque(maxlen=2)
        self.call_progress_ms = 0  # audio time dominated by ringback / dial / busy tones
        self.last_reading = BlockReading(None, 0.0, False, None)
        self.tone_active = False  # the latest frame belongs to a signalling tone
        self.confirmed_from_ms: int | None = None  # start of a steady tone confirmed at the latest frame

    # -- per block ---------------------------------------------------------------------------------
    def read_block(self, block: np.ndarray) -> BlockReading:
        """Classify one 40 ms block."""
        energy = float(np.dot(block, block))
        if energy < self._min_energy:
            return BlockReading(None, 0.0, False, None)
        shares = self._bank.shares(block, energy)
        grid = shares[: self._grid_count]
        specific = shares[self._grid_count :]
        idx = int(np.argmax(grid))
        peak = float(grid[idx])
        pair_hit = False
        for low, high in CALL_PROGRESS_PAIRS:
            a = specific[self._specific_index[low]]
            b = specific[self._specific_index[high]]
            if min(a, b) >= DUAL_TONE_MIN_SHARE and a + b >= DUAL_TONE_MIN_TOTAL:
                pair_hit = True
                break
        if pair_hit or peak < TONE_MIN_SHARE:
            return BlockReading(None, 0.0, pair_hit, specific)
        k = self._neighbour_steps
        left = grid[idx - k] if idx >= k else 0.0
        right = grid[idx + k] if idx + k < self._grid_count else 0.0
        if max(left, right) > TONE_NEIGHBOUR_RATIO * peak:
            return BlockReading(None, 0.0, False, specific)
        freq = self._grid[idx]
        if 0 < idx < self._grid_count - 1:  # parabolic refinement between grid points
            y0, y1, y2 = grid[idx - 1], peak, grid[idx + 1]
            denom = y0 - 2 * y1 + y2
            if denom < 0:
                freq += GRID_STEP_HZ * 0.5 * (y0 - y2) / denom
        return BlockReading(float(freq), min(peak, 1.0), False, specific)

    # -- per frame ---------------------------------------------------------------------------------
    def process(self, frame: np.ndarray, end_ms: int) -> list[ToneEvent]:
        """Analyse the block ending with this frame; return events recognised at this frame.

        Afterwards ``tone_active`` tells whether this frame belongs to a signalling tone, and
        ``confirmed_from_ms`` is set (for this frame only) when a steady tone has just been confirmed:
        the frames since that time were tone, whatever the voice detector thought of them.
        """
        self._block[:FRAME_SAMPLES] = self._prev
        self._block[FRAME_SAMPLES:] = frame
        self._prev = frame
        reading = self.read_block(self._block)
        self.last_reading = reading
        self.confirmed_from_ms = None
        if reading.call_progress:
            self.call_progress_ms += FRAME_MS
        events: list[ToneEvent] = []
        run = self.run
        if reading.tone_hz is not None:
            if run is not None and _near(reading.tone_hz, run.freq_hz, TONE_FREQ_TOLERANCE_HZ):
                was_confirmed = run.confirmed
                run.add(reading, end_ms)
                if run.confirmed and not was_confirmed:
                    self.confirmed_from_ms = run.start_ms
            else:
                if run is not None:
                    events.extend(self._close_run(run))
                run = self.run = ToneRun.start(reading, end_ms)
        elif run is not None:
            run.dropout += 1
            if run.dropout > TONE_MAX_DROPOUT_FRAMES:
                events.extend(self._close_run(run))
                run = None
        if run is not None and run.dropout == 0:
            events.extend(self._check_open_run(run))
        self.tone_active = reading.call_progress or (run is not None and run.confirmed)
        return events

    def flush(self) -> list[ToneEvent]:
        """Close the open run at the end of the stream."""
        if self.run is None:
            return []
        return self._close_run(self.run)

    # -- run classification ------------------------------------------------------------------------
    def _close_run(self, run: ToneRun) -> list[ToneEvent]:
        self.run = None
        if run.blocks >= HISTORY_MIN_BLOCKS:
            self.history.append(run)
        events: list[ToneEvent] = []
        if beep_shaped(run) and run.drift_hz <= BEEP_MAX_DRIFT_HZ and "beep" not in run.reported:
            run.reported.add("beep")
            events.append(ToneEvent("beep", run.start_ms, run.end_ms, (run.freq_hz,), run.mean_share))
        return events

    def _check_open_run(self, run: ToneRun) -> list[ToneEvent]:
        events: list[ToneEvent] = []
        duration = run.duration_ms
        if "fax" not in run.reported and duration >= FAX_CED_MIN_MS:
            for target, name in ((FAX_CED_HZ, "CED"), (BELL_ANS_HZ, "Bell ANS")):
                if _near(run.freq_hz, target, FAX_TONE_TOLERANCE_HZ):
                    run.reported.add("fax")
                    events.append(ToneEvent("fax", run.start_ms, run.end_ms, (target,), run.mean_share, name))
        if (
            "cng" not in run.reported
            and FAX_CNG_MIN_MS <= duration <= FAX_CNG_MAX_MS
            and _near(run.freq_hz, FAX_CNG_HZ, FAX_TONE_TOLERANCE_HZ)
        ):
            run.reported.add("cng")
            events.append(ToneEvent("fax_cng", run.start_ms, run.end_ms, (FAX_CNG_HZ,), run.mean_share, "CNG"))
        if "sit" not in run.reported and duration >= SIT_THIRD_MIN_MS:
            sit = self._match_sit(run)
            if sit is not None:
                run.reported.add("sit")
                events.append(sit)
        return events

    def _band(self, freq: float) -> int | None:
        for index, centre in enumerate(ITU_SIT_HZ):
            if _near(freq, centre, SIT_BAND_TOLERANCE_HZ):
                return index
        return None

    def _match_sit(self, third: ToneRun) -> ToneEvent | None:
        if self._band(third.freq_hz) != 2 or len(self.history) < 2:
            return None
        first, second = self.history[0], self.history[1]
        if self._band(first.freq_hz) != 0 or self._band(second.freq_hz) != 1:
            return None
        for seg in (first, second):
            if not SIT_SEGMENT_MIN_MS <= seg.duration_ms <= SIT_SEGMENT_MAX_MS:
                return None
        if second.start_ms - first.end_ms > SIT_MAX_GAP_MS or third.start_ms - second.end_ms > SIT_MAX_GAP_MS:
            return None
        f1 = self._closest(first, (*SIT_LOW_HZ, ITU_SIT_HZ[0]))
        f2 = self._closest(second, (*SIT_MID_HZ, ITU_SIT_HZ[1]))
        f3 = self._closest(third, (SIT_HIGH_HZ, ITU_SIT_HZ[2]))
        label = "ITU" if f1 == ITU_SIT_HZ[0] or f2 == ITU_SIT_HZ[1] else ""
        if not label:
            code = (f1, self._length(first), f2, self._length(second))
            label = SIT_CODES.get(code, "SIT")
        share = (first.mean_share + second.mean_share + third.mean_share) / 3
        return ToneEvent("sit", first.start_ms, third.end_ms, (f1, f2, f3), share, label)

    def _closest(self, run: ToneRun, candidates: tuple[float, ...]) -> float:
        powers = [run.specific_sum[self._specific_index[c]] for c in candidates]
        return candidates[int(np.argmax(powers))]

    @staticmethod
    def _length(run: ToneRun) -> str:
        return "S" if run.duration_ms < SIT_SHORT_LONG_SPLIT_MS else "L"
