"""PEPLER (Li, Zhang and Chen, TOIS 2023: "Personalized Prompt Learning for Explainable Recommendation") on a
pretrained causal LM (default the packaged SmolLM2-135M; any transformers causal LM by ``backbone=``), trained
inside the harness on the view's training explanations, and the causal prompt-learning method built on it.

* ``pepler`` — continuous prompt learning: a user vector and an item vector (the LM's width, learned from
  scratch) are prepended to the word embeddings of the explanation, and the LM learns to write the explanation
  after them (NLL over the explanation's tokens and the end token). Two training strategies, as in the paper
  (``strategy=``): ``sequential`` (default) — first the prompt vectors alone with the LM frozen (stage
  ``prompt``), then everything (stage ``full``); ``regularization`` — one stage training everything with a
  rating head on the two prompt vectors (``rating_head=mlp``: linear, sigmoid, linear on their
  concatenation; ``mf``: their dot product), loss L_gen + λ_r·MSE (``lambda_rating``).
* ``pepler-d`` — discrete prompt learning: the prompt is words, "features: f1 f2 f3" with the item's
  ``n_features`` most mentioned features in its training reviews, and the whole LM is fine-tuned.
* ``causal-pepler`` — the method xrbench exists to evaluate, made concrete: the discrete prompt carries the
  features with the largest positive estimated effect on this user's rating (``attr-mf``'s exact intervention
  effects w_a + p_u·v_a, as ``causal-llm``), and the loss adds λ·C (``lambda_causal``), where, for a training
  pair (u, i) with N(u, i) = the item's attr-mf attributes whose estimated effect for u is ≤ 0,

      C = (1 / T) Σ_t Σ_{k ∈ K(u, i)} p_θ(k | prompt, y_<t),   K(u, i) = {first token of " f" : f ∈ N(u, i)}

  over the T target positions t of the reference explanation y (its words and the end token): the probability
  mass the model puts, at each step, on starting a feature that does not raise this user's rating (features
  sharing a first token count once). C is 0 when N(u, i) is empty. When no feature has a positive effect, the
  prompt falls back to the item's most mentioned features minus N(u, i).

Training profiles (``train_profile=``): ``quick`` (default, for a CPU) trains on a seeded sample of
``QUICK_PAIRS`` training pairs, one epoch per stage; ``full`` trains on every training pair for up to
``epochs`` epochs per stage with early stopping on the validation loss (``patience``), meant for a GPU.
Optimiser: AdamW (the published code's), ``lr`` for the prompt stage and ``lr_full`` when the LM is trained.
How the LM is trained (``finetune=``): ``full`` (default, the paper's) updates every weight; ``lora`` freezes them
and trains LoRA adapters (Hu et al. 2022) on every linear layer of the LM instead, made by Hugging Face
``peft`` (the ``xrbench[peft]`` extra): rank ``lora_r``, scaling ``lora_alpha / lora_r``, ``lora_dropout``;
the adapters start as a no-op (B = 0), are seeded like every other weight, are saved in the checkpoints and
enter the weights' sha256. Far fewer weights to update (2.44M, 1.8% of SmolLM2-135M's, at r = 8) is what lets a
larger ``backbone=`` be prompt-tuned on one GPU or a CPU.
Explanations are decoded greedily (``max_new_tokens``), cut to ``max_words`` words.
"""
from __future__ import annotations

import copy
import logging
import math
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from xrbench.params import Param
from xrbench.protocols import Explainer, Explanation
from xrbench.view import TrainView

from . import trainer
from .training import torch_threads

log = logging.getLogger("xrbench")

QUICK_PAIRS = 1000  # training pairs of the quick profile (a seeded sample)
#: the params that only apply with finetune=lora (left out of the trained-model keys under finetune=full, so
#: models trained before LoRA existed are still found in the cache)
LORA_PARAMS = ("finetune", "lora_r", "lora_alpha", "lora_dropout")
TRAINING_VERSION = "1"  # part of the checkpoint and cache keys: bump whenever training or the model changes


def build_prompt_lm(lm: Any, n_users: int, n_items: int, continuous: bool, head: str | None) -> Any:
    import torch
    from torch import nn

    class PromptLM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lm = lm
            d = lm.get_input_embeddings().weight.shape[1]
            if continuous:
                self.user = nn.Embedding(n_users, d)
                self.item = nn.Embedding(n_items, d)
                for e in (self.user, self.item):
                    nn.init.uniform_(e.weight, -0.1, 0.1)
            self.head_kind = head
            if head == "mlp":
                self.h1, self.h2 = nn.Linear(2 * d, d), nn.Linear(d, 1)
                for lin in (self.h1, self.h2):
                    nn.init.uniform_(lin.weight, -0.1, 0.1)
                    nn.init.zeros_(lin.bias)

        def rating(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
            pu, qi = self.user(u), self.item(i)
            if self.head_kind == "mf":
                return (pu * qi).sum(-1)
            return self.h2(torch.sigmoid(self.h1(torch.cat([pu, qi], -1)))).squeeze(-1)

        def embed(self, u: torch.Tensor | None, i: torch.Tensor | None, ids: torch.Tensor) -> torch.Tensor:
            words = self.lm.get_input_embeddings()(ids)
            if u is None:
                return words
            return torch.cat([self.user(u).unsqueeze(1), self.item(i).unsqueeze(1), words], 1).to(words.dtype)

    return PromptLM()


class PeplerCore(Explainer):
    """See the module's doc."""

    needs: ClassVar[tuple] = ("ratings", "text")
    continuous: ClassVar[bool] = True
    causal: ClassVar[bool] = False
    reference: ClassVar[str] = "attr-mf"  # causal-pepler: the recommender whose effects pick and judge features
    param_rules: ClassVar[dict[str, Param]] = {
        "strategy": Param(choices=("sequential", "regularization"), doc="PEPLER's training strategy"),
        "rating_head": Param(choices=("mlp", "mf"), doc="the rating head of strategy=regularization"),
        "lambda_rating": Param(ge=0), "lambda_causal": Param(ge=0, doc="causal-pepler: the weight of C"),
        "train_profile": Param(choices=("quick", "full"), doc="quick: a seeded sample of pairs, one epoch per "
                                                              "stage; full: every pair, early stopping"),
        "train_pairs": Param(ge=0, doc="training pairs (0: the profile's: quick 1000, full all)"),
        "epochs": Param(ge=1, doc="maximum epochs per stage of the full profile"),
        "patience": Param(ge=1), "lr": Param(gt=0), "lr_full": Param(gt=0), "batch_size": Param(ge=1),
        "max_words": Param(ge=1, doc="explanations are cut to this many words (training and output)"),
        "max_new_tokens": Param(ge=1), "gen_batch": Param(ge=1), "n_features": Param(ge=1),
        "clip": Param(gt=0), "threads": Param(ge=0, doc="torch threads (0: the process setting)"),
        "finetune": Param(choices=("full", "lora"), doc="how the LM is trained: full (every weight, the paper's) or "
                                                        "lora (peft LoRA adapters on its linear layers; the "
                                                        "xrbench[peft] extra)"),
        "lora_r": Param(ge=1, doc="finetune=lora: the adapters' rank"),
        "lora_alpha": Param(gt=0, doc="finetune=lora: the adapters' scaling is lora_alpha / lora_r"),
        "lora_dropout": Param(ge=0, lt=1, doc="finetune=lora: dropout on the adapters' input"),
    }

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"backbone": "smollm2-135m", "strategy": "sequential", "rating_head": "mlp", "lambda_rating": 0.01,
                "lambda_causal": 1.0, "train_profile": "quick", "train_pairs": 0, "epochs": 100, "patience": 3,
                "lr": 1e-3, "lr_full": 1e-4, "batch_size": 16, "max_words": 20, "max_new_tokens": 32,
                "gen_batch": 32, "n_features": 3, "clip": 1.0, "threads": 0,
                "finetune": "full", "lora_r": 8, "lora_alpha": 16.0, "lora_dropout": 0.0}

    workdir: Path | None = None

    def preflight(self) -> None:
        from xrbench.backbones import check_available

        check_available(str(self.params["backbone"]))

    @property
    def label(self) -> str:
        return "causal-pepler" if self.causal else ("pepler" if self.continuous else "pepler-d")

    # -- prompts ------------------------------------------------------------------------------------
    def prompt_features(self, u: int, i: int) -> list[str]:
        if self.causal:
            contrib = self.effects.contributions(u, i)
            pos = [a for a, c in contrib if c > 0]
            if pos:
                return pos[: self.params["n_features"]]
            # no feature raises this user's rating: the item's most mentioned ones, never one C penalises
            avoid = {a for a, c in contrib if c <= 0}
            return [f for f in self.item_feats[i] if f not in avoid]
        return self.item_feats[i]

    def prompt_text(self, u: int, i: int) -> str:
        return "features: " + " ".join(self.prompt_features(u, i)) + "\nexplanation:"

    def non_positive(self, u: int, i: int) -> list[int]:
        """causal-pepler: the first token ids of the item's features whose estimated effect for u is <= 0."""
        out = []
        for a, c in self.effects.contributions(u, i):
            if c <= 0:
                ids = self.tok(" " + a, add_special_tokens=False)["input_ids"]
                if ids:
                    out.append(ids[0])
        return sorted(set(out))

    # -- data ---------------------------------------------------------------------------------------
    def _examples(self, view: TrainView, table: Any, refs: dict[int, Any], n: int | None, seed: int
                  ) -> list[dict[str, Any]]:
        pos = np.array(sorted(refs), dtype=np.int64)
        if n is not None and n < len(pos):
            pos = np.sort(np.random.default_rng(seed).choice(pos, n, replace=False))
        uu, ii = table["uidx"].to_numpy(), table["iidx"].to_numpy()
        rr = table["rating"].to_numpy(np.float32)
        eos = self.tok.eos_token_id
        out = []
        for k in pos:
            u, i = int(uu[k]), int(ii[k])
            words = " ".join(refs[int(k)].sentence.split()[: self.params["max_words"]])
            target = self.tok(" " + words, add_special_tokens=False)["input_ids"] + [eos]
            ex = {"u": u, "i": i, "r": float(rr[k]), "target": target}
            if not self.continuous:
                ex["prompt"] = self.tok(self.prompt_text(u, i), add_special_tokens=False)["input_ids"]
            if self.causal:
                ex["avoid"] = self.non_positive(u, i)
            out.append(ex)
        return out

    def _batch(self, exs: list[dict[str, Any]]) -> dict[str, Any]:
        """Right-padded training batch: input ids (prompt words + target), labels (-100 off the target)."""
        import torch

        pad = self.tok.pad_token_id
        seqs, labels, plen = [], [], []
        for ex in exs:
            prompt = ex.get("prompt", [])
            seqs.append(prompt + ex["target"])
            n_prompt = (2 if self.continuous else 0) + len(prompt)
            labels.append([-100] * n_prompt + ex["target"])
            plen.append(n_prompt)
        width = max(len(s) for s in seqs)
        ids = torch.full((len(exs), width), pad, dtype=torch.long)
        extra = 2 if self.continuous else 0
        lab = torch.full((len(exs), width + extra), -100, dtype=torch.long)
        att = torch.zeros((len(exs), width + extra), dtype=torch.long)
        for k, (s, lb) in enumerate(zip(seqs, labels)):
            ids[k, : len(s)] = torch.tensor(s)
            lab[k, : len(lb)] = torch.tensor(lb)
            att[k, : len(lb)] = 1
        b = {"ids": ids, "labels": lab, "mask": att, "u": torch.tensor([e["u"] for e in exs]),
             "i": torch.tensor([e["i"] for e in exs]), "r": torch.tensor([e["r"] for e in exs])}
        if self.causal:
            k = max(1, max(len(e["avoid"]) for e in exs))
            avoid = torch.zeros((len(exs), k), dtype=torch.long)
            amask = torch.zeros((len(exs), k))
            for n, e in enumerate(exs):
                avoid[n, : len(e["avoid"])] = torch.tensor(e["avoid"], dtype=torch.long)
                amask[n, : len(e["avoid"])] = 1.0
            b["avoid"], b["avoid_mask"] = avoid, amask
        return b

    def _losses(self, b: dict[str, Any]) -> dict[str, Any]:
        import torch
        import torch.nn.functional as F

        dev = self.device
        u, i = (b["u"].to(dev), b["i"].to(dev)) if self.continuous else (None, None)
        emb = self.net.embed(u, i, b["ids"].to(dev))
        with trainer.autocast(dev):
            logits = self.net.lm(inputs_embeds=emb, attention_mask=b["mask"].to(dev)).logits
        logits = logits[:, :-1].float()
        labels = b["labels"].to(dev)[:, 1:]
        gen = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100)
        out = {"gen": gen}
        if self.params["strategy"] == "regularization" and self.continuous:
            out["rating"] = F.mse_loss(self.net.rating(u, i).float(), b["r"].to(dev))
        if self.causal:
            probs = torch.softmax(logits, -1)  # (B, T, V)
            idx = b["avoid"].to(dev).unsqueeze(1).expand(-1, probs.size(1), -1)
            mass = (probs.gather(2, idx) * b["avoid_mask"].to(dev).unsqueeze(1)).sum(-1)  # (B, T)
            on = (labels != -100).float()
            out["causal"] = ((mass * on).sum(1) / on.sum(1).clamp(min=1)).mean()
        return out

    def _total(self, parts: dict[str, Any]) -> Any:
        p = self.params
        total = parts["gen"]
        if "rating" in parts:
            total = total + p["lambda_rating"] * parts["rating"]
        if "causal" in parts:
            total = total + p["lambda_causal"] * parts["causal"]
        return total

    # -- training -----------------------------------------------------------------------------------
    def stages(self) -> list[tuple[str, float]]:
        p = self.params
        if self.continuous and p["strategy"] == "sequential":
            return [("prompt", p["lr"]), ("full", p["lr_full"])]
        return [("full", p["lr_full"])]

    def _set_trainable(self, stage: str) -> list[Any]:
        """Stage ``prompt``: the prompt vectors (and rating head); stage ``full``: also the LM's weights, or
        under finetune=lora only its adapters."""
        lora = self.params["finetune"] == "lora"
        for name, q in self.net.named_parameters():
            in_lm = name.startswith("lm.")
            q.requires_grad_(not in_lm or (stage == "full" and (not lora or ".lora_" in name)))
        return [q for q in self.net.parameters() if q.requires_grad]

    def _add_adapters(self, lm: Any) -> Any:
        """finetune=lora: peft's LoRA adapters injected into every linear layer of ``lm`` (in place)."""
        try:
            from peft import LoraConfig, inject_adapter_in_model
        except ImportError:
            from xrbench.errors import XRBenchError
            raise XRBenchError(f"{self.label}: finetune=lora needs Hugging Face peft; install it with "
                               "pip install 'xrbench[peft]' (or use finetune=full)") from None
        p = self.params
        config = LoraConfig(r=int(p["lora_r"]), lora_alpha=float(p["lora_alpha"]),
                            lora_dropout=float(p["lora_dropout"]), target_modules="all-linear", bias="none")
        return inject_adapter_in_model(config, lm)

    def _key_params(self) -> dict[str, Any]:
        """The params that make a trained model: those of LoRA (and peft's version) only under finetune=lora."""
        p = dict(self.params)
        if p["finetune"] == "full":
            for k in LORA_PARAMS:
                p.pop(k, None)
        else:
            from importlib.metadata import PackageNotFoundError, version
            try:
                p["peft_version"] = version("peft")
            except PackageNotFoundError:
                p["peft_version"] = None
        return p

    def _final_state(self) -> dict[str, Any]:
        """What the trained-model cache keeps: every weight, or under LoRA what was trained (adapters, prompt
        vectors, rating head): the frozen weights are the backbone's, named by the key."""
        if self.params["finetune"] == "lora":
            return {k: v.detach().to("cpu").clone() for k, v in self.net.state_dict().items()
                    if not k.startswith("lm.") or ".lora_" in k}
        return trainer.cpu_state(self.net)

    def _load_final(self, state: dict[str, Any]) -> None:
        if self.params["finetune"] != "lora":
            self.net.load_state_dict(state)
            return
        want = set(self._final_state())
        if set(state) != want:
            from xrbench.errors import XRBenchError
            raise XRBenchError(f"{self.label}: the cached LoRA model holds other weights than this model's "
                               f"({len(set(state) ^ want)} names differ); remove $XRBENCH_CACHE/trained to retrain")
        self.net.load_state_dict(state, strict=False)

    def fit(self, view: TrainView) -> None:
        import torch

        from xrbench import backbones

        p = self.params
        refs = trainer.training_references(view, self.label)
        from .explainers import item_reasons

        self.item_feats = item_reasons(view, p["n_features"])
        self.vocab = frozenset(refs.vocabulary)
        if self.causal:
            self.effects = view.fitted(self.reference)
        self.device = trainer.resolve_device(view.device)
        bb = backbones.load(str(p["backbone"]), "cpu")
        self.tok, self.backbone_key = bb.tokenizer, bb.key
        lm = copy.deepcopy(bb.model)  # the shared backbone stays untouched
        backbones.release()
        if self.tok.pad_token_id is None:
            self.tok.pad_token = self.tok.eos_token
        quick = p["train_profile"] == "quick"
        n = p["train_pairs"] or (QUICK_PAIRS if quick else None)
        self.train_ex = self._examples(view, view.train, refs.by_train, n, view.seed)
        nv = max(64, (n or len(refs.by_train)) // 8) if quick else None
        self.valid_ex = self._examples(view, view.valid, refs.by_valid, nv, view.seed + 1)
        self.valid_source = "validation rows"
        if not self.valid_ex:  # no validation reference: a seeded 5% of the training pairs, left out of training
            cut = np.random.default_rng(view.seed + 1).permutation(len(self.train_ex))
            k = max(1, len(cut) // 20)
            self.valid_ex = [self.train_ex[int(j)] for j in cut[:k]]
            self.train_ex = [self.train_ex[int(j)] for j in np.sort(cut[k:])]
            self.valid_source = "5% of the training pairs (no validation reference)"
        head = p["rating_head"] if (self.continuous and p["strategy"] == "regularization") else None
        with torch_threads(p["threads"] or None):
            torch.manual_seed(view.seed)
            self.net = build_prompt_lm(lm, view.n_users, view.n_items, self.continuous, head)
            if p["finetune"] == "lora":  # after the prompt vectors: they start as under finetune=full
                self._add_adapters(self.net.lm)
            self.net = self.net.to(self.device)
            self._train(view, quick)
        self.net.eval()

    def _evaluate(self, exs: list[dict[str, Any]]) -> dict[str, float]:
        import torch

        self.net.eval()
        sums: dict[str, float] = {}
        bs = self.params["batch_size"]
        with torch.no_grad():
            for s in range(0, len(exs), bs):
                part = exs[s:s + bs]
                for k, v in self._losses(self._batch(part)).items():
                    sums[k] = sums.get(k, 0.0) + float(v) * len(part)
        return {k: v / max(len(exs), 1) for k, v in sums.items()}

    def _train(self, view: TrainView, quick: bool) -> None:
        import torch

        p = self.params
        key, final_key = trainer.run_keys(self.label, TRAINING_VERSION, self.device,
                                          (view.data_hash, view.split_hash, view.seed, self.backbone_key,
                                           len(self.train_ex)), self._key_params())
        # a stage's checkpoint holds its best weights once it is done: resumed only under the same stop params
        ckpt = trainer.Checkpoints(self.workdir, final_key, self.label, final_key)
        final = ckpt.load_final()
        if final is not None:
            self._load_final(final["model"])
            self.curve = trainer.curve_from_state(final["curve"])
            self.epochs_run = {str(k): int(v) for k, v in final["epochs"].items()}
            self.best_valid = best_of_last_stage(self.curve.rows)
            self.weights_sha256 = trainer.weights_sha256(self.net)
            self.from_cache = True
            return
        state = ckpt.load()
        curve = trainer.Curve()
        done_stage, done_epoch = -1, 0  # the last finished (stage index, epoch)
        if state is not None:
            self.net.load_state_dict(state["model"], strict=False)
            curve = trainer.curve_from_state(state["curve"])
            done_stage, done_epoch = int(state["stage"]), int(state["epoch"])
        max_epochs = 1 if quick else p["epochs"]
        self.epochs_run: dict[str, int] = {}
        for si, (stage, lr) in enumerate(self.stages()):
            params = self._set_trainable(stage)
            opt = torch.optim.AdamW(params, lr=lr)
            epoch, best, bad = 0, math.inf, 0
            best_state = None
            if si < done_stage or (si == done_stage and state is not None and state.get("stage_done")):
                self.epochs_run[stage] = int(state["epochs_run"].get(stage, 0)) if state else 0
                continue
            if si == done_stage and state is not None:
                opt.load_state_dict(state["optim"])
                epoch, best, bad = done_epoch, float(state["best_loss"]), int(state["bad"])
                best_state = state.get("best")
            while epoch < max_epochs and bad < p["patience"]:
                epoch += 1
                clock = trainer.Timer()
                perm = trainer.start_epoch(view.seed, stage, epoch, len(self.train_ex))
                self.net.train()
                sums: dict[str, float] = {}
                tokens = 0
                bs = p["batch_size"]
                bar = trainer.progress((len(perm) + bs - 1) // bs, f"{self.label} {stage} epoch {epoch}")
                for s in range(0, len(perm), bs):
                    part = [self.train_ex[int(k)] for k in perm[s:s + bs]]
                    parts = self._losses(self._batch(part))
                    loss = self._total(parts)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(params, p["clip"])
                    opt.step()
                    for k, v in parts.items():
                        sums[k] = sums.get(k, 0.0) + v.item() * len(part)
                    tokens += sum(len(e.get("prompt", [])) + len(e["target"]) + (2 if self.continuous else 0)
                                  for e in part)
                    bar.update(1)
                bar.close()
                train_s = clock()
                tr = {k: v / len(perm) for k, v in sums.items()}
                va = self._evaluate(self.valid_ex)
                val = float(self._total({k: torch.tensor(v) for k, v in va.items()}))
                train_total = float(self._total({k: torch.tensor(v) for k, v in tr.items()}))
                curve.add(stage, epoch, train_total, val, lr, clock(), **{f"train_{k}": v for k, v in tr.items()},
                          **{f"valid_{k}": v for k, v in va.items()}, train_tokens=tokens, train_seconds=train_s)
                log.info("%s %s epoch %d: train %.4f, valid %.4f, %.1f s", self.label, stage, epoch, train_total,
                         val, clock())
                if val < best:  # epochs without improvement are counted over the stage (the published rule)
                    best = val
                    best_state = None if quick else trainer.cpu_state(self.net, only_trainable=True)
                else:
                    bad += 1
                finished = not (epoch < max_epochs and bad < p["patience"])
                if finished and best_state is not None:
                    self.net.load_state_dict(best_state, strict=False)
                self.epochs_run[stage] = epoch
                # the frozen weights are the backbone's: a checkpoint holds what this stage trains (under LoRA
                # the adapters and prompt vectors, about 10 MB at r = 8 on SmolLM2) or, in a full stage, every weight
                frozen_lm = stage == "prompt" or p["finetune"] == "lora"
                ckpt.save({"model": trainer.cpu_state(self.net, only_trainable=frozen_lm),
                           "optim": opt.state_dict(), "best": best_state, "best_loss": best, "bad": bad,
                           "stage": si, "epoch": epoch, "stage_done": finished, "curve": curve.rows,
                           "epochs_run": dict(self.epochs_run), "where": f"{stage} epoch {epoch}"})
        self.curve = curve
        self.best_valid = best_of_last_stage(curve.rows)
        self.weights_sha256 = trainer.weights_sha256(self.net)
        self.from_cache = False
        ckpt.save_final({"model": self._final_state(), "curve": curve.rows, "epochs": dict(self.epochs_run)})

    # -- explaining ---------------------------------------------------------------------------------
    def explain(self, users: Sequence[int], items: Sequence[int]) -> list[Explanation]:
        import torch

        p = self.params
        texts: list[str] = []
        tok = self.tok
        dev = self.device
        with torch.no_grad(), torch_threads(p["threads"] or None):
            for s in range(0, len(users), p["gen_batch"]):
                us, its = [int(x) for x in users[s:s + p["gen_batch"]]], [int(x) for x in items[s:s + p["gen_batch"]]]
                if self.continuous:
                    emb = self.net.embed(torch.tensor(us, device=dev), torch.tensor(its, device=dev),
                                         torch.zeros((len(us), 0), dtype=torch.long, device=dev))
                    mask = torch.ones(emb.shape[:2], dtype=torch.long, device=dev)
                else:
                    prompts = [tok(self.prompt_text(u, i), add_special_tokens=False)["input_ids"]
                               for u, i in zip(us, its)]
                    width = max(len(x) for x in prompts)
                    ids = torch.full((len(us), width), tok.pad_token_id, dtype=torch.long)
                    mask = torch.zeros((len(us), width), dtype=torch.long)
                    for k, x in enumerate(prompts):  # left padding
                        ids[k, width - len(x):] = torch.tensor(x)
                        mask[k, width - len(x):] = 1
                    emb = self.net.embed(None, None, ids.to(dev))
                    mask = mask.to(dev)
                with trainer.autocast(dev):
                    out = self.net.lm.generate(inputs_embeds=emb, attention_mask=mask, do_sample=False,
                                               max_new_tokens=p["max_new_tokens"], eos_token_id=tok.eos_token_id,
                                               pad_token_id=tok.pad_token_id)
                for row in out.tolist():
                    text = tok.decode(row, skip_special_tokens=True).split("\n")[0]
                    texts.append(" ".join(text.split()[: p["max_words"]]))
        result = []
        for t, u, i in zip(texts, users, items):
            words = set(t.split())
            cited = [f for f in self.prompt_features(int(u), int(i)) if f in words]
            cited += sorted(self.vocab.intersection(words) - set(cited))
            result.append(Explanation(t, tuple(cited)))
        return result

    # -- what the record gets -----------------------------------------------------------------------
    def save_units(self, folder: Path) -> list[str]:
        from xrbench.curves import write_learning_curve

        return [write_learning_curve(folder, self.curve.rows)] if getattr(self, "curve", None) is not None else []

    def _finetune_info(self) -> dict[str, Any]:
        """How the LM was trained, and how many of the model's weights its trained stage updates."""
        p = self.params
        names = dict(self.net.named_parameters())
        lm_total = _count(q for n, q in names.items() if n.startswith("lm.") and ".lora_" not in n)
        if p["finetune"] == "lora":
            adapters = _count(q for n, q in names.items() if ".lora_" in n)
            return {"method": "lora (peft)", "r": int(p["lora_r"]), "alpha": float(p["lora_alpha"]),
                    "dropout": float(p["lora_dropout"]), "target_modules": "all-linear",
                    "adapter_params": adapters, "lm_params": lm_total, "lm_frozen": True}
        return {"method": "full", "lm_params": lm_total, "lm_frozen": False}

    def training_info(self) -> dict[str, Any]:
        p = self.params
        info = {"model": self.label, "backbone": str(p["backbone"]), "model_key": self.backbone_key,
                "weights_sha256": self.weights_sha256, "epochs": dict(self.epochs_run),
                "profile": p["train_profile"], "train_pairs": len(self.train_ex), "valid_pairs": len(self.valid_ex),
                "valid_source": self.valid_source,
                "best_valid_loss": self.best_valid, "device": str(self.device),
                "autocast": "bf16" if self.device.type == "cuda" else "none (fp32)",
                "stages": [s for s, _ in self.stages()], **trainer.throughput(self.curve.rows),
                "from_cache": self.from_cache, "finetune": self._finetune_info(),
                "prompt": "continuous (user and item vectors)" if self.continuous else
                          ("discrete: attr-mf's top positive-effect features" if self.causal
                           else "discrete: the item's most mentioned features")}
        if self.causal:
            info["objective"] = ("L_gen + lambda_causal * C; C = mean over the target positions (words and end token) "
                                 "of the summed probability of the distinct first tokens of the item's attr-mf "
                                 "attributes whose estimated effect for the user (w_f + p_u.v_f) is <= 0")
            info["lambda_causal"] = p["lambda_causal"]
        return info


def _count(params: Any) -> int:
    return int(sum(q.numel() for q in params))


def best_of_last_stage(rows: list[dict[str, Any]]) -> float | None:
    """The lowest validation loss of the last stage (the weights kept)."""
    if not rows:
        return None
    vals = [r["valid_loss"] for r in rows if r["stage"] == rows[-1]["stage"] and r.get("valid_loss") is not None]
    return min(vals) if vals else None


class Pepler(PeplerCore):
    """PEPLER: continuous prompt learning (user and item vectors before the words) on a pretrained LM."""


class PeplerD(PeplerCore):
    """PEPLER-D: discrete prompt learning (the item's features as prompt words), the LM fine-tuned."""

    continuous = False


class CausalPepler(PeplerCore):
    """Prompt learning whose discrete prompt carries the features with the largest positive attr-mf effect on
    this user's rating, with a causal term λ·C in the loss (see the module's doc for C)."""

    continuous = False
    causal = True
