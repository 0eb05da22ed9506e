"""Geometry of the timeline and the overview charts."""

import pytest

from detection import timeline


def _bars(tl, lane):
    return next(item for item in tl.lanes if item.key == lane).bars


def test_evidence_is_placed_in_percent_of_the_span():
    tl = timeline.build_timeline([{"type": "speech", "start_ms": 500, "end_ms": 1500}], decision_ms=2000,
                                 answered_by="human")
    assert tl.span_ms == 2500  # 2000 ms of content + 500 ms of room, on a 250 ms grid
    (bar,) = _bars(tl, "speech")
    assert (bar.x, bar.width) == ("20.000", "40.000")
    (marker,) = tl.markers
    assert (marker.kind, marker.x, marker.label) == ("decision", "80.000", "human · 2 s")
    assert marker.anchor == "end"
    assert [tick.label for tick in tl.ticks] == ["0", "0.5", "1", "1.5", "2", "2.5 s"]


def test_lanes_speech_and_tones_always_others_when_present():
    assert [lane.key for lane in timeline.build_timeline([], 100).lanes] == ["speech", "tone"]
    tl = timeline.build_timeline([
        {"type": "silence", "start_ms": 0, "end_ms": 300},
        {"type": "sit", "start_ms": 10, "end_ms": 290, "freqs_hz": [914, 1371, 1777], "label": "IC"},
        {"type": "phrase", "start_ms": 400, "end_ms": 900, "text": "not in service"},
        {"type": "music", "start_ms": 100, "end_ms": 200},
    ], 900)
    assert [lane.key for lane in tl.lanes] == ["speech", "tone", "silence", "phrase", "music"]
    assert _bars(tl, "tone")[0].title == "sit 0.01 s–0.29 s (914/1371/1777 Hz, IC)"
    assert _bars(tl, "phrase")[0].text == "“not in service”"
    ys = [lane.y for lane in tl.lanes]
    assert ys == sorted(ys) and len(set(ys)) == len(ys)


def test_malformed_evidence_is_skipped_and_points_get_a_sliver():
    tl = timeline.build_timeline(["junk", {"type": "speech"}, {"type": "speech", "start_ms": -5, "end_ms": 10},
                                  {"type": "beep", "start_ms": 1000},
                                  {"type": "speech", "start_ms": 700, "end_ms": 100}], 1000)
    assert sum(len(lane.bars) for lane in tl.lanes) == 2
    assert _bars(tl, "tone")[0].width == f"{timeline.MIN_BAR_PERCENT:.3f}"
    assert _bars(tl, "speech")[0].width == f"{timeline.MIN_BAR_PERCENT:.3f}"


def test_the_audio_length_bounds_the_span_once_everything_fits():
    evidence = [{"type": "speech", "start_ms": 0, "end_ms": 800}]
    assert timeline.build_timeline(evidence, 900, audio_ms=1000).span_ms == 1000
    assert timeline.build_timeline(evidence, 900, audio_ms=None).span_ms == 2000
    assert timeline.build_timeline(evidence, 900, audio_ms=60_000).span_ms == 2000
    assert timeline.build_timeline(evidence, 4000, audio_ms=3000).span_ms == 5000


def test_the_message_end_gets_its_own_marker_row():
    tl = timeline.build_timeline([], 1000, "voicemail", {"answered_by_twilio": "machine_end_beep",
                                                         "message_end_ms": 4000})
    assert [m.kind for m in tl.markers] == ["decision", "message-end"]
    assert tl.markers[0].label_y < tl.markers[1].label_y < tl.plot_top
    assert tl.markers[1].label == "machine_end_beep · 4 s"


def test_breakdown_keeps_the_vocabulary_order_and_scales_to_the_largest():
    rows = timeline.breakdown({"voicemail": 2, "human": 4, "fax": 0})
    assert [(r.answered_by, r.count, r.share, r.width) for r in rows] == [
        ("human", 4, "66.7", "100.000"), ("voicemail", 2, "33.3", "50.000")]
    assert timeline.breakdown({}) == []


def test_histogram_heights_follow_the_counts():
    counts = [0, 2, 4, 0, 0, 0, 0, 0, 1]
    bars = timeline.histogram(counts)
    assert [b.height for b in bars][:3] == ["0.000", "50.000", "100.000"]
    assert bars[1].title == "2 decided in 0.25–0.5 s" and bars[-1].title == "1 decided after 5 s"
    assert [b.label for b in bars] == ["0.25", "0.5", "0.75", "1", "1.5", "2", "3", "5", "5+"]
    with pytest.raises(ValueError):
        timeline.histogram([1, 2])


def test_operating_chart_draws_rates_and_tabulates_everything():
    chart = timeline.operating_chart([
        {"aggressiveness": 1.0, "machine_recall": 0.97, "median_ms": 900},
        {"aggressiveness": 0.0, "machine_recall": 0.80, "median_ms": 2100},
        {"aggressiveness": 2.0, "machine_recall": 0.5},
    ])
    assert [curve.name for curve in chart.curves] == ["machine_recall"]
    assert chart.curves[0].points == "0.0000,0.2000 1.0000,0.0300"
    assert chart.columns == ["Machines detected", "Median ms"]
    assert [row["aggressiveness"] for row in chart.table] == [0.0, 1.0]
    assert chart.table[0]["values"] == ["80.0%", "2100"]
    assert timeline.operating_chart({"points": "nope"}) is None
    assert timeline.operating_chart([{"aggressiveness": "high"}]) is None


def test_the_message_ends_evidence_is_drawn_once():
    beep = {"type": "beep", "start_ms": 4000, "end_ms": 4400, "freq_hz": 1000}
    tl = timeline.build_timeline([{"type": "speech", "start_ms": 0, "end_ms": 3000}, dict(beep)], 3000, "voicemail",
                                 {"answered_by_twilio": "machine_end_beep", "message_end_ms": 4400,
                                  "evidence": [dict(beep)]})
    assert len(_bars(tl, "tone")) == 1 and _bars(tl, "tone")[0].kind == "beep"
    tl = timeline.build_timeline([{"type": "speech", "start_ms": 0, "end_ms": 3000}], 3000, "voicemail",
                                 {"answered_by_twilio": "machine_end_beep", "message_end_ms": 4400,
                                  "evidence": [beep, "junk"]})
    assert len(_bars(tl, "tone")) == 1


def test_operating_chart_reads_the_evaluations_figures():
    figures = {"corpus": "x", "systems": {
        "asterisk-amd": {"people_called_machine": 0.2, "machine_recall": 0.9},
        "pyai a=0.25": {"aggressiveness": 0.25, "people_called_machine": 0.0, "machine_recall": 0.81,
                        "unknown_rate": 0.12, "machine_decision_ms_after_onset": {"p50": 2900, "p90": 3400},
                        "confusion": {"human": {"human": 3}}},
        "pyai a=0.9": {"aggressiveness": 0.9, "people_called_machine": 0.03, "machine_recall": 0.97,
                       "unknown_rate": 0.01, "machine_decision_ms_after_onset": {"p50": 1300, "p90": 1900}},
    }}
    chart = timeline.operating_chart(figures, source="figures.json")
    assert [c.label for c in chart.curves] == ["People called machine", "Machines detected", "Unknown"]
    assert chart.curves[1].points == "0.2500,0.1900 0.9000,0.0300"
    assert chart.columns[-1] == "Machine decision p50 (ms after speech onset)"
    assert [row["values"][-1] for row in chart.table] == ["2900", "1300"]
