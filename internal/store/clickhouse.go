package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DefaultDialTimeout is used when ClickHouseConfig.DialTimeout is zero.
const DefaultDialTimeout = 5 * time.Second

// ClickHouseConfig says how to reach a ClickHouse server over its native
// protocol (TCP port 9000 by default).
type ClickHouseConfig struct {
	// Addr lists host:port addresses of the native protocol; they are tried
	// in order. At least one is required.
	Addr []string
	// Database is the default database of the connection; empty means the
	// server's default ("default").
	Database string
	// Username and Password authenticate the connection; an empty Username
	// means the server's "default" user.
	Username string
	Password string
	// DialTimeout bounds each TCP dial and handshake; zero means
	// DefaultDialTimeout.
	DialTimeout time.Duration
}

// ErrNoAddr is returned by Open when ClickHouseConfig.Addr is empty.
var ErrNoAddr = errors.New("store: clickhouse: no address configured")

// Open connects to ClickHouse over the native protocol and pings it before
// returning, so a returned connection has reached a live server. Errors name
// the address(es) tried. The caller closes the returned connection.
func Open(ctx context.Context, cfg ClickHouseConfig) (driver.Conn, error) {
	addrs := make([]string, 0, len(cfg.Addr))
	for _, a := range cfg.Addr {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, ErrNoAddr
	}
	if cfg.DialTimeout < 0 {
		return nil, fmt.Errorf("store: clickhouse %s: negative dial timeout %s", strings.Join(addrs, ","), cfg.DialTimeout)
	}
	timeout := cfg.DialTimeout
	if timeout == 0 {
		timeout = DefaultDialTimeout
	}
	where := strings.Join(addrs, ",")

	// clickhouse-go bounds the dial and handshake of a new connection by
	// DialTimeout alone, not by the context given to Ping. Dial through a
	// hook that ties the connections made while Open runs to ctx, so a
	// cancelled or expired ctx ends Open at once; connections the pool makes
	// later are not tied to ctx.
	var (
		mu      sync.Mutex
		opening = true
		stops   []func() bool
	)
	dialer := &net.Dialer{Timeout: timeout}
	dial := func(dctx context.Context, addr string) (net.Conn, error) {
		dctx, cancel := context.WithCancel(dctx)
		defer cancel()
		mu.Lock()
		if opening {
			// Only dials made while Open runs follow ctx: once Open
			// returned, ctx may be done (a timeout context the caller
			// cancels), and the pool must still be able to dial.
			defer context.AfterFunc(ctx, cancel)()
		}
		mu.Unlock()
		c, err := dialer.DialContext(dctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		if opening {
			stops = append(stops, context.AfterFunc(ctx, func() { _ = c.Close() }))
		}
		return c, nil
	}
	opened := func() {
		mu.Lock()
		defer mu.Unlock()
		opening = false
		for _, stop := range stops {
			stop()
		}
	}

	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol: clickhouse.Native,
		Addr:     addrs,
		Auth: clickhouse.Auth{
			Database: cfg.Database,
			Username: cfg.Username,
			Password: cfg.Password,
		},
		DialTimeout: timeout,
		DialContext: dial,
	})
	if err != nil {
		opened()
		return nil, fmt.Errorf("store: clickhouse %s: open: %w", where, err)
	}
	err = conn.Ping(ctx)
	opened()
	if err != nil {
		_ = conn.Close()
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("store: clickhouse %s: ping: %w (%v)", where, cerr, err)
		}
		return nil, fmt.Errorf("store: clickhouse %s: ping: %w", where, err)
	}
	return conn, nil
}
