"""xrbench's NLG4RS text metrics as a Hugging Face ``evaluate`` module, loaded from this file's path:

    import evaluate
    from xrbench.metrics import evaluate_module
    nlg4rs = evaluate.load(evaluate_module("nlg4rs"))
    nlg4rs.compute(predictions=[...], references=[...], features=[...], vocabulary=[...])

The values are those of ``xrbench score --protocol nlg4rs`` (PETER/PEPLER protocol, metrics.md):
bleu1, bleu4, rouge{1,2,L}_{f,p,r}, usr, and fmr/fcr/div when features/vocabulary are given.
"""
import datasets
import evaluate

from xrbench.metrics.nlg4rs import score_all

_CITATION = """@inproceedings{li2021peter, title={Personalized Transformer for Explainable Recommendation},
author={Li, Lei and Zhang, Yongfeng and Chen, Li}, booktitle={ACL}, year={2021}}"""


class XRBenchNLG4RS(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="NLG4RS explanation metrics (PETER/PEPLER protocol) as computed by xrbench.",
            citation=_CITATION,
            inputs_description="predictions, references: one explanation string each (whitespace-tokenised); "
                               "features: optional per-row ground-truth feature; vocabulary: optional "
                               "feature vocabulary (default: the set of features).",
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, features=None, vocabulary=None):
        if features is not None and len(features) != len(predictions):
            raise ValueError(f"features has {len(features)} rows, predictions {len(predictions)}")
        vocab = vocabulary if vocabulary is not None else (sorted(set(features)) if features is not None else None)
        return score_all([p.split() for p in predictions], [r.split() for r in references], features, vocab)
