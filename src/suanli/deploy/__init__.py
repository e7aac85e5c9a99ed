"""Installing Suanli's components on a Kubernetes cluster: CRDs, least-privilege RBAC,
workloads (``suanli manifests``) and the Helm chart ``charts/suanli``.

Modules: :mod:`~suanli.deploy.rbac` (what each component may do), :mod:`~suanli.deploy.crds`
(the CRDs the embedded server installs), :mod:`~suanli.deploy.manifests` (the objects),
:mod:`~suanli.deploy.chart` (the Helm chart written from the same generator) and
:mod:`~suanli.deploy.command` (the CLI).
"""
