"""The ``suanli up`` authentication flags (kube-apiserver's names) and their :class:`AuthnOptions`."""

from __future__ import annotations

import argparse
from pathlib import Path

from suanli.apimachinery.duration import parse_duration
from suanli.apiserver.authn import AuthnOptions
from suanli.apiserver.authn.serviceaccount import DEFAULT_ISSUER
from suanli.apiserver.authn.webhook import DEFAULT_CACHE_TTL

__all__ = ["add_authn_arguments", "authn_options"]


def _duration(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: must not be negative")
    return seconds


def add_authn_arguments(up: argparse.ArgumentParser) -> None:
    """Add the authentication flags to the ``up`` parser."""
    up.add_argument("--token-auth-file", type=Path, default=None,
                    help='static bearer tokens, CSV "token,user,uid[,\\"group1,group2\\"]" (kube-apiserver format)')
    up.add_argument("--authentication-token-webhook-config-file", type=Path, default=None,
                    help="kubeconfig of a TokenReview webhook that authenticates bearer tokens")
    up.add_argument("--authentication-token-webhook-cache-ttl", type=_duration, default=DEFAULT_CACHE_TTL,
                    help="how long webhook answers are cached (Go duration, default 2m)")
    up.add_argument("--service-account-issuer", default=DEFAULT_ISSUER,
                    help=f"the iss of bound ServiceAccount tokens (default {DEFAULT_ISSUER})")
    up.add_argument("--api-audiences", default="",
                    help="comma-separated audiences the API accepts tokens for (default: the issuer)")


def authn_options(args: argparse.Namespace) -> AuthnOptions:
    """The :class:`AuthnOptions` of parsed ``up`` arguments."""
    return AuthnOptions(token_auth_file=args.token_auth_file,
                        webhook_config_file=args.authentication_token_webhook_config_file,
                        webhook_cache_ttl=args.authentication_token_webhook_cache_ttl,
                        anonymous=args.anonymous, issuer=args.service_account_issuer,
                        api_audiences=tuple(a for a in args.api_audiences.split(",") if a))
