"""Built-in methods: recommenders, causal estimators and explainers."""
