#!/usr/bin/env python3
"""Renders every chat template in ../shared/chat-templates with every
conversation in conversations.json, the way Hugging Face transformers does
(jinja2 ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loop
controls, HF's tojson / raise_exception / strftime_now and the
{% generation %} block), and writes expected/<template>.json:
{case_name: {"output": text} or {"error": message}}.

Only needs python3-jinja2 (Debian package). Usage:
    python3 tests/chat/gen_expected.py [SHARED_DIR]
"""
import json
import os
import sys

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
BOS, EOS = "<|bos|>", "<|eos|>"
# fixed so that strftime_now-free outputs are reproducible
BASE_EXTRA = {"date_string": "01 Jan 2025"}


class GenerationBlock(Extension):
    """HF's {% generation %}...{% endgeneration %}: renders its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def strftime_now(fmt):
    from datetime import datetime
    return datetime.now().strftime(fmt)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationBlock, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, source, case):
    kwargs = dict(BASE_EXTRA)
    kwargs.update(case.get("extra", {}))
    template = env.from_string(source)
    return template.render(messages=case["messages"], tools=case.get("tools"), documents=None,
                           add_generation_prompt=case["add_generation_prompt"],
                           bos_token=BOS, eos_token=EOS, **kwargs)


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared")
    tdir = os.path.join(shared, "chat-templates")
    with open(os.path.join(HERE, "conversations.json")) as f:
        cases = json.load(f)
    out_dir = os.path.join(HERE, "expected")
    os.makedirs(out_dir, exist_ok=True)
    env = make_env()
    for name in sorted(os.listdir(tdir)):
        if ".jinja" not in name:
            continue
        with open(os.path.join(tdir, name), encoding="utf-8") as f:
            source = f.read()
        results = {}
        for case in cases:
            try:
                results[case["name"]] = {"output": render(env, source, case)}
            except Exception as e:  # the C side must fail too
                results[case["name"]] = {"error": "%s: %s" % (type(e).__name__, e)}
        with open(os.path.join(out_dir, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1, ensure_ascii=False, sort_keys=True)
            f.write("\n")
        errs = sum(1 for r in results.values() if "error" in r)
        print("%-60s %d cases, %d errors" % (name, len(results), errs))


if __name__ == "__main__":
    main()
