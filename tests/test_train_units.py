"""Units of the training engine checked by hand (issue 12): the LR schedule, the weight average, the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from timm.utils import ModelEmaV3

from radgen.models.losses import ShardNorm, batch_mean, cross_entropy
from radgen.train.ema import WeightEMA
from radgen.train.optim import build_scheduler


class Tied(torch.nn.Module):
    """An embedding tied to an output projection (as in BART), a float buffer and an integer buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(3, 2)
        self.out = torch.nn.Linear(2, 3, bias=False)
        self.out.weight = self.emb.weight
        self.other = torch.nn.Linear(2, 2)
        self.register_buffer("running", torch.zeros(2))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))


def _lrs(schedule: str, warmup_epochs: float, epochs: int, spe: int) -> list[float]:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = build_scheduler(
        opt, {"warmup_epochs": warmup_epochs, "epochs": epochs, "lr_schedule": schedule}, spe
    )
    out = []
    for _ in range(epochs * spe):
        out.append(opt.param_groups[0]["lr"])  # the rate the optimizer step would use
        opt.step()
        sched.step()
    return out


def test_schedule_by_hand():
    # 3 epochs of 2 steps, warm-up 1 epoch (W=2): (k+1)/W, then 1 / then (T-k)/(T+1-W) with T=6
    assert _lrs("constant", 1, 3, 2) == pytest.approx([0.5, 1, 1, 1, 1, 1])
    assert _lrs("linear", 1, 3, 2) == pytest.approx([0.5, 1, 4 / 5, 3 / 5, 2 / 5, 1 / 5])
    assert _lrs("constant", 0, 2, 2) == pytest.approx([1, 1, 1, 1])
    assert min(_lrs("linear", 0, 2, 3)) > 0  # no step of the run at lr 0
    with pytest.raises(ValueError, match="lr_schedule"):
        _lrs("cosine", 0, 1, 1)


def test_weight_average_by_hand():
    torch.manual_seed(0)
    model, decay = Tied(), 0.9
    start = {k: v.clone() for k, v in model.state_dict().items()}
    ema = WeightEMA(model, decay)
    plain = ModelEmaV3(model, decay=decay)  # timm as it is: lerps a tied tensor once per name
    steps = []
    for _ in range(2):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
            model.running.add_(2.0)
            model.count.add_(1)
        steps.append({k: v.clone() for k, v in model.state_dict().items()})
        ema.update(model)
        plain.update(model)
    with ema.averaged(model) as m:
        got = m.state_dict()
        assert m is not model
    for k in ("emb.weight", "out.weight", "other.weight", "other.bias", "running"):
        expected = start[k]
        for s in steps:
            expected = decay * expected + (1 - decay) * s[k]
        assert torch.allclose(got[k], expected, atol=1e-6), k
    assert int(got["count"]) == 2  # integer buffers are copied
    assert not torch.allclose(plain.module.state_dict()["emb.weight"], got["emb.weight"], atol=1e-4)
    off = WeightEMA(model, 0.0)
    off.update(model)
    with off.averaged(model) as m:
        assert m is model and off.state_tensors() == {}


def test_loss_over_shards_equals_the_global_batch_loss():
    """DDP: each process's loss under ShardNorm, averaged over processes (what DDP does to gradients), equals the
    one-process loss of the global batch, class-weighted and not; per-process means would not."""
    logits = torch.tensor(
        [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 1.0, 0.0], [0.5, 0.0, 2.0]]
    )
    labels = torch.tensor([0, 2, 2, 1, 2])
    w = torch.tensor([1.0, 2.0, 4.0])
    per_sample = torch.tensor([1.0, 3.0, 5.0, 2.0, 7.0])
    shards = [torch.tensor([0, 2, 4]), torch.tensor([1, 3])]  # rank::2, unequal sizes
    for weight in (w, None):
        total = float(w[labels].sum()) if weight is not None else len(labels)
        norm = ShardNorm(world=2, n=len(labels), class_weight_sum=total)
        parts = [cross_entropy(logits[i], labels[i], weight, norm) for i in shards]
        assert float(sum(parts) / 2) == pytest.approx(float(F.cross_entropy(logits, labels, weight=weight)))
        naive = [cross_entropy(logits[i], labels[i], weight) for i in shards]
        assert float(sum(naive) / 2) != pytest.approx(float(F.cross_entropy(logits, labels, weight=weight)))
    norm = ShardNorm(world=2, n=5, class_weight_sum=0.0)
    assert float(sum(batch_mean(per_sample[i], norm) for i in shards) / 2) == pytest.approx(3.6)


def test_token_tables_equal_tokenising_each_batch(data):
    """Tokenised once and sliced per batch (radgen.train.tokens) == tokenised per batch, also after a mix."""
    import model_fixtures as mf
    import numpy as np

    from radgen.models import build_model
    from radgen.train.tokens import mixed_text_table, report_table, text_table

    reports = list(data.part(mf.FOLD, "train")["report"])
    model = build_model(
        mf.variant("radgen")["model"], image_size=mf.IMAGE_SIZE, train_reports=reports, metadata={}
    )
    texts = list(reports)
    replaced = {1: "x", 4: reports[0] + " " + reports[1], 7: ""}  # shorter, longer, empty
    mixed = mixed_text_table(model, text_table(model, texts), texts, replaced)
    texts = [replaced.get(i, t) for i, t in enumerate(texts)]
    labels = report_table(model, reports)
    rng = np.random.default_rng(0)
    for idx in [np.array([1, 4, 7]), np.array([0, 2]), rng.choice(len(texts), 8, replace=False)]:
        direct = model.processor.tokenize_text([texts[i] for i in idx])
        ids, mask = mixed.batch(idx)
        assert torch.equal(ids, direct["input_ids"]) and torch.equal(mask, direct["attention_mask"])
        assert torch.equal(labels.batch(idx)[0], model.processor.tokenize_reports([reports[i] for i in idx]))


def test_early_stopping_auc_is_the_evaluation_macro_auc_and_ranks_a_one_class_part_at_chance():
    from sklearn.metrics import roc_auc_score

    from radgen.train.metrics import early_stopping_auc

    rng = np.random.default_rng(0)
    labels = np.array([0, 1, 2, 2, 1, 0, 2, 1])
    probs = rng.dirichlet(np.ones(3), size=len(labels))
    by_sklearn = np.mean([roc_auc_score(labels == c, probs[:, c]) for c in range(3)])
    assert early_stopping_auc(labels, probs) == pytest.approx(by_sklearn, abs=1e-12)
    assert early_stopping_auc(np.zeros(4, dtype=int), probs[:4]) == 0.5  # no class has an AUC


def test_foreach_optimiser_and_clipping_equal_the_per_tensor_ones():
    """build_optimizer / backward_and_step use torch's foreach kernels (one call per group, not per tensor): on
    a CPU they must give the weights of the per-tensor path bit for bit, clipping active."""
    from radgen.train.optim import backward_and_step, build_optimizer

    class Grouped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.image_encoder = torch.nn.Sequential(
                torch.nn.Linear(5, 7), torch.nn.GELU(), torch.nn.Linear(7, 4)
            )
            self.head = torch.nn.Linear(4, 3)

        def parameter_groups(self) -> dict[str, list[torch.nn.Parameter]]:
            return {
                "image_encoder": list(self.image_encoder.parameters()),
                "fusion_head": list(self.head.parameters()),
            }

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.image_encoder(x))

    training = {"lr": {"image_encoder": 3e-3, "fusion_head": 1e-2}, "weight_decay": 0.05}
    x, y = torch.randn(16, 5, generator=torch.Generator().manual_seed(1)), torch.arange(16) % 3
    torch.manual_seed(0)
    fast = Grouped()
    slow = Grouped()
    slow.load_state_dict(fast.state_dict())
    opt_fast = build_optimizer(fast, training)
    assert all(g["foreach"] for g in opt_fast.param_groups)
    opt_slow = torch.optim.AdamW(
        [{"params": ps, "lr": training["lr"][g]} for g, ps in slow.parameter_groups().items()],
        weight_decay=0.05,
        foreach=False,
    )
    for _ in range(20):
        backward_and_step(fast, F.cross_entropy(fast(x), y), opt_fast, None, clip=0.05)
        opt_slow.zero_grad(set_to_none=True)
        F.cross_entropy(slow(x), y).backward()
        norm = torch.nn.utils.clip_grad_norm_(slow.parameters(), 0.05, foreach=False)
        assert norm > 0.05  # clipping is active
        opt_slow.step()
    for a, b in zip(fast.parameters(), slow.parameters(), strict=True):
        assert torch.equal(a, b)
