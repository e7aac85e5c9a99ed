"""Simulated usage and its views (issue 13).

* :mod:`.cel` — kwok's CEL environment for usage expressions;
* :mod:`.model` — what a pod uses at a time: ResourceUsage / ClusterResourceUsage, the
  ``suanli.io/sim-*`` and ``kwok.x-k8s.io/usage-*`` annotations, devices, application metrics;
* :mod:`.rules` — the kwok usage kinds (CRDs and GVRs);
* :mod:`.board` — the latest samples every metrics path reads;
* :mod:`.metrics_api` — ``custom.metrics.k8s.io`` / ``external.metrics.k8s.io`` answers;
* :mod:`.exposition` — node / pod ``/metrics`` under upstream exporters' names;
* :mod:`.routes` — their HTTP wiring on the embedded API server.
"""
