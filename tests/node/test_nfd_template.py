"""The Go text/template subset used by labelsTemplate/varsTemplate."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.node.nfd.template import TemplateError, expand_map, parse_template

DATA: dict[str, Any] = {
    "pci": {"device": [{"vendor": "10DE", "device": "1eb8"}, {"vendor": "19e5", "device": "d802"}]},
    "cpu": {"cpuid": [{"Name": "AVX2"}, {"Name": "AVX512F"}]},
    "kernel": {"version": [{"Name": "major", "Value": "5"}]},
    "empty": {"list": []},
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("plain text", "plain text"),
        ("{{range .pci.device}}{{.vendor}},{{end}}", "10DE,19e5,"),
        ("{{range .cpu.cpuid}}{{.Name | lower}} {{end}}", "avx2 avx512f "),
        ("{{range $i, $d := .pci.device}}{{$i}}:{{$d.device}};{{end}}", "0:1eb8;1:d802;"),
        ("{{range $d := .pci.device}}{{$d.vendor | upper}}{{end}}", "10DE19E5"),
        ("{{range .empty.list}}x{{else}}none{{end}}", "none"),
        ("{{if eq (len .pci.device) 2}}two{{else}}other{{end}}", "two"),
        ("{{if gt 1 2}}a{{else if lt 1 2}}b{{else}}c{{end}}", "b"),
        ("{{if and .cpu.cpuid (not .empty.list)}}yes{{end}}", "yes"),
        ('{{or .empty.list "fallback"}}', "fallback"),
        ('{{printf "%s-%03d|%v|%q" "a" 7 true "x"}}', 'a-007|true|"x"'),
        ('{{"a b c" | replace " " "_" | upper}}', "A_B_C"),
        ('{{"  pad  " | trim}}|{{trimPrefix "nvidia-" "nvidia-t4"}}', "pad|t4"),
        ('{{ "x" -}}   \n  {{- "y" }}', "xy"),
        ("a{{/* comment */}}b", "ab"),
        ('{{$x := "v"}}{{range .cpu.cpuid}}{{$x}}{{end}}', "vv"),
        ("{{range .kernel.version}}{{$.pci.device | len}}{{end}}", "2"),
        ('{{index .pci.device 1 | printf "%v"}}', "map[device:d802 vendor:19e5]"),
        ('{{default "d" ""}}{{contains "es" "tesla"}}', "dtrue"),
    ],
    ids=[
        "text-only",
        "range-field",
        "pipe-to-sprig-lower",
        "range-index-and-element-vars",
        "range-element-var",
        "range-else-on-empty",
        "if-eq-len",
        "else-if-chain",
        "and-not",
        "or-returns-first-truthy",
        "printf-verbs",
        "replace-in-pipeline",
        "trim-and-trimprefix",
        "trim-markers",
        "comment",
        "outer-variable-visible-in-range",
        "dollar-is-root",
        "index-and-map-formatting",
        "default-and-contains",
    ],
)
def test_template_renders(source: str, expected: str) -> None:
    assert parse_template(source).execute(DATA) == expected


@pytest.mark.parametrize(
    "source",
    [
        "{{with .pci}}x{{end}}",
        '{{define "x"}}{{end}}',
        '{{env "HOME"}}',
        "{{if .a}}",
        "{{end}}",
        "{{.a | .b}}",
        '{{"unterminated}}',
    ],
    ids=[
        "with-unsupported",
        "define-unsupported",
        "unknown-function",
        "missing-end",
        "stray-end",
        "pipe-into-field",
        "bad-string",
    ],
)
def test_unsupported_or_broken_template_fails_to_parse(source: str) -> None:
    with pytest.raises(TemplateError):
        parse_template(source)


@pytest.mark.parametrize(
    "source",
    ["{{.pci.missing}}", "{{range .pci.device}}{{.Value}}{{end}}", '{{range "str"}}{{end}}', '{{lt 1 "a"}}'],
    ids=["missing-map-key", "missing-element-key", "range-over-string", "incompatible-comparison"],
)
def test_execution_errors(source: str) -> None:
    with pytest.raises(TemplateError):
        parse_template(source).execute(DATA)


def test_expand_map_splits_trims_and_skips_blank_lines() -> None:
    t = parse_template("{{range .pci.device}}  vendor-{{.vendor}}=yes  \n\n{{end}}k=a=b")
    assert expand_map(t, DATA) == {"vendor-10DE": "yes", "vendor-19e5": "yes", "k": "a=b"}


def test_expand_map_rejects_line_without_equals() -> None:
    with pytest.raises(TemplateError):
        expand_map(parse_template("novalue"), DATA)
