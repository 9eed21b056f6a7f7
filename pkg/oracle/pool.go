package oracle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Pool runs several oracle processes, because one Python process computes
// one case at a time and object construction in Nova dominates its cost:
// a differential run with many cases scales with CPU cores only this way.
// Its methods mirror Oracle's and are safe for concurrent use.
type Pool struct {
	oracles []*Oracle
	next    atomic.Uint64
}

// poolChunk is how many consecutive cases one process gets at a time in
// RunAll: large enough that pipelining hides the round trip, small enough
// that slow cases do not leave other processes idle.
const poolChunk = 64

// StartPool starts n oracle processes (at least 1) in parallel and checks
// they all run the same Nova, so answers do not depend on which process
// computed them.
func StartPool(ctx context.Context, opts Options, n int) (*Pool, error) {
	if n < 1 {
		n = 1
	}
	p := &Pool{oracles: make([]*Oracle, n)}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.oracles[i], errs[i] = Start(ctx, opts)
		}()
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err == nil {
		for _, o := range p.oracles[1:] {
			if o.Hello().NovaVersion != p.oracles[0].Hello().NovaVersion {
				err = fmt.Errorf("nova oracle pool: processes report nova %s and %s",
					p.oracles[0].Version(), o.Version())
				break
			}
		}
	}
	if err != nil {
		for _, o := range p.oracles {
			if o != nil {
				_ = o.Close()
			}
		}
		return nil, err
	}
	return p, nil
}

// Size returns the number of processes.
func (p *Pool) Size() int { return len(p.oracles) }

// Hello returns the first process's self-description (all agree on the
// Nova version).
func (p *Pool) Hello() Hello { return p.oracles[0].Hello() }

// Version returns the Nova version the processes run.
func (p *Pool) Version() string { return p.oracles[0].Version() }

// Run computes one case on the next process in turn.
func (p *Pool) Run(ctx context.Context, c Case) (Answer, error) {
	o := p.oracles[int(p.next.Add(1)-1)%len(p.oracles)]
	return o.Run(ctx, c)
}

// RunAll computes every case, spreading chunks of consecutive cases over
// the processes, and returns the answers in case order. The first error
// (ctx, a dead process) cancels the rest and is returned without answers.
func (p *Pool) RunAll(ctx context.Context, cases []Case) ([]Answer, error) {
	if len(cases) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	answers := make([]Answer, len(cases))
	var nextChunk atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for _, o := range p.oracles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				start := int(nextChunk.Add(poolChunk)) - poolChunk
				if start >= len(cases) || ctx.Err() != nil {
					return
				}
				end := min(start+poolChunk, len(cases))
				got, err := o.RunAll(ctx, cases[start:end])
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				copy(answers[start:end], got)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return answers, nil
}

// Close stops every process and returns the errors of those that had died
// on their own.
func (p *Pool) Close() error {
	errs := make([]error, len(p.oracles))
	var wg sync.WaitGroup
	for i, o := range p.oracles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = o.Close()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
