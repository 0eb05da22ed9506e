from collections import Counter
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from detection.lab import corpus


class Command(BaseCommand):
    help = "Generate the labelled telephone corpus (8 kHz μ-law clips and labels.jsonl) deterministically."

    def add_arguments(self, parser):
        parser.add_argument("out", type=Path, help="Output folder (created).")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--count", type=int, default=1200, help="Number of clips.")
        parser.add_argument("--test-share", type=float, default=0.4, help="Share of clips in the held-out split.")

    def handle(self, *args, out: Path, seed: int, count: int, test_share: float, **options):
        if count < 1:
            raise CommandError("--count must be at least 1")
        if not 0 < test_share < 1:
            raise CommandError("--test-share must be between 0 and 1")
        if not corpus.ASTERISK_DIR.exists():
            raise CommandError(f"{corpus.ASTERISK_DIR} is missing: apt-get install asterisk-core-sounds-en-wav")
        tally: Counter = Counter()
        for clip in corpus.generate(out, count=count, seed=seed, test_share=test_share):
            tally[(clip.answered_by, clip.split)] += 1
            if sum(tally.values()) % 100 == 0:
                self.stderr.write(f"{sum(tally.values())}/{count} clips")
        self.stdout.write(f"Wrote {count} clips to {out} (labels: {out / 'labels.jsonl'})")
        for label in corpus.CLASS_SHARES:
            self.stdout.write(f"  {label:17s} train {tally[(label, 'train')]:4d}  test {tally[(label, 'test')]:4d}")
