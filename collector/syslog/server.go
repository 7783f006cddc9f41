package syslog

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Handler takes the messages a Server receives.
//
// For TCP and TLS, Handle is called on the connection's goroutine, one
// message after the other in the order sent, and the connection is not
// read while it runs: a Handle that blocks (because the collector's spool
// is full) makes the kernel's TCP window push back on the sender. Blocking
// is the right answer to "not now"; an error means the message is lost
// (counted and logged, never silently).
//
// For UDP, Handle is called on the listener's one goroutine. UDP has no
// back-pressure: while Handle blocks, datagrams queue in the kernel's
// socket buffer and, once it is full, the kernel drops them. Handle should
// therefore refuse (return an error) rather than block for long when it
// cannot take a UDP message; each refusal counts in
// vigil_collector_syslog_udp_dropped_total.
//
// ctx is cancelled when Shutdown gives up waiting. Received belongs to
// Handle: the server does not touch it afterwards. Errors returned by
// Handle are logged and must not carry message contents.
type Handler interface {
	Handle(ctx context.Context, msg Received) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, msg Received) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, msg Received) error { return f(ctx, msg) }

// Received is one message as received, parsed or not.
type Received struct {
	// Message is the parsed message; zero when ParseErr is set.
	Message Message
	// Raw is the message without framing (octet count, LF or NUL
	// trailer). For a message over the size limit it holds the first
	// MaxMessageBytes bytes. Message.Msg points into it.
	Raw []byte
	// Peer is the sender's address, host:port.
	Peer string
	// Transport is TransportTCP, TransportUDP or TransportTLS.
	Transport string
	// PeerCertificate is the client certificate the peer authenticated
	// with over mutual TLS, or nil.
	PeerCertificate *x509.Certificate
	// ParseErr says why the message could not be used: a *ParseError, or
	// an error wrapping ErrTooLarge or ErrTruncated. Such messages are
	// still delivered so that the collector can dead-letter them; nothing
	// is dropped silently.
	ParseErr error
}

// ErrServerClosed is returned by Start after Shutdown: build a new Server.
var ErrServerClosed = errors.New("syslog: server is shut down")

// Option changes what NewServer injects.
type Option func(*options)

type options struct {
	logger *slog.Logger
	reg    prometheus.Registerer
	now    func() time.Time
}

// WithLogger sets the logger for listener events, connections and errors,
// with peers and reasons, never message contents. Nil means discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRegisterer registers the server's metrics with r. Nil means the
// metrics are kept but not registered.
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithClock sets the clock that gives RFC 3164 timestamps their year. Nil
// means time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Addrs are the addresses a started Server listens on; nil for a listener
// that is not configured.
type Addrs struct {
	TCP, UDP, TLS net.Addr
}

type serverState int

const (
	stateNew serverState = iota
	stateStarted
	stateClosed
)

// Server receives syslog over TCP, UDP and TLS and hands every message to
// a Handler. Its lifecycle: NewServer, Start (returns once listening),
// Shutdown (safe without Start and safe twice).
type Server struct {
	cfg     Config
	h       Handler
	log     *slog.Logger
	m       *metrics
	parser  Parser
	tlsConf *tls.Config

	baseCtx context.Context // handed to Handle; cancelled when Shutdown gives up
	cancel  context.CancelFunc

	mu       sync.Mutex
	state    serverState
	closers  []io.Closer
	conns    map[*conn]struct{}
	addrs    Addrs
	wg       sync.WaitGroup
	stopping chan struct{} // closed by Shutdown
	done     chan struct{} // closed when every goroutine has returned
}

// NewServer validates cfg, loads the TLS files and registers the metrics.
// It listens nowhere until Start.
func NewServer(cfg Config, h Handler, opts ...Option) (*Server, error) {
	if h == nil {
		return nil, errors.New("syslog: NewServer: nil handler")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	loc, err := cfg.location()
	if err != nil {
		return nil, fmt.Errorf("syslog.rfc3164_time_zone: %w", err)
	}
	s := &Server{
		cfg:      cfg.withDefaults(),
		h:        h,
		log:      o.logger,
		parser:   Parser{Now: o.now, Location: loc},
		conns:    map[*conn]struct{}{},
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
	}
	if cfg.TLSListen != "" {
		if s.tlsConf, err = loadTLS(cfg); err != nil {
			return nil, err
		}
	}
	if s.m, err = newMetrics(o.reg); err != nil {
		return nil, err
	}
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

func loadTLS(cfg Config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("syslog.tls_cert_file, syslog.tls_key_file: %w", err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.TLSClientCA != "" {
		pem, err := os.ReadFile(cfg.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("syslog.tls_client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("syslog.tls_client_ca: %s holds no PEM certificate", cfg.TLSClientCA)
		}
		conf.ClientCAs = pool
		conf.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return conf, nil
}

// Start opens the configured listeners and returns once they listen; ctx
// bounds only that. An address taken or refused is an error naming its
// key, and nothing stays open. Start after Shutdown returns
// ErrServerClosed.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateStarted:
		return errors.New("syslog: server already started")
	case stateClosed:
		return ErrServerClosed
	}
	var lc net.ListenConfig
	var loops []func()
	var closers []io.Closer
	fail := func(key, addr string, err error) error {
		for _, c := range closers {
			_ = c.Close()
		}
		return fmt.Errorf("syslog.%s %q: %w", key, addr, err)
	}
	var addrs Addrs
	for _, l := range []struct {
		key, addr string
		t         transport
		dst       *net.Addr
	}{
		{"tcp_listen", s.cfg.TCPListen, tTCP, &addrs.TCP},
		{"tls_listen", s.cfg.TLSListen, tTLS, &addrs.TLS},
	} {
		if l.addr == "" {
			continue
		}
		ln, err := lc.Listen(ctx, "tcp", l.addr)
		if err != nil {
			return fail(l.key, l.addr, err)
		}
		closers = append(closers, ln)
		*l.dst = ln.Addr()
		t := l.t
		loops = append(loops, func() { s.acceptLoop(ln, t) })
	}
	if s.cfg.UDPListen != "" {
		pc, err := lc.ListenPacket(ctx, "udp", s.cfg.UDPListen)
		if err != nil {
			return fail("udp_listen", s.cfg.UDPListen, err)
		}
		closers = append(closers, pc)
		addrs.UDP = pc.LocalAddr()
		loops = append(loops, func() { s.serveUDP(pc) })
	}
	s.state, s.closers, s.addrs = stateStarted, closers, addrs
	for _, loop := range loops {
		s.wg.Add(1)
		go loop()
	}
	for _, a := range []struct {
		t    string
		addr net.Addr
	}{{TransportTCP, addrs.TCP}, {TransportUDP, addrs.UDP}, {TransportTLS, addrs.TLS}} {
		if a.addr != nil {
			s.log.Info("syslog listening", "transport", a.t, "addr", a.addr.String())
		}
	}
	return nil
}

// Addrs returns the addresses the server listens on, with the ports
// chosen for port 0. It is zero before Start.
func (s *Server) Addrs() Addrs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs
}

// Shutdown stops accepting connections and datagrams, stops reading from
// open connections (messages already read are still handed over), waits
// for Handle calls in flight to return and closes the connections. When
// ctx ends first, it cancels the context given to Handle, closes the
// connections and returns ctx's error without waiting further. It is
// safe without Start and safe to call twice.
//
// Bytes a sender wrote that were still in the kernel's socket buffer are
// not read: plain TCP syslog has no acknowledgements, so a sender cannot
// know which messages a closing receiver took (RFC 6587 section 4).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	switch s.state {
	case stateNew:
		s.state = stateClosed
		close(s.stopping)
		s.cancel()
		close(s.done)
	case stateStarted:
		s.state = stateClosed
		close(s.stopping)
		for _, c := range s.closers {
			_ = c.Close()
		}
		for c := range s.conns {
			c.stop()
		}
		go func() {
			s.wg.Wait()
			s.cancel()
			close(s.done)
		}()
	}
	s.mu.Unlock()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.cancel()
		s.mu.Lock()
		for c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		return fmt.Errorf("syslog: shutdown: gave up waiting for message handlers: %w", ctx.Err())
	}
}

// acceptLoop accepts TCP connections for transport t until ln is closed.
func (s *Server) acceptLoop(ln net.Listener, t transport) {
	defer s.wg.Done()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off as
			// net/http does, but stop at once on shutdown.
			s.m.error(t, reasonAccept)
			s.log.Warn("syslog accept failed", "transport", t.String(), "error", err)
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(delay):
			case <-s.stopping:
				return
			}
			continue
		}
		delay = 0
		s.track(nc, t)
	}
}

// track starts serving nc unless the server is closing or full.
func (s *Server) track(nc net.Conn, t transport) {
	s.mu.Lock()
	if s.state != stateStarted {
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	if len(s.conns) >= s.cfg.MaxConnections {
		s.mu.Unlock()
		s.m.error(t, reasonConnectionLimit)
		s.log.Warn("syslog connection refused: too many connections", "transport", t.String(),
			"peer", nc.RemoteAddr().String(), "max_connections", s.cfg.MaxConnections)
		_ = nc.Close()
		return
	}
	c := &conn{Conn: nc, idle: s.cfg.IdleTimeout}
	s.conns[c] = struct{}{}
	s.wg.Add(1) // the accept loop holds a count: Shutdown's Wait cannot have returned
	s.mu.Unlock()
	go s.serveConn(c, t)
}

// serveConn reads messages from one TCP or TLS connection and hands each
// to the handler before it reads the next.
func (s *Server) serveConn(c *conn, t transport) {
	defer s.wg.Done()
	s.m.connections.Inc()
	defer s.m.connections.Dec()
	defer func() {
		_ = c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	peer := c.RemoteAddr().String()
	log := s.log.With("transport", t.String(), "peer", peer)
	log.Debug("syslog connection opened")

	var rd io.Reader = c
	var cert *x509.Certificate
	if t == tTLS {
		tc := tls.Server(c, s.tlsConf)
		ctx, cancel := context.WithTimeout(s.baseCtx, tlsHandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			if !c.isStopping() {
				s.m.error(t, reasonTLSHandshake)
				log.Warn("syslog TLS handshake failed", "error", err)
			}
			return
		}
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			cert = certs[0]
		}
		rd = tc
	}

	fr := NewFrameReader(rd, s.cfg.MaxMessageBytes)
	for {
		frame, err := fr.Next()
		switch {
		case frame != nil:
			s.deliver(t, peer, cert, frame, err)
		case errors.Is(err, ErrTruncated):
			s.m.error(t, reasonTruncated)
		}
		if err == nil || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrTruncated) {
			continue // after ErrTruncated, Next returns the stream's error
		}
		switch {
		case errors.Is(err, io.EOF):
			log.Debug("syslog connection closed by peer")
		case c.isStopping():
			log.Debug("syslog connection closed for shutdown")
		case errors.Is(err, os.ErrDeadlineExceeded):
			log.Debug("syslog connection closed: idle", "idle_timeout", s.cfg.IdleTimeout)
		case errors.Is(err, ErrMalformedFrame):
			s.m.error(t, reasonFraming)
			log.Warn("syslog connection closed: malformed frame", "error", err)
		default:
			s.m.error(t, reasonRead)
			log.Warn("syslog connection closed: read failed", "error", err)
		}
		return
	}
}

// serveUDP reads datagrams, one message each, until pc is closed.
func (s *Server) serveUDP(pc net.PacketConn) {
	defer s.wg.Done()
	limit := s.cfg.MaxMessageBytes
	buf := make([]byte, min(limit, 65535)+1) // one more byte tells a cut datagram
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.m.error(tUDP, reasonRead)
			s.log.Warn("syslog UDP read failed", "error", err)
			select {
			case <-time.After(10 * time.Millisecond):
			case <-s.stopping:
				return
			}
			continue
		}
		frame, ferr := trimTrailer(buf[:n]), error(nil)
		if n > limit {
			frame = buf[:limit]
			ferr = fmt.Errorf("syslog: framing: %w: datagram of more than the limit of %d bytes; the rest was discarded", ErrTooLarge, limit)
		}
		s.deliver(tUDP, addr.String(), nil, frame, ferr)
	}
}

// deliver parses one message and hands it to the handler. frameErr is the
// framing's complaint about it (ErrTooLarge, ErrTruncated), if any.
func (s *Server) deliver(t transport, peer string, cert *x509.Certificate, frame []byte, frameErr error) {
	raw := bytes.Clone(frame)
	if raw == nil {
		raw = []byte{}
	}
	r := Received{Raw: raw, Peer: peer, Transport: t.String(), PeerCertificate: cert, ParseErr: frameErr}
	switch {
	case errors.Is(frameErr, ErrTooLarge):
		s.m.error(t, reasonTooLarge)
		s.log.Warn("syslog message too large", "transport", t.String(), "peer", peer, "max_message_bytes", s.cfg.MaxMessageBytes)
	case errors.Is(frameErr, ErrTruncated):
		s.m.error(t, reasonTruncated)
		s.log.Warn("syslog message truncated", "transport", t.String(), "peer", peer, "error", frameErr)
	default:
		msg, err := s.parser.Parse(raw)
		if err != nil {
			r.ParseErr = err
			s.m.error(t, reasonParse)
			s.log.Debug("syslog message did not parse", "transport", t.String(), "peer", peer, "error", err)
		} else {
			r.Message = msg
		}
	}
	format := r.Message.Format
	if r.ParseErr != nil {
		format = FormatUnknown
	}
	s.m.messages[t][format].Inc()
	if err := s.h.Handle(s.baseCtx, r); err != nil {
		if t == tUDP {
			s.m.udpDropped.Inc()
			s.log.Debug("syslog UDP message dropped: handler refused it", "peer", peer, "error", err)
			return
		}
		s.m.error(t, reasonHandler)
		s.log.Warn("syslog message lost: handler failed", "transport", t.String(), "peer", peer, "error", err)
	}
}

// conn is an accepted connection. Its reads set the idle deadline, and
// stop interrupts them for good.
type conn struct {
	net.Conn
	idle time.Duration

	mu       sync.Mutex
	stopping bool
}

var errStopping = errors.New("syslog: server shutting down")

func (c *conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.stopping {
		c.mu.Unlock()
		return 0, errStopping
	}
	if c.idle > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

// stop makes the read in progress, and every later one, fail.
func (c *conn) stop() {
	c.mu.Lock()
	c.stopping = true
	_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
	c.mu.Unlock()
}

func (c *conn) isStopping() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopping
}
