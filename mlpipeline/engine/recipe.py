"""Parse, validate and suggest recipes (spec §11, §19.12-16).

A recipe is a JSON object with the sections ``groups``, ``assignments`` and
``outputs``, in that order (``dependencies`` is tolerated and ignored).
Parsing expands every output into *concrete* expressions: trees of
transformation calls whose leaves are single input attributes. Functions
applied to a group apply to each member; ``cartesian`` of two groups pairs
every member of one with every other member of the other.

Supported functions and [ENGINE] choices where AWS is silent:

=================  ==========================  =========================
function           input                       result
=================  ==========================  =========================
``lowercase(x)``   TEXT or CATEGORICAL         same type
``no_punct(x)``    TEXT or CATEGORICAL         same type
``ngram(x, n)``    TEXT, n in 2-10             TEXT (n-grams as tokens)
``osb(x, n)``      TEXT, n in 2-10             TEXT (bigrams as tokens)
``quantile_bin``   NUMERIC, n in 5-1000        CATEGORICAL (bin index)
``normalize(x)``   NUMERIC                     NUMERIC
``cartesian``      CATEGORICAL or TEXT (both)  TEXT if either is TEXT
=================  ==========================  =========================

Names must start with a letter; other names, and names holding ``,``,
quotes, tabs, line breaks, parentheses or a backslash, are written in single
(or double) quotes. Group members are input attributes or other groups;
``ALL_INPUTS`` may not appear in a group definition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlpipeline.engine.errors import InvalidInputException, load_json_object
from mlpipeline.engine.schema import Schema

__all__ = [
    "MAX_OUTPUTS",
    "MAX_RECIPE_CHARS",
    "Call",
    "Expr",
    "Name",
    "Number",
    "Recipe",
    "expression_text",
    "expression_type",
    "parse_expression",
    "parse_recipe",
    "suggest_recipe",
]

MAX_RECIPE_CHARS = 131071
MAX_OUTPUTS = 10000
MAX_NAME_LENGTH = 64
BUILTIN_GROUPS = {
    "ALL_BINARY": "BINARY",
    "ALL_CATEGORICAL": "CATEGORICAL",
    "ALL_NUMERIC": "NUMERIC",
    "ALL_TEXT": "TEXT",
    "ALL_INPUTS": None,
}
# Function name -> (number of arguments, allowed range of the integer second
# argument or None when the second argument is an expression).
_FUNCTIONS: dict[str, tuple[int, tuple[int, int] | None]] = {
    "lowercase": (1, None),
    "no_punct": (1, None),
    "normalize": (1, None),
    "ngram": (2, (2, 10)),
    "osb": (2, (2, 10)),
    "quantile_bin": (2, (5, 1000)),
    "cartesian": (2, None),
}
_SECTIONS = ("groups", "assignments", "outputs")
_SPECIAL = frozenset(",'\"\t\r\n()\\")
_SUGGESTED_BINS = (500, 200, 100, 50, 20, 10)


@dataclass(frozen=True)
class Name:
    """A variable, group or assignment name."""

    value: str


@dataclass(frozen=True)
class Number:
    """An integer literal, such as the bin count of ``quantile_bin``."""

    value: int


@dataclass(frozen=True)
class Call:
    """A function applied to arguments."""

    func: str
    args: tuple[Expr, ...]


Expr = Name | Number | Call


def _fail(message: str) -> InvalidInputException:
    return InvalidInputException(f"Recipe: {message}")


def _tokens(text: str) -> list[tuple[str, str]]:
    """Split an expression into ``(kind, value)`` tokens."""
    out = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "(),":
            out.append(("punct", char))
            i += 1
        elif char in "'\"":
            end = text.find(char, i + 1)
            if end < 0:
                raise _fail(f"unterminated quoted name in {text!r}.")
            out.append(("quoted", text[i + 1 : end]))
            i = end + 1
        else:
            start = i
            while i < len(text) and text[i] not in _SPECIAL:
                i += 1
            if i == start:
                raise _fail(f"unexpected character {char!r} in {text!r}.")
            out.append(("word", text[start:i].strip()))
    return out


def parse_expression(text: str) -> Expr:
    """Parse one recipe expression such as ``"ngram(lowercase(x), 2)"``.

    Raises
    ------
    InvalidInputException
        On syntax errors, unquoted names not starting with a letter and
        unknown functions.
    """
    tokens = _tokens(text)
    pos = 0

    def parse() -> Expr:
        nonlocal pos
        if pos >= len(tokens):
            raise _fail(f"expression {text!r} ends too early.")
        kind, value = tokens[pos]
        pos += 1
        if kind == "quoted":
            if not value:
                raise _fail(f"empty quoted name in {text!r}.")
            return Name(value)
        if kind != "word":
            raise _fail(f"unexpected {value!r} in {text!r}.")
        if pos < len(tokens) and tokens[pos] == ("punct", "("):
            pos += 1
            args: list[Expr] = []
            while True:
                args.append(parse())
                if pos >= len(tokens):
                    raise _fail(f"missing ')' in {text!r}.")
                sep = tokens[pos][1]
                pos += 1
                if sep == ")":
                    break
                if sep != ",":
                    raise _fail(f"expected ',' or ')' in {text!r}.")
            if value not in _FUNCTIONS and value not in ("group", "group_remove"):
                raise _fail(f"unknown function {value!r} in {text!r}.")
            return Call(value, tuple(args))
        if value.isdigit():
            return Number(int(value))
        if not value[0].isalpha():
            raise _fail(f"name {value!r} must start with a letter or be quoted.")
        return Name(value)

    expr = parse()
    if pos != len(tokens):
        raise _fail(f"unexpected {tokens[pos][1]!r} in {text!r}.")
    return expr


def _quote(name: str) -> str:
    plain = (
        name[0].isalpha()
        and name == name.strip()
        and not any(char in _SPECIAL for char in name)
    )
    if plain:
        return name
    if "'" not in name:
        return f"'{name}'"
    if '"' not in name:
        return f'"{name}"'
    raise _fail(f"name {name!r} holds both quote characters and cannot be used.")


def expression_text(expr: Expr) -> str:
    """Return the canonical text of an expression; it parses back to it."""
    if isinstance(expr, Name):
        return _quote(expr.value)
    if isinstance(expr, Number):
        return str(expr.value)
    args = ",".join(expression_text(a) for a in expr.args)
    return f"{expr.func}({args})"


def expression_type(expr: Expr, types: dict[str, str]) -> str:
    """Return the attribute type an expression over attributes produces.

    Raises
    ------
    InvalidInputException
        If a function gets an input of a type it does not accept.
    """
    if isinstance(expr, Name):
        return types[expr.value]
    if not isinstance(expr, Call):
        raise _fail(f"number {expr.value} used where a variable is expected.")
    inner = [expression_type(a, types) for a in expr.args if not isinstance(a, Number)]
    func = expr.func
    if func in ("lowercase", "no_punct"):
        allowed, result = ("TEXT", "CATEGORICAL"), inner[0]
    elif func in ("ngram", "osb"):
        allowed, result = ("TEXT",), "TEXT"
    elif func == "quantile_bin":
        allowed, result = ("NUMERIC",), "CATEGORICAL"
    elif func == "normalize":
        allowed, result = ("NUMERIC",), "NUMERIC"
    else:
        allowed = ("TEXT", "CATEGORICAL")
        result = "TEXT" if "TEXT" in inner else "CATEGORICAL"
    for arg, arg_type in zip(expr.args, inner, strict=False):
        if arg_type not in allowed:
            given, accepted = expression_text(arg), " or ".join(allowed)
            raise _fail(
                f"{func}() does not accept {given!r} of type {arg_type}; it "
                f"takes {accepted}."
            )
    return result


def _check_calls(expr: Expr, where: str) -> None:
    """Check arity and integer arguments of every call in ``expr``."""
    if not isinstance(expr, Call):
        return
    if expr.func in ("group", "group_remove"):
        raise _fail(f"{expr.func}() may only define a group, found in {where}.")
    arity, bounds = _FUNCTIONS[expr.func]
    if len(expr.args) != arity:
        raise _fail(f"{expr.func}() takes {arity} argument(s) in {where}.")
    for index, arg in enumerate(expr.args):
        wants_number = bounds is not None and index == 1
        if isinstance(arg, Number) != wants_number:
            kind = "an integer" if wants_number else "a variable or expression"
            raise _fail(
                f"argument {index + 1} of {expr.func}() must be {kind} in {where}."
            )
        if wants_number:
            low, high = bounds
            if not low <= arg.value <= high:
                raise _fail(
                    f"{expr.func}() needs an integer between {low} and {high}, "
                    f"got {arg.value} in {where}."
                )
        _check_calls(arg, where)


@dataclass(frozen=True)
class Recipe:
    """A validated recipe: its text and its concrete output expressions."""

    text: str
    outputs: tuple[Expr, ...]

    @property
    def output_names(self) -> list[str]:
        """Return the canonical text of each output, in order."""
        return [expression_text(e) for e in self.outputs]


class _Resolver:
    """Expand names and calls of a recipe into concrete expressions."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.types = schema.types
        self.input_names = [a.name for a in schema.inputs]
        self.groups: dict[str, list[str]] = {
            group: [a.name for a in schema.inputs if kind in (None, a.type)]
            for group, kind in BUILTIN_GROUPS.items()
        }
        self.assignments: dict[str, list[Expr]] = {}

    def check_new_name(self, name: Any, section: str) -> str:
        if not isinstance(name, str) or not name:
            raise _fail(f"{section} name {name!r} must be a non-empty string.")
        if len(name) > MAX_NAME_LENGTH or not name[0].isalpha():
            raise _fail(
                f"{section} name {name!r} must start with a letter and have at "
                f"most {MAX_NAME_LENGTH} characters."
            )
        if any(char in _SPECIAL for char in name):
            raise _fail(
                f"{section} name {name!r} holds a character that needs quoting."
            )
        if name in self.types or name in self.groups or name in self.assignments:
            raise _fail(f"{section} name {name!r} is already a variable or group name.")
        return name

    def attribute(self, name: str, where: str) -> str:
        if name in self.input_names:
            return name
        if name in self.types:
            raise _fail(
                f"{name!r} in {where} is the target, rowId, rowWeight or an "
                "excluded attribute and cannot be used as an input."
            )
        raise _fail(f"unknown variable {name!r} in {where}.")

    def members(self, expr: Expr, where: str) -> list[str]:
        if not isinstance(expr, Name):
            given = expression_text(expr)
            raise _fail(f"group members must be names, got {given!r} in {where}.")
        if expr.value == "ALL_INPUTS":
            raise _fail(f"ALL_INPUTS may not be used in a group definition ({where}).")
        if expr.value in self.groups:
            return self.groups[expr.value]
        return [self.attribute(expr.value, where)]

    def define_group(self, name: str, text: Any) -> None:
        where = f"group {name!r}"
        if not isinstance(text, str):
            raise _fail(f"{where} must be defined by a string.")
        expr = parse_expression(text)
        if not isinstance(expr, Call) or expr.func not in ("group", "group_remove"):
            raise _fail(f"{where} must be defined with group() or group_remove().")
        if not expr.args or (expr.func == "group_remove" and len(expr.args) < 2):
            raise _fail(f"{where} lists too few members.")
        sets = [self.members(arg, where) for arg in expr.args]
        if expr.func == "group":
            found = [m for members in sets for m in members]
        else:
            if not (
                isinstance(expr.args[0], Name) and expr.args[0].value in self.groups
            ):
                raise _fail(f"group_remove() in {where} must start with a group name.")
            removed = {m for members in sets[1:] for m in members}
            found = [m for m in sets[0] if m not in removed]
        self.groups[name] = list(dict.fromkeys(found))

    def expand(self, expr: Expr, where: str) -> list[Expr]:
        if isinstance(expr, Number):
            return [expr]
        if isinstance(expr, Name):
            name = expr.value
            if name in self.assignments:
                return self.assignments[name]
            if name in self.groups:
                return [Name(m) for m in self.groups[name]]
            return [Name(self.attribute(name, where))]
        expanded = [self.expand(arg, where) for arg in expr.args]
        if expr.func == "cartesian":
            return [
                Call("cartesian", (a, b))
                for a in expanded[0]
                for b in expanded[1]
                if a != b
            ]
        rest = tuple(e[0] for e in expanded[1:])
        return [Call(expr.func, (e, *rest)) for e in expanded[0]]


def _strip_comment(text: str) -> str:
    quote = None
    for i, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif text.startswith("//", i):
            return text[:i]
    return text


def _load(text: Any) -> dict[str, Any]:
    doc = load_json_object(text, "Recipe", MAX_RECIPE_CHARS)
    unknown = sorted(set(doc) - {*_SECTIONS, "dependencies"})
    if unknown:
        raise _fail(f"unknown section {unknown[0]!r}.")
    present = [key for key in doc if key in _SECTIONS]
    if present != sorted(present, key=_SECTIONS.index):
        raise _fail("sections must appear in the order groups, assignments, outputs.")
    for key in ("groups", "assignments"):
        if not isinstance(doc.get(key) or {}, dict):
            raise _fail(f"section {key!r} must be an object.")
    outputs = doc.get("outputs")
    if not isinstance(outputs, list) or not outputs:
        raise _fail("'outputs' must be a non-empty list.")
    return doc


def parse_recipe(text: str, schema: Schema) -> Recipe:
    """Parse a recipe and expand its outputs against a schema.

    Parameters
    ----------
    text : str
        The recipe JSON.
    schema : Schema
        Schema of the training data; gives the inputs and their types.

    Returns
    -------
    Recipe
        The recipe with its concrete, de-duplicated outputs.

    Raises
    ------
    InvalidInputException
        If the recipe breaks any rule of spec §11 or §19.16.
    """
    doc = _load(text)
    resolver = _Resolver(schema)
    for name, definition in (doc.get("groups") or {}).items():
        resolver.define_group(resolver.check_new_name(name, "group"), definition)
    for name, definition in (doc.get("assignments") or {}).items():
        name = resolver.check_new_name(name, "assignment")
        where = f"assignment {name!r}"
        if not isinstance(definition, str):
            raise _fail(f"{where} must be defined by a string.")
        expr = parse_expression(definition)
        _check_calls(expr, where)
        resolver.assignments[name] = resolver.expand(expr, where)

    outputs: dict[str, Expr] = {}
    for entry in doc["outputs"]:
        if not isinstance(entry, str):
            raise _fail(f"output {entry!r} must be a string.")
        where = f"output {entry!r}"
        source = _strip_comment(entry).strip()
        if not source:
            raise _fail(f"{where} is empty.")
        expr = parse_expression(source)
        _check_calls(expr, where)
        for concrete in resolver.expand(expr, where):
            expression_type(concrete, resolver.types)
            outputs.setdefault(expression_text(concrete), concrete)
        if len(outputs) > MAX_OUTPUTS:
            raise _fail(f"more than {MAX_OUTPUTS} output variables.")
    if not outputs:
        raise _fail("the outputs select no input variable.")
    return Recipe(text=text, outputs=tuple(outputs.values()))


def suggest_recipe(schema: Schema, n_rows: int, distinct: dict[str, int]) -> str:
    """Return the suggested recipe for a training data source (§19.12).

    Binary, categorical and text inputs pass through unchanged. Each
    numeric input gets the largest bin count ``b`` in (500, 200, 100, 50,
    20, 10) with ``b <= n_rows / 10`` and ``b <= distinct[name]``, at least
    10; inputs sharing ``b`` form the group ``NUMERIC_VARS_QB_<b>``.

    Parameters
    ----------
    schema : Schema
        Schema of the training data source.
    n_rows : int
        Number of valid training records.
    distinct : dict
        Numeric input name to its number of distinct valid values.

    Returns
    -------
    str
        The recipe JSON; equal inputs give byte-identical text.
    """
    kinds = {a.type for a in schema.inputs}
    by_bins: dict[int, list[str]] = {}
    for attr in schema.inputs:
        if attr.type != "NUMERIC":
            continue
        limit = min(n_rows / 10, distinct.get(attr.name, 0))
        bins = next((b for b in _SUGGESTED_BINS if b <= limit), 10)
        by_bins.setdefault(bins, []).append(attr.name)

    groups = {}
    binned = []
    for bins in sorted(by_bins, reverse=True):
        group = f"NUMERIC_VARS_QB_{bins}"
        names = ",".join(_quote_always(n) for n in by_bins[bins])
        groups[group] = f"group({names})"
        binned.append(f"quantile_bin({group},{bins})")
    outputs = [f"ALL_{kind}" for kind in ("BINARY", "CATEGORICAL") if kind in kinds]
    outputs += binned
    outputs += ["ALL_TEXT"] if "TEXT" in kinds else []
    doc = {"groups": groups, "assignments": {}, "outputs": outputs}
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _quote_always(name: str) -> str:
    quoted = _quote(name)
    return quoted if quoted[0] in "'\"" else f"'{name}'"
