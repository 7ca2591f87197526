"""Benchmark: score 32,003 pairs (the size of PETER's TripAdvisor test set) under protocol nlg4rs, every key
(BLEU-1/4, ROUGE-1/2/L, USR, FMR, FCR, DIV), against the published NLG4RS evaluation loops on the same rows.

    python tests/bench/perf_nlg4rs_scoring.py --amazon PATH/reviews_Musical_Instruments_5.json.gz

Two pair sets. ``amazon``: the reference is each review's mined reference sentence, the hypothesis another
review's sentence of the same item (a retrieval-style explainer), so texts repeat as real outputs do.
``distinct``: mostly distinct sentences drawn with a seeded RNG from the Amazon word distribution (lengths
from the Amazon sentences; half the hypotheses copy a span of their reference, so every n-gram order
matches somewhere).

Two whole processes are timed on each set: ``xrbench score --json`` (ours; fastest of ``--repeat``) and
the published loops (PETER's ``utils.py``: tensorflow/nmt ``compute_bleu``, the pure-Python ``rouge.py``
with its dictionary LCS table, the pairwise USR and DIV loops), run IN FULL on all pairs, once. Each
process is timed by wall clock and by CPU (user + sys of the child, ``getrusage(RUSAGE_CHILDREN)``);
wall time is only meaningful on an idle machine, CPU time also on a shared one. Every key of both must
agree to 1e-9. Target: ours >= 100x faster (CPU) on both sets. Prints one JSON line per set.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# PETER (Li et al., ACL 2021) utils.py, bleu.py (tensorflow/nmt) and rouge.py (google seq2seq), as published
# (comments and the unused summary-level ROUGE left out); the driver mirrors PETER's evaluation in main.py.
PUBLISHED = r'''
import collections, itertools, json, math, sys
import numpy as np

def _get_ngrams(segment, max_order):
    ngram_counts = collections.Counter()
    for order in range(1, max_order + 1):
        for i in range(0, len(segment) - order + 1):
            ngram = tuple(segment[i:i + order])
            ngram_counts[ngram] += 1
    return ngram_counts

def compute_bleu(reference_corpus, translation_corpus, max_order=4, smooth=False):
    matches_by_order = [0] * max_order
    possible_matches_by_order = [0] * max_order
    reference_length = 0
    translation_length = 0
    for (references, translation) in zip(reference_corpus, translation_corpus):
        reference_length += min(len(r) for r in references)
        translation_length += len(translation)
        merged_ref_ngram_counts = collections.Counter()
        for reference in references:
            merged_ref_ngram_counts |= _get_ngrams(reference, max_order)
        translation_ngram_counts = _get_ngrams(translation, max_order)
        overlap = translation_ngram_counts & merged_ref_ngram_counts
        for ngram in overlap:
            matches_by_order[len(ngram) - 1] += overlap[ngram]
        for order in range(1, max_order + 1):
            possible_matches = len(translation) - order + 1
            if possible_matches > 0:
                possible_matches_by_order[order - 1] += possible_matches
    precisions = [0] * max_order
    for i in range(0, max_order):
        if smooth:
            precisions[i] = ((matches_by_order[i] + 1.) / (possible_matches_by_order[i] + 1.))
        else:
            if possible_matches_by_order[i] > 0:
                precisions[i] = (float(matches_by_order[i]) / possible_matches_by_order[i])
            else:
                precisions[i] = 0.0
    if min(precisions) > 0:
        p_log_sum = sum((1. / max_order) * math.log(p) for p in precisions)
        geo_mean = math.exp(p_log_sum)
    else:
        geo_mean = 0
    ratio = float(translation_length) / reference_length
    if ratio > 1.0:
        bp = 1.
    else:
        bp = math.exp(1 - 1. / ratio)
    bleu = geo_mean * bp
    return (bleu, precisions, bp, ratio, translation_length, reference_length)

def _rouge_ngrams(n, text):
    ngram_set = set()
    text_length = len(text)
    max_index_ngram_start = text_length - n
    for i in range(max_index_ngram_start + 1):
        ngram_set.add(tuple(text[i:i + n]))
    return ngram_set

def _split_into_words(sentences):
    return list(itertools.chain(*[_.split(" ") for _ in sentences]))

def _get_word_ngrams(n, sentences):
    assert len(sentences) > 0
    assert n > 0
    words = _split_into_words(sentences)
    return _rouge_ngrams(n, words)

def _len_lcs(x, y):
    table = _lcs(x, y)
    n, m = len(x), len(y)
    return table[n, m]

def _lcs(x, y):
    n, m = len(x), len(y)
    table = dict()
    for i in range(n + 1):
        for j in range(m + 1):
            if i == 0 or j == 0:
                table[i, j] = 0
            elif x[i - 1] == y[j - 1]:
                table[i, j] = table[i - 1, j - 1] + 1
            else:
                table[i, j] = max(table[i - 1, j], table[i, j - 1])
    return table

def _f_p_r_lcs(llcs, m, n):
    r_lcs = llcs / m
    p_lcs = llcs / n
    beta = p_lcs / (r_lcs + 1e-12)
    num = (1 + (beta ** 2)) * r_lcs * p_lcs
    denom = r_lcs + ((beta ** 2) * p_lcs)
    f_lcs = num / (denom + 1e-12)
    return f_lcs, p_lcs, r_lcs

def rouge_n(evaluated_sentences, reference_sentences, n=2):
    if len(evaluated_sentences) <= 0 or len(reference_sentences) <= 0:
        raise ValueError("Collections must contain at least 1 sentence.")
    evaluated_ngrams = _get_word_ngrams(n, evaluated_sentences)
    reference_ngrams = _get_word_ngrams(n, reference_sentences)
    reference_count = len(reference_ngrams)
    evaluated_count = len(evaluated_ngrams)
    overlapping_ngrams = evaluated_ngrams.intersection(reference_ngrams)
    overlapping_count = len(overlapping_ngrams)
    if evaluated_count == 0:
        precision = 0.0
    else:
        precision = overlapping_count / evaluated_count
    if reference_count == 0:
        recall = 0.0
    else:
        recall = overlapping_count / reference_count
    f1_score = 2.0 * ((precision * recall) / (precision + recall + 1e-8))
    return f1_score, precision, recall

def rouge_l_sentence_level(evaluated_sentences, reference_sentences):
    if len(evaluated_sentences) <= 0 or len(reference_sentences) <= 0:
        raise ValueError("Collections must contain at least 1 sentence.")
    reference_words = _split_into_words(reference_sentences)
    evaluated_words = _split_into_words(evaluated_sentences)
    m = len(reference_words)
    n = len(evaluated_words)
    lcs = _len_lcs(evaluated_words, reference_words)
    return _f_p_r_lcs(lcs, m, n)

def rouge(hypotheses, references):
    rouge_1 = [rouge_n([hyp], [ref], 1) for hyp, ref in zip(hypotheses, references)]
    rouge_1_f, rouge_1_p, rouge_1_r = map(np.mean, zip(*rouge_1))
    rouge_2 = [rouge_n([hyp], [ref], 2) for hyp, ref in zip(hypotheses, references)]
    rouge_2_f, rouge_2_p, rouge_2_r = map(np.mean, zip(*rouge_2))
    rouge_l = [rouge_l_sentence_level([hyp], [ref]) for hyp, ref in zip(hypotheses, references)]
    rouge_l_f, rouge_l_p, rouge_l_r = map(np.mean, zip(*rouge_l))
    return {"rouge_1/f_score": rouge_1_f, "rouge_1/r_score": rouge_1_r, "rouge_1/p_score": rouge_1_p,
            "rouge_2/f_score": rouge_2_f, "rouge_2/r_score": rouge_2_r, "rouge_2/p_score": rouge_2_p,
            "rouge_l/f_score": rouge_l_f, "rouge_l/r_score": rouge_l_r, "rouge_l/p_score": rouge_l_p}

def rouge_score(references, generated):
    score = rouge(generated, references)
    return {k: (v * 100) for (k, v) in score.items()}

def bleu_score(references, generated, n_gram=4, smooth=False):
    formatted_ref = [[ref] for ref in references]
    bleu_s, _, _, _, _, _ = compute_bleu(formatted_ref, generated, n_gram, smooth)
    return bleu_s * 100

def two_seq_same(sa, sb):
    if len(sa) != len(sb):
        return False
    for (wa, wb) in zip(sa, sb):
        if wa != wb:
            return False
    return True

def unique_sentence_percent(sequence_batch):
    unique_seq = []
    for seq in sequence_batch:
        count = 0
        for uni_seq in unique_seq:
            if two_seq_same(seq, uni_seq):
                count += 1
                break
        if count == 0:
            unique_seq.append(seq)
    return len(unique_seq) / len(sequence_batch), len(unique_seq)

def feature_detect(seq_batch, feature_set):
    feature_batch = []
    for ids in seq_batch:
        feature_list = []
        for i in ids:
            if i in feature_set:
                feature_list.append(i)
        feature_batch.append(set(feature_list))
    return feature_batch

def feature_matching_ratio(feature_batch, test_feature):
    count = 0
    for (fea_set, fea) in zip(feature_batch, test_feature):
        if fea in fea_set:
            count += 1
    return count / len(feature_batch)

def feature_coverage_ratio(feature_batch, feature_set):
    features = set()
    for fb in feature_batch:
        features = features | fb
    return len(features) / len(feature_set)

def feature_diversity(feature_batch):
    list_len = len(feature_batch)
    total_count = 0
    for i, x in enumerate(feature_batch):
        for j in range(i + 1, list_len):
            y = feature_batch[j]
            total_count += len(x & y)
    denominator = list_len * (list_len - 1) / 2
    return total_count / denominator

text_predict = open(sys.argv[1], encoding="utf-8").read().splitlines()
text_test = open(sys.argv[2], encoding="utf-8").read().splitlines()
rows = [json.loads(l) for l in open(sys.argv[3], encoding="utf-8").read().splitlines()]
feature_set = set(next(r["vocabulary"] for r in rows if "vocabulary" in r))
test_feature = [r["feature"] for r in rows if "feature" in r]
tokens_predict = [t.split() for t in text_predict]
tokens_test = [t.split() for t in text_test]
out = {"bleu1": bleu_score(tokens_test, tokens_predict, n_gram=1, smooth=False),
       "bleu4": bleu_score(tokens_test, tokens_predict, n_gram=4, smooth=False)}
usr, _ = unique_sentence_percent(tokens_predict)
feature_batch = feature_detect(tokens_predict, feature_set)
out.update(usr=usr, fmr=feature_matching_ratio(feature_batch, test_feature),
           fcr=feature_coverage_ratio(feature_batch, feature_set), div=feature_diversity(feature_batch))
for k, v in rouge_score(text_test, text_predict).items():
    name, part = k.split("/")
    out[name.replace("rouge_", "rouge").replace("rougel", "rougeL") + "_" + part[0]] = float(v)
print(json.dumps(out))
'''


def build(amazon: Path, n: int, folder: Path) -> None:
    """The ``amazon`` set: retrieval-style hypotheses for the mined reference sentences (see the module doc)."""
    from collections import defaultdict

    from xrbench import aspects
    from xrbench.data import amazon as az

    ds = az.load("amazon-2014-5core", path=amazon)
    texts = ds.interactions["text"].tolist()
    vocab = aspects.mine_vocabulary(texts)
    vs = frozenset(vocab)
    tuples = [(it, aspects.extract(t, vs)) for it, t in zip(ds.interactions["item"], texts)]
    tuples = [(it, t) for it, t in tuples if t is not None]
    by_item = defaultdict(list)
    for it, t in tuples:
        by_item[it].append(t.sentence)
    hyps, refs, feats = [], [], []
    k = 0
    while len(refs) < n:
        it, t = tuples[k % len(tuples)]
        cands = by_item[it]
        hyps.append(cands[(k // len(tuples) + 1) % len(cands)])
        refs.append(t.sentence)
        feats.append(t.feature)
        k += 1
    write(folder, hyps, refs, feats, vocab)


def build_distinct(source: Path, folder: Path, seed: int = 0) -> None:
    """The ``distinct`` set, as large as the ``amazon`` set in ``source``: sentences of Amazon lengths whose
    words are drawn from the Amazon word distribution; half the hypotheses splice in a span of their
    reference. Features: each row's first vocabulary word of its reference (else a random one)."""
    refs0 = (source / "ref.txt").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in (source / "features.jsonl").read_text(encoding="utf-8").splitlines()]
    vocab = next(r["vocabulary"] for r in rows if "vocabulary" in r)
    words = [w for s in refs0 for w in s.split()]
    lengths = [len(s.split()) for s in refs0]
    rng = random.Random(seed)
    vs = set(vocab)
    hyps, refs, feats = [], [], []
    for _ in refs0:
        ref = rng.choices(words, k=rng.choice(lengths))
        hyp = rng.choices(words, k=rng.choice(lengths))
        if rng.random() < 0.5:
            a = rng.randrange(len(ref))
            span = ref[a:a + rng.randint(2, 8)]
            b = rng.randrange(len(hyp) + 1)
            hyp[b:b] = span
        refs.append(" ".join(ref))
        hyps.append(" ".join(hyp))
        feats.append(next((w for w in ref if w in vs), rng.choice(vocab)))
    write(folder, hyps, refs, feats, vocab)


def write(folder: Path, hyps: list[str], refs: list[str], feats: list[str], vocab: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hyp.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")
    (folder / "ref.txt").write_text("\n".join(refs) + "\n", encoding="utf-8")
    lines = [json.dumps({"feature": f}) for f in feats] + [json.dumps({"vocabulary": vocab})]
    (folder / "features.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def timed(cmd: list[str]) -> tuple[dict, float, float]:
    """(printed JSON, wall s, CPU s = user + sys) of one whole child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(done.stdout.strip().splitlines()[-1]), wall, cpu


def run_set(name: str, folder: Path, repeat: int) -> dict:
    files = [str(folder / "hyp.txt"), str(folder / "ref.txt"), str(folder / "features.jsonl")]
    ours_cmd = [sys.executable, "-m", "xrbench.cli", "score", "--hyp", files[0], "--ref", files[1],
                "--features", files[2], "--json"]
    runs = [timed(ours_cmd) for _ in range(repeat)]
    o, wall, cpu = runs[0][0], min(r[1] for r in runs), min(r[2] for r in runs)
    p, p_wall, p_cpu = timed([sys.executable, "-c", PUBLISHED, *files])
    diff = max(abs(o[k] - p[k]) for k in p)
    n_pairs = len(Path(files[0]).read_text(encoding="utf-8").splitlines())
    n_unique = len(set(Path(files[0]).read_text(encoding="utf-8").splitlines()))
    return {"benchmark": "nlg4rs_scoring", "set": name, "pairs": n_pairs, "unique_hypotheses": n_unique,
            "ours_cpu_s": round(cpu, 2), "ours_wall_s": round(wall, 2),
            "published_cpu_s": round(p_cpu, 1), "published_wall_s": round(p_wall, 1),
            "speedup_cpu": round(p_cpu / cpu, 1), "speedup_wall": round(p_wall / wall, 1),
            "keys_agree_1e9": diff <= 1e-9, "max_abs_diff": diff,
            "target_met": p_cpu / cpu >= 100 and diff <= 1e-9,
            "note": "CPU = user+sys of the whole child process; wall time needs an idle machine"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--amazon", required=True)
    ap.add_argument("--pairs", type=int, default=32003)
    ap.add_argument("--repeat", type=int, default=3, help="runs of ours per set (the fastest counts)")
    ap.add_argument("--sets", default="amazon,distinct")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        build(Path(a.amazon), a.pairs, d / "amazon")
        build_distinct(d / "amazon", d / "distinct")
        for name in a.sets.split(","):
            print(json.dumps(run_set(name, d / name, a.repeat)), flush=True)


if __name__ == "__main__":
    main()
