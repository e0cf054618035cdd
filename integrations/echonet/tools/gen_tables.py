"""Generate integrations/echonet/data/classes.json from the ECHONET Consortium MRA.

Usage: python -m integrations.echonet.tools.gen_tables [MRA_DIR] [OUT_FILE]

The MRA (Machine Readable Appendix, JSON) describes every device class and property. We keep,
per class and EPC, the entry valid in the latest release: name, access rule (get/set/inf as
r = required, rc = required conditionally, ro = required_o, o = optional, - = not applicable),
EDT size range and the data alternatives (state enums, numeric ranges, levels, raw sizes).
Descriptions are dropped to keep the shipped file small.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_MRA = ROOT.parent / "shared" / "testdata" / "echonet" / "mra"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "data" / "classes.json"

ACCESS = {"required": "r", "required_c": "rc", "required_o": "ro", "optional": "o",
          "notApplicable": "-"}
NUMBER_SIZES = {"int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4}
FIXED_SIZES = {"date": 4, "date-time": 7}


def _hex(code: str) -> str:
    """'0x0130' -> '0130', '0x80' -> '80'."""
    return code[2:].upper() if code.lower().startswith("0x") else code.upper()


class Generator:
    """Resolves MRA `$ref`s and flattens data definitions into compact alternatives."""

    def __init__(self, mra: Path) -> None:
        defs = json.loads((mra / "definitions" / "definitions.json").read_text("utf-8"))
        self.defs: dict[str, Any] = defs["definitions"]
        self.mra = mra

    def resolve(self, data: dict[str, Any]) -> dict[str, Any]:
        """Follow a `$ref` into definitions.json."""
        while "$ref" in data:
            data = self.defs[data["$ref"].rsplit("/", 1)[-1]]
        return data

    def alternatives(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """The data forms of one property, `oneOf` flattened."""
        extra = {k: v for k, v in data.items() if k in ("coefficient",)}
        data = self.resolve(data)
        if "oneOf" in data:
            out: list[dict[str, Any]] = []
            for alt in data["oneOf"]:
                out.extend(self.alternatives(alt))
            return out
        alt = self.compact(data)
        if extra:
            alt["coefficient"] = [_hex(c) for c in extra["coefficient"]]
        return [alt]

    def size(self, data: dict[str, Any]) -> tuple[int, int] | None:
        """(min, max) EDT bytes of one data form, None when the MRA does not say."""
        data = self.resolve(data)
        kind = data.get("type")
        if "oneOf" in data:
            sizes = [self.size(a) for a in data["oneOf"]]
            if any(s is None for s in sizes):
                return None
            known = [s for s in sizes if s is not None]
            return min(s[0] for s in known), max(s[1] for s in known)
        if kind == "number":
            n = NUMBER_SIZES[data["format"]]
            return n, n
        if kind == "level":
            return 1, 1
        if kind in ("state", "numericValue", "bitmap", "time") and "size" in data:
            return data["size"], data["size"]
        if kind == "raw":
            return data["minSize"], data["maxSize"]
        if kind in FIXED_SIZES:
            n = FIXED_SIZES[kind]
            return n, n
        if kind == "array" and "minItems" in data and "maxItems" in data:
            item = data["itemSize"]
            return item * data["minItems"], item * data["maxItems"]
        if kind == "object":
            lo = hi = 0
            for prop in data["properties"]:
                part = self.size(prop["element"])
                if part is None:
                    return None
                lo, hi = lo + part[0], hi + part[1]
            return lo, hi
        return None

    def compact(self, data: dict[str, Any]) -> dict[str, Any]:
        """One resolved data form in the shipped layout."""
        kind = data.get("type", "unknown")
        out: dict[str, Any] = {"t": kind}
        if kind == "state":
            out["enum"] = {_hex(e["edt"]): e["name"] for e in data["enum"]}
        elif kind == "numericValue":
            out["enum"] = {_hex(e["edt"]): e["numericValue"] for e in data["enum"]}
        elif kind == "number":
            out["fmt"] = data["format"]
            for src, dst in (("minimum", "min"), ("maximum", "max"), ("unit", "unit"),
                             ("multiple", "mul")):
                if src in data:
                    out[dst] = data[src]
        elif kind == "level":
            out["base"] = _hex(data["base"])
            out["max"] = data["maximum"]
        size = self.size(data)
        if size is not None:
            out["size"] = list(size)
        return out

    def klass(self, path: Path) -> tuple[str, dict[str, Any]]:
        """One class file -> (class code, table)."""
        doc = json.loads(path.read_text("utf-8"))
        by_epc: dict[str, dict[str, Any]] = {}
        for prop in doc["elProperties"]:
            # Several entries per EPC exist for different releases; the one valid up to
            # "latest" wins, otherwise the last one listed (the newest).
            epc = _hex(prop["epc"])
            current = by_epc.get(epc)
            if current is not None and current["_to"] == "latest":
                continue
            size = self.size(prop["data"])
            by_epc[epc] = {
                "_to": prop.get("validRelease", {}).get("to", "latest"),
                "name": prop["propertyName"]["en"],
                "get": ACCESS[prop["accessRule"]["get"]],
                "set": ACCESS[prop["accessRule"]["set"]],
                "inf": ACCESS[prop["accessRule"]["inf"]],
                "size": list(size) if size is not None else None,
                "data": self.alternatives(prop["data"]),
            }
        for entry in by_epc.values():
            del entry["_to"]
        code = _hex(doc.get("eoj", path.stem))
        name = doc.get("className", {}).get("en", "")
        return code, {"name": name, "short": doc.get("shortName", ""),
                      "epcs": dict(sorted(by_epc.items()))}

    def run(self) -> dict[str, Any]:
        """The whole table."""
        meta = json.loads((self.mra / "metaData.json").read_text("utf-8"))["metaData"]
        classes: dict[str, Any] = {}
        files = [*sorted((self.mra / "devices").glob("*.json")),
                 self.mra / "nodeProfile" / "0x0EF0.json"]
        for path in files:
            code, table = self.klass(path)
            classes[code] = table
        _, superclass = self.klass(self.mra / "superClass" / "0x0000.json")
        return {
            "source": {"mra": meta.get("dataVersion"), "release": meta.get("release"),
                       "date": meta.get("date")},
            "super": superclass,
            "classes": classes,
        }


def main(argv: list[str]) -> int:
    """Write the table; print what was written."""
    mra = Path(argv[1]) if len(argv) > 1 else DEFAULT_MRA
    out = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    table = Generator(mra).run()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(table, separators=(",", ":"), ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {len(table['classes'])} classes to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
