"""Subscriber addresses: checking what a visitor typed, the keyed digest that finds an address again,
the masked form admins see, and the Apprise URL a message to it goes through.

An e-mail address is checked (syntax only, no DNS) and normalized by `email-validator`; a webhook is an
http(s) URL of at most 2000 characters whose host, unless `private_webhooks` allows it, resolves only to
public addresses (so the form cannot make opsbook post to the machines beside it; checked when
subscribing). Addresses are personal data: only `mask` of one is ever shown, and logs never get one.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from opsbook.errors import Invalid
from opsbook.subscribers.models import EMAIL, WEBHOOK

MAX_EMAIL = 254
MAX_URL = 2000


def check_email(value: str) -> str:
    """The normalized address, or Invalid saying what is wrong with it."""
    from email_validator import EmailNotValidError, validate_email

    text = value.strip()
    if not text or len(text) > MAX_EMAIL:
        raise Invalid(f"give an e-mail address of at most {MAX_EMAIL} characters")
    try:
        found = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise Invalid(f"not an e-mail address: {exc}") from None
    return str(found.normalized)


def _public_host(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return False
    addresses = {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos}
    return bool(addresses) and all(a.is_global for a in addresses)


def check_webhook(value: str, private_allowed: bool) -> str:
    """The URL as given (trimmed), or Invalid: not http(s), too long, no host, or a private address."""
    text = value.strip()
    if len(text) > MAX_URL:
        raise Invalid(f"a webhook URL is at most {MAX_URL} characters")
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise Invalid("not a URL") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise Invalid("a webhook is an http:// or https:// URL")
    if not private_allowed and not _public_host(host):
        raise Invalid("this webhook's host does not resolve to a public internet address")
    return text


def check(kind: str, value: str, private_webhooks: bool) -> str:
    if kind == EMAIL:
        return check_email(value)
    if kind == WEBHOOK:
        return check_webhook(value, private_webhooks)
    raise Invalid(f"subscribe by {EMAIL!r} or {WEBHOOK!r}, not {kind!r}")


def digest(secret: str, what: str, value: str) -> str:
    """A keyed SHA-256 of `value` (lower-cased) for `what`: finds it again without storing or logging it."""
    return hmac.new(secret.encode(), f"{what}:{value.lower()}".encode(), hashlib.sha256).hexdigest()


def _mask_part(text: str, keep: int = 1) -> str:
    """The first `keep` characters and three stars, whatever the length (the length is not shown)."""
    return text[:keep] + "***" if text else ""


def mask(kind: str, address: str) -> str:
    """`j***@e***.com`, or `https://ho***.net/…`: enough to recognise, not to use."""
    if kind == EMAIL:
        local, _, domain = address.rpartition("@")
        name, dot, tld = domain.rpartition(".")
        shown_domain = f"{_mask_part(name)}{dot}{tld}" if dot else _mask_part(domain)
        return f"{_mask_part(local)}@{shown_domain}"
    parts = urlsplit(address)
    host = parts.hostname or ""
    name, dot, tld = host.rpartition(".")
    shown = f"{_mask_part(name, 2)}{dot}{tld}" if dot and not tld.isdigit() else _mask_part(host, 2)
    return f"{parts.scheme}://{shown}/…"


def webhook_apprise_url(address: str) -> str:
    """The Apprise json:// (or jsons://) URL that POSTs a message to `address`, its query kept as-is."""
    parts = urlsplit(address)
    scheme = "jsons" if parts.scheme.lower() == "https" else "json"
    query = urlencode([(f"-{k}", v) for k, v in parse_qsl(parts.query, keep_blank_values=True)])
    netloc = parts.netloc
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def mail_apprise_url(channel_url: str, address: str, headers: dict[str, str]) -> str:
    """The mail channel's URL sending `to=` this address (its own recipients, in the path or in to/cc/bcc,
    dropped), with `headers`
    (Apprise turns `+Name=value` arguments of a mailto URL into headers of the mail)."""
    parts = urlsplit(channel_url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k.lower() not in ("to", "cc", "bcc")]
    query = urlencode([*kept, ("to", address)], quote_via=quote)
    extra = "&".join(f"{quote('+' + k)}={quote(v, safe='')}" for k, v in headers.items())
    return urlunsplit((parts.scheme, parts.netloc, "/", f"{query}&{extra}" if extra else query, ""))
