// Package auth authenticates bearer tokens against configured SHA-256
// hashes: configuration holds the hash of each token, never the token.
// The collector's ingest sources and the notifier's operators use it.
package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
)

// Errors of Tokens.Add, worded for a config problem's reason.
var (
	ErrBadHash   = errors.New("must be 64 hex digits: the SHA-256 of the token, not the token")
	ErrDuplicate = errors.New("the same token is configured twice")
)

// Tokens maps token hashes to what a token grants.
type Tokens[T any] struct {
	byHash map[[sha256.Size]byte]T
}

// NewTokens returns an empty set.
func NewTokens[T any]() *Tokens[T] {
	return &Tokens[T]{byHash: map[[sha256.Size]byte]T{}}
}

// Add registers the token whose hex SHA-256 is hexHash.
func (s *Tokens[T]) Add(hexHash string, v T) error {
	h, err := hex.DecodeString(hexHash)
	if err != nil || len(h) != sha256.Size {
		return ErrBadHash
	}
	k := [sha256.Size]byte(h)
	if _, dup := s.byHash[k]; dup {
		return ErrDuplicate
	}
	s.byHash[k] = v
	return nil
}

// Len is how many tokens are registered.
func (s *Tokens[T]) Len() int { return len(s.byHash) }

// Lookup returns what token grants. The lookup is by the token's hash, so
// the time it takes says nothing about how close a guess was.
func (s *Tokens[T]) Lookup(token string) (T, bool) {
	v, ok := s.byHash[sha256.Sum256([]byte(token))]
	return v, ok
}

// Hash returns the hex SHA-256 of a token, as configuration wants it.
func Hash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Bearer returns the token of an "Authorization: Bearer <token>" header,
// or a reason fit for a 401 response.
func Bearer(r *http.Request) (token, problem string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", "missing Authorization header: send Authorization: Bearer <token>"
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", "malformed Authorization header: want Bearer <token>"
	}
	return strings.TrimSpace(token), ""
}
