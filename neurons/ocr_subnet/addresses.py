"""Which addresses a neuron may be sent to: IP address classes by Python's `ipaddress`, nothing hand-rolled.

Standard library only, so the operator (which has no bittensor) checks a Validator's networks the
same way the validator and the local chain do.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs ("10.244.0.0/16", "127.0.0.1", "fd00::/8"; commas separate several in one value) as networks.

    Raises `ValueError` naming the bad value; host bits set ("10.244.0.1/16") are an error, not
    silently dropped, because a typo there would widen or narrow what the validator dials.
    """
    networks: list[Network] = []
    for value in values:
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part, strict=True))
            except ValueError as exc:
                raise ValueError(f"not a network in CIDR notation: {part!r} ({exc})") from None
    return tuple(networks)


def axon_address(ip: str) -> Address | None:
    """The address an axon publishes (an IPv4-mapped IPv6 address as its IPv4 one); None if unparseable."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def unservable_reason(address: Address) -> str | None:
    """Why no axon may sit at `address` (the chain refuses it, no validator dials it), or None."""
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address == BROADCAST:
        return "broadcast"
    if address.is_link_local:
        return "link-local"
    return None


def never_dialled(address: Address) -> bool:
    """Addresses no setting makes queryable: unspecified, multicast, link-local, the IPv4 broadcast."""
    return unservable_reason(address) is not None


def is_allowed_address(ip: str, allowed: Sequence[Network] = ()) -> bool:
    """Globally routable unicast by default; loopback, private and other special ranges only inside
    one of the `allowed` networks (the validator's explicit setting)."""
    address = axon_address(ip)
    if address is None or never_dialled(address):
        return False
    if any(address.version == net.version and address in net for net in allowed):
        return True
    return address.is_global
