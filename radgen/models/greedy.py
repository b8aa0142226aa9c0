"""Greedy decoding of the BART report decoder: transformers' greedy search without its per-step machinery.

Why hand-written: greedy reports are generated for half of the training images every epoch (the text mix) and
for inner validation, so decoding is a quarter of a RadGen-type training job on a CPU (bench/RESULTS.md). With
the demo's tiny decoder a decoding step is dominated by framework time, and `generate`'s own per-step work
(logits processors, stopping criteria, input preparation, output dataclasses) was a fifth of it: 20 % of
`_sample`'s time outside the model's forward (cProfile, 32 images x 64 tokens). This loop calls the same
decoder with the same key/value cache (`EncoderDecoderCache`: self-attention grows one token a step, the
cross-attention keys/values of the image tokens are computed once) and reproduces what `generate` does for a
greedy, non-sampling configuration, token for token (tests compare it with `generate` on the same weights):

- the prompt (decoder start token, or a given prefix) is fed in one call, then one new token per call;
- `forced_bos_token_id` fixes the first generated token, `forced_eos_token_id` the last one at `max_length`;
- a sequence that emitted `eos_token_id` continues with `pad_token_id`; the batch stops when all have ended;
- `max_length` counts the whole sequence, prompt included.

`plain_greedy_config` decides when this applies: the configuration `generate` would run (the one given, its
unset fields filled from the model's `generation_config` as `generate` fills them; a pretrained BART-base may
bring e.g. `no_repeat_ngram_size`) must be greedy and set nothing else that changes the tokens; otherwise, and
for beam search, `generate` runs.
"""

from __future__ import annotations

import copy

import torch
from transformers import BartForConditionalGeneration, GenerationConfig
from transformers.cache_utils import DynamicCache, EncoderDecoderCache
from transformers.modeling_outputs import BaseModelOutput

# Settings that would make `generate` pick other tokens, or return something else, than the loop below.
_OTHER_BEHAVIOUR = (
    "min_length",
    "min_new_tokens",
    "max_new_tokens",
    "repetition_penalty",
    "encoder_repetition_penalty",
    "no_repeat_ngram_size",
    "encoder_no_repeat_ngram_size",
    "bad_words_ids",
    "suppress_tokens",
    "begin_suppress_tokens",
    "exponential_decay_length_penalty",
    "sequence_bias",
    "forced_decoder_ids",
    "stop_strings",
    "guidance_scale",
    "num_return_sequences",
    "return_dict_in_generate",
    "output_scores",
    "output_logits",
    "watermarking_config",
    "remove_invalid_values",
    "max_time",
    "prompt_lookup_num_tokens",
    "cache_implementation",
)


def plain_greedy_config(
    bart: BartForConditionalGeneration, given: GenerationConfig
) -> GenerationConfig | None:
    """The configuration `generate` would use for `given` (as transformers 5 merges it with the model's), or
    None when it is not plain greedy decoding (sampling, beams, or any setting of `_OTHER_BEHAVIOUR`)."""
    merged = copy.deepcopy(given)
    defaults = bart.generation_config._get_default_generation_params()
    merged.update(**bart.generation_config.to_dict(), defaults_only=True, allow_custom_entries=True)
    merged.update(**defaults, defaults_only=True)
    if merged.do_sample or int(merged.num_beams or 1) != 1 or not isinstance(merged.eos_token_id, int):
        return None
    for key in _OTHER_BEHAVIOUR:
        if getattr(merged, key, None) not in (None, defaults.get(key)):
            return None
    return merged


@torch.no_grad()
def greedy_decode(
    bart: BartForConditionalGeneration,
    encoder_outputs: BaseModelOutput,
    prompt: torch.Tensor | None,
    *,
    config: GenerationConfig,
) -> torch.Tensor:
    """Token ids [B, <= max_length] of greedy decoding under `config` (from plain_greedy_config), the prompt
    (default: the decoder start token) first."""
    memory = encoder_outputs.last_hidden_state
    batch = memory.shape[0]
    if prompt is None:
        start = int(config.decoder_start_token_id)
        prompt = torch.full((batch, 1), start, dtype=torch.long, device=memory.device)
    max_length = int(config.max_length)
    forced_bos_token_id, forced_eos_token_id = config.forced_bos_token_id, config.forced_eos_token_id
    eos, pad = int(config.eos_token_id), int(config.pad_token_id)
    ids, step_input = prompt, prompt
    cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
    finished = torch.zeros(batch, dtype=torch.bool, device=memory.device)
    while ids.shape[1] < max_length:
        hidden = bart.model.decoder(
            input_ids=step_input, encoder_hidden_states=memory, cache=cache, use_cache=True
        ).last_hidden_state[:, -1:]
        logits = bart.lm_head(hidden) + bart.final_logits_bias.to(hidden.device)
        length = ids.shape[1]
        if length == 1 and forced_bos_token_id is not None:
            token = torch.full_like(finished, int(forced_bos_token_id), dtype=torch.long)
        elif length == max_length - 1 and forced_eos_token_id is not None:
            token = torch.full_like(finished, int(forced_eos_token_id), dtype=torch.long)
        else:
            token = logits[:, -1, :].float().argmax(dim=-1)
        token = torch.where(finished, pad, token)
        ids = torch.cat([ids, token[:, None]], dim=1)
        finished |= token == eos
        if bool(finished.all()):
            break
        step_input = token[:, None]
    return ids
