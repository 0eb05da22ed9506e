"""Geometry of the console's pictures: a call's decision timeline and the small overview charts.

Horizontal positions are percentages of the drawing width, so a single server-rendered SVG fits a
phone and a desktop without a viewBox squeezing its text; vertical positions are pixels. The
templates in ``templates/console/_*.html`` turn these objects into SVG elements.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ANSWERED_BY = (
    "human", "human_gatekeeper", "voicemail", "live_voicemail", "screening", "ivr", "sit_invalid", "fax",
    "silence", "unknown",
)

LANE_HEIGHT = 30  # px per evidence lane
BAR_INSET = 6  # px between a lane's edge and its bars
AXIS_HEIGHT = 22  # px under the lanes for the time axis
MARKER_ROW_HEIGHT = 17  # px above the lanes per marker label (decision, message end)
MIN_BAR_PERCENT = 0.6  # a point event (or a very short one) still shows as a sliver
TICK_STEPS_MS = (100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 15000, 30000, 60000)
MAX_TICKS = 8  # at most this many tick intervals across the span
TAIL_FRACTION = 0.1  # empty room drawn after the last thing that happened
MIN_TAIL_MS = 500
MIN_SPAN_MS = 2000  # shortest span drawn when the audio is at least this long

TONE_TYPES = {"tone", "sit", "fax", "fax_cng", "fax_ced", "beep", "call_progress", "ringback", "dtmf"}
FIXED_LANES = (("speech", "Speech"), ("tone", "Tones"))  # drawn even when empty: "no tone" is information
OPTIONAL_LANES = (("silence", "Silence"), ("phrase", "Phrases"))


def _pct(value: float) -> str:
    return f"{value:.3f}"


def _seconds(ms: float) -> str:
    text = f"{ms / 1000:.2f}".rstrip("0").rstrip(".")
    return f"{text} s"


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    return None


@dataclass
class Bar:
    kind: str
    x: str
    width: str
    y: int
    height: int
    title: str
    text: str = ""
    text_x: str = ""
    text_anchor: str = "start"


@dataclass
class Lane:
    key: str
    label: str
    y: int
    bars: list[Bar] = field(default_factory=list)


@dataclass
class Marker:
    kind: str  # "decision" or "message-end"
    x: str
    label: str
    anchor: str  # SVG text-anchor keeping the label inside the picture
    label_y: int = 0


@dataclass
class Tick:
    x: str
    label: str
    anchor: str


@dataclass
class Timeline:
    span_ms: int
    lanes: list[Lane]
    markers: list[Marker]
    ticks: list[Tick]
    plot_top: int
    plot_bottom: int
    height: int
    description: str
    kinds: list[str]

    @property
    def lane_height(self) -> int:
        return LANE_HEIGHT


def lane_of(kind: str) -> str:
    if kind == "speech":
        return "speech"
    if kind == "silence":
        return "silence"
    if kind == "phrase":
        return "phrase"
    if kind in TONE_TYPES or kind.endswith("_tone"):
        return "tone"
    return kind or "other"


def _describe(item: dict, kind: str, start: int, end: int | None) -> tuple[str, str]:
    """(tooltip, inline text) of one evidence item."""
    when = f"{_seconds(start)}–{_seconds(end)}" if end is not None and end > start else f"at {_seconds(start)}"
    if kind == "phrase":
        text = str(item.get("text") or item.get("phrase") or "")
        return f"phrase “{text}” {when}", f"“{text}”"
    details = []
    if item.get("freq_hz") is not None:
        details.append(f"{item['freq_hz']} Hz")
    if item.get("freqs_hz"):
        details.append("/".join(str(f) for f in item["freqs_hz"]) + " Hz")
    if item.get("label"):
        details.append(str(item["label"]))
    text = kind if kind in TONE_TYPES else ""
    suffix = f" ({', '.join(details)})" if details else ""
    return f"{kind} {when}{suffix}", text


def _tick_step(span_ms: int) -> int:
    for step in TICK_STEPS_MS:
        if span_ms / step <= MAX_TICKS:
            return step
    return TICK_STEPS_MS[-1]


def build_timeline(evidence, decision_ms=None, answered_by: str = "", message_end: dict | None = None,
                   audio_ms: int | None = None) -> Timeline:
    """Lay out ``evidence`` (a list of ``{"type", "start_ms", "end_ms", …}``) with the decision marker,
    and the message end's marker and evidence when there is one.

    The span covers everything that happened up to the decision and the message end, plus a little
    room; with ``audio_ms`` it never runs past the end of the audio once everything fits.
    """
    items = []
    seen = set()
    extra = (message_end or {}).get("evidence") if isinstance(message_end, dict) else None
    for item in list(evidence or []) + list(extra if isinstance(extra, list) else []):
        if not isinstance(item, dict):
            continue
        start = _int(item.get("start_ms", item.get("at_ms")))
        if start is None or start < 0:
            continue
        end = _int(item.get("end_ms"))
        if end is not None and end < start:
            end = None
        kind = str(item.get("type") or "other")
        if (kind, start, end) in seen:
            continue
        seen.add((kind, start, end))
        items.append((item, kind, start, end))

    decision_at = _int(decision_ms)
    end_at = _int((message_end or {}).get("message_end_ms"))
    content_end = max(
        [end if end is not None else start for _, _, start, end in items]
        + [t for t in (decision_at, end_at) if t is not None]
        + [0]
    )
    span = content_end + max(MIN_TAIL_MS, int(content_end * TAIL_FRACTION))
    if audio_ms and audio_ms >= content_end:
        span = min(span, max(audio_ms, 1))
    span = max(span, MIN_SPAN_MS if not audio_ms or audio_ms >= MIN_SPAN_MS else 1000)
    step = _tick_step(span)
    span = -(-span // step) * step

    def x_of(ms: int) -> float:
        return min(100.0, max(0.0, ms * 100.0 / span))

    def anchor(x: float) -> str:
        return "start" if x < 30 else ("end" if x > 70 else "middle")

    markers = []
    if decision_at is not None:
        x = x_of(decision_at)
        markers.append(Marker("decision", _pct(x), f"{answered_by or 'decision'} · {_seconds(decision_at)}",
                              anchor(x)))
    if end_at is not None:
        x = x_of(end_at)
        kind_label = (message_end or {}).get("answered_by_twilio") or "message end"
        markers.append(Marker("message-end", _pct(x), f"{kind_label} · {_seconds(end_at)}", anchor(x)))
    for row, marker in enumerate(markers):
        marker.label_y = MARKER_ROW_HEIGHT * (row + 1) - 5

    lane_keys = list(FIXED_LANES)
    present = {lane_of(kind) for _, kind, _, _ in items}
    lane_keys += [lane for lane in OPTIONAL_LANES if lane[0] in present]
    known = {key for key, _ in lane_keys}
    for key in sorted(present - known):
        lane_keys.append((key, key.replace("_", " ").capitalize()))

    plot_top = MARKER_ROW_HEIGHT * max(1, len(markers)) + 2
    lanes = [Lane(key, label, plot_top + i * LANE_HEIGHT) for i, (key, label) in enumerate(lane_keys)]
    by_key = {lane.key: lane for lane in lanes}
    for item, kind, start, end in sorted(items, key=lambda entry: entry[2]):
        lane = by_key[lane_of(kind)]
        left = x_of(start)
        width = max(MIN_BAR_PERCENT, x_of(end) - left) if end is not None else MIN_BAR_PERCENT
        width = min(width, 100.0 - left) if left < 100.0 else MIN_BAR_PERCENT
        title, text = _describe(item, kind, start, end)
        if kind == "phrase":
            text_x, text_anchor = left + 0.4, "start"
        elif left + width > 85:
            text_x, text_anchor = left - 0.4, "end"
        else:
            text_x, text_anchor = left + width + 0.4, "start"
        lane.bars.append(Bar(kind=kind.replace("_", "-"), x=_pct(left), width=_pct(width),
                             y=lane.y + BAR_INSET, height=LANE_HEIGHT - 2 * BAR_INSET,
                             title=title, text=text, text_x=_pct(text_x), text_anchor=text_anchor))

    plot_bottom = plot_top + len(lanes) * LANE_HEIGHT
    ticks = []
    for ms in range(0, span + 1, step):
        x = x_of(ms)
        ticks.append(Tick(_pct(x), _seconds(ms).replace(" s", "") + (" s" if ms == span else ""),
                          "start" if ms == 0 else ("end" if ms == span else "middle")))

    counts: dict[str, int] = {}
    for _, kind, _, _ in items:
        counts[kind] = counts.get(kind, 0) + 1
    parts = [f"{n} {kind}" for kind, n in counts.items()] or ["no evidence"]
    description = f"Timeline of the first {_seconds(span)}: {', '.join(parts)}"
    if decision_at is not None:
        description += f"; decision at {_seconds(decision_at)}"
    kinds = sorted({bar.kind for lane in lanes for bar in lane.bars})
    return Timeline(span, lanes, markers, ticks, plot_top, plot_bottom, plot_bottom + AXIS_HEIGHT, description,
                    kinds)


# -- overview charts ---------------------------------------------------------------------------------

DECISION_TIME_EDGES_MS = (0, 250, 500, 750, 1000, 1500, 2000, 3000, 5000)  # histogram bucket lower edges


@dataclass
class BreakdownRow:
    answered_by: str
    count: int
    share: str  # percent of all decisions, one decimal
    width: str  # bar width, percent of the largest class


def breakdown(counts: dict[str, int]) -> list[BreakdownRow]:
    """Decisions per ``answered_by`` in vocabulary order, empty classes left out."""
    total = sum(counts.values())
    top = max(counts.values(), default=0)
    order = list(ANSWERED_BY) + sorted(set(counts) - set(ANSWERED_BY))
    rows = []
    for cls in order:
        n = counts.get(cls, 0)
        if n:
            rows.append(BreakdownRow(cls, n, f"{100.0 * n / total:.1f}", _pct(100.0 * n / top)))
    return rows


@dataclass
class HistogramBar:
    label: str
    title: str
    count: int
    x: str
    width: str
    y: str
    height: str
    center: str


def bucket_bounds() -> list[tuple[int, int | None]]:
    edges = DECISION_TIME_EDGES_MS
    return [(edges[i], edges[i + 1] if i + 1 < len(edges) else None) for i in range(len(edges))]


def histogram(counts: list[int]) -> list[HistogramBar]:
    """Bars for decision-time bucket counts (one per ``bucket_bounds()`` entry); heights in percent."""
    bounds = bucket_bounds()
    if len(counts) != len(bounds):
        raise ValueError("one count per bucket")
    top = max(counts, default=0) or 1
    slot = 100.0 / len(bounds)
    bars = []
    for i, ((low, high), n) in enumerate(zip(bounds, counts, strict=True)):
        height = 100.0 * n / top
        label = f"{high / 1000:g}" if high is not None else f"{low / 1000:g}+"
        title = (f"{n} decided in {low / 1000:g}–{high / 1000:g} s" if high is not None
                 else f"{n} decided after {low / 1000:g} s")
        bars.append(HistogramBar(label, title, n, _pct(i * slot + slot * 0.12), _pct(slot * 0.76),
                                 _pct(100.0 - height), _pct(height), _pct(i * slot + slot / 2)))
    return bars


# -- operating-point chart --------------------------------------------------------------------------

HUMAN_SAFE_MAX = 0.25
MACHINE_AGGRESSIVE_MIN = 0.6


@dataclass
class Curve:
    name: str
    label: str
    points: str  # "x,y x,y …" in a unit square, y up
    css: str


@dataclass
class OperatingChart:
    curves: list[Curve]
    table: list[dict]
    columns: list[str]
    source: str


FIGURE_RATES = ("people_called_machine", "machine_recall", "unknown_rate", "accuracy")
FIGURE_TIMES = ("human_decision_ms_after_first_utterance", "machine_decision_ms_after_onset")
LABELS = {
    "people_called_machine": "People called machine",
    "machine_recall": "Machines detected",
    "unknown_rate": "Unknown",
    "accuracy": "Accuracy",
    "human_decision_ms_after_first_utterance_p50": "Human decision p50 (ms after the reply)",
    "machine_decision_ms_after_onset_p50": "Machine decision p50 (ms after speech onset)",
}


def _label(name: str) -> str:
    return LABELS.get(name) or name.replace("_", " ").capitalize()


def _points_from_figures(systems: dict) -> list[dict]:
    """Operating points from the evaluation's ``figures.json`` (``{"systems": {name: figures}}``)."""
    points = []
    for figures in systems.values():
        if not isinstance(figures, dict) or "aggressiveness" not in figures:
            continue
        point = {"aggressiveness": figures["aggressiveness"]}
        for name in FIGURE_RATES:
            if figures.get(name) is not None:
                point[name] = figures[name]
        for name in FIGURE_TIMES:
            value = figures.get(name)
            if isinstance(value, dict) and value.get("p50") is not None:
                point[f"{name}_p50"] = value["p50"]
        points.append(point)
    return points


def operating_chart(data, source: str = "") -> OperatingChart | None:
    """Curves from the detector's evaluation: the evaluation's ``figures.json``, or
    ``{"points": [{"aggressiveness": a, metric: value…}]}``, or a bare list of such points. Metrics whose
    values all lie in [0, 1] are drawn as rate curves; every metric is listed in the table. ``None`` when
    the data holds no usable point.
    """
    if isinstance(data, dict) and isinstance(data.get("systems"), dict):
        points = _points_from_figures(data["systems"])
    else:
        points = data.get("points") if isinstance(data, dict) else data
    if not isinstance(points, list):
        return None
    rows = []
    for point in points:
        if not isinstance(point, dict):
            continue
        a = point.get("aggressiveness")
        if isinstance(a, bool) or not isinstance(a, int | float) or not 0 <= a <= 1:
            continue
        rows.append(point)
    if not rows:
        return None
    rows.sort(key=lambda p: p["aggressiveness"])
    columns = []
    for row in rows:
        for key, value in row.items():
            if key != "aggressiveness" and key not in columns and isinstance(value, int | float) \
                    and not isinstance(value, bool):
                columns.append(key)
    curves = []
    for i, name in enumerate(columns):
        values = [(row["aggressiveness"], row.get(name)) for row in rows]
        values = [(a, v) for a, v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(values) >= 2 and all(0 <= v <= 1 for _, v in values):
            points_text = " ".join(f"{a:.4f},{1 - v:.4f}" for a, v in values)
            curves.append(Curve(name, _label(name), points_text, f"curve-{i % 6}"))
    drawn = {curve.name for curve in curves}

    def cell(name: str, value) -> str:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return "—"
        return f"{value * 100:.1f}%" if name in drawn else f"{value:g}"

    table = [{"aggressiveness": row["aggressiveness"], "values": [cell(c, row.get(c)) for c in columns]}
             for row in rows]
    return OperatingChart(curves, table, [_label(c) for c in columns], source)
