// Package hosts reads what Nova placed on its compute hosts, from the hosts'
// libvirt, over libvirt's RPC protocol (github.com/digitalocean/go-libvirt,
// so no C library is needed) and without changing anything there.
//
// The harness configuration maps each Nova compute host name (the server's
// OS-EXT-SRV-ATTR:host) to a HostConfig: how to reach that host's libvirt
// and the nova.conf facts that no API exposes (the CPU-set options and
// reserved_huge_pages), which the expected XML depends on. Dial opens one
// connection; a Pool keeps one per host for audits that read many guests.
//
// Connections are read-only unless a HostConfig says otherwise: on a local
// socket the read-only socket is used, and on every transport libvirt is
// asked for a read-only connection (VIR_CONNECT_RO), so libvirtd itself
// refuses any change. go-libvirt's calls take no context: every call here
// runs under the caller's context and the host's per-call timeout, and a
// call that does not answer in time closes the connection (the only way to
// stop the call); the Conn then dials the host again on its next call, so
// one hung call or one libvirtd restart fails only the calls in flight.
//
// Every failure is a *HostError naming the host, its URI and the operation,
// so a report can say which host failed and how; XML that libvirt returned
// but that does not parse comes back in an *XMLError with the raw text.
package hosts
