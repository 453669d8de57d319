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


# Language snippets: (template, variables). Rendered with the same
# environment; the C unit test chat_lang_test compares against them.
SNIPPETS = [
    ("{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 7 / 2 }}|{{ 6 / 3 }}", {}),
    ("{{ 0.1 + 0.2 }}|{{ 1e20 }}|{{ 1.5e-7 }}|{{ 100.0 }}|{{ 1/3 }}|{{ -0.0 }}|{{ 3.0 * 2 }}|{{ 2.5 | round }}|{{ 3.5 | round }}|{{ 3.14159 | round(2) }}|{{ 3.7 | round(0, 'floor') }}", {}),
    ("{{ 'a' ~ 1 ~ none ~ true }}|{{ 'x' * 3 }}|{{ [1, 2] + [3] }}|{{ 'ab' + 'cd' }}", {}),
    ("{{ [1, 'a', none, true, 1.5, {'k': 'v'}, ('t',)] }}|{{ {'a': [1, 2], 'b': none} }}|{{ none }}|{{ true }}|{{ False }}", {}),
    ("{{ \"it's\" }}|{{ ['it\\'s', 'say \"hi\"', 'both \\' \"', 'tab\\there', 'nl\\n'] }}", {}),
    ("{{ 'caf\\u00e9 \\x41 \\U0001F600' }}|{{ 'a\\\\b' }}|{{ 'x\\qy' }}|{{ \"a\" 'b' }}", {}),
    ("{% if x %}x{% elif y %}y{% else %}z{% endif %}{% if not x and not y %}!{% endif %}", {"y": 1}),
    ("{% for i in range(3) %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}", {}),
    ("{% for x in [] %}a{% else %}empty{% endfor %}|{% for x in xs if x > 1 %}{{ x }}{{ loop.length }}{% endfor %}", {"xs": [1, 2, 3]}),
    ("{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}|{% for k in d %}{{ k }}{% endfor %}|{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}", {"d": {"z": 1, "a": 2}}),
    ("{% for x in xs %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}", {"xs": [1, 2, 3, 4, 5]}),
    ("{% for x in 'héllo' %}[{{ x }}]{% endfor %}{{ 'héllo' | length }}{{ 'héllo'[1] }}{{ 'héllo'[1:3] }}{{ 'héllo'[::-1] }}", {}),
    ("{{ xs[1:] }}{{ xs[:-1] }}{{ xs[::2] }}{{ xs[::-1] }}{{ xs[-2:] }}{{ xs[5:] }}{{ xs[-1] }}{{ xs[10] }}|{{ xs[3:0:-1] }}", {"xs": [0, 1, 2, 3, 4]}),
    ("{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = i + 5 %}{{ x }}{% endfor %}{{ x }}", {}),
    ("{% set ns = namespace(a=1, b='x') %}{% for i in range(3) %}{% set ns.a = ns.a + i %}{% endfor %}{{ ns.a }}{{ ns.b }}{{ ns.c is defined }}", {}),
    ("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = 1, 2 %}{{ t }}{% set block %}  inner {{ a }}  {% endset %}[{{ block }}]", {}),
    ("{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', 'Hi') }} {{ greet(name='C', punct='?') }}", {}),
    ("{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% endmacro %}{{ fact(5) }}", {}),
    ("{% filter upper %}shout {{ 'this' }}{% endfilter %}|{% set x %}{% filter trim %}  padded  {% endfilter %}{% endset %}[{{ x }}]", {}),
    ("{{ x is defined }}{{ y is defined }}{{ y is undefined }}{{ n is none }}{{ s is string }}{{ 1 is number }}{{ 1.5 is float }}{{ 1 is integer }}{{ true is boolean }}{{ true is number }}", {"x": 0, "n": None, "s": "s"}),
    ("{{ d is mapping }}{{ xs is mapping }}{{ xs is iterable }}{{ s is iterable }}{{ 1 is iterable }}{{ xs is sequence }}{{ d is sequence }}{{ u is iterable }}{{ n is iterable }}", {"d": {}, "xs": [], "s": "", "n": None}),
    ("{{ true is true }}{{ 1 is true }}{{ false is false }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 2 is eq 2 }}{{ 'a' is equalto 'a' }}{{ 1 is lt 2 }}{{ 'A' is upper }}{{ 'a' is lower }}{{ none is sameas none }}", {}),
    ("{{ 'a' in 'cat' }}{{ 'x' not in 'cat' }}{{ 2 in [1, 2] }}{{ 'k' in {'k': 1} }}{{ 1 == 1.0 }}{{ true == 1 }}{{ [1] == [1] }}{{ 'a' < 'b' }}{{ [1, 2] < [1, 3] }}{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}", {}),
    ("{{ x or 'default' }}|{{ 'v' and 0 }}|{{ none or [] }}|{{ 1 if x else 2 }}|{{ 'yes' if true }}|[{{ 'no' if false }}]", {"x": ""}),
    ("{{ '  pad  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ 'Hello World' | lower }}|{{ 'hi' | upper }}|{{ 'hello world' | capitalize }}|{{ 'hello big-world (x)' | title }}|{{ 'aaa' | replace('a', 'b', 2) }}", {}),
    ("{{ [3, 1, 2] | sort }}|{{ ['b', 'A', 'c'] | sort }}|{{ ['b', 'A', 'c'] | sort(case_sensitive=true) }}|{{ [3, 1, 2] | sort(reverse=true) }}|{{ users | sort(attribute='age') | map(attribute='name') | join(',') }}", {"users": [{"name": "x", "age": 30}, {"name": "y", "age": 20}, {"name": "z", "age": 30}]}),
    ("{{ d | dictsort }}|{{ d | dictsort(reverse=true) }}|{{ d | dictsort(by='value') }}|{{ d | items | list }}|{{ d.keys() | list }}|{{ d.values() | list }}|{{ d.get('a') }}|{{ d.get('q', 'none') }}|{{ d.get('q') }}", {"d": {"b": 2, "a": 3, "C": 1}}),
    ("{{ xs | length }}|{{ xs | count }}|{{ xs | first }}|{{ xs | last }}|{{ xs | join('-') }}|{{ xs | join }}|{{ xs | unique | list }}|{{ xs | reverse | list }}|{{ 'abc' | reverse }}|{{ xs | list }}|{{ 'ab' | list }}", {"xs": [1, 2, 2, 3]}),
    ("{{ users | selectattr('active') | map(attribute='name') | list }}|{{ users | rejectattr('active') | map(attribute='name') | list }}|{{ users | selectattr('name', 'equalto', 'b') | list | length }}|{{ users | map(attribute='missing', default='d') | list }}", {"users": [{"name": "a", "active": True}, {"name": "b", "active": False}]}),
    ("{{ [1, 2, 3, 4] | select('odd') | list }}|{{ [1, 2, 3, 4] | reject('odd') | list }}|{{ ['a', 'B'] | map('upper') | list }}|{{ [0, 1, none, ''] | select | list }}|{{ none | selectattr('x') | list }}", {}),
    ("{{ u | default('dflt') }}|{{ n | default('dflt') }}|{{ '' | default('dflt', true) }}|{{ u | d('x') }}|{{ '42' | int + 1 }}|{{ '3.5' | float }}|{{ 'abc' | int }}|{{ 'abc' | int(7) }}|{{ 4.9 | int }}|{{ -3 | abs }}|{{ 42 | string ~ '!' }}", {"n": None}),
    ("{{ 'line1\\nline2\\n\\nline4' | indent }}|{{ 'a\\nb' | indent(2, first=true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}|{{ 'x\\n' | indent('>') }}", {}),
    ("{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ 'é\"\\n\\u0001' | tojson }}|{{ 'é' | tojson(ensure_ascii=true) }}|{{ [1.0, 2.5e-8, none, true] | tojson }}|{{ {} | tojson }}|{{ [] | tojson(indent=2) }}|{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}", {"d": {"a": [1, {"b": "c"}], "e": {}}}),
    ("{{ 'a,b,,c'.split(',') }}{{ '  a  b '.split() }}{{ 'a b c'.split(None, 1) }}{{ 'a,b,c'.rsplit(',', 1) }}{{ 'a b c'.rsplit(maxsplit=1) }}{{ 'a-b'.split(sep='-') }}", {}),
    ("{{ 'hello'.startswith('he') }}{{ 'hello'.endswith(('x', 'lo')) }}{{ '  x '.strip() }}|{{ 'xxaxx'.lstrip('x') }}|{{ 'xxaxx'.rstrip('x') }}|{{ 'Hi'.upper() }}{{ 'Hi'.lower() }}{{ 'hello world'.title() }}{{ 'a-b'.replace('-', '+') }}{{ ','.join(['a', 'b']) }}{{ 'hello'.find('l') }}{{ 'hello'.count('l') }}", {}),
    ("{{ message['role'] }}{{ message.role }}{{ message.missing }}{{ message['missing'] is defined }}{{ message.content[0].text }}{{ none.attr }}", {"message": {"role": "user", "content": [{"type": "text", "text": "T"}]}}),
    ("{{ '<b>' | safe + '<i>' }}|{{ '<b>' ~ '<i>' | safe }}|{{ 'x' + '\"' | safe }}", {}),
    ("{% set d = dict(a=1, b=2) %}{{ d }}{{ d | length }}{{ range(2, 10, 3) | list }}{{ range(5, 0, -2) | list }}", {}),
    ("{% for m in messages %}{{ loop.cycle('odd', 'even') }}{{ loop.previtem is defined }}{{ loop.nextitem is defined }} {% endfor %}", {"messages": [1, 2, 3]}),
    ("  {% if true %}\n    lstrip and trim\n  {% endif %}\n{# comment #}\nafter\n  {%- if true -%}  \n  tight  \n  {%- endif %}\n{{ 'var' }}  \n  {{- 'trimmed' -}}  \n  end\n", {}),
    ("{% raw %}{{ not evaluated }}{% endraw %}|{%+ if true %}keep{% endif %}|\n  {%+ if true %}x{% endif +%}\ny", {}),
    ("a\r\nb\r\n{% if true %}\r\nc\r\n{% endif %}\r\n", {}),
    ("{{ 'a' if x is defined and x.y is defined else 'b' }}|{{ xs | map('string') | join }}|{{ (xs | selectattr('k', 'defined') | list | length) }}", {"xs": [{"k": 1}, {"j": 2}]}),
    ("{{ raise_exception('boom ' ~ 1) }}", {}),
    ("{{ u.attr }}", {}),
    ("{{ 1 + 'a' }}", {}),
    ("{{ n + 1 }}", {"n": None}),
    ("{{ {'a': 1} | length }}{{ (xs | selectattr('k')) | length }}", {"xs": []}),
    ("{{ xs | selectattr('k') | tojson }}", {"xs": []}),
    ("{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}),
    ("{{ 1 / 0 }}", {}),
    ("{{ 'x'.append(1) }}", {}),
    ("{{ xs.append(1) }}", {"xs": []}),
    ("{% set ns.x = 1 %}", {"ns": {}}),
    ("{{ 'a' < 1 }}", {}),
]


def render_snippets(env):
    out = []
    for source, variables in SNIPPETS:
        item = {"template": source, "vars": variables}
        try:
            item["output"] = env.from_string(source).render(**variables)
        except Exception as e:
            item["error"] = "%s: %s" % (type(e).__name__, e)
        out.append(item)
    return out


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared")
    tdir = os.path.join(shared, "chat-templates")
    with open(os.path.join(HERE, "conversations.json")) as f:
        cases = json.load(f)
    out_dir = os.path.join(HERE, "expected")
    os.makedirs(out_dir, exist_ok=True)
    env = make_env()
    with open(os.path.join(out_dir, "snippets.json"), "w", encoding="utf-8") as f:
        json.dump(render_snippets(env), f, indent=1, ensure_ascii=False)
        f.write("\n")
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
