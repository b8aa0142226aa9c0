"""Tokenizers for the randomly initialised demo models, trained on a fold's training reports only.

Why: a hub tokenizer is unavailable offline and a tiny in-domain WordPiece vocabulary keeps sequences short
(fast on CPU). Two conventions: BART (<s>=0, <pad>=1, </s>=2, <unk>=3) for the report generator and BERT
([PAD]=0, [UNK], [CLS], [SEP], [MASK]) for the text encoder, so either slots into the stock model classes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from radgen.constants import CLASSES

BART_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
TAG_TOKENS = tuple(f"<{c}>" for c in CLASSES)  # report-generator control tokens, one per class


def _wordpiece(texts: Iterable[str], vocab_size: int, specials: tuple[str, ...], unk: str) -> Tokenizer:
    """Deterministic WordPiece: specials, every character (plain and ##-continuation), then whole words by
    frequency (ties alphabetical) up to vocab_size.

    Why not `trainers.WordPieceTrainer`: its tie-breaking follows Rust hash-map order, so two trainings on the
    same reports can give different vocabularies, which would break same-seed reproducibility and resume.
    """
    normalizer = normalizers.BertNormalizer(lowercase=False, clean_text=True, handle_chinese_chars=False)
    pre = pre_tokenizers.BertPreTokenizer()
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(w for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(text or "")))
    chars = sorted({c for w in counts for c in w})
    vocab: dict[str, int] = {}
    for token in [*specials, *chars, *(f"##{c}" for c in chars)]:
        vocab.setdefault(token, len(vocab))
    for word, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(vocab) >= vocab_size:
            break
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token=unk, max_input_chars_per_word=100))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.WordPiece()
    return tok


def train_report_tokenizer(
    texts: Iterable[str], vocab_size: int, max_length: int, extra_specials: Iterable[str] = ()
) -> PreTrainedTokenizerFast:
    """WordPiece tokenizer with BART's special-token ids, for the report generator (+ extra special tokens,
    e.g. the class control tokens, dropped when decoding with skip_special_tokens)."""
    extra = tuple(extra_specials)
    tok = _wordpiece(texts, vocab_size, BART_SPECIALS + extra, "<unk>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_max_length=max_length,
        clean_up_tokenization_spaces=True,
        additional_special_tokens=list(extra),
    )


def train_text_tokenizer(texts: Iterable[str], vocab_size: int, max_length: int) -> PreTrainedTokenizerFast:
    """WordPiece tokenizer with BERT's special tokens, for the text encoder."""
    tok = _wordpiece(texts, vocab_size, BERT_SPECIALS, "[UNK]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        unk_token="[UNK]",
        mask_token="[MASK]",
        model_max_length=max_length,
        clean_up_tokenization_spaces=True,
    )


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """Load a tokenizer saved with save_pretrained (JSON files only, nothing unpickled)."""
    return AutoTokenizer.from_pretrained(str(path))
