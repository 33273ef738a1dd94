#!/usr/bin/env python3
"""Render the chat-template golden files with Python jinja2, the way Hugging Face renders them.

transformers' `apply_chat_template` compiles a template in an
`ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)` with the `loopcontrols`
extension, replaces the `tojson` filter with `json.dumps(x, ensure_ascii=False, ...)` and adds the
globals `raise_exception` and `strftime_now`; it then renders with `messages`, `tools` (None when
absent), `documents` (None), `add_generation_prompt` and the special tokens as keyword arguments.
This script reproduces that environment with plain jinja2 (transformers is not needed), with
`strftime_now` fixed to the date in the case file.

The conversations come from crates/template/tests/cases.json, shared with the Rust test
(crates/template/tests/goldens.rs). Each template gets one golden file
crates/template/tests/goldens/<name>.json mapping case name to one of:
  {"output": "..."}         the rendered prompt
  {"raise": "..."}          the template called raise_exception(message)
  {"error": "Type: ..."}    jinja2 failed in another way (TypeError, UndefinedError, ...)

Usage:
  python3 scripts/chat_templates/make_goldens.py          # (re)write the golden files
  python3 scripts/chat_templates/make_goldens.py --check  # exit 1 if any golden is stale
"""

import argparse
import copy
import datetime
import hashlib
import json
import sys
from pathlib import Path

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

REPO = Path(__file__).resolve().parents[2]
CRATE = REPO / "crates" / "template"
CASES = CRATE / "tests" / "cases.json"
GOLDENS = CRATE / "tests" / "goldens"


class RaisedByTemplate(jinja2.exceptions.TemplateError):
    """What `raise_exception` raises (HF raises the TemplateError base class with the same message)."""


def make_environment(now: datetime.datetime) -> ImmutableSandboxedEnvironment:
    def raise_exception(message):
        raise RaisedByTemplate(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(
            x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
        )

    def strftime_now(format):
        return now.strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render_case(template, spec, case, tool_sets):
    tools = case.get("tools")
    if tools is not None:
        tools = copy.deepcopy(tool_sets[tools])
    context = {
        "messages": copy.deepcopy(case["messages"]),
        "tools": tools,
        "documents": None,
        "add_generation_prompt": case["add_generation_prompt"],
        "bos_token": spec["bos_token"],
        "eos_token": spec["eos_token"],
    }
    context.update(copy.deepcopy(case.get("extra", {})))
    try:
        return {"output": template.render(**context)}
    except RaisedByTemplate as e:
        return {"raise": str(e.message)}
    except Exception as e:  # noqa: BLE001 - every other failure is recorded the same way
        return {"error": f"{type(e).__name__}: {e}"}


def goldens_for(spec, cases, tool_sets, now):
    source_bytes = (CRATE / spec["path"]).read_bytes()
    source = source_bytes.decode("utf-8")
    template = make_environment(now).from_string(source)
    results = {}
    for case in cases:
        results[case["name"]] = render_case(template, spec, case, tool_sets)
    return {
        "template": spec["name"],
        "source_sha256": hashlib.sha256(source_bytes).hexdigest(),
        "jinja2_version": jinja2.__version__,
        "cases": results,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the goldens are current")
    args = parser.parse_args()

    table = json.loads(CASES.read_text(encoding="utf-8"))
    now = datetime.datetime.fromisoformat(table["now"])
    GOLDENS.mkdir(parents=True, exist_ok=True)
    stale = []
    for spec in table["templates"]:
        golden = goldens_for(spec, table["cases"], table["tools"], now)
        text = json.dumps(golden, ensure_ascii=False, indent=2) + "\n"
        path = GOLDENS / f"{spec['name']}.json"
        if args.check:
            old = path.read_text(encoding="utf-8") if path.exists() else None
            if old is None or json.loads(old)["cases"] != golden["cases"] or json.loads(old)["source_sha256"] != golden["source_sha256"]:
                stale.append(path.name)
            continue
        path.write_text(text, encoding="utf-8")
        kinds = [next(iter(r)) for r in golden["cases"].values()]
        print(
            f"{path.relative_to(REPO)}: {kinds.count('output')} outputs, "
            f"{kinds.count('raise')} raises, {kinds.count('error')} errors"
        )
    if stale:
        print("stale goldens: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
