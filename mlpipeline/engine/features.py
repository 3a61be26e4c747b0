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
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from mlpipeline.engine.recipe import (
    Call,
    Expr,
    Name,
    Number,
    expression_text,
    expression_type,
    parse_expression,
)
from mlpipeline.engine.text import cartesian, ngrams, no_punct, osb, tokenize
from mlpipeline.engine.values import Table

__all__ = ["FeatureSpace"]

_SINGLE = ""  # the only token of a NUMERIC or BINARY output


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
        self.params_: dict[str, dict[str, Any]] = {}
        values = self._output_values(table, fit=True)
        tokens = []
        for expr, column in zip(self.outputs, values, strict=True):
            kind = expression_type(expr, self.types)
            if kind in ("NUMERIC", "BINARY"):
                tokens.append([_SINGLE])
                continue
            if kind == "CATEGORICAL":
                seen = set(column)
            else:
                seen = {t for row in column if row for t in row}
            seen.discard(None)
            tokens.append(sorted(seen))
        self._set_tokens(tokens)
        return self._matrix(values, table.n_rows)

    def transform(self, table: Table) -> sp.csr_matrix:
        """Return the feature matrix of ``table`` using the fitted state."""
        return self._matrix(self._output_values(table, fit=False), table.n_rows)

    def keep(self, mask: np.ndarray) -> None:
        """Drop the columns where the boolean ``mask`` is false."""
        tokens = []
        for j, output_tokens in enumerate(self.tokens_):
            start = self._offsets[j]
            tokens.append([t for i, t in enumerate(output_tokens) if mask[start + i]])
        self._set_tokens(tokens)

    def _set_tokens(self, tokens: list[list[str]]) -> None:
        self.tokens_ = tokens
        sizes = [len(t) for t in tokens]
        self._offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        self._index = [
            {token: int(self._offsets[j]) + i for i, token in enumerate(t)}
            for j, t in enumerate(tokens)
        ]

    def _output_values(self, table: Table, fit: bool) -> list[Any]:
        cache: dict[str, Any] = {}
        return [self._evaluate(e, table, fit, cache) for e in self.outputs]

    def _matrix(self, values: list[Any], n_rows: int) -> sp.csr_matrix:
        rows, cols, data = [], [], []
        for j, (expr, column) in enumerate(zip(self.outputs, values, strict=True)):
            kind = expression_type(expr, self.types)
            index = self._index[j]
            if not index:
                continue
            if kind in ("NUMERIC", "BINARY"):
                r = np.flatnonzero(np.isfinite(column) & (column != 0))
                rows.append(r)
                cols.append(np.full(len(r), index[_SINGLE]))
                data.append(column[r])
                continue
            if kind == "CATEGORICAL":
                codes = np.fromiter(
                    (index.get(v, -1) for v in column), np.int64, n_rows
                )
                r = np.flatnonzero(codes >= 0)
                rows.append(r)
                cols.append(codes[r])
                data.append(np.ones(len(r)))
                continue
            r_list, c_list = [], []
            for i, row in enumerate(column):
                if row:
                    hits = {index[t] for t in row if t in index}
                    r_list += [i] * len(hits)
                    c_list += hits
            rows.append(np.asarray(r_list, dtype=np.int64))
            cols.append(np.asarray(c_list, dtype=np.int64))
            data.append(np.ones(len(r_list)))
        shape = (n_rows, self.n_features)
        if not rows:
            return sp.csr_matrix(shape)
        matrix = sp.coo_matrix(
            (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
            shape=shape,
        )
        return matrix.tocsr()

    def _evaluate(self, expr: Expr, table: Table, fit: bool, cache: dict) -> Any:
        """Return an expression's values for every record of ``table``.

        NUMERIC and BINARY give float arrays (NaN where missing); CATEGORICAL
        gives strings and TEXT token lists, ``None`` where missing.
        """
        key = expression_text(expr)
        if key in cache:
            return cache[key]
        kind = expression_type(expr, self.types)
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
        kinds = [expression_type(a, self.types) for a in expr.args]
        left, right = (_as_tokens(v, k) for v, k in zip(args, kinds, strict=True))
        pairs = [
            None if a is None or b is None else cartesian(a, b)
            for a, b in zip(left, right, strict=True)
        ]
        if kind == "CATEGORICAL":
            return [None if p is None else p[0] for p in pairs]
        return pairs

    def _apply_normalize(self, expr: Call, args: list, kind: str, fit: bool) -> Any:
        key = expression_text(expr)
        values = args[0]
        if fit:
            seen = values[np.isfinite(values)]
            mean = float(seen.mean()) if len(seen) else 0.0
            std = float(seen.std()) if len(seen) else 0.0
            self.params_[key] = {"mean": mean, "std": std}
        state = self.params_[key]
        if state["std"] == 0:
            return np.where(np.isfinite(values), 0.0, np.nan)
        return (values - state["mean"]) / state["std"]

    def _apply_quantile_bin(self, expr: Call, args: list, kind: str, fit: bool) -> Any:
        key = expression_text(expr)
        values, n_bins = args
        if fit:
            seen = values[np.isfinite(values)]
            edges: list[float] = []
            if len(seen):
                # TODO: exact quantiles need every training value in memory; a
                # mergeable quantile sketch would make memory independent of
                # the row count.
                cuts = np.quantile(seen, np.arange(1, n_bins) / n_bins)
                edges = np.unique(cuts).tolist()
            self.params_[key] = {"edges": edges}
        edges_arr = np.asarray(self.params_[key]["edges"], dtype=float)
        tokens = np.searchsorted(edges_arr, values, side="right").astype(str).tolist()
        for i in np.flatnonzero(~np.isfinite(values)).tolist():
            tokens[i] = None
        return tokens
