"""``suanli manifests``: print the objects that install Suanli on a Kubernetes cluster.

Usage: ``suanli manifests [--namespace suanli-system] [--image IMAGE] [--no-crds]
[--without COMPONENT]... | kubectl apply --server-side -f -``. This module stays import-light
(the generator loads when the command runs) so registering it costs ``suanli`` nothing.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run"]

_COMPONENTS = ("scheduler", "controllers", "agent")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``manifests`` options to ``parser``."""
    parser.add_argument("--namespace", default="suanli-system",
                        help="namespace of the components' ServiceAccounts and workloads (default suanli-system)")
    parser.add_argument("--image", default=None,
                        help="container image of the components (default suanli/suanli:VERSION)")
    parser.add_argument("--no-crds", action="store_true", help="leave out the CustomResourceDefinitions")
    parser.add_argument("--without", action="append", default=[], choices=_COMPONENTS, metavar="COMPONENT",
                        help="leave out a component (scheduler, controllers or agent); repeatable")


def run(args: argparse.Namespace) -> int:
    """Print the manifests to stdout (names are validated by the API server they are applied to)."""
    from dataclasses import replace

    from suanli.deploy.manifests import HEADER, ManifestOptions, render, to_yaml

    opts = ManifestOptions(namespace=args.namespace, crds=not args.no_crds)
    if args.image:
        opts = replace(opts, image=args.image)
    for name in args.without:
        opts = opts.without(name)
    sys.stdout.write(to_yaml(render(opts), header=HEADER))
    return 0
