"""PETER (Li, Zhang and Chen, ACL 2021: "Personalized Transformer for Explainable Recommendation"), written
here from the paper, trained inside the harness on the view's training rows.

The model: a small Transformer encoder trained from scratch over the sequence [user, item, (feature,) <bos>,
w1 .. wn]. User, item and word embeddings share one width d, summed with sinusoidal positions. The PETER
attention mask is causal except that the user position also sees the item position. Three heads read the
last layer: the rating from the user position (an MLP: linear, sigmoid, linear), the "context" distribution
over words from the item position, and the next word from every word position (the one output projection of
the context and the word heads is shared). Loss = λ_e·L_e + λ_c·L_c + λ_r·L_r: L_e the explanation's word NLL,
L_c the NLL of each of its words under the context distribution (the explanation as a bag of words), L_r the
rating MSE; the paper's defaults (1.0, 1.0, 0.1), 2 layers, 2 heads, d = 512, feed-forward 2048, dropout 0.2,
the 20,000 most frequent words, explanations cut to 15 words, batch 128, SGD with lr 1.0, gradient norm
clipped at 1.0, lr × 0.25 after an epoch whose validation loss (L_e + L_r) does not improve, and a stop at the
5th such epoch, counted over the whole run as the published code does (the best epoch's weights are kept). Explanations are decoded greedily.

``peter+`` (PETER+ in the paper) feeds one feature after the item. In training it is the training
reference's feature; when explaining it is the test reference's feature, which only the explain task can
give (``oracle_feature``): the paper's setting, marked on the board as given the ground-truth feature.

Where this differs from the published code, by choice: the vocabulary and the features come from the
training explanations only (the published loader counts every review, test ones included); validation
pairs are the split's validation rows with a reference explanation.

``peter`` is also a recommender (rating prediction from the user position; ranking by predicted rating).
"""
from __future__ import annotations

import logging
import math
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from xrbench.params import Param
from xrbench.protocols import Explainer, Explanation, Recommender
from xrbench.view import TrainView

from . import trainer
from .training import torch_threads

log = logging.getLogger("xrbench")

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
TRAINING_VERSION = "1"  # part of the checkpoint and cache keys: bump whenever training or the model changes
SPECIALS = (PAD, BOS, EOS, UNK)


class Vocab:
    """The ``size`` most frequent words of the training explanations (ties by word), the specials first,
    then every training feature (PETER+ feeds features as words)."""

    def __init__(self, sentences: Sequence[str], features: Sequence[str], size: int) -> None:
        counts = Counter(w for s in sentences for w in s.split())
        words = [w for w, _ in sorted(counts.items(), key=lambda x: (-x[1], x[0]))[:size]]
        self.words = list(SPECIALS) + [w for w in words if w not in SPECIALS]
        have = set(self.words)
        self.words += sorted({f for f in features if f and f not in have})
        self.index = {w: k for k, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, sentence: str, max_words: int) -> list[int]:
        """[<bos>, w1 .. w_max_words, <eos>], padded to max_words + 2."""
        unk = self.index[UNK]
        ids = [self.index[BOS]] + [self.index.get(w, unk) for w in sentence.split()[:max_words]] + [self.index[EOS]]
        return ids + [self.index[PAD]] * (max_words + 2 - len(ids))

    def decode(self, ids: Sequence[int], max_words: int | None = None) -> str:
        """The words up to <eos>, at most ``max_words`` of them."""
        out = []
        for k in ids:
            w = self.words[int(k)]
            if w == EOS:
                break
            if w not in (PAD, BOS):
                out.append(w)
        return " ".join(out[:max_words])


def build_model(n_users: int, n_items: int, n_words: int, src_len: int, max_words: int, p: dict[str, Any]) -> Any:
    import torch
    from torch import nn

    class PositionalEncoding(nn.Module):
        def __init__(self, d: int, dropout: float, max_len: int) -> None:
            super().__init__()
            self.dropout = nn.Dropout(dropout)
            pos = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
            div = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
            pe = torch.zeros(max_len, d)
            pe[:, 0::2] = torch.sin(pos * div)
            pe[:, 1::2] = torch.cos(pos * div)
            self.register_buffer("pe", pe.unsqueeze(0), persistent=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.dropout(x + self.pe[:, : x.size(1)])

    class PETER(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            d = p["d_model"]
            self.d, self.src_len = d, src_len
            self.user = nn.Embedding(n_users, d)
            self.item = nn.Embedding(n_items, d)
            self.word = nn.Embedding(n_words, d)
            self.pos = PositionalEncoding(d, p["dropout"], src_len + max_words + 2)
            layer = nn.TransformerEncoderLayer(d, p["n_heads"], p["d_ff"], p["dropout"], batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, p["n_layers"], enable_nested_tensor=False)
            self.hidden2token = nn.Linear(d, n_words)
            self.rating1 = nn.Linear(d, d)
            self.rating2 = nn.Linear(d, 1)
            for emb in (self.user, self.item, self.word):
                nn.init.uniform_(emb.weight, -0.1, 0.1)
            for lin in (self.hidden2token, self.rating1, self.rating2):
                nn.init.uniform_(lin.weight, -0.1, 0.1)
                nn.init.zeros_(lin.bias)

        def mask(self, total: int, device: Any) -> torch.Tensor:
            m = torch.triu(torch.ones(total, total, dtype=torch.bool, device=device), diagonal=1)
            m[0, 1] = False  # the user position also sees the item
            return m

        def forward(self, user: torch.Tensor, item: torch.Tensor, text: torch.Tensor, pad: int,
                    feature: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            """(log word probabilities at the word positions (B, T, V), log context distribution (B, V),
            rating (B,)); ``text`` (B, T) starts with <bos>; ``feature`` (B,) for PETER+."""
            parts = [self.user(user).unsqueeze(1), self.item(item).unsqueeze(1)]
            if feature is not None:
                parts.append(self.word(feature).unsqueeze(1))
            parts.append(self.word(text))
            src = torch.cat(parts, 1) * math.sqrt(self.d)
            src = self.pos(src)
            total = src.size(1)
            key_pad = torch.zeros(src.shape[:2], dtype=torch.bool, device=src.device)
            key_pad[:, self.src_len:] = text == pad
            h = self.encoder(src, mask=self.mask(total, src.device), src_key_padding_mask=key_pad)
            rating = self.rating2(torch.sigmoid(self.rating1(h[:, 0]))).squeeze(-1)
            context = torch.log_softmax(self.hidden2token(h[:, 1]), -1)
            words = torch.log_softmax(self.hidden2token(h[:, self.src_len:]), -1)
            return words, context, rating

        def rating_only(self, user: torch.Tensor, item: torch.Tensor, pad: int) -> torch.Tensor:
            """The rating head over [user, item] alone (what the rating reads: the user position sees only
            the user and the item)."""
            src = torch.cat([self.user(user).unsqueeze(1), self.item(item).unsqueeze(1)], 1) * math.sqrt(self.d)
            h = self.encoder(self.pos(src), mask=self.mask(2, src.device))
            return self.rating2(torch.sigmoid(self.rating1(h[:, 0]))).squeeze(-1)

    return PETER()


class PeterCore:
    """Training and inference of PETER on a view (the explainer and the recommender share it)."""

    needs: ClassVar[tuple] = ("ratings", "text")
    use_feature: ClassVar[bool] = False
    param_rules: ClassVar[dict[str, Param]] = {
        "epochs": Param(ge=1, doc="maximum epochs (early stopping usually ends sooner)"),
        "lr": Param(gt=0, doc="SGD learning rate"), "batch_size": Param(ge=1), "d_model": Param(ge=2),
        "n_heads": Param(ge=1), "n_layers": Param(ge=1), "d_ff": Param(ge=1), "dropout": Param(ge=0, lt=1),
        "vocab_size": Param(ge=1, doc="the most frequent training words kept"),
        "max_words": Param(ge=1, doc="explanations are cut to this many words"),
        "lambda_text": Param(ge=0), "lambda_context": Param(ge=0), "lambda_rating": Param(ge=0),
        "clip": Param(gt=0, doc="gradient norm clipping"), "lr_decay": Param(gt=0, le=1),
        "patience": Param(ge=1, doc="epochs without a better validation loss (counted over the run) before stopping"),
        "train_pairs": Param(ge=0, doc="a seeded subsample of the training pairs (0: all)"),
        "threads": Param(ge=0, doc="torch threads while training (0: the process setting)"),
    }

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"epochs": 100, "lr": 1.0, "batch_size": 128, "d_model": 512, "n_heads": 2, "n_layers": 2,
                "d_ff": 2048, "dropout": 0.2, "vocab_size": 20000, "max_words": 15, "lambda_text": 1.0,
                "lambda_context": 1.0, "lambda_rating": 0.1, "clip": 1.0, "lr_decay": 0.25, "patience": 5,
                "train_pairs": 0, "threads": 0}

    workdir: Path | None = None

    # -- data ---------------------------------------------------------------------------------------
    def _pairs(self, view: TrainView, table: Any, refs: dict[int, Any]) -> tuple[np.ndarray, ...]:
        pos = np.array(sorted(refs), dtype=np.int64)
        u = table["uidx"].to_numpy()[pos] if len(pos) else np.zeros(0, np.int64)
        i = table["iidx"].to_numpy()[pos] if len(pos) else np.zeros(0, np.int64)
        r = table["rating"].to_numpy(np.float32)[pos] if len(pos) else np.zeros(0, np.float32)
        return pos, u, i, r

    def fit(self, view: TrainView) -> None:
        import torch

        p = self.params
        refs = trainer.training_references(view, self.label)
        pos, u, i, r = self._pairs(view, view.train, refs.by_train)
        if p["train_pairs"] and p["train_pairs"] < len(pos):
            keep = np.sort(np.random.default_rng(view.seed).choice(len(pos), p["train_pairs"], replace=False))
            pos, u, i, r = pos[keep], u[keep], i[keep], r[keep]
        sents = [refs.by_train[int(k)].sentence for k in pos]
        feats = [refs.by_train[int(k)].feature for k in pos]
        self.vocab = Vocab(sents, feats, p["vocab_size"])
        self.features = frozenset(refs.vocabulary)
        vpos, vu, vi, vr = self._pairs(view, view.valid, refs.by_valid)
        vsents = [refs.by_valid[int(k)].sentence for k in vpos]
        vfeats = [refs.by_valid[int(k)].feature for k in vpos]
        self.valid_source = "validation rows"
        if not len(vpos):  # no validation reference: a seeded 5% of the training pairs
            cut = np.random.default_rng(view.seed + 1).permutation(len(pos))
            n = max(1, len(pos) // 20)
            v, t = cut[:n], np.sort(cut[n:])
            vu, vi, vr = u[v], i[v], r[v]
            vsents, vfeats = [sents[k] for k in v], [feats[k] for k in v]
            u, i, r, sents, feats = u[t], i[t], r[t], [sents[k] for k in t], [feats[k] for k in t]
            self.valid_source = "5% of the training pairs (no validation reference)"
        self.device = trainer.resolve_device(view.device)
        mw = p["max_words"]
        enc = lambda ss: torch.tensor([self.vocab.encode(s, mw) for s in ss], dtype=torch.long)  # noqa: E731
        fid = lambda fs: torch.tensor([self.vocab.index.get(f, self.vocab.index[UNK]) for f in fs])  # noqa: E731
        train = (torch.as_tensor(u), torch.as_tensor(i), torch.as_tensor(r), enc(sents), fid(feats))
        valid = (torch.as_tensor(vu), torch.as_tensor(vi), torch.as_tensor(vr), enc(vsents), fid(vfeats))
        if p["d_model"] % 2 or p["d_model"] % p["n_heads"]:
            from xrbench.errors import XRBenchError
            raise XRBenchError(f"{self.label}: d_model ({p['d_model']}) must be even and a multiple of n_heads "
                               f"({p['n_heads']})")
        self.src_len = 3 if self.use_feature else 2
        self.pad = self.vocab.index[PAD]
        threads = p["threads"] or None
        with torch_threads(threads):
            torch.manual_seed(view.seed)
            self.model = build_model(view.n_users, view.n_items, len(self.vocab), self.src_len, mw, p).to(self.device)
            self._train(view, train, valid)
        self.n_train, self.n_valid = len(train[0]), len(valid[0])

    def _losses(self, batch: tuple[Any, ...]) -> tuple[Any, Any, Any]:
        import torch.nn.functional as F

        u, i, r, seq, f = (x.to(self.device) for x in batch)
        words, context, rating = self.model(u, i, seq[:, :-1], self.pad, f if self.use_feature else None)
        n_words = words.size(-1)
        t_loss = F.nll_loss(words.reshape(-1, n_words), seq[:, 1:].reshape(-1), ignore_index=self.pad)
        # the explanation's words (and <eos>) as a bag, each under the context distribution: the published code's
        # NLL over the context distribution repeated per position, read by a gather instead of a copy per position
        target = seq[:, 1:-1]
        on = target != self.pad
        c_loss = -(context.gather(1, target) * on).sum() / on.sum().clamp(min=1)
        r_loss = F.mse_loss(rating.float(), r)
        return t_loss, c_loss, r_loss

    def _evaluate(self, data: tuple[Any, ...]) -> tuple[float, float, float]:
        import torch

        self.model.eval()
        sums = np.zeros(3)
        n = len(data[0])
        bs = self.params["batch_size"]
        with torch.no_grad(), trainer.autocast(self.device):
            for s in range(0, n, bs):
                part = tuple(x[s:s + bs] for x in data)
                ls = self._losses(part)
                sums += np.array([float(x) for x in ls]) * len(part[0])
        return tuple(sums / max(n, 1))  # type: ignore[return-value]

    def _train(self, view: TrainView, train: tuple[Any, ...], valid: tuple[Any, ...]) -> None:
        import torch

        p = self.params
        key, final_key = trainer.run_keys(type(self).__name__, TRAINING_VERSION, self.device,
                                          (view.data_hash, view.split_hash, view.seed, len(train[0])), p)
        ckpt = trainer.Checkpoints(self.workdir, key, self.label, final_key)
        final = ckpt.load_final()
        if final is not None:
            self.model.load_state_dict(final["model"])
            self.model.eval()
            self.curve = trainer.curve_from_state(final["curve"])
            self.stopped, self.best_valid, self.epochs_run = str(final["stopped"]), float(final["best"]), int(final["epochs"])
            self.weights_sha256 = trainer.weights_sha256(self.model)
            self.from_cache = True
            return
        state = ckpt.load()
        if state is not None and (int(state["epoch"]) > p["epochs"] or int(state["bad"]) >= p["patience"]):
            log.info("%s: the checkpoint went past these params' stop (epochs, patience): training from the start",
                     self.label)
            state = None
        lr, best, bad, epoch = p["lr"], math.inf, 0, 0
        curve = trainer.Curve()
        best_state = None
        if state is not None:
            self.model.load_state_dict(state["model"])
            best_state = state["best"]
            lr, best, epoch = float(state["lr"]), float(state["best_loss"]), int(state["epoch"])
            curve = trainer.curve_from_state(state["curve"])
            bad = int(state["bad"])
        params = [q for q in self.model.parameters()]
        n = len(train[0])
        bs = p["batch_size"]
        lam = (p["lambda_text"], p["lambda_context"], p["lambda_rating"])
        self.stopped = "max epochs"
        while epoch < p["epochs"] and bad < p["patience"]:
            epoch += 1
            clock = trainer.Timer()
            perm = torch.as_tensor(trainer.start_epoch(view.seed, "main", epoch, n))
            self.model.train()
            sums = np.zeros(3)
            tokens = 0
            bar = trainer.progress((n + bs - 1) // bs, f"{self.label} epoch {epoch}")
            for s in range(0, n, bs):
                idx = perm[s:s + bs]
                batch = tuple(x[idx] for x in train)
                with trainer.autocast(self.device):
                    t_loss, c_loss, r_loss = self._losses(batch)
                    loss = lam[0] * t_loss + lam[1] * c_loss + lam[2] * r_loss
                for q in params:
                    q.grad = None
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, p["clip"])
                with torch.no_grad():
                    for q in params:
                        if q.grad is not None:
                            q.add_(q.grad, alpha=-lr)  # plain SGD (torch.optim would import torch._dynamo)
                sums += np.array([t_loss.item(), c_loss.item(), r_loss.item()]) * len(idx)
                tokens += int((batch[3][:, 1:] != self.pad).sum()) + self.src_len * len(idx)
                bar.update(1)
            bar.close()
            train_s = clock()
            tr = sums / n
            vt, vc, vr = self._evaluate(valid)
            # the published code's validation loss: the text loss plus the rating loss (when rated)
            val = vt + (vr if lam[2] else 0.0)
            train_total = float(np.dot(lam, tr))
            curve.add("main", epoch, train_total, val, lr, clock(), train_text=tr[0], train_context=tr[1],
                      train_rating=tr[2], valid_text=vt, valid_context=vc, valid_rating=vr, train_tokens=tokens,
                      train_seconds=train_s)
            log.info("%s epoch %d: train %.4f, valid %.4f (text %.4f, rating %.4f), lr %g, %.1f s", self.label,
                     epoch, train_total, val, vt, vr, lr, clock())
            if val < best:
                best = val
                best_state = trainer.cpu_state(self.model)
            else:  # as the published code: epochs without improvement are counted over the whole run, not reset
                bad += 1
                lr *= p["lr_decay"]
            ckpt.save({"model": trainer.cpu_state(self.model), "best": best_state, "lr": lr, "best_loss": best,
                       "bad": bad, "epoch": epoch, "curve": curve.rows, "where": f"after epoch {epoch}"})
        if bad >= p["patience"]:
            self.stopped = f"early stop after epoch {epoch}"
        if best_state is not None:
            self.model.load_state_dict(best_state)
        self.model.eval()
        self.curve = curve
        self.best_valid = best
        self.epochs_run = epoch
        self.weights_sha256 = trainer.weights_sha256(self.model)
        self.from_cache = False
        ckpt.save_final({"model": trainer.cpu_state(self.model), "curve": curve.rows, "stopped": self.stopped,
                         "best": best, "epochs": epoch})

    @property
    def label(self) -> str:
        return "peter+" if self.use_feature else "peter"

    # -- what the record gets ---------------------------------------------------------------------------
    def save_units(self, folder: Path) -> list[str]:
        from xrbench.curves import write_learning_curve

        return [write_learning_curve(folder, self.curve.rows)] if getattr(self, "curve", None) is not None else []

    def training_info(self) -> dict[str, Any]:
        return {"model": self.label, "weights_sha256": self.weights_sha256, "epochs": self.epochs_run,
                "stopped": self.stopped, "best_valid_loss": round(self.best_valid, 6),
                "train_pairs": self.n_train, "valid_pairs": self.n_valid, "valid_source": self.valid_source,
                "vocabulary": len(self.vocab), "device": str(self.device),
                "autocast": "bf16" if self.device.type == "cuda" else "none (fp32)",
                "parameters": int(sum(q.numel() for q in self.model.parameters())),
                "from_cache": self.from_cache,
                **trainer.throughput(self.curve.rows)}

    # -- inference ----------------------------------------------------------------------------------
    def predict_ratings(self, users: np.ndarray, items: np.ndarray, batch: int = 4096) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad(), trainer.autocast(self.device):
            for s in range(0, len(users), batch):
                u = torch.as_tensor(np.asarray(users[s:s + batch], dtype=np.int64), device=self.device)
                i = torch.as_tensor(np.asarray(items[s:s + batch], dtype=np.int64), device=self.device)
                out.append(self.model.rating_only(u, i, self.pad).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def generate(self, users: Sequence[int], items: Sequence[int], features: Sequence[str | None] | None = None,
                 batch: int = 256) -> list[str]:
        """Greedy decoding, up to ``max_words`` words or <eos>."""
        import torch

        mw = self.params["max_words"]
        bos, eos = self.vocab.index[BOS], self.vocab.index[EOS]
        texts: list[str] = []
        with torch.no_grad(), trainer.autocast(self.device):
            for s in range(0, len(users), batch):
                u = torch.as_tensor(np.asarray(users[s:s + batch], dtype=np.int64), device=self.device)
                i = torch.as_tensor(np.asarray(items[s:s + batch], dtype=np.int64), device=self.device)
                f = None
                if self.use_feature:
                    unk = self.vocab.index[UNK]
                    f = torch.tensor([self.vocab.index.get(x or "", unk) for x in features[s:s + batch]],
                                     device=self.device)
                seq = torch.full((len(u), 1), bos, dtype=torch.long, device=self.device)
                done = torch.zeros(len(u), dtype=torch.bool, device=self.device)
                for _ in range(mw + 1):
                    words, _, _ = self.model(u, i, seq, self.pad, f)
                    nxt = words[:, -1].argmax(-1)
                    nxt = torch.where(done, torch.full_like(nxt, eos), nxt)
                    seq = torch.cat([seq, nxt.unsqueeze(1)], 1)
                    done |= nxt == eos
                    if bool(done.all()):
                        break
                texts += [self.vocab.decode(row[1:], mw) for row in seq.cpu().tolist()]
        return texts


class Peter(PeterCore, Explainer):
    """PETER (ACL'21), trained here: see the module's doc."""

    def explain(self, users: Sequence[int], items: Sequence[int]) -> list[Explanation]:
        feats = None
        if self.use_feature:
            given = getattr(self, "given", None)
            if given is None or given[0] != [int(u) for u in users] or given[1] != [int(i) for i in items]:
                raise RuntimeError("peter+ explains a pair with its reference's feature, which the explain task gives "
                                   "only for its test pairs (not for the fidelity interventions' top-K items)")
            feats = given[2]
        texts = self.generate(users, items, feats)
        return [Explanation(t, tuple(sorted(self.features.intersection(t.split())))) for t in texts]


class PeterPlus(Peter):
    """PETER+ (ACL'21): PETER with the ground-truth feature fed after the item (given the test reference's
    feature when explaining, as in the paper)."""

    use_feature = True
    oracle_feature = True  # the explain task gives it the test reference's feature (a declared, marked leak)

    def set_reference_features(self, users: Sequence[int], items: Sequence[int],
                               features: Sequence[str | None]) -> None:
        """The test reference's feature of each pair the next ``explain`` call is for."""
        self.given = ([int(u) for u in users], [int(i) for i in items], list(features))


class PeterRecommender(PeterCore, Recommender):
    """PETER's rating head as a recommender (trained with its explanation and context losses)."""

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.predict_ratings(users, items)
