// Package store holds Vigil's access to ClickHouse: opening native-protocol
// connections (Open) and, as DESIGN.md lays out, later the embedded store, the
// schema migrations and the sink that writes audit events from Kafka into
// ClickHouse. Every statement here must run on ClickHouse 18.16 (Debian's
// server, used by the integration tests) as well as on current ClickHouse:
// native protocol only, column lists named in every INSERT, DateTime rather
// than DateTime64, and no TTL, Map, JSON or window functions.
package store
