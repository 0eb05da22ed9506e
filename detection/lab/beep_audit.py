"""How steady beeps are, against the beep-shaped runs that speech makes: the measurement behind
``BEEP_MAX_DRIFT_HZ``.

Every clip that is neither SIT, fax nor silence is streamed through the tone detector; each closed tone
run that has everything a beep needs but a steady frequency (``tones.beep_shaped``) is counted as the
clip's beep when it starts within ``MATCH_MS`` of the labelled beep, else as speech. Prints how far the
frequency estimates of each kind spread, how many of each the drift limit keeps, and the steadiest
speech runs.

    .venv/bin/python -m detection.lab.beep_audit /tmp/corpus /tmp/corpus8
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from detection.engine import audio, tones
from detection.engine.ulaw import decode_float

from .corpus import load_labels

MATCH_MS = 150  # a beep-shaped run starting this close to the labelled beep is that beep
NOT_SPEECH = {"sit_invalid", "fax", "silence"}  # their tones are not beeps and they have no speech
SHOWN = 12  # the steadiest beep-shaped speech runs are listed


class _Recorder(tones.ToneDetector):
    """A tone detector that keeps every beep-shaped run it closes."""

    def __init__(self) -> None:
        super().__init__()
        self.beep_shaped: list[tones.ToneRun] = []

    def _close_run(self, run: tones.ToneRun) -> list[tones.ToneEvent]:
        if tones.beep_shaped(run):
            self.beep_shaped.append(run)
        return super()._close_run(run)


def clip_runs(samples: np.ndarray) -> list[tones.ToneRun]:
    """The beep-shaped tone runs of one clip (float samples at 8 kHz)."""
    detector = _Recorder()
    frame = tones.FRAME_SAMPLES
    for index, start in enumerate(range(0, len(samples) - frame + 1, frame)):
        detector.process(samples[start : start + frame], (index + 1) * tones.FRAME_MS)
    detector.flush()
    return detector.beep_shaped


def audit(corpora: Sequence[Path]) -> dict[str, list[tuple[float, str, tones.ToneRun]]]:
    """Beep-shaped runs by kind ("beep" or "speech"), each with its drift and clip id."""
    found: dict[str, list] = {"beep": [], "speech": []}
    for corpus in corpora:
        for clip in load_labels(corpus):
            if clip.answered_by in NOT_SPEECH:
                continue
            samples = decode_float(audio.load_ulaw(Path(corpus) / clip.file))
            for run in clip_runs(samples):
                beep = clip.beep_ms is not None and abs(run.start_ms - clip.beep_ms) <= MATCH_MS
                found["beep" if beep else "speech"].append((run.drift_hz, clip.id, run))
    return found


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Frequency spread of beeps and of beep-shaped speech.")
    parser.add_argument("corpora", nargs="+", type=Path)
    args = parser.parse_args(argv)
    found = audit(args.corpora)
    limit = tones.BEEP_MAX_DRIFT_HZ
    for kind, runs in found.items():
        drift = np.array([d for d, _, _ in runs]) if runs else np.zeros(0)
        kept = int(np.sum(drift <= limit))
        spread = (f"drift min {drift.min():.1f}, p50 {np.median(drift):.1f}, max {drift.max():.1f} Hz"
                  if len(drift) else "none")
        print(f"{kind}: {len(runs)} beep-shaped runs in {len({c for _, c, _ in runs})} clips; {spread}; "
              f"{kept} within the {limit:g} Hz limit")
    for drift, clip_id, run in sorted(found["speech"], key=lambda item: item[0])[:SHOWN]:
        print(f"  speech {clip_id}: {run.freq_hz:.0f} Hz, {run.duration_ms} ms, share {run.mean_share:.2f}, "
              f"drift {drift:.1f} Hz")


if __name__ == "__main__":
    main()
