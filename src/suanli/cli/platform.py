"""The embedded platform: store, API service, HTTP(S) server and in-process controllers.

``Platform`` is what ``suanli up`` runs; tests start it the same way. Components other
than the API server talk to it only through a :class:`~suanli.client.protocol.Client`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.admission_storage import DefaultStorageClass, store_class_lister
from suanli.apiserver.admission_volcano import store_queue_children, store_queue_lookup, volcano_admission
from suanli.apiserver.http import ApiApp
from suanli.apiserver.logs import FileLogBackend
from suanli.apiserver.priorityclasses import SystemPriorityClassAdmission, system_priority_classes
from suanli.apiserver.satokens import ServiceAccountTokens, legacy_claims
from suanli.apiserver.service import ApiService
from suanli.apiserver.tls import ensure_tls_material, ensure_token
from suanli.client.kubeconfig import write_kubeconfig
from suanli.client.local import LocalClient
from suanli.controllers.apiservice import APIServiceRegistrar
from suanli.controllers.cronjob import CronJobController
from suanli.controllers.daemonset import DaemonSetController
from suanli.controllers.deployment import DeploymentController
from suanli.controllers.garbage_collector import GarbageCollector
from suanli.controllers.ipam import DEFAULT_CLUSTER_CIDR, NodeIpamController, check_cluster_cidr
from suanli.controllers.job import JobController
from suanli.controllers.kind_controllers import kind_controllers
from suanli.controllers.namespace import NamespaceController
from suanli.controllers.operators import KAEClusterPolicyController, NPUClusterPolicyController, operator_crds
from suanli.controllers.podgroup import PodGroupController
from suanli.controllers.queue import QueueStateController
from suanli.controllers.replicaset import ReplicaSetController
from suanli.controllers.serviceaccount import RootCAPublisher, ServiceAccountsController
from suanli.controllers.serviceaccount_token import TokensController
from suanli.controllers.statefulset import StatefulSetController
from suanli.controllers.volcanojob import VolcanoJobController
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.kinds.volcano import QUEUES, default_queue, root_queue, volcano_crds
from suanli.node.agent import METRICS_BUCKETS, AgentConfig, ProcessAgent, SimAgent
from suanli.node.agent.process import default_node_name
from suanli.node.demo import ensure_demo_pool
from suanli.node.devices import registry_for_profiles
from suanli.node.nfd.controller import NodeFeatureReporter, NodeFeatureRuleController
from suanli.node.nfd.crds import ensure_crds, nfd_crds
from suanli.runtime.clock import OffsetClock
from suanli.runtime.events import EventRecorder
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.runtime.metrics import default_registry
from suanli.scheduler.adapter import COMPONENT, LiveScheduler
from suanli.scheduler.configmap import ensure_scheduler_configmap
from suanli.scheduler.core.config import DEFAULT_CONFIG_TEXT, parse_config
from suanli.storage import Store

__all__ = ["Platform", "PlatformOptions"]

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
        self.registry = Registry()
        self.registry.add_all(builtin_resource_types())
        options.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(options.data_dir, ttl_buckets={"events": options.event_ttl,
                                                          "events.k8s.io/events": options.event_ttl},
                           fsync=options.fsync, volatile_buckets=set(METRICS_BUCKETS))
        self.service = ApiService(self.store, self.registry)
        mutating, validating = volcano_admission(store_queue_lookup(self.store), store_queue_children(self.store))
        for m in mutating:
            self.service.admission.add_mutating(m)
        for v in validating:
            self.service.admission.add_validating(v)
        self.service.admission.add_mutating(DefaultStorageClass(store_class_lister(self.store)))
        self.service.admission.add_validating(SystemPriorityClassAdmission())
        self.logs = FileLogBackend(options.data_dir / "pod-logs")
        self.token = ensure_token(options.data_dir)
        self.sa_tokens = ServiceAccountTokens(options.data_dir, secrets=self._stored("secrets"),
                                              accounts=self._stored("serviceaccounts"))
        self.app = ApiApp(self.service, token=self.token, allow_anonymous=options.anonymous, logs=self.logs,
                          bookmark_interval=options.bookmark_interval, token_verifier=self.sa_tokens.verify)
        self.client = LocalClient(self.service)
        # One informer per watched resource for every in-process controller (see informer_factory).
        self.informers = SharedInformerFactory(self.client)
        self.app.add_text_route("/metrics", default_registry().render)
        # GPUs have no operator in the demo pool, so only NPU and KAE devices wait for theirs.
        self.devices = registry_for_profiles(operator_classes=frozenset({"npu", "kae"}))
        self._server: uvicorn.Server | None = None
        self._ca_pem: bytes | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._stoppers: list[Callable[[], Awaitable[None]]] = []
        self.url = ""

    def _stored(self, bucket: str) -> Callable[[str, str], dict[str, Any] | None]:
        def lookup(namespace: str, name: str) -> dict[str, Any] | None:
            so = self.store.get(bucket, namespace, name)
            return None if so is None else so.obj
        return lookup

    async def start(self) -> None:
        """Open the store, restore CRDs, bind the socket and start controllers; ready when this returns."""
        o = self.options
        await self.store.start()
        self.store.add_index("pods", "spec.nodeName",
                             lambda p: [str((p.get("spec") or {}).get("nodeName") or "")])
        self.service.restore_crds()
        await self._ensure_namespaces()
        await self._ensure_priority_classes()
        await ensure_crds(self.client, [*nfd_crds(), *operator_crds(), *volcano_crds()])
        if not o.only_api:  # the root and default Queues and the scheduler's ConfigMap belong to Volcano's components
            for queue in (root_queue(), default_queue()):
                try:
                    await self.client.create(QUEUES, queue)
                except ApiError as err:
                    if err.code != 409:
                        raise
            await self._ensure_scheduler_configmap()
        ssl_kwargs: dict[str, Any] = {}
        ca_pem: bytes | None = None
        if o.tls:
            hosts = [o.host] if o.host not in ("0.0.0.0", "::") else [socket.gethostname()]
            material = ensure_tls_material(o.data_dir, hosts)
            ssl_kwargs = {"ssl_certfile": str(material.server_cert), "ssl_keyfile": str(material.server_key)}
            ca_pem = self._ca_pem = material.ca_pem
        # Not behind a proxy: no X-Forwarded-* rewriting (uvicorn's default wraps every request in it).
        config = uvicorn.Config(self.app, host=o.host, port=o.port, loop="none", http="httptools",
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
            await self._start_apiserver_loops()
            return
        shared = self.informers
        controllers: list[Any] = [
            GarbageCollector(self.client, self.registry, factory=shared),
            NamespaceController(self.client, self.registry, factory=shared),
            ReplicaSetController(self.client, factory=shared),
            DeploymentController(self.client, factory=shared),
            JobController(self.client, factory=shared),
            DaemonSetController(self.client, factory=shared),
            StatefulSetController(self.client, factory=shared),
            ServiceAccountsController(self.client, factory=shared),
            NodeIpamController(self.client, cluster_cidr=self.options.cluster_cidr,
                               node_mask=self.options.node_cidr_mask_size, factory=shared),
            CronJobController(self.client, factory=shared, clock=None if self.options.clock_offset_file is None
                              else OffsetClock(self.options.clock_offset_file)),
            NPUClusterPolicyController(self.client, factory=shared),
            KAEClusterPolicyController(self.client, factory=shared),
            NodeFeatureReporter(self.client),
            NodeFeatureRuleController(self.client),
            PodGroupController(self.client, factory=shared),
            VolcanoJobController(self.client, factory=shared),
            QueueStateController(self.client, factory=shared),
            LiveScheduler(self.client, config_file=self.options.scheduler_config, factory=shared),
            SimAgent(self.client, devices=self.devices,
                     config=AgentConfig(seed=self.options.seed, require_pod_cidr=True)),
            *kind_controllers(self.client, shared, self.registry, volume_root=self.options.data_dir / "volumes",
                              host_node=default_node_name() if self.options.host_node else None),
        ]
        if self._ca_pem is not None:  # plain HTTP (--insecure-http) has no CA to publish
            controllers.append(RootCAPublisher(self.client, self._ca_pem, factory=shared))
        controllers.append(TokensController(
            self.client, lambda ns, secret, sa, uid: self.sa_tokens.issue(legacy_claims(ns, secret, sa, uid)),
            self._ca_pem, factory=shared))
        if self.options.host_node:
            host = ProcessAgent(self.client, self.logs.root, devices=self.devices, data_path=self.options.data_dir)
            self.app.streamers.append(host)  # exec/attach reach host pods through it
            controllers.append(host)
        for ctrl in controllers:
            self._tasks.append(asyncio.create_task(ctrl.run()))
            self._stoppers.append(ctrl.stop)
        self.informers.start()
        self._stoppers.append(self.informers.stop)
        if self.options.demo:
            await ensure_demo_pool(self.client)

    async def _start_apiserver_loops(self) -> None:
        """``--only api``: only what kube-apiserver itself runs — the local APIService registrar."""
        registrar = APIServiceRegistrar(self.client, self.registry)
        self._tasks.append(asyncio.create_task(registrar.run()))
        self._stoppers.append(registrar.stop)

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
