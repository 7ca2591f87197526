"""User input errors are refused before any work, in one line: ``xrbench: error: <where>: <what>``, exit
status 2, no traceback, nothing written. Method params, task options, seeds, suite files, dataset params and
argparse errors, as a careless or hostile user gives them; plus property tests of the params parser and
schema (every built-in method's params validate to their declared type and range, or raise XRBenchError)."""
from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import assert_clean_error, cli, cli_here

# (the xrbench imports are inside the tests: the CLI tests below also run against older code)


def builtin_methods() -> list[tuple[str, str, type]]:
    from xrbench.registry import REGISTRY
    from xrbench.tasks import method_kinds

    out = []
    for kind in method_kinds():
        for name in REGISTRY.names(kind):
            out.append((kind, name, REGISTRY.get(kind, name)))
    return out


def all_params() -> list[tuple[str, str, str]]:
    return [(kind, name, p) for kind, name, cls in builtin_methods() for p in cls.default_params()]


def in_spec(value, spec) -> bool:
    """``value`` is of the spec's declared type, finite and within its range/choices."""
    if spec.choices is not None:
        return any(type(c) is type(value) and c == value for c in spec.choices)
    types = spec.types
    if value is None:
        return type(None) in types
    if not any(type(value) is t for t in types):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if spec.ge is not None and not value >= spec.ge or spec.gt is not None and not value > spec.gt:
            return False
        if spec.le is not None and not value <= spec.le or spec.lt is not None and not value < spec.lt:
            return False
        if spec.multiple_of and value % spec.multiple_of:
            return False
    if isinstance(value, str) and not value:
        return False
    return True


# -- the schema ---------------------------------------------------------------------------------------------
def test_every_builtin_declares_typed_params_and_its_defaults_pass():
    from xrbench.params import Param

    for kind, name, cls in builtin_methods():
        specs = cls.param_specs()
        assert set(specs) == set(cls.default_params()), name
        rules = {}
        for klass in cls.__mro__:
            rules.update(vars(klass).get("param_rules") or {})
        assert set(rules) <= set(specs), (name, set(rules) - set(specs))  # no rule for a param that does not exist
        for p, spec in specs.items():
            assert isinstance(spec, Param)
            assert spec.types or spec.choices is not None, (name, p)  # every built-in param is typed
        assert cls.check_params(cls.default_params()) == cls.default_params()
        cls()  # the defaults construct


def test_schema_examples():
    from xrbench.errors import XRBenchError
    from xrbench.registry import REGISTRY

    mf = REGISTRY.get("recommender", "biased-mf")
    assert mf.check_params({"lr": 1, "dim": 8}) == {"lr": 1.0, "dim": 8}  # an int where a float belongs: converted
    assert type(mf(lr=1).params["lr"]) is float
    for bad, needle in [({"dim": 2.5}, "integer"), ({"dim": True}, "integer"), ({"dim": 0}, ">= 1"),
                        ({"lr": 0}, "> 0"), ({"lr": float("inf")}, "finite"), ({"reg": -1e-9}, ">= 0"),
                        ({"nope": 1}, "unknown parameter(s) ['nope']")]:
        with pytest.raises(XRBenchError, match=r"BiasedMF: .*" + re.escape(needle)):
            mf(**bad)
    llm = REGISTRY.get("explainer", "llm-zero-shot")
    with pytest.raises(XRBenchError, match="'do_sample' must be true or false"):
        llm.check_params({"do_sample": 1})
    assert llm.check_params({"profile": False}) == {"profile": False}
    with pytest.raises(XRBenchError, match="'profile' must be one of 'auto', true, false"):
        llm.check_params({"profile": "yes please"})
    dr = REGISTRY.get("estimator", "dr-learner")
    with pytest.raises(XRBenchError, match="estimator 'dr-learner': param 'final' must be one of 'ridge', 'linear'"):
        dr.check_params({"final": "forest"}, "estimator 'dr-learner'")
    with pytest.raises(XRBenchError, match="multiple of 4"):
        REGISTRY.get("estimator", "causal-forest-dml")(n_estimators=10)


# -- property tests: arbitrary --param values ---------------------------------------------------------------
PARAMS = all_params()
_CLASSES: dict[tuple[str, str], type] = {}


def method_class(kind: str, name: str) -> type:
    if (kind, name) not in _CLASSES:
        from xrbench.registry import REGISTRY
        _CLASSES[(kind, name)] = REGISTRY.get(kind, name)
    return _CLASSES[(kind, name)]


def check_outcome(cls: type, key: str, given_values: dict) -> None:
    """Either every value validates to its declared type within range, or XRBenchError (nothing else)."""
    from xrbench.errors import XRBenchError

    try:
        out = cls.check_params(given_values)
    except XRBenchError as exc:
        assert "\n" not in str(exc)
        return
    spec = cls.param_specs()[key]
    assert in_spec(out[key], spec), (cls.__name__, key, given_values, out)


numbers_ = st.one_of(st.integers(), st.integers(min_value=-2**80, max_value=2**80), st.floats(),
                     st.booleans(), st.none(), st.sampled_from([0, 1, -1, 0.5, 1e-3, 2**32, float("nan")]))
raw_texts = st.one_of(st.text(max_size=30), st.from_regex(r"[-+]?[0-9]*\.?[0-9]*([eE][-+]?[0-9]{1,3})?",
                                                          fullmatch=True),
                      st.sampled_from(["1e-3", ".5", "2E4", "inf", "-inf", "nan", ".nan", "true", "no", "null",
                                       "~", "[1, 2]", "{a: 1}", "[a", "ridge", "auto", "0x10", "010", "1:30",
                                       "2001-01-01", "!!python/object:os.system", "*x", "&a 1", "'quoted'"]),
                      numbers_.map(str))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(PARAMS), raw=raw_texts)
def test_any_cli_string_validates_or_is_refused(which, raw):
    from xrbench.cli import _params
    from xrbench.errors import XRBenchError

    kind, name, key = which
    try:
        values = _params([f"{key}={raw}"])
    except XRBenchError as exc:
        assert "\n" not in str(exc)
        return
    check_outcome(method_class(kind, name), key, values)


@settings(max_examples=400, deadline=None)
@given(which=st.sampled_from(PARAMS), value=numbers_)
def test_any_number_validates_or_is_refused(which, value):
    kind, name, key = which
    check_outcome(method_class(kind, name), key, {key: value})


def valid_value(spec):
    """A hypothesis strategy for the values a spec allows."""
    if spec.choices is not None:
        return st.sampled_from(spec.choices)
    t = spec.types[0]
    if t is bool:
        return st.booleans()
    if t is int:
        lo = spec.ge if spec.ge is not None else (spec.gt + 1 if spec.gt is not None else -10**6)
        hi = spec.le if spec.le is not None else (spec.lt - 1 if spec.lt is not None else 10**9)
        if spec.multiple_of:
            m = spec.multiple_of
            return st.integers(-(-int(lo) // m), int(hi) // m).map(lambda k: k * m)
        return st.integers(int(lo), int(hi))
    if t is float:
        lo = spec.ge if spec.ge is not None else spec.gt
        hi = spec.le if spec.le is not None else spec.lt
        return st.floats(min_value=lo, max_value=hi, exclude_min=spec.gt is not None,
                         exclude_max=spec.lt is not None, allow_nan=False, allow_infinity=False)
    if t is str:  # names as a user types them (a string that reads as a number is a number)
        from xrbench.params import parse_value
        return st.from_regex(r"[A-Za-z][A-Za-z0-9_./-]{0,20}", fullmatch=True).filter(lambda s: parse_value(s) == s)
    raise AssertionError(t)


def as_cli(value, style: int) -> str:
    """How a user may write ``value`` on the command line."""
    if isinstance(value, bool):
        return ("true" if value else "false") if style % 2 else str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15 and style == 3:
            return str(int(value))  # an integral float written as an int: read back as the float
        return [repr(value), f"{value:.17e}", f"{value:.17E}", repr(value)][style]
    return str(value)


@st.composite
def valid_params(draw):
    kind, name, cls = draw(st.sampled_from([m for m in builtin_methods() if m[2].default_params()]))
    specs = cls.param_specs()
    keys = draw(st.lists(st.sampled_from(sorted(specs)), unique=True, max_size=len(specs)))
    return kind, name, {k: draw(valid_value(specs[k])) for k in keys}


@settings(max_examples=300, deadline=None)
@given(case=valid_params(), style=st.integers(0, 3))
def test_valid_params_round_trip_through_the_cli(case, style):
    from xrbench.cli import _params

    kind, name, params = case
    cls = method_class(kind, name)
    strings = [f"{k}={as_cli(v, style)}" for k, v in params.items()]
    back = cls.check_params(_params(strings))
    assert back == params
    assert all(type(back[k]) is type(v) for k, v in params.items())


@pytest.mark.parametrize("text, value", [("1e-3", 0.001), (".5", 0.5), ("2E4", 20000.0), ("-1.5e+2", -150.0),
                                         ("010", 10), ("1_000", "1_000"), ("yes", True), ("null", None)])
def test_numbers_read_as_the_user_means_them(text, value):
    from xrbench.cli import _params
    from xrbench.params import load_yaml

    assert _params([f"x={text}"]) == {"x": value}
    assert load_yaml(f"x: {text}") == {"x": value}
    assert math.isinf(_params(["x=inf"])["x"]) and math.isnan(_params(["x=nan"])["x"])


# -- property tests: options ------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(["split", "k", "sample", "fidelity", "placebo_rows", "attribute_model",
                            "history_model"]), value=st.one_of(numbers_, raw_texts))
def test_any_option_value_validates_or_is_refused(key, value):
    from xrbench.errors import XRBenchError
    from xrbench.tasks import all_tasks

    for task in all_tasks():
        specs = task.options.specs()
        if key not in specs:
            continue
        try:
            opts = task.options.from_mapping({key: value}, "test")
        except XRBenchError as exc:
            assert "\n" not in str(exc)
            continue
        v = getattr(opts, key)
        if specs[key].registered:
            from xrbench.registry import REGISTRY
            assert v in REGISTRY.names(specs[key].registered)
        assert in_spec(v, specs[key]), (key, value, v)


SUITE_SNIPPETS = ["name: [a", "k: ten", "seeds: 3", "methods: [bias]", "datasets: ml-100k", "[[[[[[[[", "? ? ?",
                  "methods: {recommender: [5]}", "a: b\n  c: d", "datasets: [ml-100k]\nmethods: {recommender: [bias]}",
                  "datasets: [ml-100k]\nmethods: {recommender: [{name: bias, params: {iters: 1e9}}]}\nk: .5"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(st.text(max_size=80).map(str.encode), st.binary(max_size=80),
                      st.lists(st.sampled_from(SUITE_SNIPPETS), max_size=4).map(lambda xs: "\n".join(xs).encode())))
def test_any_suite_file_is_parsed_or_refused_in_one_line(tmp_path_factory, data):
    from xrbench.errors import XRBenchError
    from xrbench.specs import load_suite

    f = tmp_path_factory.mktemp("suite") / "s.yaml"
    f.write_bytes(data)
    try:
        load_suite(str(f))
    except XRBenchError as exc:
        assert "\n" not in str(exc) and str(f) in str(exc)


# -- the command line: every case exits 2 before any work, nothing written ----------------------------------
# The first case of each list runs in a subprocess (``cli``), exactly as a user sees it; the other cases run
# the same ``xrbench.cli.main`` in this process (``cli_here``: the same exit status and error line, without
# the seconds each fresh interpreter spends importing).
def via(case, cases: list):
    """``cli`` for the first of ``cases``, ``cli_here`` for the others."""
    assert case in cases
    return cli if case == cases[0] else cli_here


def refused(proc, out: Path, *needles: str) -> str:
    line = assert_clean_error(proc, *needles)
    assert proc.returncode == 2, proc.stderr
    assert "usage:" not in proc.stderr
    assert not out.exists(), sorted(str(p) for p in out.rglob("*"))
    return line


def adhoc(grouplens_dir: Path, out: Path, *args: str, dataset: str = "ml-100k", run=cli):
    return run("run", "--dataset", dataset, "--data-path", f"ml-100k={grouplens_dir}", "--out", str(out), "-q",
               *args)


BAD_RUN_ARGS = [
    (["--recommender", "bias", "--param", "reg_user=abc"], ["recommender 'bias'", "param 'reg_user'", "'abc'"]),
    (["--recommender", "biased-mf", "--param", "dim=-5"], ["recommender 'biased-mf'", "param 'dim'", ">= 1", "-5"]),
    (["--recommender", "bias", "--param", "iters=2.5"], ["param 'iters'", "an integer", "2.5"]),
    (["--recommender", "bias", "--param", "reg_item=nan"], ["param 'reg_item'", "finite"]),
    (["--recommender", "item-knn", "--param", "k=inf"], ["param 'k'", "an integer"]),
    (["--recommender", "biased-mf", "--param", "lr=0"], ["param 'lr'", "> 0"]),
    (["--explainer", "template", "--param", "n_reasons=0"], ["explainer 'template'", "param 'n_reasons'"]),
    (["--explainer", "llm-zero-shot", "--param", "do_sample=1"], ["param 'do_sample'", "true or false"]),
    (["--explainer", "llm-zero-shot", "--param", "batch_size=1e3"], ["param 'batch_size'", "an integer"]),
    (["--recommender", "bias", "--seeds", "-1"], ["--seeds", "-1"]),
    (["--recommender", "bias", "--seeds", "0", "99999999999"], ["--seeds", "99999999999"]),
    (["--explainer", "template", "--sample", "-5"], ["--sample", "option 'sample'", ">= 1"]),
    (["--explainer", "template", "--sample", "0"], ["--sample", "option 'sample'", ">= 1"]),
    (["--explainer", "template", "--fidelity", "-3"], ["--fidelity", "option 'fidelity'", ">= 0"]),
    (["--recommender", "bias", "--k", "0"], ["--k", "option 'cutoffs'", "0 is not allowed"]),
    (["--explainer", "template", "--option", "attribute_model=nope"],
     ["attribute_model", "unknown recommender 'nope'"]),
    (["--explainer", "template", "--option", "history_model=5"], ["history_model", "a non-empty string"]),
    (["--recommender", "bias", "--split", "predefined"], ["dataset 'ml-100k'", "no predefined folds"]),
    (["--explainer", "template", "--sample", "3", "--full"], ["--full", "--sample"]),
]


@pytest.mark.parametrize("args, needles", BAD_RUN_ARGS)
def test_bad_params_options_and_seeds_are_refused_before_any_work(tmp_path, grouplens_dir, args, needles):
    out = tmp_path / "out"
    refused(adhoc(grouplens_dir, out, *args, run=via((args, needles), BAD_RUN_ARGS)), out, *needles)


def test_estimator_params_and_options_refused_before_generating_anything(tmp_path):
    cache = tmp_path / "cache"
    cases = [(["--estimator", "dr-learner", "--param", "final=forest"], ["param 'final'", "'ridge'"]),
             (["--estimator", "dr-learner", "--param", "min_propensity=0.7"], ["min_propensity"]),
             (["--estimator", "causal-forest-dml", "--param", "n_estimators=10"], ["multiple of 4"]),
             (["--estimator", "ipw", "--option", "placebo_rows=0"], ["placebo_rows", ">= 1"])]
    for args, needles in cases:
        out = tmp_path / "out"
        p = via((args, needles), cases)("run", "--dataset", "ml100k-semisynth", "--out", str(out), "-q", *args,
                                        env={"XRBENCH_CACHE": str(cache)})
        refused(p, out, *needles)
    assert not (cache / "semisynth").exists()


SEMISYNTH_PARAMS = [
    ("gamma=abc", ["dataset 'ml100k-semisynth'", "param 'gamma'", "'abc'"]),
    ("gamma=nan", ["param 'gamma'", "finite"]),
    ("gamma=-1", ["param 'gamma'", "> 0"]),
    ("n=-5", ["param 'n'", "-5"]),
    ("n=2.5", ["param 'n'", "an integer"]),
    ("n=1e9", ["param 'n'"]),
    ("variant=nope", ["param 'variant'", "'synthetic'"]),
    ("colour=red", ["dataset 'ml100k-semisynth'", "unknown parameter(s) ['colour']"]),
]


@pytest.mark.parametrize("param, needles", SEMISYNTH_PARAMS)
def test_bad_semisynth_params_refused_before_generating_anything(tmp_path, param, needles):
    out, cache = tmp_path / "out", tmp_path / "cache"
    p = via((param, needles), SEMISYNTH_PARAMS)(
        "run", "--dataset", "ml100k-semisynth", "--dataset-param", param, "--estimator", "zero-effect",
        "--out", str(out), "-q", env={"XRBENCH_CACHE": str(cache)})
    refused(p, out, *needles)
    assert not (cache / "semisynth").exists()


def test_unknown_dataset_param_refused(tmp_path, grouplens_dir):
    out = tmp_path / "out"
    refused(adhoc(grouplens_dir, out, "--recommender", "bias", "--dataset-param", "colour=red"), out,
            "dataset 'ml-100k'", "unknown parameter(s) ['colour']")


SUITE_HEAD = "datasets: [ml-100k]\nmethods: {recommender: [bias]}\nseeds: [0]\n"


BAD_SUITES = [
    (SUITE_HEAD + "split: nope\n", ["option 'split'", "'nope'", "'random'"]),
    (SUITE_HEAD + "k: ten\n", ["option 'k'", "'ten'"]),
    (SUITE_HEAD + "sample: -1\n", ["option 'sample'"]),
    (SUITE_HEAD + "fidelity: 1.5\n", ["option 'fidelity'"]),
    ("datasets: [ml-100k]\nmethods: {recommender: [bias]}\nseeds: 3\n", ["seeds", "list", "got 3"]),
    ("datasets: [ml-100k]\nmethods: {recommender: [bias]}\nseeds: [0, 1.5]\n", ["seeds", "1.5"]),
    ("datasets: [ml-100k]\nmethods: {recommender: [bias]}\nseeds: [a]\n", ["seeds", "'a'"]),
    ("datasets: [ml-100k]\nmethods: {recommender: [bias]}\nseeds: [-1]\n", ["seeds", "-1"]),
    ("datasets: ml-100k\nmethods: {recommender: [bias]}\n", ["datasets", "must be a list", "'ml-100k'"]),
    ("datasets: [ml-100k]\nmethods: [bias]\n", ["methods", "must be a mapping"]),
    ("datasets: [ml-100k]\nmethods: bias\n", ["methods", "must be a mapping"]),
    ("datasets: [ml-100k]\nmethods: {recommender: bias}\n", ["methods.recommender", "must be a list"]),
    ("datasets: [ml-100k]\nmethods: {recommender: [5]}\n", ["methods.recommender[0]", "got 5"]),
    ("datasets: [ml-100k]\nmethods: {recommender: [{name: bias, params: 3}]}\n", ["methods.recommender[0].params"]),
    ("datasets: [{name: ml-100k, optional: maybe}]\nmethods: {recommender: [bias]}\n", ["datasets[0].optional"]),
    ("datasets: [ml-100k]\nmethods: {recommender: [bias]}\nmetrics: {recommend: rmse}\n", ["metrics.recommend"]),
    ("name: [a\ndatasets: [ml-100k]\n", ["not valid YAML", "line 2, column", "line 1, column"]),
    ("datasets: [ml-100k]\nmethods: {recommender: [{name: biased-mf, params: {dim: -1}}]}\n",
     ["methods.recommender[0]", "recommender 'biased-mf'", "param 'dim'"]),
    ("datasets: [ml-100k]\nmethods: {recommender: [{name: bias, params: {reg_user: abc}}]}\n",
     ["methods.recommender[0]", "param 'reg_user'", "'abc'"]),
    (SUITE_HEAD + "split: predefined\n", ["dataset 'ml-100k'", "no predefined folds"]),
]


@pytest.mark.parametrize("text, needles", BAD_SUITES)
def test_bad_suite_files_are_refused_in_one_line(tmp_path, grouplens_dir, text, needles):
    f = tmp_path / "suite.yaml"
    f.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    p = via((text, needles), BAD_SUITES)("run", "--suite", str(f), "--data-path", f"ml-100k={grouplens_dir}",
                                         "--out", str(out), "-q")
    line = refused(p, out, *needles)
    if "predefined" not in text:
        assert str(f) in line  # names the file


def test_non_utf8_suite_file(tmp_path, grouplens_dir):
    f = tmp_path / "suite.yaml"
    f.write_bytes(b"name: caf\xe9\n" + SUITE_HEAD.encode())
    out = tmp_path / "out"
    refused(cli("run", "--suite", str(f), "--out", str(out), "-q"), out, str(f), "not UTF-8", "line 1")


def test_valid_float_spellings_run(tmp_path, grouplens_dir):
    """1e-3 on the command line and in a suite file is the float 0.001 (YAML 1.1 would read a string)."""
    import json

    out = tmp_path / "out"
    p = adhoc(grouplens_dir, out, "--recommender", "bias", "--param", "reg_user=1e-3", "--param", "reg_item=2E1",
              "--param", "iters=3")
    assert p.returncode == 0, p.stderr
    rec = json.loads(next(out.rglob("record.json")).read_text())
    assert rec["status"] == "ok" and rec["method"]["params"]["reg_user"] == 0.001
    assert rec["method"]["params"]["reg_item"] == 20.0
    f = tmp_path / "suite.yaml"
    f.write_text("datasets: [ml-100k]\nmethods: {recommender: [{name: bias, params: {reg_user: 1e-3, iters: 2}}]}\n"
                 "seeds: [0]\n")
    p = cli_here("run", "--suite", str(f), "--data-path", f"ml-100k={grouplens_dir}", "--out", str(tmp_path / "o2"),
                 "-q")  # (the first run above is the subprocess; this one the same main in this process)
    assert p.returncode == 0, p.stderr
    rec = json.loads(next((tmp_path / "o2").rglob("record.json")).read_text())
    assert rec["status"] == "ok" and rec["method"]["params"]["reg_user"] == 0.001


def test_argparse_errors_are_one_line(tmp_path):
    out = tmp_path / "out"
    p = cli("run", "--seeds", "x", "--out", str(out))
    line = refused(p, out, "--seeds", "invalid int value: 'x'", "(see 'xrbench run --help')")
    assert proc_lines(p) == [line]
    p = cli_here("run", "--device", "tpu")  # (the first case above is the subprocess; these the same main here)
    assert proc_lines(p) == [assert_clean_error(p, "--device", "(see 'xrbench run --help')")] and p.returncode == 2
    p = cli_here("nope")
    assert proc_lines(p) == [assert_clean_error(p, "(see 'xrbench --help')")] and p.returncode == 2


def proc_lines(p) -> list[str]:
    return [line for line in p.stderr.splitlines() if line.strip()]


@pytest.mark.parametrize("args", [["list", "metric"], ["list"]])
def test_closed_stdout_is_quiet(args):
    """``xrbench list metric | head``: stdout closed early ends quietly with status 0, no BrokenPipeError."""
    p = subprocess.Popen([sys.executable, "-m", "xrbench.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()
    err = p.stderr.read().decode()
    p.stderr.close()
    assert p.wait(timeout=300) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err


# -- the Python API goes through the same checks, before any folder is created --------------------------------
@pytest.mark.parametrize("kw, needle", [
    ({"recommenders": [("biased-mf", {"dim": -1})]}, "param 'dim'"),
    ({"recommenders": [("bias", {"iters": 2.5})]}, "param 'iters'"),
    ({"recommenders": [("bias", {"reg_user": float("nan")})]}, "finite"),
    ({"recommenders": [5]}, "expected a name"),
    ({"recommenders": ["bias"], "seeds": [-1]}, "seed"),
    ({"recommenders": ["bias"], "seeds": 3}, "seeds"),
    ({"recommenders": ["bias"], "options": {"k": 0}}, "option 'k'"),
    ({"recommenders": ["bias"], "options": {"split": "nope"}}, "option 'split'"),
    ({"explainers": ["template"], "options": {"sample": 0}}, "option 'sample'"),
    ({"recommenders": ["bias"], "options": {"nope": 1}}, "unknown option(s) nope"),
    ({"estimators": [("dr-learner", {"final": "forest"})]}, "param 'final'"),
])
def test_api_refuses_before_any_folder(tmp_path, grouplens_dir, kw, needle):
    from xrbench.api import Experiment
    from xrbench.errors import XRBenchError

    out = tmp_path / "out"
    with pytest.raises(XRBenchError) as exc:
        Experiment(datasets=["ml-100k"], **kw).run(out, data_path=[f"ml-100k={grouplens_dir}"], progress=False)
    assert needle in str(exc.value) and "\n" not in str(exc.value)
    assert not out.exists()


def test_api_full_sample_and_predefined_split(tmp_path, grouplens_dir):
    from xrbench.api import Experiment
    from xrbench.errors import XRBenchError
    from xrbench.specs import Suite

    s = Experiment(datasets=["ml-100k"], explainers=["template"], options={"sample": None}).suite()
    assert dict(s.options)["sample"] is None  # None is a value (every pair), not "left as it was"
    assert dict(Suite("x", (), (), options=(("sample", 5),)).with_options(sample=None).options)["sample"] is None
    out = tmp_path / "out"
    with pytest.raises(XRBenchError, match="no predefined folds"):
        Experiment(datasets=["ml-100k"], recommenders=["bias"], options={"split": "predefined"}).run(
            out, data_path=[f"ml-100k={grouplens_dir}"], progress=False)
    assert not out.exists()
