// Package syslog is the collector's syslog receiver: it listens on TCP,
// UDP and TLS, splits streams into messages, parses RFC 5424 and RFC 3164
// messages and hands every message — parsed or not — to a Handler. ToJSON
// turns a parsed message into the JSON of an access or device event for
// Vigil's event decoder (internal/event).
//
// # Formats
//
// Parse detects the format of each message from what follows the PRI:
// one to three digits and a space are an RFC 5424 VERSION, anything else
// is RFC 3164.
//
//	RFC 5424  <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]
//	          <110>1 2026-11-28T09:30:00.123+08:00 ehr-01 ehr 4711 access - {"org":"h1",…}
//	RFC 3164  <PRI>TIMESTAMP HOSTNAME TAG[PID]: MSG
//	          <110>Nov 28 09:30:00 ehr-01 ehr[4711]: {"org":"h1",…}
//
// RFC 5424 is validated strictly (section 6): PRI 0 to 191 without leading
// zeros, VERSION 1, printable US-ASCII header fields of at most 255
// (HOSTNAME), 48 (APP-NAME), 128 (PROCID) and 32 (MSGID) bytes, "-" for an
// absent field (returned as ""), TIMESTAMP in RFC 3339 with upper-case T
// and Z, at most six fraction digits and no leap second, SD-NAMEs of 1 to
// 32 printable characters other than '=', ' ', ']' and '"', SD-IDs that
// are name@<private enterprise number> or have no '@', no SD-ID twice in a
// message, parameter values in UTF-8 with \", \\ and \] unescaped (a
// backslash before anything else is kept), and UTF-8 after a BOM in MSG.
// The BOM is removed from Message.Msg. One leniency: an unescaped ']'
// inside a quoted value is accepted.
//
// RFC 3164 is read the way relays read it (section 4.3), with the variants
// found in practice: the timestamp is "Mmm dd hh:mm:ss" (day space- or
// zero-padded, optional fraction) or RFC 3339 (rsyslog's
// RSYSLOG_ForwardFormat); without a recognisable timestamp the whole rest
// is MSG; the hostname may be missing (a first word that is a TAG, such as
// "sshd[42]:", is taken as the TAG); TAG becomes AppName and [PID] ProcID.
// A timestamp without a year gets the latest year (next, current or last)
// that puts it at most 7 days after the parser's clock, in the configured
// time zone (syslog.rfc3164_time_zone; the collector's local zone by
// default). A message without a PRI is refused.
//
// Timestamps are returned in UTC. An error is a *ParseError that names the
// field and the byte offset:
//
//	syslog: rfc5424: structured data: param "x" at byte 57: missing closing quote
//
// Errors quote SD-IDs and param names but never field contents, which may
// hold personal data.
//
// # Framing
//
// TCP and TLS streams carry messages framed as RFC 6587 section 3.4
// describes, detected message by message, so that one connection may mix
// them:
//
//   - octet counting, "LEN SP MSG": a message that starts with a digit.
//     LEN has no leading zero and at most 9 digits. A malformed count
//     means the stream is out of step: the connection is closed (metric
//     reason "framing").
//   - non-transparent framing: any other message, up to LF (a CR before it
//     is dropped) or NUL.
//
// Empty frames (lone LF, CR or NUL) are skipped, and one LF at the end of
// an octet-counted message is dropped, as rsyslog does. A UDP datagram is
// one message; one trailing LF, CR LF or NUL is dropped.
//
// A message over syslog.max_message_bytes (64 KiB by default) is cut: the
// handler receives its first max_message_bytes bytes with ParseErr
// wrapping ErrTooLarge (so the collector can dead-letter it), the rest is
// skipped, and the connection goes on. A connection that ends inside a
// message delivers what came with ErrTruncated.
//
// # Mapping messages to events
//
// ToJSON looks at a message in this order:
//
//  1. JSON body. When MSG is a JSON object (its first byte after an
//     optional BOM and white space is '{'), it is the event: ToJSON returns
//     MSG from that '{' on, byte for byte, for the event decoder. The
//     header is not merged in; the SD element may carry only kind.
//  2. Structured data. Otherwise the params of the SD element
//     [vigil@32473 …] (syslog.mapping.sd_id; 32473 is IANA's example
//     enterprise number, use your own) are the event's fields, and MSG is
//     not used.
//
// Either way the event kind is the SD element's kind param (access or
// device), else the MSGID when it is access or device, else
// syslog.mapping.kind. A message with neither a JSON body nor the SD
// element holds no event (ErrNoEvent).
//
// Params map to fields by these rules:
//
//   - A param name is the field's JSON path: dots nest objects, so
//     actor.id="u1" gives {"actor":{"id":"u1"}}. Names are lower-case
//     letters, digits and '_' between dots.
//   - kind picks the event kind and is not copied; a device event's own
//     kind field (login, face_verify, …) is the param device_kind.
//   - attrs.KEY sets attrs[KEY], with KEY verbatim (dots included).
//   - Values are JSON strings, except the fields in the mapping's table of
//     typed fields, which follows the event package: categories is a
//     comma-separated list and becomes an array (a repeated categories
//     param adds to it); record_count is an integer; subject.minor,
//     subject.vip, subject.employee and signals.* are true or false;
//     client.geo.lat/lon and location.lat/lon/accuracy_m are decimal
//     numbers. relationship stays a string ("true", "false", "unknown").
//   - Any other param named twice is an error, as is a name that is both a
//     value and an object.
//   - occurred_at, when no param gives it, is the syslog TIMESTAMP (absent
//     when the sender sent "-": the decoder then reports it missing).
//   - attrs["syslog.hostname"] and attrs["syslog.app_name"] get HOSTNAME
//     and APP-NAME (the RFC 3164 TAG) when present.
//
// Checking the event itself (required fields, enums, lengths) is left to
// the event decoder. For example, the message
//
//	<110>1 2026-11-28T09:30:00.123Z ehr-01 ehr 4711 - [vigil@32473 kind="access"
//	  org="h1" actor.id="u1" actor.type="doctor" action="read" subject.id="p9"
//	  subject.type="patient" categories="health,prescription" record_count="3"
//	  outcome="success"]
//
// (on one line) becomes an access event:
//
//	{"org":"h1","actor":{"id":"u1","type":"doctor"},"action":"read",
//	 "subject":{"id":"p9","type":"patient"},"categories":["health","prescription"],
//	 "record_count":3,"outcome":"success","occurred_at":"2026-11-28T09:30:00.123Z",
//	 "attrs":{"syslog.hostname":"ehr-01","syslog.app_name":"ehr"}}
//
// # Sending from rsyslog
//
// Forward over TCP with octet counting and RFC 5424, which keeps
// structured data and MSG intact (plain TCP and UDP need rsyslog's
// default modules only). An application that writes one JSON event per
// line to a file:
//
//	module(load="imfile")
//	# the colon ends the TAG, as rsyslog's imfile documentation advises
//	input(type="imfile" File="/var/log/ehr/access.jsonl" Tag="ehr:" ruleset="vigil")
//	# MSGID "access" tells Vigil the kind (or set syslog.mapping.kind)
//	template(name="vigil-access" type="string"
//	  string="<%PRI%>1 %TIMESTAMP:::date-rfc3339% %HOSTNAME% %APP-NAME% %PROCID% access - %msg%")
//	ruleset(name="vigil") {
//	  action(type="omfwd" target="collector.example" port="6514" protocol="tcp"
//	    TCP_Framing="octet-counted" template="vigil-access"
//	    queue.type="LinkedList" queue.filename="vigil" queue.saveOnShutdown="on"
//	    action.resumeRetryCount="-1")
//	}
//
// An application that logs RFC 5424 structured data to the local rsyslog
// (for example `logger --rfc5424 --sd-id vigil@32473 --sd-param 'kind="access"'
// --sd-param 'org="h1"' …`) is relayed unchanged by the built-in RFC 5424
// template:
//
//	action(type="omfwd" target="collector.example" port="6514" protocol="tcp"
//	  TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
//	  queue.type="LinkedList" queue.filename="vigil-sd" action.resumeRetryCount="-1")
//
// RSYSLOG_ForwardFormat (RFC 3164 with an RFC 3339 timestamp, LF framing)
// and UDP work for JSON bodies too, but RFC 3164 drops structured data
// and a JSON body containing a newline cannot be LF-framed. For TLS,
// rsyslog needs its gtls or ossl network stream driver (packages
// rsyslog-gnutls or rsyslog-openssl): add StreamDriver="gtls"
// StreamDriverMode="1" StreamDriverAuthMode="x509/name" and
// StreamDriverPermittedPeers to the action, and point the global
// DefaultNetstreamDriverCAFile, …CertFile and …KeyFile at the CA that
// signed syslog.tls_cert_file and, for mutual TLS, at a client
// certificate signed by a CA in syslog.tls_client_ca. The integration
// test (integration_test.go) runs the imfile, imtcp and omfwd
// configurations above against a real rsyslogd.
//
// # Back-pressure and UDP
//
// For TCP and TLS, the server calls Handle for each message on the
// connection's goroutine and reads nothing more from that connection
// until it returns. When the collector's spool is full, Handle blocks, the
// socket's receive buffer fills, and the kernel's TCP window stops the
// sender; rsyslog then holds messages in its action queue (in memory, or
// on disk with queue.filename). Nothing is dropped on the receiving side.
//
// UDP has no back-pressure. The UDP listener's one goroutine calls Handle
// for each datagram; while it blocks, datagrams queue in the kernel's
// socket buffer and beyond it are dropped by the kernel, which this
// package cannot see (watch UdpRcvbufErrors in /proc/net/snmp). A handler
// should therefore refuse a UDP message it cannot take at once: each
// refusal is counted in vigil_collector_syslog_udp_dropped_total. Use TCP
// or TLS for audit logs that must not be lost.
//
// Plain TCP syslog has no acknowledgements either: a message a sender
// wrote just before the connection closed may be lost, on either side
// (RFC 6587 section 4). Shutdown stops reading, hands over what was read
// and waits for handlers; it does not read what is still in the kernel.
// IdleTimeout (off by default) closes quiet connections, after which
// rsyslog may lose the one message it sends on the closed connection.
//
// # Metrics
//
// Registered with the Registerer given to WithRegisterer, every series
// created up front:
//
//	vigil_collector_syslog_connections                           gauge: open TCP and TLS connections
//	vigil_collector_syslog_messages_total{transport,format}     counter: messages handed to the handler;
//	                                                             transport tcp|udp|tls, format rfc5424|rfc3164|invalid
//	vigil_collector_syslog_errors_total{transport,reason}       counter: parse, too_large, truncated, framing,
//	                                                             handler, read, tls_handshake,
//	                                                             connection_limit, accept
//	vigil_collector_syslog_udp_dropped_total                     counter: UDP messages the handler refused
//
// # Logs
//
// The server logs listeners at info, connections and unparseable messages
// at debug, and problems (oversized or truncated messages, malformed
// frames, handshake failures, handler errors, the connection limit) at
// warn, with the transport, the peer and the reason — never message
// contents, which hold personal data.
package syslog
