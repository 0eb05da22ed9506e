"""Held-out evaluation of the detector and the Asterisk app_amd baseline on a labelled corpus.

Each clip is streamed in 20 ms frames, with its timestamps, through ``Detector`` (the path the socket
uses) at every requested aggressiveness and once through ``AsteriskAMD``. Figures are computed per
operating point and written to ``figures.json`` with an operating-point curve (PNG).

With a recognizer (``--recognizer``), transcripts come from ``OfflineRecognizer``: each clip is
transcribed once (the window does not depend on the aggressiveness) and the words are handed to the
detector at the audio time the request was made plus the measured compute time, so decision times
include the recognizer's latency as if it ran in real time.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from detection.engine import AsteriskAMD, Detector, audio
from detection.engine.results import ANSWERED_BY, MACHINE_CLASSES, TWILIO_MAP

from .corpus import Clip, load_labels

DEFAULT_AGGRESSIVENESS = (0.0, 0.25, 0.5, 0.75, 1.0)
PEOPLE = frozenset({"human", "human_gatekeeper"})  # clips whose false machine calls count against us
SPEECH_MACHINES = frozenset({"voicemail", "live_voicemail", "screening", "ivr"})  # machine recall is on these
BEEP_TOLERANCE_MS = 100  # a beep time counts as right within this of the truth
BASELINE_CLASS = {"MACHINE": "voicemail", "HUMAN": "human", "NOTSURE": "unknown"}
BASELINE_NAME = "asterisk_app_amd"
PERCENTILES = (50, 90)
REAL_SOURCES = frozenset({"asterisk", "pocketsphinx"})  # recorded speech, not synthesized (corpus.Voice.engine)


@dataclass
class ClipRun:
    """What one system did on one clip."""

    clip_id: str
    truth: str
    answered_by: str
    decision_ms: int
    reason: str
    cpu_ms: float  # detector CPU for the whole stream
    recognizer_cpu_ms: float = 0.0
    recognizer_used: bool = False
    recognizer_refused: bool = False
    message_end: str | None = None
    beep_ms: int | None = None


@dataclass
class ClipResult:
    clip: dict
    runs: dict[str, ClipRun] = field(default_factory=dict)  # system name → run


def system_name(aggressiveness: float) -> str:
    return f"detector@{aggressiveness:g}"


def stream_detector(data: bytes, aggressiveness: float, recognizer=None) -> tuple[Detector, float]:
    """Stream ``data`` through a Detector with message-end detection; return it and its CPU ms."""
    det = Detector(aggressiveness, detect_message_end=True, recognizer=recognizer)
    start = time.process_time()
    for payload, ts in audio.frames(data):
        det.push(payload, ts)
        if not det.listening:
            break
    det.finish()
    det.finish_message_end()
    cpu_s = time.process_time() - start - (getattr(recognizer, "local_cpu_s", 0.0) if recognizer else 0.0)
    return det, cpu_s * 1000


def stream_baseline(data: bytes) -> tuple[str, int, str, float]:
    amd = AsteriskAMD()
    start = time.process_time()
    for payload, ts in audio.frames(data):
        if amd.push(payload, ts) is not None:
            break
    result = amd.finish()
    return result.status, result.decision_ms, result.detail, (time.process_time() - start) * 1000


def run_clip(corpus: Path, clip: Clip, aggressiveness: Sequence[float], recognizer_factory=None) -> ClipResult:
    data = audio.load_ulaw(Path(corpus) / clip.file)
    result = ClipResult(asdict(clip))
    status, decision_ms, detail, cpu = stream_baseline(data)
    result.runs[BASELINE_NAME] = ClipRun(clip.id, clip.answered_by, BASELINE_CLASS[status], decision_ms, detail, cpu)
    for a in aggressiveness:
        recognizer = recognizer_factory(clip) if recognizer_factory else None
        det, cpu = stream_detector(data, a, recognizer)
        dec, end = det.decision, det.message_end
        run = ClipRun(clip.id, clip.answered_by, dec.answered_by, dec.decision_ms, dec.reason, cpu,
                      message_end=end.answered_by_twilio if end else None, beep_ms=end.beep_ms if end else None)
        if recognizer is not None:
            run.recognizer_used = recognizer.submitted
            run.recognizer_refused = recognizer.refused
            run.recognizer_cpu_ms = recognizer.cpu_ms if recognizer.submitted else 0.0
        result.runs[system_name(a)] = run
    return result


def _percentiles(values: Iterable[float]) -> dict[str, float | None]:
    arr = np.asarray(list(values), dtype=float)
    return {f"p{p}": (round(float(np.percentile(arr, p))) if arr.size else None) for p in PERCENTILES}


def _share(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def figures_for(results: Sequence[ClipResult], system: str) -> dict:
    """Every figure of one system over the clips."""
    runs = [(r.clip, r.runs[system]) for r in results if system in r.runs]
    n = len(runs)
    labels = list(ANSWERED_BY)
    confusion = {t: dict.fromkeys(labels, 0) for t in labels}
    correct = twilio_ok = unknown = silence_on_speech = 0
    people = people_machine = machines = machines_caught = 0
    human_times, machine_times = [], []
    beep_clips = beep_ok = beep_machine = beep_machine_ok = 0
    tone_counts: Counter = Counter()
    by_source: dict[str, Counter] = {}  # audio source → clips, right
    by_recording: dict[str, Counter] = {}  # real recording (its prompts) → clips, right
    for clip, run in runs:
        truth, said = clip["answered_by"], run.answered_by
        right = int(said == truth)
        confusion[truth][said] += 1
        correct += right
        source = clip.get("source") or "unknown"
        by_source.setdefault(source, Counter()).update(clips=1, right=right)
        if source in REAL_SOURCES:
            by_recording.setdefault(f"{truth}: {clip.get('text', '')}", Counter()).update(clips=1, right=right)
        twilio_ok += TWILIO_MAP[said] == TWILIO_MAP[truth]
        unknown += said == "unknown"
        said_machine = said in MACHINE_CLASSES
        if truth != "silence" and said == "silence" and truth not in {"fax"}:
            silence_on_speech += 1
        if truth in PEOPLE:
            people += 1
            people_machine += said_machine
            if said in PEOPLE and clip.get("first_utterance_end_ms") is not None:
                human_times.append(run.decision_ms - clip["first_utterance_end_ms"])
        if truth in SPEECH_MACHINES:
            machines += 1
            machines_caught += said_machine
            if said_machine and clip.get("onset_ms") is not None:
                machine_times.append(run.decision_ms - clip["onset_ms"])
        if truth in {"sit_invalid", "fax"}:
            tone_counts[(truth, "n")] += 1
            tone_counts[(truth, "ok")] += said == truth
        if clip.get("beep_ms") is not None and system != BASELINE_NAME:
            beep_clips += 1
            hit = run.beep_ms is not None and abs(run.beep_ms - clip["beep_ms"]) <= BEEP_TOLERANCE_MS
            beep_ok += hit
            if said_machine:
                beep_machine += 1
                beep_machine_ok += hit
    cpu = [run.cpu_ms for _, run in runs]
    rec_used = [run for _, run in runs if run.recognizer_used]
    fig = {
        "clips": n,
        "accuracy": _share(correct, n),
        "twilio_agreement": _share(twilio_ok, n),
        "people_called_machine": _share(people_machine, people),
        "people_called_machine_count": people_machine,
        "people": people,
        "machine_recall": _share(machines_caught, machines),
        "machines": machines,
        "unknown_rate": _share(unknown, n),
        "human_decision_ms_after_first_utterance": _percentiles(human_times),
        "machine_decision_ms_after_onset": _percentiles(machine_times),
        "cpu_ms_per_call": {"mean": round(float(np.mean(cpu)), 2) if cpu else None, **_percentiles(cpu)},
        "recognizer_cpu_ms_per_call": (round(float(np.mean([r.recognizer_cpu_ms for r in rec_used])), 1)
                                       if rec_used else None),
        "recognizer_share_of_calls": _share(len(rec_used), n),
        "recognizer_refused": sum(run.recognizer_refused for _, run in runs),
        "beep_within_100ms": _share(beep_ok, beep_clips) if system != BASELINE_NAME else None,
        "beep_clips": beep_clips,
        "beep_within_100ms_when_machine": _share(beep_machine_ok, beep_machine) if system != BASELINE_NAME else None,
        "sit_invalid_recall": _share(tone_counts[("sit_invalid", "ok")], tone_counts[("sit_invalid", "n")]),
        "fax_recall": _share(tone_counts[("fax", "ok")], tone_counts[("fax", "n")]),
        "silence_on_speech": silence_on_speech,
        "confusion": confusion,
        "accuracy_by_source": _accuracy_by(by_source),
        "accuracy_by_real_recording": _accuracy_by(by_recording),
    }
    return fig


def _accuracy_by(groups: dict[str, Counter]) -> dict[str, dict]:
    return {key: {"clips": c["clips"], "right": c["right"], "accuracy": _share(c["right"], c["clips"])}
            for key, c in sorted(groups.items())}


def source_text(fig: dict) -> str:
    """Accuracy per audio source and per real recording, one line each (the held-out real speaker's
    prompts show how the detector does on wording and a voice no train clip has)."""
    lines = ["accuracy by source: " + ", ".join(f"{name} {100 * v['accuracy']:.1f} % of {v['clips']}"
                                                for name, v in fig["accuracy_by_source"].items())]
    lines += [f"  {name}: {v['right']}/{v['clips']}"
              for name, v in fig["accuracy_by_real_recording"].items()]
    return "\n".join(lines)


def _work(args):
    corpus, clip, aggressiveness, recognizer_spec = args
    factory = None
    if recognizer_spec is not None:
        from .offline_recognizer import offline_factory

        factory = offline_factory(**recognizer_spec)
    return run_clip(corpus, clip, aggressiveness, factory)


def evaluate(corpus: Path, aggressiveness: Sequence[float] = DEFAULT_AGGRESSIVENESS, split: str = "test",
             workers: int = 2, limit: int | None = None, recognizer_spec: dict | None = None,
             progress=None) -> tuple[dict, list[ClipResult]]:
    """Run every clip of ``split``; return the figures (one entry per system) and the per-clip results."""
    clips = load_labels(corpus, split)
    if limit:
        clips = clips[:limit]
    jobs = [(Path(corpus), clip, tuple(aggressiveness), recognizer_spec) for clip in clips]
    results: list[ClipResult] = []
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for i, res in enumerate(pool.map(_work, jobs, chunksize=4)):
                results.append(res)
                if progress and (i + 1) % 50 == 0:
                    progress(f"{i + 1}/{len(jobs)} clips")
    else:
        for i, job in enumerate(jobs):
            results.append(_work(job))
            if progress and (i + 1) % 50 == 0:
                progress(f"{i + 1}/{len(jobs)} clips")
    systems = [BASELINE_NAME] + [system_name(a) for a in aggressiveness]
    figures = {
        "corpus": str(corpus),
        "split": split,
        "clips": len(clips),
        "recognizer": bool(recognizer_spec),
        "systems": {name: figures_for(results, name) for name in systems},
    }
    for a in aggressiveness:
        figures["systems"][system_name(a)]["aggressiveness"] = a
    return figures, results


def table(figures: dict) -> str:
    """The headline figures of every system as a fixed-width text table."""
    cols = ("system", "acc", "twilio", "ppl→mach", "mach rec", "unknown", "human p50/p90", "mach p50/p90",
            "beep±100", "sit", "fax", "sil/speech", "cpu ms")
    rows = [cols]
    for name, f in figures["systems"].items():
        h, m = f["human_decision_ms_after_first_utterance"], f["machine_decision_ms_after_onset"]
        pct = lambda v: "-" if v is None else f"{100 * v:.1f}%"  # noqa: E731
        rows.append((name, pct(f["accuracy"]), pct(f["twilio_agreement"]),
                     f"{pct(f['people_called_machine'])} ({f['people_called_machine_count']})",
                     pct(f["machine_recall"]), pct(f["unknown_rate"]), f"{h['p50']}/{h['p90']}",
                     f"{m['p50']}/{m['p90']}", pct(f["beep_within_100ms"]), pct(f["sit_invalid_recall"]),
                     pct(f["fax_recall"]), str(f["silence_on_speech"]), str(f["cpu_ms_per_call"]["mean"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def confusion_text(confusion: dict) -> str:
    labels = [k for k in confusion if any(confusion[k].values()) or any(r[k] for r in confusion.values())]
    short = {lab: lab[:9] for lab in labels}
    head = "truth \\ said".ljust(17) + " ".join(short[lab].rjust(9) for lab in labels)
    lines = [head]
    for t in labels:
        if any(confusion[t].values()):
            lines.append(t.ljust(17) + " ".join(str(confusion[t][s]).rjust(9) for s in labels))
    return "\n".join(lines)


def plot_curve(figures: dict, path: Path) -> None:
    """False-machine rate on people against machine decision time p50, one point per operating point."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    xs, ys, names = [], [], []
    for name, f in figures["systems"].items():
        p50 = f["machine_decision_ms_after_onset"]["p50"]
        rate = f["people_called_machine"]
        if p50 is None or rate is None:
            continue
        if name == BASELINE_NAME:
            ax.scatter([p50], [100 * rate], marker="s", color="tab:red", zorder=3, label="Asterisk app_amd")
            ax.annotate("app_amd", (p50, 100 * rate), textcoords="offset points", xytext=(6, 4))
        else:
            xs.append(p50)
            ys.append(100 * rate)
            names.append(f"a={f['aggressiveness']:g}")
    ax.plot(xs, ys, "o-", color="tab:blue", zorder=2, label="detector (aggressiveness)")
    for x, y, label in zip(xs, ys, names, strict=True):
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(6, -10))
    ax.set_xlabel("machine decision time p50 after speech onset (ms)")
    ax.set_ylabel("people called machine (%)")
    title = "Operating points, held-out split"
    if figures.get("recognizer"):
        title += " (with recognizer)"
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_outputs(figures: dict, results: Sequence[ClipResult], out: Path) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    (out / "table.md").write_text(markdown_table(figures) + "\n")
    with open(out / "runs.jsonl", "w") as handle:
        for res in results:
            handle.write(json.dumps({"clip": res.clip["id"], "truth": res.clip["answered_by"],
                                     "runs": {k: asdict(v) for k, v in res.runs.items()}}) + "\n")
    plot_curve(figures, out / "curve.png")


def markdown_table(figures: dict) -> str:
    """The headline figures as a Markdown table (for the README)."""
    pct = lambda v: "–" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    ms = lambda d: "–" if d["p50"] is None else f"{d['p50']} / {d['p90']}"  # noqa: E731
    lines = ["| system | accuracy | Twilio enum | people → machine | machine recall | unknown | human ms p50/p90 "
             "| machine ms p50/p90 | beep ±100 ms | SIT / fax recall | silence on speech | CPU ms/call "
             "| words: share, ms/call |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, f in figures["systems"].items():
        words = (f"{pct(f['recognizer_share_of_calls'])}, {f['recognizer_cpu_ms_per_call']}"
                 if f.get("recognizer_cpu_ms_per_call") else "–")
        lines.append(
            f"| {name} | {pct(f['accuracy'])} | {pct(f['twilio_agreement'])} | {pct(f['people_called_machine'])} "
            f"({f['people_called_machine_count']}/{f['people']}) | {pct(f['machine_recall'])} "
            f"| {pct(f['unknown_rate'])} "
            f"| {ms(f['human_decision_ms_after_first_utterance'])} | {ms(f['machine_decision_ms_after_onset'])} "
            f"| {pct(f['beep_within_100ms'])} | {pct(f['sit_invalid_recall'])} / {pct(f['fax_recall'])} "
            f"| {f['silence_on_speech']} | {f['cpu_ms_per_call']['mean']} | {words} |")
    return "\n".join(lines)
