"""Report generator: adapter on the image tokens + BART decoder cross-attending to them, and its class conditioning.

Class-conditioned decoding lives here, with the decoder that uses it: the image tagger (a linear classifier on
z_img), its prior correction (`logit_adjust`) and tag forcing choose the control token the report starts from.

transformers 5 pitfall (DESIGN.md): BartForCausalLM.generate(encoder_hidden_states=...) breaks, so we use
BartForConditionalGeneration and hand it `encoder_outputs=BaseModelOutput(adapted_image_tokens)`; its text
encoder is never run, so its layers are dropped to keep parameter counts and memory honest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import BartForConditionalGeneration, GenerationConfig
from transformers.modeling_outputs import BaseModelOutput
from transformers.models.bart.modeling_bart import shift_tokens_right

from radgen.models.greedy import greedy_decode, plain_greedy_config


def grid_positions(n_tokens: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """2-D sine/cosine position codes [n_tokens, dim] of a square token grid, row-major (DETR-style).

    Why: the decoder reads the image tokens through cross-attention, which is blind to order, and Swin's relative
    position bias gives its tokens no absolute place; without codes a report cannot tell right from left or an
    upper from a lower zone. Half the channels code the row, half the column; a token count that is not a
    square gets 1-D codes over its index.
    """
    side = math.isqrt(n_tokens)
    rows, cols = (
        (torch.arange(n_tokens) // side, torch.arange(n_tokens) % side)
        if side * side == n_tokens
        else (torch.arange(n_tokens), torch.arange(n_tokens))
    )
    quarter = dim // 4
    freqs = torch.exp(-math.log(10000.0) * torch.arange(quarter, dtype=torch.float32) / max(quarter, 1))
    parts = []
    for coord in (rows, cols):
        angles = coord.float().unsqueeze(1) * freqs.unsqueeze(0)
        parts += [angles.sin(), angles.cos()]
    codes = torch.cat(parts, dim=1)
    codes = F.pad(codes, (0, dim - codes.shape[1]))  # dim not a multiple of 4
    return codes.to(device)


class Tagger(nn.Module):
    """Image tagger: class logits from z_img; its prior-adjusted argmax is the class the decoder is told.

    `logit_adjust` is added before the argmax (never to the logits the tagger learns from), set by training from
    training.tag_prior: zero for a balanced decision after class-balanced batches; log(natural prior / batch
    prior) for a decision under the real frequencies.
    """

    def __init__(self, dim: int, n_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, n_classes)
        self.register_buffer("logit_adjust", torch.zeros(n_classes))

    def tags_from_logits(self, tag_logits: torch.Tensor) -> torch.Tensor:
        """The class the generator is told: argmax of the prior-adjusted tagger logits (detached)."""
        return (tag_logits.detach().float() + self.logit_adjust).argmax(-1)

    def forward(
        self, z_img: torch.Tensor, tag_targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(tag_logits [B,C], tags [B]); tag_targets [B] >= 0 replace the tagger's choice ("tag forcing")."""
        tag_logits = self.linear(z_img)
        tags = self.tags_from_logits(tag_logits)
        if tag_targets is not None:
            tags = torch.where(tag_targets >= 0, tag_targets, tags)
        return tag_logits, tags


@dataclass
class GeneratorOutput:
    """tag_logits [B,C] (None without a tagger); report_loss [B] (None without reference reports)."""

    tag_logits: torch.Tensor | None = None
    report_loss: torch.Tensor | None = None


# Stated so that nothing is inherited: `generate` fills every unset field from the model's generation_config, and
# a hub checkpoint brings its own (facebook/bart-base: trigram blocking and beam settings meant for summaries),
# which a model rebuilt from its saved config.json would no longer have. Decoding is what the Methods say,
# greedy or beam search, the same in training and at prediction.
PLAIN_SEARCH = {
    "min_length": 0,
    "no_repeat_ngram_size": 0,
    "encoder_no_repeat_ngram_size": 0,
    "repetition_penalty": 1.0,
    "length_penalty": 1.0,
}


class ReportGenerator(nn.Module):
    """Linear(embed_dim→d_model) + LayerNorm + GELU adapter feeding a BART decoder."""

    def __init__(
        self,
        bart: BartForConditionalGeneration,
        embed_dim: int,
        tag_token_ids: list[int] | None = None,
        token_positions: bool = False,
    ) -> None:
        """`tag_token_ids`: vocabulary ids of one control token per class (<normal>, <pneumonia>, <tb>); when
        given, every report is decoded after its class's control token (see `forward`). `token_positions` adds
        2-D position codes to the adapted image-grid tokens (`grid_positions`)."""
        super().__init__()
        d_model = int(bart.config.d_model)
        self.tag_token_ids = list(tag_token_ids) if tag_token_ids else None
        self.token_positions = bool(token_positions)
        self.adapter = nn.Sequential(nn.Linear(embed_dim, d_model), nn.LayerNorm(d_model), nn.GELU())
        bart.model.encoder.layers = nn.ModuleList()  # unused: the image tokens are the encoder output
        self.bart = bart
        self.tagger: Tagger | None = None

    def add_tagger(self, embed_dim: int, n_classes: int) -> None:
        """Create the image tagger when the generator is class-conditioned (it has control tokens).

        Called by RadGenModel after its fusion is built: the tagger's weights are drawn last, as in checkpoint
        format 1, so the same seed gives the same initial model.
        """
        if self.tag_token_ids is not None:
            self.tagger = Tagger(embed_dim, n_classes)

    def condition(
        self, z_img: torch.Tensor, tag_targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(tag_logits, tags) of the tagger; (None, None) for an unconditioned generator."""
        if self.tagger is None:
            return None, None
        return self.tagger(z_img, tag_targets)

    def conditioned_loss(
        self,
        image_tokens: torch.Tensor,
        z_img: torch.Tensor,
        labels: torch.Tensor | None = None,
        tag_targets: torch.Tensor | None = None,
    ) -> GeneratorOutput:
        """The tagger's logits and, given reference reports (`labels`), their per-report loss under its tags."""
        tag_logits, tags = self.condition(z_img, tag_targets)
        loss = self(image_tokens, labels, z_img, tags) if labels is not None else None
        return GeneratorOutput(tag_logits, loss)

    def encoder_outputs(
        self, image_tokens: torch.Tensor, z_img: torch.Tensor | None = None
    ) -> BaseModelOutput:
        """Adapted image tokens; the pooled z_img, when given, is prepended as one more token (a global summary
        the decoder can attend to, like a CLS token)."""
        adapted = self.adapter(image_tokens)
        if self.token_positions:
            adapted = adapted + grid_positions(adapted.shape[1], adapted.shape[2], adapted.device).to(
                adapted.dtype
            )
        if z_img is not None:
            adapted = torch.cat([self.adapter(z_img.unsqueeze(1)), adapted], dim=1)
        return BaseModelOutput(last_hidden_state=adapted)

    def _tag_ids(self, tags: torch.Tensor) -> torch.Tensor:
        return torch.tensor(self.tag_token_ids, device=tags.device)[tags]

    def forward(
        self,
        image_tokens: torch.Tensor,
        labels: torch.Tensor,
        z_img: torch.Tensor | None = None,
        tags: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Per-report mean token cross-entropy [B] of the reference reports (labels: ids, padding = -100).

        Control token (when `tags` [B] class indices are given): the report is decoded as
        "<s> <class> FINDINGS: ..." with the class token given, not predicted (its loss is masked), like the
        control codes of CTRL (Keskar et al., 2019) or the predicted tags of Jing et al. (2018). At inference the
        image tagger's most likely class is given the same way; the decoder follows a prefix far more reliably
        than an image feature, so the report states the finding the tagger saw.
        """
        cfg = self.bart.config
        if tags is not None and self.tag_token_ids is not None:
            tag_col = self._tag_ids(tags).unsqueeze(1)
            full = torch.cat([labels[:, :1], tag_col, labels[:, 1:]], dim=1)
            decoder_input_ids = shift_tokens_right(full, cfg.pad_token_id, cfg.decoder_start_token_id)
            labels = torch.cat([labels[:, :1], torch.full_like(tag_col, -100), labels[:, 1:]], dim=1)
        else:
            decoder_input_ids = shift_tokens_right(labels, cfg.pad_token_id, cfg.decoder_start_token_id)
        out = self.bart(
            encoder_outputs=self.encoder_outputs(image_tokens, z_img),
            decoder_input_ids=decoder_input_ids,
            use_cache=False,
        )
        token_loss = F.cross_entropy(
            out.logits.float().transpose(1, 2), labels, ignore_index=-100, reduction="none"
        )
        n_tokens = (labels != -100).sum(1).clamp_min(1)
        return token_loss.sum(1) / n_tokens

    @torch.no_grad()
    def generate(
        self,
        image_tokens: torch.Tensor,
        *,
        max_length: int,
        num_beams: int = 1,
        z_img: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Greedy (num_beams 1) or beam-search token ids, deterministic (no sampling), batched.

        The tagger (when there is one) picks each report's control token. Decoding uses the decoder's key/value
        cache and stops the whole batch once every sequence has ended: transformers' `generate`, or for plain
        greedy decoding the same search without its per-step overhead (radgen.models.greedy).
        """
        cfg = self.bart.config
        _, tags = self.condition(z_img) if z_img is not None else (None, None)
        prompt = None
        if tags is not None and self.tag_token_ids is not None:
            b = tags.shape[0]
            prompt = torch.stack(
                [
                    torch.full((b,), cfg.decoder_start_token_id, device=tags.device),
                    torch.full((b,), cfg.bos_token_id, device=tags.device),
                    self._tag_ids(tags),
                ],
                dim=1,
            )
        gen_cfg = GenerationConfig(
            max_length=max_length + (1 if prompt is not None else 0),
            num_beams=num_beams,
            do_sample=False,
            early_stopping=num_beams > 1,
            use_cache=True,
            decoder_start_token_id=cfg.decoder_start_token_id,
            bos_token_id=cfg.bos_token_id,
            eos_token_id=cfg.eos_token_id,
            pad_token_id=cfg.pad_token_id,
            forced_bos_token_id=None if prompt is not None else cfg.bos_token_id,
            forced_eos_token_id=cfg.eos_token_id,
            **PLAIN_SEARCH,
        )
        enc = self.encoder_outputs(image_tokens, z_img)
        greedy = plain_greedy_config(self.bart, gen_cfg)
        if greedy is not None:
            return greedy_decode(self.bart, enc, prompt, config=greedy)
        return self.bart.generate(encoder_outputs=enc, decoder_input_ids=prompt, generation_config=gen_cfg)
