"""The quick suite's speed-ups change no result: item-knn's ranking scores equal the per-user loop bit for
bit, the cached dataset ids equal rebuilt ones, the dynamo-free Adam equals ``torch.optim.Adam``, biased-mf
trains to the same bits on one thread, and unit files written at the new gzip level load back the same."""
from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from xrbench.baselines.recommenders import ItemKNN, positive_similarities, positive_similarities_dense
from xrbench.data.schema import finalize
from xrbench.data.split import make_split
from xrbench.metrics.outputs import COMPRESSLEVEL, RecOutputs
from xrbench.view import TrainView, dataset_index


def small_dataset(n_users: int = 70, n_items: int = 45, seed: int = 0, name: str = "t"):
    """Random ratings with heavy and light users, an item nobody rated in train, and twin items (identical
    rating columns, so equal similarities: ties at the kNN cut)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        density = (0.05, 0.3, 0.9)[u % 3]
        for i in range(n_items - 2):
            if rng.random() < density:
                r = float(rng.integers(1, 6))
                rows.append((f"u{u:03d}", f"i{i:03d}", r, u * 1000 + i))
                if i == 3:  # the twin of i003
                    rows.append((f"u{u:03d}", f"i{n_items - 2:03d}", r, u * 1000 + n_items))
    rows.append(("u999", f"i{n_items - 1:03d}", 4.0, 1))  # a user and an item seen once
    inter = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    return finalize(name, inter, None, None, rating_min=1, rating_max=5, source="mem", file_hash=f"h{seed}",
                    card={}, stats={})


def fitted_knn(view: TrainView, **params) -> ItemKNN:
    m = ItemKNN(**params)
    m.bind(view)
    m.fit(view)
    return m


def loop_scores(m: ItemKNN, users: np.ndarray) -> np.ndarray:
    """The per-user loop ``ItemKNN.scores`` ran before it was sped up."""
    all_items = np.arange(m.view.n_items)
    base = m.mu + m.bu[users][:, None] + m.bi[None, :]
    return base + np.stack([m._neighbour_terms(int(u), all_items) for u in users])


@pytest.mark.parametrize("k", [1, 3, 7, 40])
def test_item_knn_scores_equal_the_per_user_loop_bit_for_bit(k):
    ds = small_dataset()
    for seed in (0, 1):
        view = TrainView.build(ds, make_split(ds, "random", seed), seed)
        m = fitted_knn(view, k=k, shrinkage=2.0)
        users = np.arange(view.n_users)
        assert any(len(m.history(u)) > k for u in users) or k == 40
        fast, slow = m.scores(users), loop_scores(m, users)
        assert fast.tobytes() == slow.tobytes()
        fast_top = m.rank(users, 10)
        m.scores = lambda us, m=m: loop_scores(m, us)  # the ranking the loop gave
        assert [r.tolist() for r in fast_top] == [r.tolist() for r in m.rank(users, 10)]


def test_item_knn_refit_ranks_with_the_new_similarities():
    ds1, ds2 = small_dataset(seed=1), small_dataset(n_items=52, seed=2)
    v1 = TrainView.build(ds1, make_split(ds1, "random", 0), 0)
    v2 = TrainView.build(ds2, make_split(ds2, "random", 0), 0)
    m = fitted_knn(v1, k=3)
    m.scores(np.arange(4))  # builds the dense copy of the similarities
    m.bind(v2)
    m.fit(v2)
    users = np.arange(v2.n_users)
    assert m.scores(users).tobytes() == loop_scores(m, users).tobytes()


def test_item_knn_fidelity_interface_unchanged_by_ranking():
    ds = small_dataset()
    view = TrainView.build(ds, make_split(ds, "random", 0), 0)
    m = fitted_knn(view, k=3)
    before = [(m.neighbours_in_history(u, i), m.score_with_history(u, np.arange(5), None).tobytes())
              for u in range(0, view.n_users, 7) for i in range(0, view.n_items, 5)]
    m.scores(np.arange(view.n_users))
    after = [(m.neighbours_in_history(u, i), m.score_with_history(u, np.arange(5), None).tobytes())
             for u in range(0, view.n_users, 7) for i in range(0, view.n_items, 5)]
    assert before == after


def residuals(m: ItemKNN, view: TrainView) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The training rows' (user, item, residual), as ``ItemKNN.fit`` computes them."""
    tr = view.train
    u, i, r = tr["uidx"].to_numpy(), tr["iidx"].to_numpy(), tr["rating"].to_numpy(float)
    return u, i, r - (m.mu + m.bu[u] + m.bi[i])


def dense_similarities(m: ItemKNN, view: TrainView) -> np.ndarray:
    """The dense items x items computation ``ItemKNN.fit`` made before its similarities became blocks."""
    import scipy.sparse as sp

    u, i, e = residuals(m, view)
    shape = (view.n_users, view.n_items)
    E = sp.csr_matrix((e, (u, i)), shape=shape)
    B = sp.csr_matrix((np.ones_like(e), (u, i)), shape=shape)
    E2 = sp.csr_matrix((e * e, (u, i)), shape=shape)
    num, n_co, sq = (E.T @ E).toarray(), (B.T @ B).toarray(), (E2.T @ B).toarray()
    denom = np.sqrt(sq * sq.T)
    with np.errstate(divide="ignore", invalid="ignore"):
        sim = np.where(denom > 0, num / denom, 0.0)
    sim *= n_co / (n_co + m.params["shrinkage"])
    np.fill_diagonal(sim, 0.0)
    return sim


def with_repeated_pairs(seed: int):
    """``small_dataset`` with every 7th rating given again by the same user at another rating (NLG4RS and
    ``finalize`` keep such repeats): a repeated pair counts twice in n_ij and in the sums of squares."""
    ds = small_dataset(seed=seed)
    inter = ds.interactions
    again = inter.iloc[::7].copy()
    again["rating"] = 6.0 - again["rating"]
    again["timestamp"] = again["timestamp"] + 10**7
    both = pd.concat([inter[["user", "item", "rating", "timestamp"]], again[["user", "item", "rating", "timestamp"]]],
                     ignore_index=True)
    return finalize(f"rep{seed}", both, None, None, rating_min=1, rating_max=5, source="mem", file_hash=f"r{seed}",
                    card={}, stats={})


@pytest.mark.parametrize("block_entries", [1, 97, 1 << 23])
def test_item_knn_sparse_block_similarities_equal_the_dense_computation_bit_for_bit(block_entries, monkeypatch):
    monkeypatch.setattr(ItemKNN, "BLOCK_ENTRIES", block_entries)
    for seed, shrinkage, make in ((0, 2.0, small_dataset), (1, 100.0, small_dataset), (2, 2.0, with_repeated_pairs)):
        ds = make(seed=seed)
        view = TrainView.build(ds, make_split(ds, "random", seed), seed)
        if make is with_repeated_pairs:
            assert view.train.duplicated(["uidx", "iidx"]).any()
        m = fitted_knn(view, k=3, shrinkage=shrinkage)
        ref = dense_similarities(m, view)
        assert (ref < 0).any() and (ref > 0).any()
        want = np.where(ref > 0, ref, 0.0).tobytes()
        args = (*residuals(m, view), (view.n_users, view.n_items), shrinkage, block_entries)
        sparse = positive_similarities(*args)
        assert sparse.toarray().tobytes() == want
        assert (sparse.data > 0).all() and sparse.has_sorted_indices
        assert (sparse != sparse.T).nnz == 0  # symmetric: rows serve as columns when ranking
        assert positive_similarities_dense(*args).tobytes() == want
        assert m._dense[0].tobytes() == want and (m.sim_pos != sparse).nnz == 0  # what the model keeps
        assert m.n_positive_similarities == sparse.nnz


@pytest.mark.parametrize("k", [1, 3, 40])
def test_item_knn_sparse_ranking_path_equals_the_dense_path(k, monkeypatch):
    ds = small_dataset()
    view = TrainView.build(ds, make_split(ds, "random", 0), 0)
    users = np.arange(view.n_users)
    dense = fitted_knn(view, k=k, shrinkage=2.0)
    monkeypatch.setattr(ItemKNN, "DENSE_ITEMS", 0)  # above the limit: rows gathered from the sparse matrix
    sparse = fitted_knn(view, k=k, shrinkage=2.0)
    assert sparse.scores(users).tobytes() == dense.scores(users).tobytes() == loop_scores(dense, users).tobytes()
    assert sparse._dense is None
    for u in range(0, view.n_users, 5):
        for i in range(0, view.n_items, 4):
            assert sparse.neighbours_in_history(u, i) == dense.neighbours_in_history(u, i)
        items = np.arange(0, view.n_items, 3)
        assert sparse.score_with_history(u, items, None).tobytes() == dense.score_with_history(u, items, None).tobytes()


def test_item_knn_never_allocates_an_items_by_items_matrix_above_its_dense_limit(monkeypatch):
    """3,000 items, 1,500 users with 4-12 ratings each: a dense similarity matrix would be 72 MB; the
    blocked sparse fit and ranking stay under a third of that (numpy and scipy allocations traced)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    rows = [(f"u{u}", f"i{i}", float(rng.integers(1, 6)), t) for u in range(1500)
            for t, i in enumerate(rng.choice(3000, size=int(rng.integers(4, 13)), replace=False))]
    ds = finalize("wide", pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"]), None, None,
                  rating_min=1, rating_max=5, source="mem", file_hash="wide", card={}, stats={})
    view = TrainView.build(ds, make_split(ds, "random", 0), 0)
    dense_bytes = 8 * view.n_items ** 2
    monkeypatch.setattr(ItemKNN, "DENSE_ITEMS", 1000)
    monkeypatch.setattr(ItemKNN, "BLOCK_ENTRIES", 1 << 18)
    tracemalloc.start()
    try:
        m = fitted_knn(view)
        top = m.rank(np.arange(200), 10)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert view.n_items > 2900 and len(top) == 200 and m.sim_pos.nnz > 0
    assert peak < dense_bytes / 3, (peak, dense_bytes)


@pytest.mark.parametrize("k", [1, 10, 44, 60])
def test_shared_score_ranking_equals_ranking_each_row(k):
    """most-pop ranks from one global order (``Recommender.shared_scores``): the same lists, ties by item
    index, as ranking every user's row with the seen items removed, also for users who saw all but a few."""
    from xrbench.baselines.recommenders import MostPop

    ds = small_dataset()
    view = TrainView.build(ds, make_split(ds, "random", 0), 0)
    m = MostPop()
    m.bind(view)
    m.fit(view)
    users = np.arange(view.n_users)
    assert len(np.unique(m.counts)) < view.n_items  # tied counts
    assert any(view.n_items - len(view.seen[u]) < k for u in users) or k < 44
    fast = m.rank(users, k)
    m.shared_scores = lambda: None
    slow = m.rank(users, k)
    assert [r.tolist() for r in fast] == [r.tolist() for r in slow]
    assert all(r.dtype == np.int64 for r in fast)


def test_cached_ids_equal_rebuilt_ids():
    ds = small_dataset()
    index = dataset_index(ds)
    assert dataset_index(ds) is index  # built once per dataset
    assert np.array_equal(index.user_ids, ds.user_ids) and np.array_equal(index.item_ids, ds.item_ids)
    u_index = {u: i for i, u in enumerate(ds.user_ids)}
    i_index = {u: i for i, u in enumerate(ds.item_ids)}
    assert index.uidx.tolist() == [u_index[u] for u in ds.interactions["user"]]
    assert index.iidx.tolist() == [i_index[i] for i in ds.interactions["item"]]
    other = small_dataset(seed=3)
    assert dataset_index(other) is not index
    for seed in (0, 1):
        split = make_split(ds, "random", seed)
        view = TrainView.build(ds, split, seed)
        for part, rows in ((view.train, split.train), (view.valid, split.valid)):
            assert list(part.columns[:2]) == ["uidx", "iidx"] and part["uidx"].dtype == np.int64
            assert part["uidx"].tolist() == [u_index[u] for u in part["user"]]
            assert part["iidx"].tolist() == [i_index[i] for i in part["item"]]
            assert len(part) == len(rows)
            for col in ("uidx", "iidx"):  # the view's own arrays: no memory shared with the dataset's index
                assert not np.shares_memory(part[col].to_numpy(), index.uidx)
                assert not np.shares_memory(part[col].to_numpy(), index.iidx)
        assert np.array_equal(view.user_ids, ds.user_ids) and view.user_ids is not index.user_ids
        assert view.user_ids.flags.writeable


def test_adam_equals_torch_optim_adam():
    torch = pytest.importorskip("torch")
    from xrbench.baselines.training import Adam

    def run(make):
        torch.manual_seed(0)
        w = torch.nn.Parameter(torch.randn(30, 8) * 0.1)
        b = torch.nn.Parameter(torch.zeros(30))
        unused = torch.nn.Parameter(torch.ones(3))  # never gets a gradient: skipped by both
        opt = make([w, b, unused])
        x = torch.randn(50, 8)
        y = torch.randn(50)
        idx = torch.randint(0, 30, (50,))
        for _ in range(25):
            loss = (((w[idx] * x).sum(-1) + b[idx] - y) ** 2).mean() + 0.01 * (w ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return [p.detach().numpy().tobytes() for p in (w, b, unused)]

    assert run(lambda ps: Adam(ps, lr=0.01)) == run(lambda ps: torch.optim.Adam(ps, lr=0.01))


def test_biased_mf_gets_the_same_bits_on_one_thread_as_on_two(monkeypatch):
    """Batches of 1024 x 64 and tables of >= 32768 entries: large enough for torch to split its work
    between two threads."""
    pytest.importorskip("torch")
    import xrbench.baselines.mf as mf
    from xrbench.baselines import training

    ds = small_dataset(n_users=600, n_items=60)
    view = TrainView.build(ds, make_split(ds, "random", 0), 0)
    results = []
    for threads in (1, 2):
        def fit(*args, threads=threads, **kw):
            return training.fit_early_stopping(*args, **{**kw, "threads": threads})

        monkeypatch.setattr(mf, "fit_early_stopping", fit)
        m = mf.BiasedMF(max_epochs=2, batch_size=1024, dim=64)
        m.bind(view)
        m.fit(view)
        results.append([getattr(m, k).tobytes() for k in ("P", "Q", "bu", "bi")] + [m.history])
    assert results[0] == results[1]


def test_unit_files_load_back_the_same(tmp_path):
    out = RecOutputs(np.array(["u1", "u2"]), np.array(["i1", "i2"]), np.array([4.0, 2.0]), np.array([3.5, 2.25]),
                     1.0, 5.0, {"u1": ["i3", "i1"], "u2": []}, {"i1": 3, "i2": 1}, {"u1": 2.0, "u2": 1.0})
    units = out.save(tmp_path)
    back = RecOutputs.load(tmp_path)
    assert back.topk == out.topk and np.array_equal(back.predictions, out.predictions)
    for u in units:
        data = (tmp_path / u).read_bytes()
        assert data[:2] == b"\x1f\x8b" and gzip.decompress(data)  # plain gzip, any reader takes it
    assert 1 <= COMPRESSLEVEL <= 9


# --- the second round (issue 16, item 3): each faster path against the code it replaced -----------------------

def test_top_k_equals_a_stable_full_sort_with_ties_and_non_finite_scores():
    from xrbench.protocols import top_k

    rng = np.random.default_rng(0)
    for trial in range(2000):
        rows, n, k = int(rng.integers(1, 5)), int(rng.integers(1, 30)), int(rng.integers(1, 35))
        s = rng.integers(0, 4, size=(rows, n)).astype(float)  # many ties
        if trial % 2:
            s += rng.random((rows, n)) * 0.5
        u = rng.random((rows, n))
        s[u < 0.1] = -np.inf  # seen items
        s[(u > 0.1) & (u < 0.14)] = np.nan
        s[(u > 0.14) & (u < 0.16)] = np.inf
        want = np.argsort(-s, axis=1, kind="stable")[:, :k]
        got = top_k(s, k)
        assert len(got) == rows
        for r in range(rows):
            assert np.array_equal(got[r], want[r]), (s[r], k)


def test_resample_counts_equal_the_scatter_add_they_replaced():
    from xrbench.metrics.uncertainty import resample_counts

    for n, key in ((1, "a"), (7, "b"), (943, "ml-100k|x"), (1500, "c")):
        seed = int.from_bytes(__import__("hashlib").sha256(key.encode()).digest()[:8], "little")
        idx = np.random.default_rng(seed).integers(0, n, size=(200, n))
        want = np.zeros((200, n))
        np.add.at(want, (np.repeat(np.arange(200), n), idx.ravel()), 1.0)
        got = resample_counts(n, key, 200)
        assert np.array_equal(got, want) and got.dtype == np.float64


def test_resample_counts_cache_serves_the_same_draws_and_stays_bounded(monkeypatch):
    from xrbench.metrics import uncertainty as U

    monkeypatch.setattr(U, "_COUNTS_CACHE", type(U._COUNTS_CACHE)())
    first = U.resample_counts(943, "ml-100k|random|0|rmse|abc")
    again = U.resample_counts(943, "ml-100k|random|0|rmse|abc")
    assert again is first and not first.flags.writeable  # shared, so nobody may change it
    other = U.resample_counts(943, "ml-100k|random|1|rmse|abc")
    assert not np.array_equal(other, first)
    U._COUNTS_CACHE.clear()
    assert np.array_equal(U.resample_counts(943, "ml-100k|random|0|rmse|abc"), first)  # recomputed: the same
    monkeypatch.setattr(U, "COUNTS_CACHE_BYTES", 3 * first.nbytes)
    U._COUNTS_CACHE.clear()
    for k in range(5):
        U.resample_counts(943, f"k{k}")
    assert list(U._COUNTS_CACHE) == [(943, f"k{k}", 200) for k in (2, 3, 4)]  # least recently used out first
    U.resample_counts(943, "k2")  # a hit moves to the end
    U.resample_counts(943, "k5")
    assert list(U._COUNTS_CACHE) == [(943, f"k{k}", 200) for k in (4, 2, 5)]
    U.resample_counts(4000, "big")  # larger than the bound: returned, not kept
    assert (4000, "big", 200) not in U._COUNTS_CACHE


def test_gap_bootstrap_equals_the_per_resample_loop():
    from xrbench.metrics import bias

    rng = np.random.default_rng(3)
    users = [f"u{k}" for k in range(301)]
    group = {u: ("M" if rng.random() < 0.7 else "F") for u in users}
    sse, cnt, v = rng.random(301) * 9, rng.integers(1, 30, 301).astype(float), rng.random(301)
    for vec, one in ((lambda ix: np.sqrt(sse[ix].sum(axis=-1) / cnt[ix].sum(axis=-1)),
                      lambda ix: float(np.sqrt(sse[ix].sum() / cnt[ix].sum()))),
                     (lambda ix: v[ix].mean(axis=-1), lambda ix: float(v[ix].mean()))):
        got = bias._gap(users, group, "M", "F", vec, 5, "t")
        ia = np.array([k for k, u in enumerate(users) if group[u] == "M"])
        ib = np.array([k for k, u in enumerate(users) if group[u] == "F"])
        r = np.random.default_rng(5)
        boots = np.array([one(r.choice(ia, len(ia))) - one(r.choice(ib, len(ib))) for _ in range(bias.N_BOOT)])
        lo, hi = np.percentile(boots, [2.5, 97.5])
        assert got.value == one(ia) - one(ib)
        assert got.interval == (float(lo), float(hi))


def test_review_analysis_gives_what_the_sentence_loops_gave():
    """``aspects.analyse`` (computed once per review) against splitting, tokenising and pairing each time,
    on the shipped review fixture (real Amazon-format text)."""
    from collections import Counter

    from xrbench import aspects
    from pathlib import Path

    import xrbench.data as data_pkg
    from xrbench.data.io import iter_json_lines

    path = Path(data_pkg.__file__).parent / "fixtures" / "smoke_reviews.json.gz"
    texts = [obj.get("reviewText") for _, obj in iter_json_lines(path)] + [None, "", "Great tone!"]
    assert sum(1 for t in texts if isinstance(t, str) and t) > 50
    lex = aspects.opinion_lexicon()

    def old_vocab(ts, min_df=2):
        df: Counter = Counter()
        for t in ts:
            if isinstance(t, str):
                df.update({f for s in aspects.sentences(t) for f, _ in aspects.opinion_pairs(aspects.tokens(s), lex)})
        return sorted((f for f, c in df.items() if c >= min_df), key=lambda f: (-df[f], f))[:200]

    def old_extract(t, vocab):
        if not isinstance(t, str):
            return None
        for s in aspects.sentences(t):
            toks = aspects.tokens(s)
            for f, o in aspects.opinion_pairs(toks, lex):
                if f in vocab:
                    return aspects.Tuple4(f, o, " ".join(toks), 1 if lex[o] > 0 else -1)
        return None

    vocab = aspects.mine_vocabulary(texts, min_df=2)
    assert vocab == old_vocab(texts) and len(vocab) > 5
    vs = frozenset(vocab)
    assert [aspects.extract(t, vs) for t in texts] == [old_extract(t, vs) for t in texts]
    old_mentions: Counter = Counter()
    for t in texts:
        if isinstance(t, str):
            for s in aspects.sentences(t):
                old_mentions.update(f for f, _ in aspects.opinion_pairs(aspects.tokens(s), lex) if f in vs)
    assert aspects.feature_mentions(texts, vs) == old_mentions


def test_retrieval_profiles_equal_vectors_of_the_concatenated_tokens():
    """The user profile from cached per-review token counts is the dict (same keys, same order, same bits)
    the old code built from the concatenation of the user's review tokens."""
    import math
    from collections import Counter

    from xrbench import aspects
    from xrbench.baselines.explainers import Retrieval
    from xrbench.data.catalog import load_dataset

    from xrbench.references import references

    ds = load_dataset("smoke-reviews")
    split = make_split(ds, "random", 0)
    view = TrainView.build(ds, split, 0, refs=references(ds, split))
    m = Retrieval()
    m.bind(view)
    m.fit(view)

    def old_vec(toks):
        tf = Counter(t for t in toks if t in m.idf)
        v = {t: c * m.idf[t] for t, c in tf.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {t: x / norm for t, x in v.items()}

    concat: dict[int, list[str]] = {}
    for u, t in zip(view.train["uidx"].to_numpy(), view.train["text"].tolist()):
        if isinstance(t, str):
            concat.setdefault(int(u), []).extend(aspects.tokens(t))
    assert len(concat) > 10
    for u, toks in concat.items():
        want = old_vec(toks)
        assert list(m.profiles[u].items()) == list(want.items())


@pytest.mark.parametrize("sizes", [(670, 273), (1, 9), (9, 1), (1, 1), (2, 3), (12345, 7000), (200_000, 3)])
def test_choice_rounds_equal_the_choice_calls(sizes):
    """The gap bootstrap's vectorised draws are those of rng.choice called in turn, bit for bit: with
    populations of one (nothing drawn), odd sizes (a half draw carried to the next call), rejections of
    Lemire's method (12345 and 7000: a few in these draws), chunks cut mid-stream, and a population so large
    that rejections are many (200,000: the chunks are drawn by the calls themselves)."""
    from xrbench.metrics import bias

    pops = [np.arange(m) * 3 + j for j, m in enumerate(sizes)]
    rounds = 3 if max(sizes) > 100_000 else 40 if max(sizes) > 1000 else 300
    big = sum(m * ((2**32 - m) % m) for m in sizes if m > 1) / 2**32 * max(1, (1 << 20) // sum(sizes))
    assert (big > bias.MAX_REJECTIONS) == (max(sizes) > 100_000)  # which path the default chunks take
    _choice_rounds = bias._choice_rounds
    for seed in (0, 7):
        r = np.random.default_rng(seed)
        want = [[] for _ in pops]
        for _ in range(rounds):
            for w, p in zip(want, pops):
                w.append(r.choice(p, len(p)))
        for chunk in (1 << 20, 1000):
            got = [[] for _ in pops]
            for part in _choice_rounds(np.random.default_rng(seed), pops, rounds, chunk_values=chunk):
                for g, x in zip(got, part):
                    g.extend(x)
            for g, w in zip(got, want):
                assert len(g) == rounds and all(np.array_equal(x, y) for x, y in zip(g, w))
    with pytest.raises(TypeError):
        next(_choice_rounds(np.random.Generator(np.random.MT19937(0)), pops, 2))
