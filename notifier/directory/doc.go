// Package directory resolves recipient tokens to contact details at send time.
//
// Notices and incidents carry only opaque recipient tokens; a Directory turns a token
// into a Contact just before delivery. Contacts are never logged: callers log tokens only.
// ErrNotFound means the recipient is unreachable through the directory and counts
// toward substitute notice.
//
// FileDirectory reads a YAML or JSON file keyed by token with strict decoding (unknown
// keys are errors naming file:line); Reload re-reads it when its modification time or
// size changed and keeps the previous contacts if the new file is invalid. HTTPDirectory issues GET {base}/contacts/{token}
// with a bearer token; 404 maps to ErrNotFound, 5xx and transport errors are retryable
// (see Retryable), responses are size limited and decoded strictly.
package directory
