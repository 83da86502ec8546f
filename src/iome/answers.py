"""Answers as data: carry a student's answers out of their kernel without carrying their code.

Grading runs in two processes (see :mod:`iome.autograde`). The student's notebook runs in a
sandbox; afterwards each answer the tests need is *encoded* here into plain JSON. The tests then
run in a fresh interpreter on the *decoded* values. Decoding builds only known, exact types
(numbers, strings, containers, numpy arrays and scalars, pandas Series/DataFrame/Index, Altair
chart specs), never calls code from the submission and never unpickles anything, so objects that
cheat (an ``__eq__`` that always returns True, a ``float`` subclass, a proxy) do not survive the
trip: they are reported as answers that could not be read.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import types

import numpy as np
import pandas as pd

MAX_ITEMS = 200_000       # elements in one container / array / frame
MAX_DEPTH = 20


class Unreadable(Exception):
    """An answer whose type or size cannot be graded outside the notebook."""


_NUMPY_SCALARS = {np.float64: "float64", np.float32: "float32", np.int64: "int64", np.int32: "int32",
                  np.int16: "int16", np.int8: "int8", np.uint64: "uint64", np.uint32: "uint32",
                  np.uint16: "uint16", np.uint8: "uint8", np.bool_: "bool"}
_ALLOWED_DTYPE_KINDS = set("biufcUSMmO")  # object arrays are encoded element by element


def _float(x: float):
    if math.isnan(x):
        return {"$": "nan"}
    if math.isinf(x):
        return {"$": "inf" if x > 0 else "-inf"}
    return x


def _unfloat(v):
    if isinstance(v, dict):
        return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}[v["$"]]
    return float(v)


def _dtype(dtype) -> dict:
    if isinstance(dtype, pd.CategoricalDtype):
        return {"cat": encode(list(dtype.categories), 1), "ordered": bool(dtype.ordered)}
    return {"name": str(dtype)}


def _undtype(d: dict):
    if "cat" in d:
        return pd.CategoricalDtype(decode(d["cat"]), ordered=bool(d["ordered"]))
    name = d["name"]
    if not isinstance(name, str) or len(name) > 60:
        raise Unreadable("bad dtype")
    return pd.api.types.pandas_dtype(name)


def _values(values, depth: int) -> list:
    """Encode a 1-D sequence of values (from an array or pandas column) element by element."""
    if len(values) > MAX_ITEMS:
        raise Unreadable(f"more than {MAX_ITEMS} values")
    return [encode(_plain(v), depth + 1) for v in values]


def _plain(v):
    """pandas/numpy element -> encodable value (NA stays NA)."""
    if v is None:
        return None
    if v is pd.NA:
        return v
    if isinstance(v, float) and type(v) is not float and type(v) not in _NUMPY_SCALARS:
        return float(v)
    return v


def encode(obj, depth: int = 0):
    """Encode one answer as JSON-ready data; raise Unreadable for anything else."""
    if depth > MAX_DEPTH:
        raise Unreadable("nested too deeply")
    t = type(obj)
    if obj is None or t is bool or t is str:
        return obj if t is not str else {"$": "str", "v": obj}
    if t is int:
        return {"$": "int", "v": str(obj)}
    if t is float:
        return {"$": "float", "v": _float(obj)}
    if t is complex:
        return {"$": "complex", "v": [_float(obj.real), _float(obj.imag)]}
    if t is bytes:
        return {"$": "bytes", "v": obj.decode("latin-1")}
    if obj is pd.NA:
        return {"$": "NA"}
    if obj is pd.NaT:
        return {"$": "NaT"}
    if t in (list, tuple, set, frozenset):
        if len(obj) > MAX_ITEMS:
            raise Unreadable(f"more than {MAX_ITEMS} items")
        items = sorted(obj, key=repr) if t in (set, frozenset) else obj
        return {"$": t.__name__, "v": [encode(x, depth + 1) for x in items]}
    if t is dict:
        if len(obj) > MAX_ITEMS:
            raise Unreadable(f"more than {MAX_ITEMS} items")
        return {"$": "dict", "v": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in obj.items()]}
    if t in _NUMPY_SCALARS:
        v = obj.item()
        return {"$": "np", "t": _NUMPY_SCALARS[t], "v": _float(v) if isinstance(v, float) else v}
    if t is np.ndarray:
        if obj.dtype.kind not in _ALLOWED_DTYPE_KINDS or obj.size > MAX_ITEMS:
            raise Unreadable(f"numpy array of dtype {obj.dtype} and size {obj.size}")
        return {"$": "ndarray", "dtype": _dtype(obj.dtype), "shape": list(obj.shape),
                "v": _values(obj.ravel().tolist() if obj.dtype.kind != "O" else list(obj.ravel()), depth)}
    if t in (_dt.date, _dt.datetime):
        return {"$": t.__name__, "v": obj.isoformat()}
    if t is pd.Timestamp:
        return {"$": "Timestamp", "v": obj.isoformat()}
    if t in (pd.Index, pd.RangeIndex, pd.MultiIndex) or isinstance(obj, pd.Index) and t.__module__.startswith("pandas."):
        if isinstance(obj, pd.MultiIndex):
            return {"$": "MultiIndex", "names": encode(list(obj.names), depth + 1),
                    "v": _values(list(obj), depth)}
        return {"$": "Index", "dtype": _dtype(obj.dtype), "name": encode(obj.name, depth + 1),
                "v": _values(list(obj), depth)}
    if t is pd.Series:
        return {"$": "Series", "dtype": _dtype(obj.dtype), "name": encode(obj.name, depth + 1),
                "index": encode(obj.index, depth + 1), "v": _values(list(obj), depth)}
    if t is pd.DataFrame:
        if obj.size > MAX_ITEMS:
            raise Unreadable(f"a DataFrame of {obj.size} cells")
        return {"$": "DataFrame", "index": encode(obj.index, depth + 1),
                "columns": encode(obj.columns, depth + 1),
                "cols": [encode(obj.iloc[:, i], depth + 1) for i in range(obj.shape[1])]}
    if t.__module__.startswith("altair.") and hasattr(obj, "to_dict"):
        spec = obj.to_dict()
        return {"$": "altair", "cls": t.__name__, "v": json.loads(json.dumps(spec, default=str))}
    raise Unreadable(f"objects of type {t.__module__}.{t.__qualname__} cannot be graded; use a number, "
                     "string, list, dict, numpy array, pandas Series/DataFrame or an Altair chart")


def dumps(answers: dict) -> str:
    """Encode {name: value}; unreadable answers become {"$": "unreadable", "why": ...}."""
    out = {}
    for name, value in answers.items():
        if isinstance(value, types.ModuleType):
            continue  # `import x as name`: the test run imports its own modules
        try:
            out[name] = encode(value)
        except Unreadable as exc:
            out[name] = {"$": "unreadable", "why": str(exc)}
        except Exception as exc:  # noqa: BLE001 - a hostile object may raise anything
            out[name] = {"$": "unreadable", "why": f"reading it raised {type(exc).__name__}"}
    return json.dumps(out, allow_nan=False)


class SpecChart:
    """A chart decoded from its Vega-Lite spec: ``to_dict()`` returns the student's spec."""

    def __init__(self, spec: dict, cls: str):
        self._spec, self.kind = spec, cls

    def to_dict(self, *args, **kwargs) -> dict:
        return json.loads(json.dumps(self._spec))

    def to_json(self, *args, **kwargs) -> str:
        return json.dumps(self._spec)

    def __getattr__(self, name):
        spec = self.__dict__.get("_spec", {})
        if name in spec:
            return spec[name]
        raise AttributeError(name)

    def __repr__(self):
        return f"<{self.kind} decoded from its Vega-Lite spec>"


def _chart(spec: dict, cls: str):
    try:
        import altair as alt
        klass = getattr(alt, cls, None)
        if klass is not None and hasattr(klass, "from_dict"):
            chart = klass.from_dict(spec, validate=False)
            if chart.to_dict(validate=False) == spec:
                return chart
    except Exception:  # noqa: BLE001 - fall back to the plain spec
        pass
    return SpecChart(spec, cls)


def decode(d):
    """Inverse of encode: build only known types from data."""
    if d is None or type(d) is bool:
        return d
    if type(d) is not dict or "$" not in d:
        raise Unreadable("malformed answer data")
    tag, v = d["$"], d.get("v")
    if tag == "str":
        return str(v)
    if tag == "int":
        if not isinstance(v, str) or len(v) > 5000:
            raise Unreadable("bad int")
        return int(v)
    if tag == "float":
        return _unfloat(v)
    if tag == "complex":
        return complex(_unfloat(v[0]), _unfloat(v[1]))
    if tag == "bytes":
        return str(v).encode("latin-1")
    if tag == "NA":
        return pd.NA
    if tag == "NaT":
        return pd.NaT
    if tag in ("nan", "inf", "-inf"):
        return _unfloat(d)
    if tag in ("list", "tuple", "set", "frozenset"):
        items = [decode(x) for x in v]
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
    if tag == "dict":
        return {decode(k): decode(x) for k, x in v}
    if tag == "np":
        cls = {name: t for t, name in _NUMPY_SCALARS.items()}[d["t"]]
        return cls(_unfloat(v) if isinstance(v, (dict, float)) else v)
    if tag == "ndarray":
        dtype = _undtype(d["dtype"])
        items = [decode(x) for x in v]
        arr = np.empty(len(items), dtype=dtype) if dtype.kind == "O" else None
        if arr is not None:
            arr[:] = items
        else:
            arr = np.array(items, dtype=dtype)
        return arr.reshape([int(n) for n in d["shape"]])
    if tag == "date":
        return _dt.date.fromisoformat(v)
    if tag == "datetime":
        return _dt.datetime.fromisoformat(v)
    if tag == "Timestamp":
        return pd.Timestamp(v)
    if tag == "Index":
        return pd.Index([decode(x) for x in v], dtype=_undtype(d["dtype"]), name=decode(d["name"]))
    if tag == "MultiIndex":
        return pd.MultiIndex.from_tuples([decode(x) for x in v], names=decode(d["names"]))
    if tag == "Series":
        return pd.Series([decode(x) for x in v], index=decode(d["index"]), dtype=_undtype(d["dtype"]),
                         name=decode(d["name"]))
    if tag == "DataFrame":
        cols = [decode(c) for c in d["cols"]]
        frame = pd.concat(cols, axis=1) if cols else pd.DataFrame(index=decode(d["index"]))
        frame.columns = decode(d["columns"])
        frame.index = decode(d["index"])
        return frame
    if tag == "altair":
        if not isinstance(v, dict):
            raise Unreadable("bad chart")
        return _chart(v, str(d.get("cls", "Chart")))
    if tag == "unreadable":
        raise Unreadable(str(d.get("why", "unreadable")))
    raise Unreadable(f"unknown answer type {tag!r}")


def loads(text: str) -> tuple[dict, dict]:
    """Decode answers; returns ({name: value}, {name: why it could not be read})."""
    raw = json.loads(text)
    if type(raw) is not dict:
        raise Unreadable("malformed answers")
    values, problems = {}, {}
    for name, data in raw.items():
        if not isinstance(name, str) or not name.isidentifier():
            continue
        try:
            values[name] = decode(data)
        except Unreadable as exc:
            problems[name] = str(exc)
        except Exception as exc:  # noqa: BLE001 - malformed data from the sandbox
            problems[name] = f"malformed ({type(exc).__name__})"
    return values, problems
