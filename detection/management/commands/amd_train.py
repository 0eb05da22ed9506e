from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from detection.lab import train


class Command(BaseCommand):
    help = "Train the speech classifier on a corpus's train split and export it to ONNX."

    def add_arguments(self, parser):
        parser.add_argument("corpus", type=Path, help="Corpus folder (labels.jsonl and clips/).")
        parser.add_argument("--out", type=Path, default=train.Path(train.__file__).resolve().parents[1] / "engine"
                            / "models", help="Folder for speech_timing.onnx and its metadata.")
        parser.add_argument("--workers", type=int, default=2, help="Processes for feature extraction.")

    def handle(self, *args, corpus: Path, out: Path, workers: int, **options):
        if not (corpus / "labels.jsonl").exists():
            raise CommandError(f"{corpus / 'labels.jsonl'} not found: generate a corpus with amd_corpus")
        try:
            import skl2onnx  # noqa: F401
            import sklearn  # noqa: F401
        except ImportError as exc:
            raise CommandError("training needs requirements-train.txt (scikit-learn, skl2onnx, onnx)") from exc
        train.run(corpus, out, max(1, workers), progress=self.stdout.write)
