#!/usr/bin/env python3
"""Writes response schemas into docs/openapi.json from answers the end-to-end suites recorded.

    SHOP_ANSWERS_DIR=/tmp/answers cargo test -p e2e     # record every answer the suites get
    scripts/answer-schemas.py /tmp/answers [--all]      # schemas for 2xx answers without one

An object's fields are the union of what the answers held; those in every answer are required,
and no other field is allowed (additionalProperties: false), so a field the shop starts to
send must be documented first. Objects keyed by ids (SKU → units, day → count) are maps. A
field only ever null is typed from its name where the document says so elsewhere, else left
open. Read the result before committing it: the answers show what the shop sends, not what it
should.
"""
import glob
import json
import re
import sys
from collections import defaultdict

ROOT = __file__.rsplit("/scripts/", 1)[0]
# Keys that are ids or days, not field names: their object is a map.
ID_KEY = re.compile(r"^([A-Z][A-Za-z0-9]*[0-9][A-Za-z0-9_-]*|\d{4}-\d{2}(-\d{2})?|o[A-Za-z0-9_-]{20,})$")


# Field names ever null, or ever missing beside their siblings, in any answer: a field of that
# name may be null or absent anywhere (one struct serialises the same way in every answer).
EVER_NULL = set()
EVER_ABSENT = set()


class Shape:
    def __init__(self):
        self.types = set()
        self.nullable = False
        self.props = defaultdict(Shape)
        self.seen = 0  # objects seen
        self.present = defaultdict(int)
        self.items = None
        self.map_values = None
        self.enum = set()

    def add(self, v):
        if v is None:
            self.nullable = True
            return
        if isinstance(v, bool):
            self.types.add("boolean")
        elif isinstance(v, int):
            self.types.add("integer")
        elif isinstance(v, float):
            self.types.add("number")
        elif isinstance(v, str):
            self.types.add("string")
        elif isinstance(v, list):
            self.types.add("array")
            if self.items is None:
                self.items = Shape()
            for x in v:
                self.items.add(x)
        elif isinstance(v, dict):
            if v and all(ID_KEY.match(k) for k in v):
                self.types.add("map")
                if self.map_values is None:
                    self.map_values = Shape()
                for x in v.values():
                    self.map_values.add(x)
                return
            self.types.add("object")
            self.seen += 1
            for k, x in v.items():
                self.present[k] += 1
                self.props[k].add(x)

    def schema(self):
        t = set(self.types)
        if "map" in t and "object" in t and not self.props:
            t.discard("object")
        if t == {"integer", "number"}:
            t = {"number"}
        if "map" in t:
            t.discard("map")
            t.add("object")
            s = {"type": "object", "additionalProperties": self.map_values.schema() if self.map_values else {}}
            if self.props:
                s = {"type": "object"}  # both shapes seen: leave it open
        elif len(t) > 1:
            s = {}
        elif not t:
            s = {}
        else:
            (only,) = t
            s = {"type": only}
            if only == "array":
                s["items"] = self.items.schema() if self.items and (self.items.types or self.items.nullable) else {}
            if only == "object":
                s["properties"] = {k: p.schema() for k, p in sorted(self.props.items())}
                for k, p in s["properties"].items():
                    if k in EVER_NULL and p and "$ref" not in p:
                        p["nullable"] = True
                req = sorted(k for k, n in self.present.items() if n == self.seen and k not in EVER_ABSENT)
                if req:
                    s["required"] = req
                s["additionalProperties"] = False
        if self.nullable and s:
            s["nullable"] = True
        return s


def collect(shape):
    """Fills EVER_NULL and EVER_ABSENT from a shape and everything inside it."""
    for k, p in shape.props.items():
        if p.nullable:
            EVER_NULL.add(k)
        if shape.present[k] < shape.seen:
            EVER_ABSENT.add(k)
        collect(p)
    for inner in (shape.items, shape.map_values):
        if inner is not None:
            collect(inner)


def absorb(doc, node, shape):
    """Adds to a hand-written schema the fields the answers hold that it does not name, and
    closes its objects to any other field."""
    if not isinstance(node, dict) or shape is None:
        return
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        absorb(doc, doc["components"]["schemas"][name], shape)
        return
    if node.get("type") == "array":
        absorb(doc, node.get("items"), shape.items)
    if node.get("type") == "object" and "properties" in node:
        props = node["properties"]
        for k, p in shape.props.items():
            if k not in props:
                props[k] = p.schema()
            else:
                absorb(doc, props[k], p)
        node["additionalProperties"] = False


def main():
    src = sys.argv[1]
    every = "--all" in sys.argv
    shapes = defaultdict(Shape)
    for f in glob.glob(f"{src}/*.jsonl"):
        for line in open(f, encoding="utf-8"):
            try:
                a = json.loads(line)
            except ValueError:
                continue
            if 200 <= a["status"] < 300 and a["status"] != 204:
                shapes[(a["method"].lower(), a["path"], str(a["status"]))].add(a["body"])
    for s in shapes.values():
        collect(s)
    path = f"{ROOT}/docs/openapi.json"
    doc = json.load(open(path, encoding="utf-8"))
    written, unanswered = 0, []
    for p, ops in doc["paths"].items():
        for m, op in ops.items():
            for code, r in op.get("responses", {}).items():
                if not code.startswith("2") or code == "204":
                    continue
                if any(t != "application/json" for t in r.get("content", {})):
                    continue  # a CSV or other document, not JSON
                content = r.setdefault("content", {}).setdefault("application/json", {})
                shape = shapes.get((m, p, code))
                if "schema" in content and not every:
                    absorb(doc, content["schema"], shape)
                    continue
                if shape is None:
                    unanswered.append(f"{m.upper()} {p} {code}")
                    continue
                content["schema"] = shape.schema()
                written += 1
    open(path, "w", encoding="utf-8").write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    print(f"{written} schemas written; no answer recorded for: {unanswered}")


if __name__ == "__main__":
    main()
