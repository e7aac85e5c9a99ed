"""The embedded platform: store, API service, HTTP(S) server and in-process controllers.

``Platform`` is what ``suanli up`` runs; tests start it the same way. Components other
than the API server talk to it only through a :class:`~suanli.client.protocol.Client`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import functools
import gc
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import uvicorn

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.admission_limitrange import LimitRangeDefaults, LimitRangeValidation, store_limit_ranges
from suanli.apiserver.admission_namespace import NamespaceLifecycle
from suanli.apiserver.admission_quota import ResourceQuotaAdmission, load_limited_resources
from suanli.apiserver.admission_serviceaccount import ServiceAccountAdmission, store_service_account_lookup
from suanli.apiserver.admission_storage import DefaultStorageClass, StorageObjectInUseProtection, store_class_lister
from suanli.apiserver.admission_volcano import store_queue_children, store_queue_lookup, volcano_admission
from suanli.apiserver.audit import AuditOptions, build_auditor
from suanli.apiserver.authn import (
    AuthnOptions,
    build_authentication,
    jwt_configs,
    load_front_proxy_ca,
    publish_authentication_info,
)
from suanli.apiserver.authn.reviews import authentication_review_types
from suanli.apiserver.authn.static import TokenFile
from suanli.apiserver.authn.uvicorn_tls import tls_server_options
from suanli.apiserver.authz import AlwaysAllow
from suanli.apiserver.authz.bootstrap import reconcile_bootstrap_policy
from suanli.apiserver.authz.escalation import EscalationCheck
from suanli.apiserver.authz.rbac import RbacAuthorizer
from suanli.apiserver.authz.reviews import access_review_types
from suanli.apiserver.http import ApiApp
from suanli.apiserver.kubeletproxy import KubeletProxy
from suanli.apiserver.limits import LimitsConfig, RequestLimits
from suanli.apiserver.logs import FileLogBackend
from suanli.apiserver.priorityclasses import SystemPriorityClassAdmission, system_priority_classes
from suanli.apiserver.satokens import ServiceAccountTokens, legacy_claims
from suanli.apiserver.service import ApiService, name_suffix
from suanli.apiserver.tls import (
    TlsMaterial,
    ensure_tls_material,
    ensure_token,
    harden_server_context,
    load_ca,
    parse_ca,
)
from suanli.client.kubeconfig import write_kubeconfig
from suanli.client.local import LocalClient
from suanli.client.protocol import Client
from suanli.controllers.apiserver_loops import apiserver_loops
from suanli.controllers.clusterroleaggregation import ClusterRoleAggregationController
from suanli.controllers.cronjob import CronJobController
from suanli.controllers.csrsigning import CSRSigningController
from suanli.controllers.daemonset import DaemonSetController
from suanli.controllers.deployment import DeploymentController
from suanli.controllers.garbage_collector import GarbageCollector
from suanli.controllers.ipam import DEFAULT_CLUSTER_CIDR, NodeIpamController, check_cluster_cidr
from suanli.controllers.job import JobController
from suanli.controllers.kind_controllers import kind_controllers
from suanli.controllers.namespace import NamespaceController
from suanli.controllers.operators import KAEClusterPolicyController, NPUClusterPolicyController
from suanli.controllers.podgroup import PodGroupController
from suanli.controllers.queue import QueueStateController
from suanli.controllers.replicaset import ReplicaSetController
from suanli.controllers.resourcequota import Resolver, ResourceQuotaController, registry_resolver
from suanli.controllers.serviceaccount import RootCAPublisher, ServiceAccountsController
from suanli.controllers.serviceaccount_token import TokensController
from suanli.controllers.statefulset import StatefulSetController
from suanli.controllers.volcanojob import VolcanoJobController
from suanli.deploy.crds import served_crds
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.kinds.volcano import QUEUES, default_queue, root_queue
from suanli.node.agent import METRICS_BUCKETS, AgentConfig, ProcessAgent, SimAgent
from suanli.node.agent.process import default_node_name
from suanli.node.demo import ensure_demo_pool
from suanli.node.devices import registry_for_profiles
from suanli.node.nfd.controller import NodeFeatureReporter, NodeFeatureRuleController
from suanli.node.nfd.crds import ensure_crds
from suanli.node.usage.board import SampleBoard
from suanli.node.usage.routes import install as install_usage_routes
from suanli.runtime.clock import Clock, OffsetClock, RealClock, VirtualClock
from suanli.runtime.component import Component, ComponentGroup
from suanli.runtime.events import EventRecorder
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.runtime.metrics import default_registry
from suanli.scheduler.adapter import COMPONENT, LiveScheduler
from suanli.scheduler.configmap import ensure_scheduler_configmap
from suanli.scheduler.core.config import DEFAULT_CONFIG_TEXT, parse_config
from suanli.storage import Store
from suanli.storage.datadir import secure_data_dir
from suanli.storage.encryption import load_encryption_config

__all__ = ["ControllerContext", "Platform", "PlatformOptions", "agent_components", "controller_components",
           "ensure_default_queues", "scheduler_component"]

log = logging.getLogger(__name__)

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass
class PlatformOptions:
    host: str = "127.0.0.1"
    port: int = 6443
    data_dir: Path = field(default_factory=lambda: Path.home() / ".suanli" / "data")
    kubeconfig: Path | None = field(default_factory=lambda: Path.home() / ".suanli" / "kubeconfig")
    tls: bool = True
    anonymous: bool = False
    demo: bool = True
    bookmark_interval: float = 30.0
    event_ttl: float = 3600.0
    fsync: bool = False
    seed: int = 0
    host_node: bool = True
    scheduler_config: Path | None = None
    #: end-to-end tests only: time-driven controllers (CronJob) run ahead by the seconds in this file
    clock_offset_file: Path | None = None
    cluster_cidr: str = DEFAULT_CLUSTER_CIDR
    node_cidr_mask_size: int = 24
    #: ``suanli up --only api``: serve the API (with kube-apiserver's own start-up bootstrapping:
    #: default namespaces, system PriorityClasses, APIService registration of local groups) but run
    #: no controllers, no scheduler, no node agents and no demo pool — for running the real
    #: kube-scheduler / kube-controller-manager (or any other control plane) against it
    only_api: bool = False
    #: authentication beyond the admin token: token file, webhook, issuer and audiences
    #: (``anonymous`` above stays the one switch for ``system:anonymous``)
    authn: AuthnOptions = field(default_factory=AuthnOptions)
    #: ``--authorization-mode``: "RBAC" (bootstrap policy, escalation checks) or "AlwaysAllow"
    authorization_mode: str = "RBAC"
    #: in-flight limits, per-user queues and request timeout (:mod:`suanli.apiserver.limits`)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    #: ``--admission-control-config-file`` (ResourceQuota ``limitedResources``); None: no configuration
    admission_config: Path | None = None
    #: ``--virtual-time-rate``: simulated usage runs this many times faster than real time (0: time
    #: stands still except for ``clock_offset_file`` jumps); None: real time
    virtual_time_rate: float | None = None
    #: ``--encryption-provider-config``: EncryptionConfiguration for encryption at rest
    encryption_provider_config: Path | None = None
    #: ``--audit-policy-file``, ``--audit-log-*``
    audit: AuditOptions = field(default_factory=AuditOptions)


async def _tune_gc(interval: float = 1.0, full_every: int = 60) -> None:
    """Keep Python's cyclic GC off the long-lived object graph, and collect frozen cycles.

    Almost everything the server allocates and keeps (stored objects, watch windows, informer
    caches, scheduler snapshot records) lives for minutes or forever, so every generation-1
    pass re-walks a large heap (a 250 ms stall per ~500k survivors) and finds almost no
    garbage. So after start-up and then every ``interval`` seconds, the young generation is
    collected and all survivors are moved to the permanent generation (``gc.freeze``):
    collections only ever see the last second's objects. A reference cycle that becomes
    garbage after it was frozen is invisible to those collections, so every ``full_every``
    intervals the permanent generation is unfrozen and fully collected once. Without that,
    frozen cycles accumulated with churn (measured in ``bench/bench_soak.py``: 3.1 M of 4.1 M
    Python blocks alive after 210,000 pod lifecycles were such cycles and what they held).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    ticks = 0
    while True:
        await asyncio.sleep(interval)
        ticks += 1
        if ticks % full_every == 0:
            gc.unfreeze()
            gc.collect()
        else:
            gc.collect(0)
        gc.freeze()


def _malloc_trim() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)``, or None on another C library."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    return lambda: fn(0)


async def _release_free_heap(interval: float = 60.0) -> None:
    """Give freed heap pages back to the OS every ``interval`` seconds.

    Stored objects' JSON bytes and large dicts live in the C allocator, not in Python's
    small-object arenas. After churn (pods created and deleted, watch windows and Event TTL
    dropping their history) glibc keeps the freed chunks mapped, so RSS stays at its peak;
    ``malloc_trim(0)`` returns the free pages inside its arenas (measured in
    ``bench/bench_soak.py``: about a third of the RSS after a soak). It walks the free lists
    only: about 30 ms on an 800 MB heap with 400 MB of holes.
    """
    trim = _malloc_trim()
    if trim is None:
        return
    while True:
        await asyncio.sleep(interval)
        trim()


@dataclass
class ControllerContext:
    """What controllers are built from, in ``suanli up`` and in ``suanli controllers``."""

    client: Client
    factory: SharedInformerFactory
    cluster_cidr: str = DEFAULT_CLUSTER_CIDR
    node_cidr_mask_size: int = 24
    #: local-path volumes of ``host_node`` live under it (None: no process-runtime node)
    volume_root: Path | None = None
    host_node: str | None = None
    clock_offset_file: Path | None = None
    #: the cluster CA published into every namespace (``kube-root-ca.crt``); None: not published
    ca_pem: bytes | None = None
    #: the embedded API server's registry (the local APIService registrar); None in a separate process
    registry: Registry | None = None
    #: signs legacy ServiceAccount token Secrets (needs the API server's key); None: controller off
    issue_legacy_token: Callable[[str, str, str, str], str] | None = None
    discovery_resync: float = 30.0
    #: maps ``count/<resource>.<group>`` to what the quota controller lists; None: controller off (on a
    #: real cluster kube-controller-manager's resourcequota controller does this job)
    quota_resolver: Resolver | None = None
    #: the cluster CA (cert, key) for the CSR signer (needs the API server's CA key); None: signer off
    signing_ca: Callable[[], Any] | None = None


ControllerFactory = Callable[[], Component]


def controller_components(ctx: ControllerContext) -> list[tuple[str, ControllerFactory]]:
    """Every controller of the controllers bundle, by name (``suanli controllers --controllers``), unbuilt.

    The one registration point: ``suanli up`` builds all of them in-process; ``suanli
    controllers`` builds those enabled. Entries whose prerequisites are missing in ``ctx``
    (the API server's registry, signing key or CA) are left out.
    """
    c, f = ctx.client, ctx.factory
    out: list[tuple[str, ControllerFactory]] = [
        ("garbage-collector", lambda: GarbageCollector(c, factory=f, discovery_resync=ctx.discovery_resync)),
        ("namespace", lambda: NamespaceController(c, factory=f)),
        ("replicaset", lambda: ReplicaSetController(c, factory=f)),
        ("deployment", lambda: DeploymentController(c, factory=f)),
        ("job", lambda: JobController(c, factory=f)),
        ("daemonset", lambda: DaemonSetController(c, factory=f)),
        ("statefulset", lambda: StatefulSetController(c, factory=f)),
        ("serviceaccount", lambda: ServiceAccountsController(c, factory=f)),
        ("nodeipam", lambda: NodeIpamController(c, cluster_cidr=ctx.cluster_cidr, node_mask=ctx.node_cidr_mask_size,
                                                factory=f)),
        ("cronjob", lambda: CronJobController(c, factory=f, clock=None if ctx.clock_offset_file is None
                                              else OffsetClock(ctx.clock_offset_file))),
        ("npu-operator", lambda: NPUClusterPolicyController(c, factory=f)),
        ("kae-operator", lambda: KAEClusterPolicyController(c, factory=f)),
        ("nfd-master", lambda: NodeFeatureRuleController(c)),
        ("podgroup", lambda: PodGroupController(c, factory=f)),
        ("volcano-job", lambda: VolcanoJobController(c, factory=f)),
        ("queue", lambda: QueueStateController(c, factory=f)),
        ("clusterrole-aggregation", lambda: ClusterRoleAggregationController(c, factory=f)),
    ]
    kinds = kind_controllers(c, f, volume_root=ctx.volume_root, host_node=ctx.host_node)
    for ctrl in kinds:
        out.append((_KIND_CONTROLLER_NAMES.get(type(ctrl).__name__, type(ctrl).__name__), _built(ctrl)))
    ca = ctx.ca_pem
    if ca is not None:  # plain HTTP (--insecure-http) has no CA to publish
        out.append(("root-ca-cert-publisher", lambda: RootCAPublisher(c, ca, factory=f)))
    issue = ctx.issue_legacy_token
    if issue is not None:
        out.append(("serviceaccount-token", lambda: TokensController(c, issue, ca, factory=f)))
    resolver = ctx.quota_resolver
    if resolver is not None:
        out.append(("resourcequota", lambda: ResourceQuotaController(c, resolver, factory=f)))
    signing_ca = ctx.signing_ca
    if signing_ca is not None:
        out.append(("csrsigning", lambda: CSRSigningController(c, signing_ca, factory=f)))
    return out


def _built(component: Component) -> ControllerFactory:
    return lambda: component


_KIND_CONTROLLER_NAMES = {"PersistentVolumeController": "persistentvolume-binder",
                          "PVCProtectionController": "pvc-protection", "PVProtectionController": "pv-protection",
                          "DisruptionController": "disruption",
                          "ReplicationControllerController": "replicationcontroller",
                          "EndpointsController": "endpoints"}


def scheduler_component(client: Client, factory: SharedInformerFactory | None,
                        config_file: Path | None) -> LiveScheduler:
    """The Volcano-compatible scheduler (``suanli scheduler``; in-process in ``suanli up``)."""
    return LiveScheduler(client, config_file=config_file, factory=factory)


def agent_components(client: Client, devices: Any, *, seed: int = 0, require_pod_cidr: bool = True,
                     usage_clock: Clock | None = None, node_selector: str = "") -> list[Component]:
    """The simulated-node agent and the nfd-worker role (``suanli agent --sim-nodes``). ``usage_clock``
    is the platform time simulated usage is sampled at (a :class:`VirtualClock` replays days in seconds;
    usage is then sampled every real second instead of every 15 s); with ``node_selector`` the agent
    manages only the nodes that label selector matches."""
    config = AgentConfig(seed=seed, require_pod_cidr=require_pod_cidr, node_selector=node_selector)
    if usage_clock is not None and not isinstance(usage_clock, RealClock):
        config.metrics_interval = 1.0  # virtual time: sample every real second so a replayed day shows
    return [SimAgent(client, devices=devices, config=config, usage_clock=usage_clock),
            NodeFeatureReporter(client, node_selector=node_selector)]


async def ensure_default_queues(client: Client) -> None:
    """Volcano's ``root`` and ``default`` Queues (created by its components at start-up)."""
    for queue in (root_queue(), default_queue()):
        try:
            await client.create(QUEUES, queue)
        except ApiError as err:
            if err.code != 409:
                raise


class _QuietServer(uvicorn.Server):
    """uvicorn server that leaves signal handling to ``suanli up``."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


class Platform:
    """Start/stop the whole embedded control plane.

    Raises :class:`~suanli.scheduler.core.config.ConfigError` (or ``OSError``) at construction, before
    anything starts, if ``options.scheduler_config`` cannot be read or is invalid, and ``ValueError`` if
    the cluster CIDR or node mask size cannot be used.
    """

    def __init__(self, options: PlatformOptions) -> None:
        self.options = options
        path = options.scheduler_config
        #: the volcano-scheduler.conf this run uses (put into volcano-scheduler-configmap at start)
        self.scheduler_config_text = DEFAULT_CONFIG_TEXT if path is None else path.read_text()
        parse_config(self.scheduler_config_text)  # what Volcano rejects fails here; unknown keys only warn
        check_cluster_cidr(options.cluster_cidr, options.node_cidr_mask_size)  # ValueError before anything starts
        #: the platform time simulated usage follows (virtual with --virtual-time-rate)
        self.usage_clock: Clock = RealClock() if options.virtual_time_rate is None else VirtualClock(
            options.virtual_time_rate, offset_file=options.clock_offset_file)
        self.registry = Registry()
        self.registry.add_all(builtin_resource_types())
        self.registry.add_all(access_review_types())
        self.registry.add_all(authentication_review_types())
        encryption = None if options.encryption_provider_config is None \
            else load_encryption_config(options.encryption_provider_config)  # ValueError before anything starts
        self.auditor = build_auditor(options.audit)  # PolicyError (a ValueError) likewise
        secure_data_dir(options.data_dir)
        self.store = Store(options.data_dir, ttl_buckets={"events": options.event_ttl,
                                                          "events.k8s.io/events": options.event_ttl},
                           fsync=options.fsync, volatile_buckets=set(METRICS_BUCKETS), encryption=encryption)
        self.service = ApiService(self.store, self.registry)
        mutating, validating = volcano_admission(store_queue_lookup(self.store), store_queue_children(self.store))
        for m in mutating:
            self.service.admission.add_mutating(m)
        for v in validating:
            self.service.admission.add_validating(v)
        sa_admission = ServiceAccountAdmission(store_service_account_lookup(self.store), name_suffix)
        self.service.admission.add_mutating(sa_admission)
        self.service.admission.add_validating(sa_admission)
        self.service.admission.add_mutating(DefaultStorageClass(store_class_lister(self.store)))
        self.service.admission.add_mutating(StorageObjectInUseProtection())
        self.service.admission.add_validating(SystemPriorityClassAdmission())
        # issue 11: NamespaceLifecycle (delete half), LimitRanger, ResourceQuota (awaited last)
        ranges = store_limit_ranges(self.store)
        self.service.admission.add_mutating(LimitRangeDefaults(ranges))
        self.service.admission.add_validating(LimitRangeValidation(ranges))
        self.service.admission.add_validating(NamespaceLifecycle())
        limited = load_limited_resources(options.admission_config) if options.admission_config else ()
        self.service.admission.add_final(ResourceQuotaAdmission(self.store, limited))
        self.logs = FileLogBackend(options.data_dir / "pod-logs")
        self.token = ensure_token(options.data_dir)
        self.sa_tokens = ServiceAccountTokens(options.data_dir)
        authn = options.authn
        # read before anything starts, so a malformed file fails `suanli up` at once
        self._token_file = TokenFile.load(authn.token_auth_file) if authn.token_auth_file else None
        self._jwt = jwt_configs(authn)  # OIDC flags or --authentication-config, checked before anything starts
        #: the front-proxy CA (read now so a bad file fails `suanli up` at once)
        self._front_proxy_ca = load_front_proxy_ca(authn.request_header) if authn.request_header else None
        self.rbac: RbacAuthorizer | None = None
        if options.authorization_mode == "RBAC":
            self.rbac = RbacAuthorizer(self.store)
            self.service.admission.add_validating(EscalationCheck(self.rbac))
        elif options.authorization_mode != "AlwaysAllow":
            raise ValueError(f"--authorization-mode: unsupported mode {options.authorization_mode!r} "
                             "(supported: RBAC, AlwaysAllow)")
        self.app = ApiApp(self.service, token=self.token, allow_anonymous=options.anonymous, logs=self.logs,
                          bookmark_interval=options.bookmark_interval,
                          authorizer=self.rbac if self.rbac is not None else AlwaysAllow(),
                          limits=RequestLimits(options.limits))
        if self.service.webhooks is not None:  # the CEL `authorizer` of webhook matchConditions asks the same
            self.service.webhooks.authorizer = self.app.authorizer
        self.app.auditor = self.auditor
        self.client = LocalClient(self.service)
        # One informer per watched resource for every in-process controller (see informer_factory).
        self.informers = SharedInformerFactory(self.client)
        self.app.add_text_route("/metrics", default_registry().render)
        # GPUs have no operator in the demo pool, so only NPU and KAE devices wait for theirs.
        self.devices = registry_for_profiles(operator_classes=frozenset({"npu", "kae"}))
        self._server: uvicorn.Server | None = None
        self._ca_pem: bytes | None = None
        self._tls_material: TlsMaterial | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._stoppers: list[Callable[[], Awaitable[None]]] = []
        #: every in-process controller, the scheduler and the node agents (started by ``start``)
        self.components = ComponentGroup(name="platform", fail_fast=False)  # as before: one failing loop
        # does not take the others (or the API server) down
        self.url = ""

    def _stored(self, bucket: str, namespace: str, name: str) -> dict[str, Any] | None:
        so = self.store.get(bucket, namespace, name)
        return None if so is None else so.obj

    async def start(self) -> None:
        """Open the store, restore CRDs, bind the socket and start controllers; ready when this returns."""
        o = self.options
        await self.store.start()
        self.store.add_index("pods", "spec.nodeName",
                             lambda p: [str((p.get("spec") or {}).get("nodeName") or "")])
        self.service.restore_crds()
        await self._ensure_namespaces()
        await self._ensure_priority_classes()
        shipped_crds = served_crds()  # the CRDs `suanli manifests` ships
        await ensure_crds(self.client, shipped_crds)
        if self.rbac is not None:  # kube-apiserver's rbac/bootstrap-roles post-start hook
            self.rbac.start()
            self._stoppers.append(self._stop_rbac)
            await reconcile_bootstrap_policy(self.service, shipped_crds)
        if not o.only_api:  # the root and default Queues and the scheduler's ConfigMap belong to Volcano's components
            await ensure_default_queues(self.client)
            await self._ensure_scheduler_configmap()
        ssl_kwargs: dict[str, Any] = {}
        ca_pem: bytes | None = None
        if o.tls:
            hosts = [o.host] if o.host not in ("0.0.0.0", "::") else [socket.gethostname()]  # nosec B104  # compares the configured host, binds nothing
            material = ensure_tls_material(o.data_dir, hosts)
            ssl_kwargs = {"ssl_certfile": str(material.server_cert), "ssl_keyfile": str(material.server_key),
                          **tls_server_options(str(material.ca_cert), self._front_proxy_ca)}
            make_context = ssl_kwargs["ssl_context_factory"]  # TLS 1.2+, ECDHE + AEAD ciphers only
            ssl_kwargs["ssl_context_factory"] = lambda config, default: harden_server_context(
                make_context(config, default))
            ca_pem = self._ca_pem = material.ca_pem
            self._tls_material = material
            proxy = self.app.kubelet_proxy = KubeletProxy(load_ca(o.data_dir), o.data_dir / "tls")
            self._stoppers.append(proxy.close)
        self.app.authentication = authentication = build_authentication(
            replace(o.authn, anonymous=o.anonymous), admin_token=self.token, sa_tokens=self.sa_tokens,
            lookup=self._stored, ca_pem=ca_pem, token_file=self._token_file, front_proxy_ca=self._front_proxy_ca,
            jwt=self._jwt)
        self._stoppers.append(authentication.close)
        await publish_authentication_info(self.service, ca_pem, authentication.front_proxy)
        issuer_config, jwks = authentication.issuer.discovery() if authentication.issuer else ({}, {})
        self.app.add_text_route("/.well-known/openid-configuration", lambda: json.dumps(issuer_config),
                                "application/json")
        self.app.add_text_route("/openid/v1/jwks", lambda: json.dumps(jwks), "application/jwk-set+json")
        # Not behind a proxy: no X-Forwarded-* rewriting (uvicorn's default wraps every request in it).
        ssl_kwargs.setdefault("http", "httptools")
        config = uvicorn.Config(self.app, host=o.host, port=o.port, loop="none",
                                lifespan="off", log_level="warning", access_log=False, proxy_headers=False,
                                timeout_keep_alive=75, backlog=2048, timeout_graceful_shutdown=3, **ssl_kwargs)
        self._server = _QuietServer(config)
        self._tasks.append(asyncio.create_task(self._server.serve()))
        while not self._server.started:
            if self._tasks[0].done():
                self._tasks[0].result()
                raise RuntimeError("API server failed to start")
            await asyncio.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        scheme = "https" if o.tls else "http"
        host_for_url = f"[{o.host}]" if ":" in o.host else o.host
        self.url = f"{scheme}://{host_for_url}:{port}"
        await self._start_controllers()
        self._tasks.append(asyncio.create_task(_tune_gc()))
        self._tasks.append(asyncio.create_task(_release_free_heap()))
        if o.kubeconfig is not None:
            write_kubeconfig(o.kubeconfig, server=self.url, ca_pem=ca_pem, token=self.token)
        self.app.ready = True

    async def _ensure_namespaces(self) -> None:
        ns_rt = self.registry.get("", "v1", "namespaces")
        assert ns_rt is not None
        for name in DEFAULT_NAMESPACES:
            if self.store.get("namespaces", "", name) is None:
                await self.service.create(ns_rt, "", {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": name}})

    async def _ensure_priority_classes(self) -> None:
        """The built-in ``system-*`` PriorityClasses (kube-apiserver creates them at start-up too)."""
        rt = self.registry.get("scheduling.k8s.io", "v1", "priorityclasses")
        assert rt is not None
        for pc in system_priority_classes():
            if self.store.get(rt.storage_key, "", pc["metadata"]["name"]) is None:
                await self.service.create(rt, "", pc)

    async def _ensure_scheduler_configmap(self) -> None:
        """``volcano-system/volcano-scheduler-configmap`` holds the configuration this run uses (the
        ``--scheduler-config`` file, else the default) unless a user edited it."""
        path = self.options.scheduler_config
        await ensure_scheduler_configmap(self.client, self.scheduler_config_text,
                                         source=None if path is None else str(path),
                                         events=EventRecorder(self.client, COMPONENT))

    async def _start_controllers(self) -> None:
        if self.options.only_api:
            await self._start_apiserver_loops(None)
            return
        shared = self.informers
        await self._start_apiserver_loops(shared)
        o = self.options
        ctx = ControllerContext(
            self.client, shared, cluster_cidr=o.cluster_cidr, node_cidr_mask_size=o.node_cidr_mask_size,
            volume_root=o.data_dir / "volumes", host_node=default_node_name() if o.host_node else None,
            clock_offset_file=o.clock_offset_file, ca_pem=self._ca_pem, registry=self.registry,
            issue_legacy_token=lambda ns, secret, sa, uid: self.sa_tokens.issue(legacy_claims(ns, secret, sa, uid)),
            discovery_resync=1.0, quota_resolver=registry_resolver(self.registry), signing_ca=self._signing_ca())
        group = self.components
        for _, build in controller_components(ctx):
            group.add(build())
        group.add(scheduler_component(self.client, shared, o.scheduler_config))
        boards: list[SampleBoard] = []
        for agent in agent_components(self.client, self.devices, seed=o.seed, require_pod_cidr=True,
                                      usage_clock=self.usage_clock):
            group.add(agent)
            if isinstance(agent, SimAgent):
                boards.append(agent.metrics.board)
        if o.host_node:
            host = ProcessAgent(self.client, self.logs.root, devices=self.devices, data_path=o.data_dir)
            self.app.streamers.append(host)  # exec/attach reach host pods through it
            group.add(host)
            boards.append(host.metrics.board)
        install_usage_routes(self.app, self.client, self.registry, lambda: boards, self.usage_clock)
        self._tasks.append(asyncio.create_task(group.run()))
        self._stoppers.append(group.stop)
        self.informers.start()
        self._stoppers.append(self.informers.stop)
        if o.demo:
            await ensure_demo_pool(self.client)

    def _signing_ca(self) -> Callable[[], Any] | None:
        """The cluster CA (loaded once, on first use) for the CSR signer; None over plain HTTP."""
        m = self._tls_material
        if m is None:
            return None
        return functools.cache(lambda: parse_ca(m.ca_cert.read_bytes(), m.ca_key.read_bytes()))

    async def _stop_rbac(self) -> None:
        if self.rbac is not None:
            self.rbac.stop()

    async def _start_apiserver_loops(self, shared: SharedInformerFactory | None) -> None:
        """What kube-apiserver itself runs (all that runs under ``--only api``): see ``apiserver_loops``."""
        for loop in apiserver_loops(self.client, self.registry, shared):
            self._tasks.append(asyncio.create_task(loop.run()))
            self._stoppers.append(loop.stop)

    async def stop(self) -> None:
        self.app.ready = False
        self.app.close_streams()
        for stop in self._stoppers:
            with contextlib.suppress(Exception):
                await stop()
        if self._server is not None:
            self._server.should_exit = True
        for t in self._tasks[1:]:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(t, timeout=10)
        await self.service.drain_background()
        await self.store.stop()
        if self.auditor is not None:
            await asyncio.to_thread(self.auditor.close)
