"""LLM explainers: zero-shot and few-shot prompts carrying the user's history and the item's
attributes or mined aspects, on any backbone (see ``xrbench.generation``).

The chat template is used when the backbone has one (instruction-tuned models); otherwise a completion
prompt ending in "Explanation:" is used and generation stops at the end of the line. Every explanation
returns the reasons it cites: the item's attributes/aspects, vocabulary features and history titles
found in its text.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any, Sequence

import numpy as np

from xrbench import generation
from xrbench.aspects import tokens as word_tokens
from xrbench.errors import XRBenchError
from xrbench.baselines.explainers import item_reasons
from xrbench.params import Param
from xrbench.protocols import Explainer, Explanation
from xrbench.quantize import WEIGHT_FORMATS
from xrbench.view import TrainView

PROMPT_VERSION = "v2"  # v2: few-shot examples are short sentences citing one of their item's features
SYSTEM = "You explain recommendations to users in one short sentence."
INSTRUCTION = ("Write one short sentence to the user, starting with \"You\", saying why they may like the "
               "recommended item and citing its features.")


def title_in(title: str, text: str) -> bool:
    """Whether ``text`` names ``title``: as written, without its "(1995)" year, or with a trailing
    article moved to the front ("Godfather, The (1972)" -> "The Godfather")."""
    low = text.lower()
    bare = re.sub(r"\s*\(\d{4}\)\s*$", "", title).strip()
    forms = {title, bare}
    m = re.match(r"^(.*), (the|a|an)$", bare, flags=re.I)
    if m:
        forms.add(f"{m.group(2)} {m.group(1)}")
    return any(len(f) >= 3 and re.search(rf"(?<!\w){re.escape(f.lower())}(?!\w)", low) for f in forms)


class LLMExplainer(Explainer):
    needs = (("item_attributes", "text"),)
    shots_default = 0
    # backbone: a packaged name (xrbench.backbones.PACKAGED), a transformers model id or a local folder
    param_rules = {"shots": Param(ge=0), "history": Param(ge=0), "n_features": Param(ge=0),
                   "example_words": Param(ge=1), "max_new_tokens": Param(ge=1), "batch_size": Param(ge=1),
                   "gen_seed": Param(ge=0, le=2**32 - 1), "profile": Param(choices=("auto", True, False)),
                   "weights": Param(choices=WEIGHT_FORMATS)}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"backbone": "smollm2-135m", "shots": cls.shots_default, "history": 3, "n_features": 3,
                "example_words": 25, "max_new_tokens": 32, "batch_size": 32, "do_sample": False, "gen_seed": 0,
                "profile": "auto", "weights": "fp32"}

    def preflight(self) -> None:
        """Before any work: the backbone can be had (installed package, local folder, cache, or online)."""
        from xrbench.backbones import check_available

        check_available(str(self.params["backbone"]), str(self.params["weights"]))
        if self.params["weights"] == "gguf" and self.params["do_sample"]:
            raise XRBenchError("weights=gguf decodes greedily (llama.cpp's greedy sampler); drop do_sample=true "
                               "or use weights=fp32")

    # -- context ------------------------------------------------------------------------------------
    def fit(self, view: TrainView) -> None:
        p = self.params
        self.features = item_reasons(view, p["n_features"])
        self.titles = view.item_titles if view.has_titles else None
        refs = view.references
        self.vocab = frozenset(refs.vocabulary) if refs is not None else frozenset()
        self.attr_names = {a.lower(): a for lst in view.item_attributes for a in lst}
        tr = view.train
        # history: a user's best-rated training items (titles), or the aspects they praised
        self.history: dict[int, list[str]] = {}
        order = tr.sort_values(["uidx", "rating", "timestamp"], ascending=[True, False, False], kind="mergesort")
        for u, grp in order.groupby("uidx", sort=False):
            if self.titles is not None:
                self.history[int(u)] = [self.titles[i] for i in grp["iidx"].head(p["history"])]
            elif refs is not None:
                liked = Counter(refs.by_train[k].feature for k in grp.index.to_numpy()
                                if k in refs.by_train and refs.by_train[k].polarity > 0)
                self.history[int(u)] = [f for f, _ in liked.most_common(p["history"])]
        # few-shot examples: training pairs with a reference explanation (or a templated one without text)
        self.examples: list[tuple[int, int, str]] = []
        if p["shots"]:
            rng = np.random.default_rng(view.seed)
            rows = np.arange(len(tr))
            if refs is not None:
                # demonstrations that cite one of their item's listed features (the model sees the task) and
                # are whole sentences of at most ``example_words`` words (short outputs follow short examples)
                order = rng.permutation([k for k in rows if int(k) in refs.by_train])
                fit = [k for k in order[:5000] if (t := refs.by_train[int(k)]).feature
                       in self.features[int(tr["iidx"].iat[k])] and len(t.sentence.split()) <= p["example_words"]]
                rows = np.array(fit or order)
            for k in rng.choice(rows, min(p["shots"], len(rows)), replace=False):
                u, i = int(tr["uidx"].iat[k]), int(tr["iidx"].iat[k])
                text = (refs.by_train[int(k)].sentence if refs is not None else
                        f"It is a {' and '.join(self.features[i][:2]).lower()} film, like those you rated highly.")
                # (a fallback example may run long: its first ``example_words`` words are kept)
                text = " ".join(text.split()[: p["example_words"]])
                # mined sentences carry no final stop: a demonstration ends like a sentence, so outputs do too
                self.examples.append((u, i, text if text[-1:] in ".!?" else text + "."))
        # the user's stated profile (gender, age group) when the dataset has one: the counterfactual swaps of
        # the explanation-bias metrics change exactly this sentence of the prompt
        users = view.users
        self.profiles: dict[int, dict[str, str]] = {}
        if p["profile"] in ("auto", True) and {"gender", "age"} <= set(users.columns):
            for uid, g, a in zip(users.index, users["gender"], users["age"]):
                if uid in view.user_index:
                    self.profiles[view.user_index[uid]] = {"gender": "woman" if g == "F" else "man",
                                                           "age": "under 25" if float(a) < 25 else "25 or older"}
        self.bb = generation.load(p["backbone"], view.device, p["weights"])
        self.cfg = generation.GenConfig(p["max_new_tokens"], p["batch_size"], p["do_sample"], seed=p["gen_seed"])
        self.last_stats: generation.GenStats | None = None

    def item_features(self, u: int, i: int) -> list[str]:
        """The features the prompt gives for item i (and user u)."""
        return self.features[i]

    def _context(self, u: int, i: int, swap: str | None = None) -> str:
        hist = ", ".join(self.history.get(u, [])) or "nothing yet"
        name = self.titles[i] if self.titles else "a product"
        feats = ", ".join(self.item_features(u, i)) or "unknown"
        what = "items" if self.titles else "features"
        prof = dict(self.profiles.get(u, {}))
        if swap == "gender" and prof:
            prof["gender"] = "man" if prof["gender"] == "woman" else "woman"
        if swap == "age" and prof:
            prof["age"] = "25 or older" if prof["age"] == "under 25" else "under 25"
        who = f"The user is a {prof['gender']} aged {prof['age']}.\n" if prof else ""
        return f"{who}The user liked these {what}: {hist}.\nRecommended item: {name}.\nItem features: {feats}."

    def prompt(self, u: int, i: int, swap: str | None = None) -> str:
        tok = self.bb.tokenizer
        if self.bb.chat:
            msgs = [{"role": "system", "content": SYSTEM}]
            for eu, ei, text in self.examples:
                msgs += [{"role": "user", "content": f"{self._context(eu, ei)}\n{INSTRUCTION}"},
                         {"role": "assistant", "content": text}]
            msgs.append({"role": "user", "content": f"{self._context(u, i, swap)}\n{INSTRUCTION}"})
            return tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        parts = ["Short explanations of why a user may like a recommended item.\n"]
        for eu, ei, text in self.examples:
            parts.append(f"{self._context(eu, ei)}\nExplanation: {text}\n")
        parts.append(f"{self._context(u, i, swap)}\nExplanation:")
        return "\n".join(parts)

    def cited(self, text: str, u: int, i: int) -> tuple[str, ...]:
        words = set(word_tokens(text))
        found = [f for f in self.item_features(u, i) if f.lower() in words or f.lower() in text.lower()]
        found += sorted(self.vocab.intersection(words) - set(found))
        found += [a for low, a in sorted(self.attr_names.items()) if re.search(rf"\b{re.escape(low)}\b", text.lower())
                  and a not in found]
        found += [t for t in self.history.get(u, []) if self.titles and title_in(t, text)]
        return tuple(dict.fromkeys(found))

    def explain(self, users: Sequence[int], items: Sequence[int]) -> list[Explanation]:
        prompts = [self.prompt(int(u), int(i)) for u, i in zip(users, items)]
        texts, self.last_stats = generation.generate(self.bb, prompts, self.cfg,
                                                     stop=None if self.bb.chat else "\n")
        return [Explanation(t, self.cited(t, int(u), int(i))) for t, u, i in zip(texts, users, items)]

    def explain_swapped(self, users: Sequence[int], items: Sequence[int], attribute: str) -> list[Explanation] | None:
        """Explanations from prompts identical but for the user's stated ``attribute`` (gender or age);
        None when the prompts state no profile."""
        if not self.profiles:
            return None
        prompts = [self.prompt(int(u), int(i), swap=attribute) for u, i in zip(users, items)]
        texts, stats = generation.generate(self.bb, prompts, self.cfg, stop=None if self.bb.chat else "\n")
        if self.last_stats is not None:
            self.last_stats.add(stats)
        return [Explanation(t, self.cited(t, int(u), int(i))) for t, u, i in zip(texts, users, items)]

    def run_info(self) -> dict[str, Any]:
        s = self.last_stats
        return {"backbone": self.bb.name, "model_key": self.bb.key, "chat_template": self.bb.chat,
                "weights": self.bb.weights_info or {"format": self.bb.weights},
                "states_profile": bool(self.profiles),
                "prompt_version": PROMPT_VERSION, "generation": self.cfg.key(),
                "generated": s.generated if s else 0, "cached": s.cached if s else 0,
                "new_tokens": s.new_tokens if s else 0,
                "tokens_per_s": s.tokens_per_s if s else None,  # median over the timed batches
                "tokens_per_s_passes": len(s.passes) if s else 0,
                "tokens_per_s_overall": s.tokens_per_s_overall if s else None}


class ZeroShot(LLMExplainer):
    shots_default = 0


class FewShot(LLMExplainer):
    shots_default = 3


class CausalLLM(LLMExplainer):
    """The method xrbench exists to evaluate: ask a causal model which of the item's attributes/aspects
    most raise this user's predicted rating (``attr-mf``'s exact intervention effects w_a + p_u . v_a),
    then prompt the LLM to cite those (the positive ones, largest first)."""

    shots_default = 0
    reference = "attr-mf"  # the registered feature-aware recommender whose effects pick the features

    def fit(self, view: TrainView) -> None:
        super().fit(view)
        self.causal = view.fitted(self.reference)

    def item_features(self, u: int, i: int) -> list[str]:
        pos = [a for a, c in self.causal.contributions(u, i) if c > 0]
        return pos[: self.params["n_features"]] or self.features[i]
