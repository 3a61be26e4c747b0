"""Turn recipe outputs into a sparse feature matrix (spec §11, §19.13-14).

Each concrete recipe output contributes a block of columns:

* NUMERIC (a raw numeric input or ``normalize(x)``): one column holding the
  value;
* BINARY: one column holding 0 or 1;
* CATEGORICAL (including ``quantile_bin`` bins): one indicator column per
  value seen in the training data;
* TEXT (including ``ngram``, ``osb`` and ``cartesian`` tokens): one
  indicator column per token seen in the training data, set when the token
  occurs at least once in the record.

Missing or invalid values, and values or tokens never seen in training,
leave their columns empty. The intercept is not a column: the trainer adds
it. [ENGINE] bin edges are the training quantiles at k/n (k = 1..n-1, linear
interpolation), de-duplicated; a value's bin is the number of edges not
above it. ``normalize`` uses the training mean and population standard
deviation and gives 0 when the deviation is 0.

Fitting streams: :meth:`FeatureSpace.observe` sees the training records a
block at a time and keeps, per ``quantile_bin`` or ``normalize`` call, a
summary whose size does not grow with the rows. [ENGINE] accuracy rule:
while a call has seen at most 262,144 finite values its edges, mean and
deviation are computed from every value and equal the in-memory result
exactly. Past that, edges come from the uniform sample of
:class:`~mlpipeline.engine.sketch.ValueSketch` (each edge's rank within
0.5 % of k/n with probability above 0.99999), and the mean and deviation
from exact running moments (merged per block, so they differ from the
in-memory result by rounding only). A call whose argument itself needs a
fitted call (``quantile_bin(normalize(x), 4)``) is fitted in a further
pass over the records. Vocabularies are gathered while encoding
(:meth:`FeatureSpace.encode`) under provisional column numbers that
:meth:`FeatureSpace.end_vocabulary` maps to the sorted final columns.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from mlpipeline.engine.errors import JobFailedError
from mlpipeline.engine.recipe import (
    Call,
    Expr,
    Name,
    Number,
    expression_text,
    expression_type,
    parse_expression,
)
from mlpipeline.engine.sketch import Moments, ValueSketch
from mlpipeline.engine.text import cartesian, ngrams, no_punct, osb, tokenize
from mlpipeline.engine.values import Table, parse_binary, parse_numeric

__all__ = ["FeatureSpace", "remap_columns"]

_SINGLE = ""  # the only token of a NUMERIC or BINARY output
_FITTED_CALLS = ("normalize", "quantile_bin")


class _Unfitted:
    """Stand in for values that need a call not yet fitted."""


_UNFITTED = _Unfitted()


def remap_columns(
    matrix: sp.csr_matrix, remap: np.ndarray, n_features: int
) -> sp.csr_matrix:
    """Renumber a matrix's columns through ``remap``; drop those mapped to -1.

    Within each row the columns come out sorted, as scipy's canonical form
    has them.
    """
    columns = remap[matrix.indices]
    keep = columns >= 0
    if keep.all():
        indptr = matrix.indptr.copy()
    else:
        n_rows = matrix.shape[0]
        rows = np.repeat(np.arange(n_rows), np.diff(matrix.indptr))
        lengths = np.bincount(rows[keep], minlength=n_rows)
        indptr = np.concatenate([[0], np.cumsum(lengths)])
    result = sp.csr_matrix(
        (matrix.data[keep], columns[keep], indptr),
        shape=(matrix.shape[0], n_features),
    )
    result.sort_indices()
    return result


def _leaves(expr: Expr) -> list[str]:
    if isinstance(expr, Name):
        return [expr.value]
    if isinstance(expr, Call):
        return [name for arg in expr.args for name in _leaves(arg)]
    return []


def _as_tokens(values: list[Any], kind: str) -> list[list[str] | None]:
    if kind == "TEXT":
        return values
    return [None if v is None else [v] for v in values]


def _cell_reader(name: str, kind: str) -> Callable[[Mapping[str, str]], Any]:
    """Return how to read attribute ``name`` of a record, as a table would.

    NUMERIC and BINARY cells give a float (NaN when missing or invalid),
    CATEGORICAL ones the cell or ``None``, TEXT ones its tokens or ``None``.
    """
    if kind in ("NUMERIC", "BINARY"):
        parse = parse_numeric if kind == "NUMERIC" else parse_binary

        def number(record: Mapping[str, str]) -> float:
            cell = record.get(name)
            return math.nan if cell is None else parse(cell)[0]

        return number
    if kind == "CATEGORICAL":
        return lambda record: record.get(name) or None

    def tokens(record: Mapping[str, str]) -> list[str] | None:
        cell = record.get(name)
        return None if not cell or cell.isspace() else tokenize(cell)

    return tokens


def _binner(
    number: Callable[[Mapping[str, str]], float], edges: list[float]
) -> Callable[[Mapping[str, str]], str | None]:
    """Return ``quantile_bin``'s token of a record: its bin, as text."""

    def token(record: Mapping[str, str]) -> str | None:
        value = number(record)
        if not math.isfinite(value):
            return None
        return str(bisect.bisect_right(edges, value))

    return token


def _normalizer(
    number: Callable[[Mapping[str, str]], float], mean: float, std: float
) -> Callable[[Mapping[str, str]], float]:
    """Return ``normalize``'s value of a record."""

    def value(record: Mapping[str, str]) -> float:
        found = number(record)
        if std == 0:
            return 0.0 if math.isfinite(found) else math.nan
        return (found - mean) / std

    return value


class FeatureSpace:
    """Map records to sparse feature rows for a fixed set of recipe outputs.

    Parameters
    ----------
    outputs : sequence of Expr
        Concrete recipe outputs (leaves are input attributes).
    types : dict
        Attribute name to type, covering every attribute the outputs use.

    Attributes
    ----------
    params_ : dict
        Fitted state of ``quantile_bin`` (``edges``) and ``normalize``
        (``mean``, ``std``) calls, keyed by their canonical text.
    tokens_ : list of list of str
        Per output, the training values or tokens that own a column, sorted;
        ``[""]`` for a NUMERIC or BINARY output, empty when pruned.
    """

    def __init__(self, outputs: list[Expr], types: dict[str, str]) -> None:
        self.outputs = list(outputs)
        self.types = dict(types)

    @property
    def attributes(self) -> dict[str, str]:
        """Return the attributes the outputs read, with their types."""
        names = dict.fromkeys(n for e in self.outputs for n in _leaves(e))
        return {name: self.types[name] for name in names}

    @property
    def n_features(self) -> int:
        """Return the number of columns of transformed matrices."""
        return int(self._offsets[-1])

    def feature_names(self) -> list[str]:
        """Return ``"<output>=<token>"`` (or ``"<output>"``) per column."""
        names = []
        for expr, tokens in zip(self.outputs, self.tokens_, strict=True):
            text = expression_text(expr)
            names += [f"{text}={t}" if t != _SINGLE else text for t in tokens]
        return names

    def to_dict(self) -> dict[str, Any]:
        """Return the fitted space as JSON-compatible data."""
        return {
            "types": self.attributes,
            "outputs": [expression_text(e) for e in self.outputs],
            "params": self.params_,
            "tokens": self.tokens_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpace:
        """Rebuild a fitted space saved with :meth:`to_dict`."""
        space = cls([parse_expression(t) for t in data["outputs"]], data["types"])
        space.params_ = data["params"]
        space._set_tokens(data["tokens"])
        return space

    def fit_transform(self, table: Table) -> sp.csr_matrix:
        """Learn bins, scalings and vocabularies from ``table``; transform it.

        Parameters
        ----------
        table : Table
            Training records holding every attribute the outputs read.

        Returns
        -------
        scipy.sparse.csr_matrix of shape (table.n_rows, n_features)
        """
        self.begin_fit()
        while not self.fitted:
            self.observe(table)
            self.end_pass()
        self.begin_vocabulary()
        matrix = self.encode(table)
        remap = self.end_vocabulary()
        return remap_columns(matrix, remap, self.n_features)

    def begin_fit(self) -> None:
        """Forget fitted state before :meth:`observe` passes."""
        self.params_: dict[str, dict[str, Any]] = {}
        self._summaries: dict[str, Any] = {}

    @property
    def fit_attributes(self) -> dict[str, str]:
        """Return the attributes :meth:`observe` reads, with their types."""
        calls = self._fitted_calls().values()
        names = dict.fromkeys(n for e in calls for n in _leaves(e))
        return {name: self.types[name] for name in names}

    @property
    def fitted(self) -> bool:
        """Return whether each ``quantile_bin`` and ``normalize`` is fitted."""
        return all(key in self.params_ for key in self._fitted_calls())

    def observe(self, table: Table) -> None:
        """Add a block of training records to the current fitting pass.

        Calls whose argument needs a call not yet fitted wait for the next
        pass; see :meth:`end_pass`.
        """
        if not table.n_rows:
            return
        cache: dict[str, Any] = {}
        for key, call in self._fitted_calls().items():
            if key not in self.params_:
                self._evaluate(call, table, True, cache)

    def end_pass(self) -> None:
        """Fix the parameters of every call observed during the pass."""
        for key, summary in self._summaries.items():
            if isinstance(summary, Moments):
                mean, std = summary.result()
                if not (math.isfinite(mean) and math.isfinite(std)):
                    raise JobFailedError(
                        f"{key}: the mean ({mean:g}) or standard deviation "
                        f"({std:g}) is beyond the float range; bin the values "
                        "with quantile_bin instead or drop the outlying rows."
                    )
                self.params_[key] = {"mean": mean, "std": std}
                continue
            n_bins, sketch = summary
            edges: list[float] = []
            if sketch.count:
                cuts = sketch.quantiles(np.arange(1, n_bins) / n_bins)
                edges = np.unique(cuts).tolist()
            self.params_[key] = {"edges": edges}
        if not self._summaries and not self.fitted:
            # Nothing could be observed (no records): fit the rest as empty.
            for key in self._fitted_calls():
                empty = {"mean": 0.0, "std": 0.0}
                self.params_.setdefault(
                    key, empty if key.startswith("normalize") else {"edges": []}
                )
        self._summaries = {}

    def begin_vocabulary(self) -> None:
        """Start gathering vocabularies under provisional column numbers."""
        self._growing = [
            {_SINGLE: j}
            if expression_type(expr, self.types) in ("NUMERIC", "BINARY")
            else {}
            for j, expr in enumerate(self.outputs)
        ]
        self._next_column = len(self.outputs)

    def encode(self, table: Table) -> sp.csr_matrix:
        """Return ``table``'s rows under provisional columns, adding tokens.

        Call between :meth:`begin_vocabulary` and :meth:`end_vocabulary`,
        after fitting; the matrix is as wide as the columns numbered so far.
        """
        values = self._output_values(table, fit=False)
        return self._matrix(values, table.n_rows, self._growing, growing=True)

    @property
    def n_provisional(self) -> int:
        """Return how many provisional columns :meth:`encode` has numbered."""
        return self._next_column

    def end_vocabulary(self) -> np.ndarray:
        """Sort the gathered vocabularies into the final columns.

        Returns
        -------
        ndarray of int64, shape (n_provisional,)
            The final column of each provisional column.
        """
        tokens = [sorted(index) for index in self._growing]
        self._set_tokens(tokens)
        remap = np.full(self._next_column, -1, dtype=np.int64)
        for growing, final in zip(self._growing, self._index, strict=True):
            for token, provisional in growing.items():
                remap[provisional] = final[token]
        del self._growing
        return remap

    def transform(self, table: Table) -> sp.csr_matrix:
        """Return the feature matrix of ``table`` using the fitted state."""
        values = self._output_values(table, fit=False)
        return self._matrix(values, table.n_rows, self._index)

    def row_features(self, table: Table) -> tuple[list[int], list[float]]:
        """Return the columns and values of the single record of ``table``.

        The columns are sorted, as in a row of :meth:`transform`'s matrix,
        and no scipy matrix is built.
        """
        values = self._output_values(table, fit=False)
        return self._hits([column[0] for column in values])

    def record_features(
        self, record: Mapping[str, str]
    ) -> tuple[list[int], list[float]] | None:
        """Return :meth:`row_features` of one record given as cells.

        Outputs that are attributes, or ``quantile_bin`` or ``normalize``
        of a numeric attribute, are computed on the record's values as
        Python numbers, with no table or array built; ``None`` when another
        output needs :meth:`row_features`. ``record`` maps attribute names
        to strings.
        """
        plan = self.__dict__.get("_plan", _UNFITTED)
        if plan is _UNFITTED:
            plan = self._plan = self._scalar_plan()
        if plan is None:
            return None
        return self._hits([step(record) for step in plan])

    def _scalar_plan(self) -> list[Callable[[Mapping[str, str]], Any]] | None:
        """Return one function per output giving its value for a record."""
        plan = []
        for expr in self.outputs:
            kind = self._kind(expr)
            if isinstance(expr, Name):
                plan.append(_cell_reader(expr.value, kind))
                continue
            if not (
                isinstance(expr, Call)
                and expr.func in _FITTED_CALLS
                and isinstance(expr.args[0], Name)
                and self.types[expr.args[0].value] in ("NUMERIC", "BINARY")
            ):
                return None
            number = _cell_reader(expr.args[0].value, self.types[expr.args[0].value])
            state = self.params_[self._text(expr)]
            if expr.func == "quantile_bin":
                plan.append(_binner(number, [float(e) for e in state["edges"]]))
            else:
                plan.append(_normalizer(number, state["mean"], state["std"]))
        return plan

    def _hits(self, values: list[Any]) -> tuple[list[int], list[float]]:
        """Return the sorted columns and values of one record's outputs.

        ``values`` holds each output's value: a number for NUMERIC and
        BINARY outputs, a string or ``None`` for CATEGORICAL ones and a
        token list or ``None`` for TEXT ones.
        """
        hits: dict[int, float] = {}
        for j, value in enumerate(values):
            index = self._index[j]
            if not index:
                continue
            kind = self._kinds[j]
            if kind == "NUMERIC":
                value = float(value)
                if value == value and value != 0 and abs(value) != math.inf:
                    hits[index[_SINGLE]] = value
            elif kind == "CATEGORICAL":
                found = index.get(value)
                if found is not None:
                    hits[found] = 1.0
            elif value:
                for token in value:
                    found = index.get(token)
                    if found is not None:
                        hits[found] = 1.0
        columns = sorted(hits)
        return columns, [hits[c] for c in columns]

    def _fitted_calls(self) -> dict[str, Call]:
        """Return the ``quantile_bin`` and ``normalize`` calls, inner first."""
        found: dict[str, Call] = {}

        def walk(expr: Expr) -> None:
            if isinstance(expr, Call):
                for arg in expr.args:
                    walk(arg)
                if expr.func in _FITTED_CALLS:
                    found.setdefault(expression_text(expr), expr)

        for expr in self.outputs:
            walk(expr)
        return found

    def keep(self, mask: np.ndarray) -> None:
        """Drop the columns where the boolean ``mask`` is false."""
        tokens = []
        for j, output_tokens in enumerate(self.tokens_):
            start = self._offsets[j]
            tokens.append([t for i, t in enumerate(output_tokens) if mask[start + i]])
        self._set_tokens(tokens)

    def _set_tokens(self, tokens: list[list[str]]) -> None:
        self.tokens_ = tokens
        self.__dict__.pop("_plan", None)
        self._kinds = [
            "NUMERIC"
            if kind in ("NUMERIC", "BINARY")
            else "CATEGORICAL"
            if kind == "CATEGORICAL"
            else "TEXT"
            for kind in (expression_type(e, self.types) for e in self.outputs)
        ]
        sizes = [len(t) for t in tokens]
        self._offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        self._index = [
            {token: int(self._offsets[j]) + i for i, token in enumerate(t)}
            for j, t in enumerate(tokens)
        ]

    def _output_values(self, table: Table, fit: bool) -> list[Any]:
        cache: dict[str, Any] = {}
        return [self._evaluate(e, table, fit, cache) for e in self.outputs]

    def _matrix(
        self,
        values: list[Any],
        n_rows: int,
        indexes: list[dict[str, int]],
        growing: bool = False,
    ) -> sp.csr_matrix:
        """Build the rows of ``values`` with one column dict per output.

        While a vocabulary grows (``growing``), a token seen for the first
        time gets the next provisional column.
        """
        rows, cols, data = [], [], []
        for j, (expr, column) in enumerate(zip(self.outputs, values, strict=True)):
            kind = expression_type(expr, self.types)
            index = indexes[j]
            if not index and not growing:
                continue
            if kind in ("NUMERIC", "BINARY"):
                r = np.flatnonzero(np.isfinite(column) & (column != 0))
                rows.append(r)
                cols.append(np.full(len(r), index[_SINGLE]))
                data.append(column[r])
                continue
            lookup = self._grower(index) if growing else index.get
            if kind == "CATEGORICAL":
                # Each distinct value is looked up once, in order of first
                # appearance (so new tokens get the columns a row-by-row
                # pass would give them), then the cells map through that.
                code_of = {
                    value: -1 if value is None else lookup(value, -1)
                    for value in dict.fromkeys(column)
                }
                codes = np.fromiter(map(code_of.__getitem__, column), np.int64, n_rows)
                r = np.flatnonzero(codes >= 0)
                rows.append(r)
                cols.append(codes[r])
                data.append(np.ones(len(r)))
                continue
            r_list, c_list = [], []
            for i, row in enumerate(column):
                if row:
                    hits = {lookup(t, -1) for t in row}
                    hits.discard(-1)
                    r_list += [i] * len(hits)
                    c_list += hits
            rows.append(np.asarray(r_list, dtype=np.int64))
            cols.append(np.asarray(c_list, dtype=np.int64))
            data.append(np.ones(len(r_list)))
        width = self._next_column if growing else self.n_features
        shape = (n_rows, width)
        if not rows:
            return sp.csr_matrix(shape)
        matrix = sp.coo_matrix(
            (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
            shape=shape,
        )
        return matrix.tocsr()

    def _grower(self, index: dict[str, int]) -> Any:
        def lookup(token: str, default: int) -> int:
            found = index.get(token)
            if found is None:
                found = index[token] = self._next_column
                self._next_column += 1
            return found

        return lookup

    def _text(self, expr: Expr) -> str:
        """Return ``expression_text(expr)``, remembered per expression."""
        texts = self.__dict__.setdefault("_texts", {})
        found = texts.get(id(expr))
        if found is None:
            # Keep the expression alive so its id cannot be reused.
            found = texts[id(expr)] = (expression_text(expr), expr)
        return found[0]

    def _kind(self, expr: Expr) -> str:
        """Return ``expression_type(expr)``, remembered per expression."""
        kinds = self.__dict__.setdefault("_kinds_of", {})
        found = kinds.get(id(expr))
        if found is None:
            found = kinds[id(expr)] = (expression_type(expr, self.types), expr)
        return found[0]

    def _evaluate(self, expr: Expr, table: Table, fit: bool, cache: dict) -> Any:
        """Return an expression's values for every record of ``table``.

        NUMERIC and BINARY give float arrays (NaN where missing); CATEGORICAL
        gives strings and TEXT token lists, ``None`` where missing.
        """
        key = self._text(expr)
        if key in cache:
            return cache[key]
        kind = self._kind(expr)
        if isinstance(expr, Name):
            column = table[expr.value].values
            if kind == "TEXT":
                column = [None if v is None else tokenize(v) for v in column]
            cache[key] = column
            return column
        assert isinstance(expr, Call)
        args = [
            a.value if isinstance(a, Number) else self._evaluate(a, table, fit, cache)
            for a in expr.args
        ]
        if any(a is _UNFITTED for a in args):
            cache[key] = _UNFITTED
            return _UNFITTED
        result = getattr(self, f"_apply_{expr.func}")(expr, args, kind, fit)
        cache[key] = result
        return result

    def _apply_lowercase(self, expr: Call, args: list, kind: str, fit: bool) -> Any:
        if kind == "TEXT":
            return [None if r is None else [t.lower() for t in r] for r in args[0]]
        return [None if v is None else v.lower() for v in args[0]]

    def _apply_no_punct(self, expr: Call, args: list, kind: str, fit: bool) -> Any:
        if kind == "TEXT":
            return [None if r is None else no_punct(r) or None for r in args[0]]
        stripped = (None if v is None else no_punct([v]) for v in args[0])
        return [s[0] if s else None for s in stripped]

    def _apply_ngram(self, expr: Call, args: list, kind: str, fit: bool) -> Any:
        return [None if r is None else ngrams(r, args[1]) for r in args[0]]

    def _apply_osb(self, expr: Call, args: list, kind: str, fit: bool) -> Any:
        return [None if r is None else osb(r, args[1]) or None for r in args[0]]

    def _apply_cartesian(self, expr: Call, args: list, kind: str, fit: bool) -> Any:
        kinds = [self._kind(a) for a in expr.args]
        left, right = (_as_tokens(v, k) for v, k in zip(args, kinds, strict=True))
        pairs = [
            None if a is None or b is None else cartesian(a, b)
            for a, b in zip(left, right, strict=True)
        ]
        if kind == "CATEGORICAL":
            return [None if p is None else p[0] for p in pairs]
        return pairs

    def _apply_normalize(self, expr: Call, args: list, kind: str, fit: bool) -> Any:
        key = self._text(expr)
        values = args[0]
        if fit and key not in self.params_:
            summary = self._summaries.setdefault(key, Moments())
            summary.add(values[np.isfinite(values)])
            return _UNFITTED
        state = self.params_[key]
        if state["std"] == 0:
            return np.where(np.isfinite(values), 0.0, np.nan)
        return (values - state["mean"]) / state["std"]

    def _apply_quantile_bin(self, expr: Call, args: list, kind: str, fit: bool) -> Any:
        key = self._text(expr)
        values, n_bins = args
        if fit and key not in self.params_:
            _, sketch = self._summaries.setdefault(key, (n_bins, ValueSketch()))
            sketch.add(values[np.isfinite(values)])
            return _UNFITTED
        edges_arr = np.asarray(self.params_[key]["edges"], dtype=float)
        tokens = np.searchsorted(edges_arr, values, side="right").astype(str).tolist()
        for i in np.flatnonzero(~np.isfinite(values)).tolist():
            tokens[i] = None
        return tokens
