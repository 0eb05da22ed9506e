from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from detection.engine.recognizer import MIN_WINDOW_S
from detection.lab import evaluate
from detection.lab.train_words import transcript_dir


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise CommandError(f"--aggressiveness: {exc}") from exc
    if not values or any(not 0 <= v <= 1 for v in values):
        raise CommandError("--aggressiveness takes values between 0 and 1, comma-separated")
    return values


class Command(BaseCommand):
    help = "Evaluate the detector and the Asterisk app_amd baseline on a labelled corpus split."

    def add_arguments(self, parser):
        parser.add_argument("corpus", type=Path, help="Corpus folder (labels.jsonl and clips/).")
        parser.add_argument("--aggressiveness", default="0,0.25,0.5,0.75,1", help="Comma-separated values.")
        parser.add_argument("--split", default="test", choices=["test", "train", "all"])
        parser.add_argument("--out", type=Path, default=None, help="Folder for figures.json, runs.jsonl, curve.png.")
        parser.add_argument("--workers", type=int, default=2, help="Processes.")
        parser.add_argument("--limit", type=int, default=None, help="Only the first N clips of the split.")
        parser.add_argument("--recognizer", action="store_true", help="Add the speech recognizer stage.")
        parser.add_argument("--recognizer-model-dir", default=None, help="Whisper model folder (CTranslate2).")
        parser.add_argument("--transcript-cache", type=Path, default=None,
                            help="Folder caching transcripts per clip (default: CORPUS/transcripts-<model folder "
                                 "name>-4-10s, the default model's name holding its adapter's hash; 4-10s are the "
                                 "encoder's shortest and longest windows).")

    def handle(self, *args, corpus: Path, aggressiveness: str, split: str, out: Path | None, workers: int,
               limit: int | None, recognizer: bool, recognizer_model_dir: str | None,
               transcript_cache: Path | None, **options):
        if not (corpus / "labels.jsonl").exists():
            raise CommandError(f"{corpus / 'labels.jsonl'} not found: generate a corpus with amd_corpus")
        spec = None
        if recognizer:
            spec = {"model_dir": recognizer_model_dir,
                    "cache_dir": str(transcript_cache or transcript_dir(corpus, recognizer_model_dir, MIN_WINDOW_S))}
        figures, results = evaluate.evaluate(corpus, _floats(aggressiveness), None if split == "all" else split,
                                             workers=max(1, workers), limit=limit, recognizer_spec=spec,
                                             progress=self.stderr.write)
        self.stdout.write(evaluate.table(figures))
        for name, fig in figures["systems"].items():
            self.stdout.write(f"\n{name} confusion (rows: truth, columns: decision)")
            self.stdout.write(evaluate.confusion_text(fig["confusion"]))
            self.stdout.write(evaluate.source_text(fig))
        if out is not None:
            evaluate.write_outputs(figures, results, out)
            self.stdout.write(f"\nWrote {out / 'figures.json'}, {out / 'runs.jsonl'} and {out / 'curve.png'}")
