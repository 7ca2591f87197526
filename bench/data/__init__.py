"""Datasets: one in-memory form (:class:`xrbench.data.schema.Dataset`) for every source, loaders
(``movielens``, ``amazon``, ``semisynth``), cards and splits. Submodules are imported where used, so
that ``xrbench list`` and ``xrbench leaderboard`` never load pandas."""
