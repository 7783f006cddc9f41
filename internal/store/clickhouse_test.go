package store

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestOpenNoAddr(t *testing.T) {
	for _, addr := range [][]string{nil, {}, {"", "  "}} {
		_, err := Open(context.Background(), ClickHouseConfig{Addr: addr})
		if !errors.Is(err, ErrNoAddr) {
			t.Errorf("Open(Addr=%q) error = %v, want ErrNoAddr", addr, err)
		}
	}
}

func TestOpenNegativeTimeout(t *testing.T) {
	_, err := Open(context.Background(), ClickHouseConfig{Addr: []string{"127.0.0.1:9000"}, DialTimeout: -time.Second})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:9000") {
		t.Fatalf("Open with negative timeout: error = %v, want one naming the address", err)
	}
}

// closedPort returns a 127.0.0.1 address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestOpenClosedPort(t *testing.T) {
	addr := closedPort(t)
	start := time.Now()
	conn, err := Open(context.Background(), ClickHouseConfig{Addr: []string{addr}, DialTimeout: 2 * time.Second})
	if err == nil {
		_ = conn.Close()
		t.Fatalf("Open(%s) succeeded against a closed port", addr)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name the address %s", err, addr)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("error %q does not wrap the dial error (*net.OpError)", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Open against a closed port took %s, want it to fail fast", d)
	}
}

func TestOpenCanceledContext(t *testing.T) {
	// A listener that accepts but never speaks: only the context ends the ping.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	conn, err := Open(ctx, ClickHouseConfig{Addr: []string{l.Addr().String()}, DialTimeout: 10 * time.Second})
	if err == nil {
		_ = conn.Close()
		t.Fatal("Open succeeded against a silent server")
	}
	if !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("error %q does not name the address", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q does not wrap context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Open took %s after its context expired", d)
	}
}
