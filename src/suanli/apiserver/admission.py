"""Admission chain: mutating plug-ins run first, then validating ones.

Later issues register plug-ins (queue defaulting, workload-type validation, …) with
:meth:`AdmissionChain.add_mutating` / :meth:`AdmissionChain.add_validating`. A plug-in
sees every write of the resources it names (``resources`` = set of
``ResourceType.storage_key`` values, empty = all) and either returns or raises
:class:`~suanli.apimachinery.errors.ApiError` to reject the request. Webhooks
(``apiserver/webhooks.py``) run after the in-process mutating plug-ins and after the
validating ones, as upstream's MutatingAdmissionWebhook and ValidatingAdmissionWebhook
close their chains. A plug-in may also define ``async def prepare(request)``, awaited before
any plug-in runs (e.g. a bounded wait for an object a controller is about to create); the
plug-ins themselves stay synchronous. Plug-ins added with :meth:`AdmissionChain.add_final` (ResourceQuota) are
awaited after everything else, as upstream orders ResourceQuota last: they see the final
object and may write elsewhere (quota usage) before the object is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from suanli.apimachinery.objects import Obj
from suanli.apiserver.context import ADMIN, UserInfo
from suanli.kinds.registry import ResourceType

__all__ = ["AdmissionChain", "AdmissionRequest", "FinalAdmission", "MutatingAdmission", "Operation",
           "ValidatingAdmission"]

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]


@dataclass
class AdmissionRequest:
    """What is being written. ``obj`` is a private copy a mutating plug-in may change in place."""

    operation: Operation
    resource: ResourceType
    namespace: str
    name: str
    obj: Obj | None
    old: Obj | None
    subresource: str = ""
    user: str = ""
    dry_run: bool = False
    user_info: UserInfo = ADMIN
    warnings: list[str] = field(default_factory=list)


class MutatingAdmission(Protocol):
    """May change ``request.obj`` in place; raise ApiError to reject."""

    name: str
    resources: frozenset[str]

    def mutate(self, request: AdmissionRequest) -> None: ...


class ValidatingAdmission(Protocol):
    """Must not change the object; raise ApiError (usually 422 Invalid) to reject."""

    name: str
    resources: frozenset[str]

    def validate(self, request: AdmissionRequest) -> None: ...


class FinalAdmission(Protocol):
    """Awaited last; must not change the object; raise ApiError to reject."""

    name: str
    resources: frozenset[str]

    async def admit(self, request: AdmissionRequest) -> None: ...


@dataclass
class AdmissionChain:
    mutating: list[MutatingAdmission] = field(default_factory=list)
    validating: list[ValidatingAdmission] = field(default_factory=list)
    final: list[FinalAdmission] = field(default_factory=list)

    def add_mutating(self, plugin: MutatingAdmission) -> None:
        self.mutating.append(plugin)

    def add_validating(self, plugin: ValidatingAdmission) -> None:
        self.validating.append(plugin)

    def add_final(self, plugin: FinalAdmission) -> None:
        self.final.append(plugin)

    def applies(self, storage_key: str) -> bool:
        """Whether any plug-in sees writes of ``storage_key`` (else :meth:`run` is a no-op)."""
        for m in self.mutating:
            if not m.resources or storage_key in m.resources:
                return True
        if any(not f.resources or storage_key in f.resources for f in self.final):
            return True
        return any(not v.resources or storage_key in v.resources for v in self.validating)

    async def prepare(self, request: AdmissionRequest) -> None:
        """Await every applicable plug-in's optional ``prepare(request)`` (once per plug-in object)."""
        key = request.resource.storage_key
        seen: set[int] = set()
        plugins: list[MutatingAdmission | ValidatingAdmission] = [*self.mutating, *self.validating]
        for p in plugins:
            hook = getattr(p, "prepare", None)
            if hook is None or id(p) in seen or (p.resources and key not in p.resources):
                continue
            seen.add(id(p))
            await hook(request)

    def run(self, request: AdmissionRequest) -> None:
        """Run every mutating plug-in, then every validating one, in registration order."""
        self.run_mutating(request)
        self.run_validating(request)

    def run_mutating(self, request: AdmissionRequest) -> None:
        key = request.resource.storage_key
        for m in self.mutating:
            if not m.resources or key in m.resources:
                m.mutate(request)

    def run_validating(self, request: AdmissionRequest) -> None:
        key = request.resource.storage_key
        for v in self.validating:
            if not v.resources or key in v.resources:
                v.validate(request)

    async def run_final(self, request: AdmissionRequest) -> None:
        """Await every final plug-in (after validation and webhooks), in registration order."""
        key = request.resource.storage_key
        for f in self.final:
            if not f.resources or key in f.resources:
                await f.admit(request)
