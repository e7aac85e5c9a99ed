"""NodeFeatureRule engine (``nfd.k8s-sigs.io/v1alpha1``) with nfd-master semantics.

Compile once, evaluate per node::

    rules = compile_rules(rule_objects)      # sorted by object name
    out = rules.evaluate(features)           # -> RuleOutput

Contract:

* Objects are processed sorted by ``metadata.name``, rules in spec order.
* ``matchFeatures`` ANDs its terms; ``matchAny`` ORs its elements; with both,
  both must hold; with neither the rule always matches.
* A term names a feature (lower-cased). An absent feature never matches.
  ``matchExpressions`` are evaluated element-wise against flags/attributes (a
  feature with both is their union; ``DoesNotExist`` must hold in both) and as
  a whole set per instance (any instance satisfying all of them matches).
  ``matchName`` matches element *names*; with both, both must hold.
* Any :class:`~suanli.node.nfd.expressions.RuleError` (bad expression, a
  non-integer node value for an integer op, template failure) skips the whole
  rule for that node and is reported in ``warnings``; other rules still run.
  Malformed expressions are rejected when compiling, so such a rule is skipped
  on every node (upstream would only notice when it evaluates the expression).
* ``labels`` override ``labelsTemplate``; ``vars`` override ``varsTemplate``.
  Each executed rule's raw labels and vars feed the ``rule.matched``
  attribute feature seen by later rules.
* Keys are prefixed / filtered as in :mod:`suanli.node.nfd.validation`; label
  and extended-resource values ``@domain.feature.element`` are replaced by that
  attribute's value. Rejected entries become warnings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from suanli.apimachinery.objects import Obj
from suanli.node.nfd.expressions import Expression, RuleError, compile_expression
from suanli.node.nfd.features import Features
from suanli.node.nfd.template import Template, TemplateError, expand_map, parse_template
from suanli.node.nfd.validation import (
    DEFAULT_DENIED_NS,
    check_annotation_key,
    check_extended_resource,
    check_label,
    check_taint,
    prefixed,
)

__all__ = ["RULE_MATCHED", "CompiledRuleSet", "RuleOutput", "compile_rules", "evaluate_rules"]

#: The back-reference feature holding earlier rules' labels and vars.
RULE_MATCHED = "rule.matched"

Element = dict[str, str]
TemplateData = dict[str, dict[str, list[Element]]]


@dataclass
class RuleOutput:
    """Result of evaluating all rules against one node's features."""

    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    taints: list[Obj] = field(default_factory=list)
    extended_resources: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- terms


def _name_key(e: Element) -> str:
    return e.get("Name", "")


class _Term:
    __slots__ = ("dom", "exprs", "feature", "match_name", "nam")

    def __init__(self, spec: Any) -> None:
        if not isinstance(spec, dict):
            raise RuleError("matchFeatures term must be an object")
        feature = spec.get("feature")
        if not isinstance(feature, str) or not feature:
            raise RuleError("matchFeatures term needs a 'feature' name")
        self.feature = feature.lower()
        dom, _, nam = self.feature.partition(".")
        self.dom, self.nam = dom, nam
        me = spec.get("matchExpressions")
        self.exprs: tuple[tuple[str, Expression], ...] | None = None
        if me is not None:
            if not isinstance(me, dict):
                raise RuleError(f"matchExpressions of {feature!r} must be a map")
            self.exprs = tuple((str(k), compile_expression(v)) for k, v in me.items())
        mn = spec.get("matchName")
        self.match_name: Expression | None = compile_expression(mn) if mn is not None else None

    def match(
        self,
        flags: dict[str, set[str]],
        attrs: dict[str, dict[str, str]],
        insts: dict[str, list[dict[str, str]]],
        collect: bool,
    ) -> tuple[bool, list[Element]]:
        name = self.feature
        fset = flags.get(name)
        amap = attrs.get(name)
        ilist = insts.get(name)
        if fset is None and amap is None and ilist is None:
            return False, []
        elems: list[Element] = []
        ok = True
        if self.exprs is not None:
            ok, elems = _match_multi(self.exprs, fset, amap, ilist, collect)
        if ok and self.match_name is not None:
            ok, more = _match_names(self.match_name, fset, amap, ilist)
            elems.extend(more)
        return ok, elems


def _match_multi(
    exprs: tuple[tuple[str, Expression], ...],
    fset: set[str] | None,
    amap: dict[str, str] | None,
    ilist: list[dict[str, str]] | None,
    collect: bool,
) -> tuple[bool, list[Element]]:
    out: list[Element] = []
    is_match = False
    if fset is not None or amap is not None:
        is_match = True
        for key, e in exprs:
            test = e.test
            mk = mv = False
            if fset is not None:
                mk = test(key in fset, None)
                if mk:
                    if collect:
                        out.append({"Name": key})
                elif e.op == "DoesNotExist":
                    is_match = False
                    break
            if amap is not None:
                v = amap.get(key)
                mv = test(v is not None, v)
                if mv:
                    if collect:
                        out.append({"Name": key, "Value": v if v is not None else ""})
                elif e.op == "DoesNotExist":
                    is_match = False
                    break
            if not mk and not mv:
                is_match = False
                break
        if not is_match:
            out = []
        elif collect and len(out) > 1:
            out.sort(key=_name_key)
    if ilist:
        for inst in ilist:
            for key, e in exprs:
                v = inst.get(key)
                if not e.test(v is not None, v):
                    break
            else:
                is_match = True
                if collect:
                    out.append(inst)
    return is_match, out


def _match_names(
    e: Expression,
    fset: set[str] | None,
    amap: dict[str, str] | None,
    ilist: list[dict[str, str]] | None,
) -> tuple[bool, list[Element]]:
    test = e.test
    out: list[Element] = [{"Name": k} for k in (fset or ()) if test(True, k)]
    out.extend({"Name": k, "Value": v} for k, v in (amap or {}).items() if test(True, k))
    out.sort(key=_name_key)
    out.extend(inst for inst in (ilist or ()) if any(test(True, k) for k in inst))
    return bool(out), out


def _match_terms(
    terms: list[_Term],
    flags: dict[str, set[str]],
    attrs: dict[str, dict[str, str]],
    insts: dict[str, list[dict[str, str]]],
    collect: bool,
) -> tuple[bool, TemplateData]:
    data: TemplateData = {}
    for term in terms:
        ok, elems = term.match(flags, attrs, insts, collect)
        if not ok:
            return False, data
        if collect:
            data.setdefault(term.dom, {}).setdefault(term.nam, []).extend(elems)
    return True, data


# --------------------------------------------------------------------------- rules


def _str_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RuleError(f"{what} must be a map")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _terms(value: Any, what: str) -> list[_Term]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RuleError(f"{what} must be a list")
    return [_Term(t) for t in value]


class _Template:
    """A template parsed eagerly; a parse error surfaces when the rule executes."""

    __slots__ = ("error", "template")

    def __init__(self, source: Any) -> None:
        self.template: Template | None = None
        self.error: str | None = None
        try:
            self.template = parse_template(str(source))
        except TemplateError as exc:
            self.error = f"failed to parse template: {exc}"

    def expand(self, data: TemplateData, out: dict[str, str]) -> None:
        if self.template is None:
            raise RuleError(self.error or "bad template")
        try:
            out.update(expand_map(self.template, data))
        except TemplateError as exc:
            raise RuleError(f"failed to expand template: {exc}") from None


class _Rule:
    __slots__ = (
        "annotations",
        "collect",
        "entry_warnings",
        "error",
        "ext",
        "labels",
        "labels_template",
        "match_any",
        "match_features",
        "taints",
        "vars",
        "vars_template",
        "where",
    )

    def __init__(
        self, obj_name: str, index: int, spec: Any, auto_prefix: bool, denied: tuple[str, ...]
    ) -> None:
        name = spec.get("name") if isinstance(spec, dict) else None
        self.where = f"NodeFeatureRule {obj_name!r} rule {name or index!r}"
        self.error: str | None = None
        self.entry_warnings: list[str] = []
        self.labels: dict[str, str] = {}
        self.vars: dict[str, str] = {}
        self.annotations: dict[str, str] = {}
        self.ext: dict[str, str] = {}
        self.taints: list[Obj] = []
        self.match_features: list[_Term] = []
        self.match_any: list[list[_Term]] = []
        self.labels_template: _Template | None = None
        self.vars_template: _Template | None = None
        self.collect = False
        try:
            self._compile(spec, auto_prefix, denied)
        except RuleError as exc:
            self.error = f"{self.where}: {exc}"

    def _compile(self, spec: Any, auto_prefix: bool, denied: tuple[str, ...]) -> None:
        if not isinstance(spec, dict):
            raise RuleError("rule must be an object")
        self.labels = _str_map(spec.get("labels"), "labels")
        self.vars = _str_map(spec.get("vars"), "vars")
        for key, value in _str_map(spec.get("annotations"), "annotations").items():
            key = prefixed(key, auto_prefix)
            if problem := check_annotation_key(key, denied):
                self.entry_warnings.append(f"{self.where}: ignoring annotation: {problem}")
            else:
                self.annotations[key] = value
        self.ext = {
            prefixed(k, auto_prefix): v
            for k, v in _str_map(spec.get("extendedResources"), "extendedResources").items()
        }
        self._compile_taints(spec.get("taints"), denied)
        self.match_features = _terms(spec.get("matchFeatures"), "matchFeatures")
        any_spec = spec.get("matchAny")
        if any_spec is not None and not isinstance(any_spec, list):
            raise RuleError("matchAny must be a list")
        for elem in any_spec or []:
            self.match_any.append(
                _terms(
                    elem.get("matchFeatures") if isinstance(elem, dict) else None, "matchAny[].matchFeatures"
                )
            )
        if spec.get("labelsTemplate"):
            self.labels_template = _Template(spec["labelsTemplate"])
        if spec.get("varsTemplate"):
            self.vars_template = _Template(spec["varsTemplate"])
        self.collect = self.labels_template is not None or self.vars_template is not None

    def _compile_taints(self, taints: Any, denied: tuple[str, ...]) -> None:
        if taints is None:
            return
        if not isinstance(taints, list):
            raise RuleError("taints must be a list")
        for t in taints:
            if not isinstance(t, dict):
                raise RuleError("taint must be an object")
            key, value, effect = (
                str(t.get("key") or ""),
                str(t.get("value") or ""),
                str(t.get("effect") or ""),
            )
            if problem := check_taint(key, value, effect, denied):
                self.entry_warnings.append(f"{self.where}: ignoring taint: {problem}")
                continue
            taint: Obj = {"key": key, "effect": effect}
            if value:
                taint["value"] = value
            self.taints.append(taint)

    def execute(
        self,
        flags: dict[str, set[str]],
        attrs: dict[str, dict[str, str]],
        insts: dict[str, list[dict[str, str]]],
    ) -> tuple[dict[str, str], dict[str, str]] | None:
        """Return ``(labels, vars)`` if the rule matches, ``None`` if not; may raise RuleError."""
        collect = self.collect
        labels: dict[str, str] = {}
        vars_: dict[str, str] = {}
        if self.match_any:
            matched = False
            for terms in self.match_any:
                ok, data = _match_terms(terms, flags, attrs, insts, collect)
                if ok:
                    matched = True
                    if not collect:
                        break
                    self._expand(data, labels, vars_)
            if not matched:
                return None
        if self.match_features:
            ok, data = _match_terms(self.match_features, flags, attrs, insts, collect)
            if not ok:
                return None
            if collect:
                self._expand(data, labels, vars_)
        if self.labels:
            labels.update(self.labels)
        if self.vars:
            vars_.update(self.vars)
        return labels, vars_

    def _expand(self, data: TemplateData, labels: dict[str, str], vars_: dict[str, str]) -> None:
        if self.labels_template is not None:
            self.labels_template.expand(data, labels)
        if self.vars_template is not None:
            self.vars_template.expand(data, vars_)


# --------------------------------------------------------------------------- rule set


class CompiledRuleSet:
    """Rules of several NodeFeatureRule objects, compiled once, in processing order."""

    def __init__(
        self,
        rule_objects: Iterable[Obj],
        *,
        auto_prefix: bool = True,
        denied_namespaces: tuple[str, ...] = DEFAULT_DENIED_NS,
    ) -> None:
        self.auto_prefix = auto_prefix
        self.denied = denied_namespaces
        self.compile_warnings: list[str] = []
        self._rules: list[_Rule] = []
        objs = sorted(rule_objects, key=lambda o: str((o.get("metadata") or {}).get("name") or ""))
        for obj in objs:
            obj_name = str((obj.get("metadata") or {}).get("name") or "")
            rules = (obj.get("spec") or {}).get("rules") if isinstance(obj.get("spec"), dict) else None
            if not isinstance(rules, list):
                self.compile_warnings.append(f"NodeFeatureRule {obj_name!r}: spec.rules must be a list")
                continue
            for i, spec in enumerate(rules):
                rule = _Rule(obj_name, i, spec, auto_prefix, denied_namespaces)
                if rule.error:
                    self.compile_warnings.append(rule.error)
                self._rules.append(rule)
        self._label_cache: dict[tuple[str, str], str | None] = {}

    def __len__(self) -> int:
        return len(self._rules)

    def evaluate(self, features: Features) -> RuleOutput:
        """Run every rule against ``features`` (not modified) and filter the outputs."""
        flags, insts = features.flags, features.instances
        attrs = dict(features.attributes)
        backref = attrs.get(RULE_MATCHED)
        if backref is not None:
            backref = dict(backref)
            attrs[RULE_MATCHED] = backref
        labels: dict[str, str] = {}
        annotations: dict[str, str] = {}
        ext: dict[str, str] = {}
        taints: dict[tuple[str, str], Obj] = {}
        warnings: list[str] = []
        auto = self.auto_prefix
        for rule in self._rules:
            if rule.error is not None:
                warnings.append(rule.error)
                continue
            try:
                result = rule.execute(flags, attrs, insts)
            except RuleError as exc:
                warnings.append(f"{rule.where}: {exc}")
                continue
            if backref is None:
                backref = {}
                attrs[RULE_MATCHED] = backref
            if result is None:
                continue
            rlabels, rvars = result
            for k, v in rlabels.items():
                labels[prefixed(k, auto)] = v
            backref.update(rlabels)
            backref.update(rvars)
            if rule.annotations:
                annotations.update(rule.annotations)
            if rule.ext:
                ext.update(rule.ext)
            for t in rule.taints:
                taints[(t["key"], t["effect"])] = t
            if rule.entry_warnings:
                warnings.extend(rule.entry_warnings)
        out = RuleOutput(annotations=annotations, taints=list(taints.values()), warnings=warnings)
        self._filter_labels(labels, attrs, out)
        self._filter_extended(ext, attrs, out)
        return out

    def _filter_labels(
        self, labels: dict[str, str], attrs: dict[str, dict[str, str]], out: RuleOutput
    ) -> None:
        cache = self._label_cache
        for key, value in labels.items():
            if value.startswith("@"):
                try:
                    value = _dynamic_value(value, attrs)
                except RuleError as exc:
                    out.warnings.append(f"ignoring label {key!r}: {exc}")
                    continue
            ck = (key, value)
            if ck in cache:
                problem = cache[ck]
            else:
                problem = check_label(key, value, self.denied)
                if len(cache) < 100_000:
                    cache[ck] = problem
            if problem:
                out.warnings.append(f"ignoring label: {problem}")
            else:
                out.labels[key] = value

    def _filter_extended(
        self, ext: dict[str, str], attrs: dict[str, dict[str, str]], out: RuleOutput
    ) -> None:
        for key, value in ext.items():
            if value.startswith("@"):
                try:
                    value = _dynamic_value(value, attrs)
                except RuleError as exc:
                    out.warnings.append(f"ignoring extended resource {key!r}: {exc}")
                    continue
            if problem := check_extended_resource(key, value, self.denied):
                out.warnings.append(f"ignoring extended resource: {problem}")
            else:
                out.extended_resources[key] = value


def _dynamic_value(value: str, attrs: dict[str, dict[str, str]]) -> str:
    """Resolve ``@domain.feature.element`` against attribute features."""
    parts = value[1:].split(".", 2)
    if len(parts) != 3:
        raise RuleError(f"value {value!r} is not of the form '@domain.feature.element'")
    feature = f"{parts[0]}.{parts[1]}"
    elements = attrs.get(feature)
    if elements is None:
        raise RuleError(f"feature {feature!r} not found")
    if parts[2] not in elements:
        raise RuleError(f"element {parts[2]!r} not found in feature {feature!r}")
    return elements[parts[2]]


def compile_rules(
    rule_objects: Iterable[Obj],
    *,
    auto_prefix: bool = True,
    denied_namespaces: tuple[str, ...] = DEFAULT_DENIED_NS,
) -> CompiledRuleSet:
    """Compile NodeFeatureRule objects (any order) into a :class:`CompiledRuleSet`."""
    return CompiledRuleSet(rule_objects, auto_prefix=auto_prefix, denied_namespaces=denied_namespaces)


def evaluate_rules(rule_objects: list[Obj], features: Features) -> RuleOutput:
    """One-shot :func:`compile_rules` + :meth:`CompiledRuleSet.evaluate`."""
    return compile_rules(rule_objects).evaluate(features)
