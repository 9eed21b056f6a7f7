package hosts

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Pool keeps one connection per host, dialed on first use and shared by
// every caller: an audit reads many guests per host, and one connection
// (with its own bound on concurrent calls) serves them all. A connection
// whose session broke dials again by itself (see Conn); a host whose first
// dial failed is dialed again on the next Conn call.
type Pool struct {
	hosts Hosts

	mu      sync.Mutex
	entries map[string]*poolEntry
	closed  bool
}

type poolEntry struct {
	// lock serialises dialing one host; a channel so that waiting for it
	// honours the caller's context.
	lock chan struct{}
	conn *Conn
}

// NewPool makes a Pool over the configured hosts; it dials nothing yet.
func NewPool(hosts Hosts) *Pool {
	return &Pool{hosts: maps.Clone(hosts), entries: map[string]*poolEntry{}}
}

// Hosts lists the configured host names, sorted.
func (p *Pool) Hosts() []string { return slices.Sorted(maps.Keys(p.hosts)) }

// Conn returns the host's connection, dialing it if there is none yet.
// Callers share it and must not Close it.
func (p *Pool) Conn(ctx context.Context, host string) (*Conn, error) {
	cfg, ok := p.hosts[host]
	if !ok {
		return nil, &HostError{Host: host, Op: "connect", Err: fmt.Errorf("%w (configured: %v)", ErrUnknownHost, p.Hosts())}
	}
	hostErr := func(err error) *HostError {
		return &HostError{Host: host, URI: cfg.URI, Address: cfg.Address, Op: "connect", Err: err}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, hostErr(fmt.Errorf("%w: pool closed", ErrConnClosed))
	}
	e := p.entries[host]
	if e == nil {
		e = &poolEntry{lock: make(chan struct{}, 1)}
		p.entries[host] = e
	}
	p.mu.Unlock()

	select {
	case e.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, hostErr(fmt.Errorf("gave up waiting for another caller's dial: %w", context.Cause(ctx)))
	}
	defer func() { <-e.lock }()
	if e.conn != nil {
		return e.conn, nil
	}
	c, err := Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return nil, hostErr(fmt.Errorf("%w: pool closed", ErrConnClosed))
	}
	e.conn = c
	return c, nil
}

// Close closes every connection; the Pool cannot be used afterwards.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	entries := slices.Collect(maps.Values(p.entries))
	p.mu.Unlock()
	var errs []error
	for _, e := range entries {
		e.lock <- struct{}{}
		if e.conn != nil {
			errs = append(errs, e.conn.Close())
			e.conn = nil
		}
		<-e.lock
	}
	return errors.Join(errs...)
}
