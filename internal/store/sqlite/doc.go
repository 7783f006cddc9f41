// Package sqlite is Vigil's embedded store: the store.Store that `vigil up`
// keeps in its data folder, with no external service, through the pure-Go
// SQLite of modernc.org/sqlite. `vigil report --data DIR` opens the same
// file with Options.ReadOnly, also while `vigil up` is writing it.
//
// # File and connections
//
// One database file in WAL mode: queries read a snapshot while a batch is
// written, from this process or another. The writer is one connection
// (synchronous=FULL, so a batch is on disk when Write returns; BEGIN
// IMMEDIATE, so two writing processes queue on busy_timeout instead of
// failing); queries use a pool of query_only connections (mode=ro in a
// read-only open). Foreign keys are on for the writer.
//
// # Schema
//
// migrations/NNNN_name.sql, embedded, applied in order by Open in one
// IMMEDIATE transaction and recorded in schema_migrations (version, name,
// applied_at), so opening twice, or from two processes at once, applies
// each once. A read-only open migrates nothing and refuses a file without
// the schema (ErrNoSchema) or with a migration it does not know
// (ErrSchemaTooNew). The tables hold what ClickHouse's holds
// (internal/store/migrations/0001_initial.sql), shaped for SQLite: times in
// Unix milliseconds (NULL when absent), lists and maps as JSON text,
// category lists sorted and unique, indexes where ClickHouse has lookup
// tables (subject history by subject_id, occurred_ms, event_id; actor
// queries by org, actor_id, occurred_ms, event_id), and tables the writer
// fills where ClickHouse has materialized views (incident_transitions,
// deliveries).
//
// # Writes and queries
//
// Write stores a batch in one transaction with prepared statements. Events
// and dead letters are inserted once by id (a redelivered copy is
// ignored); alerts, incidents and notices are upserted only by a higher
// version, so the latest state wins whatever the order of writes. The
// Reader methods follow the contract of store.Reader as the contract suite
// (internal/store/storetest) reads it; streaming methods hand each row to
// fn as SQLite produces it.
package sqlite
