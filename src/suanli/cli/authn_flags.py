"""The ``suanli up`` authentication flags (kube-apiserver's names) and their :class:`AuthnOptions`."""

from __future__ import annotations

import argparse
from pathlib import Path

from suanli.apimachinery.duration import parse_duration
from suanli.apiserver.authn import AuthnOptions
from suanli.apiserver.authn.oidc import OIDCOptions
from suanli.apiserver.authn.requestheader import RequestHeaderConfig
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


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} must be formatted as key=value")
    return key.strip(), value.strip()


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
    up.add_argument("--authentication-config", type=Path, default=None,
                    help="AuthenticationConfiguration file (structured JWT authenticators; not with --oidc-*)")
    oidc = up.add_argument_group("OpenID Connect (kube-apiserver's --oidc-* flags)")
    oidc.add_argument("--oidc-issuer-url", default="", help="the https URL of the OpenID issuer (its iss)")
    oidc.add_argument("--oidc-client-id", default="", help="the client ID ID tokens must be issued for (aud)")
    oidc.add_argument("--oidc-username-claim", default="sub", help="the claim naming the user (default sub)")
    oidc.add_argument("--oidc-username-prefix", default=None,
                      help="prefix of usernames (default: the issuer URL + '#' unless the claim is email; '-': none)")
    oidc.add_argument("--oidc-groups-claim", default="", help="the claim listing the user's groups")
    oidc.add_argument("--oidc-groups-prefix", default="", help="prefix of group names")
    oidc.add_argument("--oidc-required-claim", type=_key_value, action="append", default=[],
                      help="key=value a token's claims must carry (repeatable)")
    oidc.add_argument("--oidc-ca-file", type=Path, default=None, help="CA of the issuer's serving certificate")
    oidc.add_argument("--oidc-signing-algs", default="RS256",
                      help="comma-separated algorithms ID tokens may be signed with (default RS256)")
    proxy = up.add_argument_group("front proxy (kube-apiserver's --requestheader-* flags)")
    proxy.add_argument("--requestheader-client-ca-file", type=Path, default=None,
                       help="CA whose client certificates may assert identities by request headers")
    proxy.add_argument("--requestheader-allowed-names", default="",
                       help="comma-separated client-certificate common names allowed (default: any)")
    proxy.add_argument("--requestheader-username-headers", default="",
                       help="comma-separated headers naming the user, first non-empty wins (X-Remote-User is common)")
    proxy.add_argument("--requestheader-uid-headers", default="",
                       help="comma-separated headers carrying the user's UID (X-Remote-Uid is common)")
    proxy.add_argument("--requestheader-group-headers", default="",
                       help="comma-separated headers listing groups (X-Remote-Group is common)")
    proxy.add_argument("--requestheader-extra-headers-prefix", default="",
                       help="comma-separated prefixes of extra-info headers (X-Remote-Extra- is common)")


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _request_header(args: argparse.Namespace) -> RequestHeaderConfig | None:
    if args.requestheader_client_ca_file is None:
        return None
    return RequestHeaderConfig(args.requestheader_client_ca_file, _names(args.requestheader_allowed_names),
                               _names(args.requestheader_username_headers), _names(args.requestheader_uid_headers),
                               _names(args.requestheader_group_headers),
                               _names(args.requestheader_extra_headers_prefix))


def _oidc_options(args: argparse.Namespace) -> OIDCOptions | None:
    if not args.oidc_issuer_url and not args.oidc_client_id:
        return None
    return OIDCOptions(issuer_url=args.oidc_issuer_url, client_id=args.oidc_client_id,
                       username_claim=args.oidc_username_claim, username_prefix=args.oidc_username_prefix,
                       groups_claim=args.oidc_groups_claim, groups_prefix=args.oidc_groups_prefix,
                       required_claims=dict(args.oidc_required_claim), ca_file=args.oidc_ca_file,
                       signing_algs=tuple(a.strip() for a in args.oidc_signing_algs.split(",") if a.strip()))


def authn_options(args: argparse.Namespace) -> AuthnOptions:
    """The :class:`AuthnOptions` of parsed ``up`` arguments (OIDC flags not yet validated: see
    :meth:`OIDCOptions.validate`)."""
    return AuthnOptions(oidc=_oidc_options(args), authentication_config=args.authentication_config,
                        request_header=_request_header(args),
                        token_auth_file=args.token_auth_file,
                        webhook_config_file=args.authentication_token_webhook_config_file,
                        webhook_cache_ttl=args.authentication_token_webhook_cache_ttl,
                        anonymous=args.anonymous, issuer=args.service_account_issuer,
                        api_audiences=tuple(a for a in args.api_audiences.split(",") if a))
