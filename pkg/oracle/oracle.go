// Package oracle runs cases through real OpenStack Nova, so that the Go
// reference fitter can be differentially tested against Nova itself rather
// than against our reading of Nova's code.
//
// The work is done by oracle/nova_oracle.py, a long-lived Python process
// that imports Nova (Debian's python3-nova; oracle/install.sh installs it)
// and speaks JSON lines: a hello line first, then one answer line per case
// line, in order. Cases and answers use the nova-numa-vectors/1 encoding
// (testdata/vectors/SCHEMA.md), so an answer can be compared with a vector's
// expect, or with the Go fitter's output, by the same code.
//
// One process computes one case at a time; Run and RunAll may be called
// from several goroutines, and RunAll pipelines (one goroutine writes while
// another reads) so a batch costs Nova's time, not round trips.
package oracle

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/numa-conformance/numa-conformance/pkg/vectors"
)

// DefaultPython is the interpreter that has Nova on Debian: python3-nova
// installs into the system Python, not into pyenv or a virtualenv.
const DefaultPython = "/usr/bin/python3"

// Protocol is the oracle protocol version this client speaks; the hello line
// must announce the same, so that a script and a client from different
// commits fail loudly instead of misreading each other.
const Protocol = 1

// Environment variables that override the defaults, so CI and developers can
// point at another interpreter (e.g. a Debian 13 chroot with Nova 31) or a
// copy of the script without changing code.
const (
	// EnvPython overrides DefaultPython.
	EnvPython = "NOVA_ORACLE_PYTHON"
	// EnvScript overrides the script found next to this package's source.
	EnvScript = "NOVA_ORACLE_SCRIPT"
)

// ErrClosed is returned by calls made after Close, so callers can tell a
// deliberate shutdown from a crash.
var ErrClosed = errors.New("nova oracle: closed")

// Case is one call for Nova to make. It has the shape of a vector without
// its expectation, so vectors and generated cases go through the same path.
type Case struct {
	// ID is echoed in the Answer; it need not be unique (the client matches
	// answers to cases itself).
	ID string `json:"id"`
	// Category is checked by the oracle against Function, to catch cases
	// filed under the wrong category; may be empty to skip the check.
	Category string `json:"category"`
	// Function names the Nova function as vectors spell it, e.g.
	// "nova/virt/hardware.py:numa_fit_instance_to_host".
	Function string `json:"function"`
	// Input is the schema input for Function; any valid JSON formatting.
	Input json.RawMessage `json:"input"`
}

// CaseFromVector turns a recorded vector back into a case, so recorded
// vectors can be replayed through real Nova (the oracle's self-check).
func CaseFromVector(v vectors.Vector) Case {
	return Case{ID: v.ID, Category: v.Category, Function: v.Function, Input: v.Input}
}

// Answer is what Nova did with one case: exactly one of Result, Error and
// OracleError is set.
type Answer struct {
	// ID is the Case's ID.
	ID string
	// Result is Nova's return value in the schema's encoding; the JSON
	// literal null when Nova returned None. Empty when Error or OracleError
	// is set.
	Result json.RawMessage
	// Error is the class name of the exception Nova raised (a Nova
	// exception class or a Python builtin such as ValueError).
	Error string
	// ErrorStage is "build" when Error was raised while Nova's objects were
	// being built from the input (e.g. ImageMeta rejecting an image
	// property) rather than by the function itself; empty otherwise. A Go
	// implementation that validates input up front may want to know.
	ErrorStage string
	// ErrorMessage is the exception's text, for diagnosing generated cases
	// (e.g. "Field value  is invalid" for an empty enum string); vectors
	// record only the class, so never compare it.
	ErrorMessage string
	// ElapsedNS is the in-process time of the Nova function call alone
	// (object construction and encoding excluded); 0 when ErrorStage is
	// "build" or for an OracleError.
	ElapsedNS int64
	// OracleError says the oracle could not run the case at all (it does not
	// follow the schema, or the function is unsupported, e.g. libvirt_xml).
	// It is a defect of the case or the harness, never a fact about Nova.
	OracleError string
}

// Expect converts the answer to a vector expectation, so answers can be
// stored as new vectors or compared by code written for vectors. It is the
// zero Expect for an OracleError.
func (a Answer) Expect() vectors.Expect {
	if a.Error != "" {
		return vectors.Expect{Error: a.Error}
	}
	return vectors.Expect{Result: a.Result}
}

// Hello is the oracle's self-description, sent once at start-up, so every
// differential result can be tied to the exact Nova that produced it.
type Hello struct {
	// Oracle is always "nova"; it guards against starting the wrong script.
	Oracle string `json:"oracle"`
	// Protocol must equal this package's Protocol.
	Protocol int `json:"protocol"`
	// NovaVersion is the version of the nova package actually imported
	// (e.g. "26.2.2"), or "unknown (nova imported from DIR)" when the
	// installed metadata does not describe the imported files.
	NovaVersion string `json:"nova_version"`
	// PackageVersion is the dpkg version of the package owning the imported
	// nova (e.g. "2:26.2.2-1~deb12u5"): distributions patch Nova, so the
	// upstream version alone does not pin the code. Empty if not from dpkg.
	PackageVersion string `json:"package_version"`
	// Python is the interpreter version, since set iteration order (which
	// decides some pinnings) is a CPython implementation detail.
	Python string `json:"python"`
	// Timing says what ElapsedNS covers; "call" = the Nova function alone.
	Timing string `json:"timing"`
	// Functions lists the function strings this oracle can run against this
	// Nova, so a harness can skip what an older or newer Nova lacks.
	Functions []string `json:"functions"`
}

// Options configure Start. The zero value runs DefaultPython (or
// $NOVA_ORACLE_PYTHON) on the script in this source tree (or
// $NOVA_ORACLE_SCRIPT).
type Options struct {
	// Python is the interpreter that can import nova.
	Python string
	// Script is the path of nova_oracle.py. The default is found relative
	// to this package's source file, which works for `go test` and `go run`
	// in a checkout; binaries deployed elsewhere must set it.
	Script string
	// Env is added to the process environment (KEY=value).
	Env []string
	// StartTimeout bounds the wait for the hello line when ctx has no
	// deadline: importing Nova takes a few seconds, a hang must not block
	// a test run forever. Default 2 minutes.
	StartTimeout time.Duration
	// StderrTail is how many bytes of the process's stderr are kept for
	// error messages. Default 64 KiB.
	StderrTail int
}

// DefaultScript returns the nova_oracle.py of the source tree this package
// was compiled from, so tests and tools need no configuration in a
// checkout.
func DefaultScript() string {
	if s := os.Getenv(EnvScript); s != "" {
		return s
	}
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("oracle", "nova_oracle.py")
	}
	return filepath.Join(filepath.Dir(here), "..", "..", "oracle", "nova_oracle.py")
}

// DefaultPythonPath returns $NOVA_ORACLE_PYTHON or DefaultPython.
func DefaultPythonPath() string {
	if p := os.Getenv(EnvPython); p != "" {
		return p
	}
	return DefaultPython
}

// Probe reports whether python can import nova, so tests can skip with a
// precise reason on machines where oracle/install.sh has not run. The error
// includes the interpreter's own message.
func Probe(ctx context.Context, python string) error {
	if python == "" {
		python = DefaultPythonPath()
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", "import nova").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import nova (run oracle/install.sh): %v: %s",
			python, err, bytes.TrimSpace(lastLines(out, 3)))
	}
	return nil
}

// ProcessError reports that the oracle process failed (would not start,
// exited, broke the protocol); it carries the tail of the process's stderr
// because that is where Python puts the traceback that explains it.
type ProcessError struct {
	// Op is what the client was doing: "start", "hello", "run", "protocol".
	Op string
	// Err is the underlying error (exit status, I/O error, bad line).
	Err error
	// Stderr is the last bytes the process wrote to stderr.
	Stderr string
}

// Error puts the stderr tail after the reason, because the reason alone
// ("exit status 1") rarely says what went wrong.
func (e *ProcessError) Error() string {
	msg := fmt.Sprintf("nova oracle: %s: %v", e.Op, e.Err)
	if e.Stderr != "" {
		msg += "\n--- oracle stderr (tail) ---\n" + e.Stderr
	}
	return msg
}

// Unwrap exposes the cause, so errors.Is can detect context.DeadlineExceeded
// during start-up.
func (e *ProcessError) Unwrap() error { return e.Err }

// Oracle is a running oracle process. Its methods are safe for concurrent
// use; the process handles one case at a time, in the order written.
type Oracle struct {
	cmd    *exec.Cmd
	stdin  *os.File
	stderr *tailBuffer
	hello  Hello

	lines chan []byte   // encoded case lines, consumed by the writer goroutine
	quit  chan struct{} // closed by Close: writer flushes, closes stdin

	mu      sync.Mutex
	pending map[string]waiter
	seq     uint64
	closed  bool

	dead    chan struct{} // closed when the process is gone (or unusable)
	deadErr error         // why; set before dead is closed

	closeOnce sync.Once
	closeErr  error
}

type waiter struct {
	ch  chan<- delivery
	idx int
}

type delivery struct {
	idx int
	ans wireAnswer
}

// wireCase is a Case as written to the process; ID is the client's own
// sequence number so answers map back even when Case IDs repeat.
type wireCase struct {
	ID       string          `json:"id"`
	Category string          `json:"category,omitempty"`
	Function string          `json:"function"`
	Input    json.RawMessage `json:"input"`
}

type wireAnswer struct {
	ID     *string `json:"id"`
	Expect *struct {
		Result json.RawMessage `json:"result"`
		Error  *string         `json:"error"`
	} `json:"expect"`
	ErrorStage  string  `json:"error_stage"`
	Message     string  `json:"message"`
	ElapsedNS   int64   `json:"elapsed_ns"`
	OracleError *string `json:"oracle_error"`
}

// Start launches the oracle and waits for its hello line (bounded by ctx, or
// by Options.StartTimeout if ctx has no deadline). The process outlives ctx;
// stop it with Close.
func Start(ctx context.Context, opts Options) (*Oracle, error) {
	if opts.Python == "" {
		opts.Python = DefaultPythonPath()
	}
	if opts.Script == "" {
		opts.Script = DefaultScript()
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	if opts.StderrTail <= 0 {
		opts.StderrTail = 64 << 10
	}
	if _, err := os.Stat(opts.Script); err != nil {
		return nil, &ProcessError{Op: "start", Err: fmt.Errorf("oracle script: %w (set Options.Script or $%s)", err, EnvScript)}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.StartTimeout)
		defer cancel()
	}

	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, &ProcessError{Op: "start", Err: err}
	}
	cmd := exec.Command(opts.Python, opts.Script)
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
	cmd.Env = append(cmd.Env, opts.Env...)
	cmd.Stdin = inR
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, &ProcessError{Op: "start", Err: err}
	}
	o := &Oracle{
		cmd:     cmd,
		stdin:   inW,
		stderr:  &tailBuffer{max: opts.StderrTail},
		lines:   make(chan []byte, 1024),
		quit:    make(chan struct{}),
		pending: map[string]waiter{},
		dead:    make(chan struct{}),
	}
	cmd.Stderr = o.stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		inR.Close()
		inW.Close()
		return nil, &ProcessError{Op: "start", Err: fmt.Errorf("%s %s: %w", opts.Python, opts.Script, err)}
	}
	inR.Close() // the child has its own copy

	br := bufio.NewReaderSize(stdout, 1<<20)
	helloCh := make(chan error, 1)
	go func() {
		line, err := br.ReadBytes('\n')
		if err != nil {
			helloCh <- fmt.Errorf("no hello line: %w", err)
			return
		}
		var h Hello
		if err := json.Unmarshal(line, &h); err != nil {
			helloCh <- fmt.Errorf("bad hello line %q: %w", truncate(line, 200), err)
			return
		}
		if h.Oracle != "nova" || h.Protocol != Protocol {
			helloCh <- fmt.Errorf("unexpected hello (want oracle \"nova\", protocol %d): %s", Protocol, truncate(line, 200))
			return
		}
		o.hello = h
		helloCh <- nil
	}()
	select {
	case err = <-helloCh:
	case <-ctx.Done():
		err = fmt.Errorf("waiting for hello: %w", ctx.Err())
	}
	if err != nil {
		_ = cmd.Process.Kill()
		inW.Close()
		werr := cmd.Wait()
		if werr != nil {
			err = fmt.Errorf("%w (process: %v)", err, werr)
		}
		return nil, &ProcessError{Op: "hello", Err: err, Stderr: o.stderr.String()}
	}

	go o.writeLoop()
	go o.readLoop(br)
	return o, nil
}

// Hello returns the oracle's start-up self-description.
func (o *Oracle) Hello() Hello { return o.hello }

// Version returns the Nova version the oracle runs (e.g. "26.2.2"), to be
// recorded next to every differential result.
func (o *Oracle) Version() string { return o.hello.NovaVersion }

// writeLoop is the only writer of the process's stdin: whole lines, never
// interrupted, so a caller's timeout cannot leave half a case in the pipe.
func (o *Oracle) writeLoop() {
	bw := bufio.NewWriterSize(o.stdin, 64<<10)
	defer o.stdin.Close()
	write := func(line []byte) bool {
		if _, err := bw.Write(line); err != nil {
			o.fail("run", fmt.Errorf("writing to oracle: %w", err))
			return false
		}
		return true
	}
	for {
		select {
		case line := <-o.lines:
			if !write(line) {
				return
			}
			if len(o.lines) == 0 {
				if err := bw.Flush(); err != nil {
					o.fail("run", fmt.Errorf("writing to oracle: %w", err))
					return
				}
			}
		case <-o.quit:
			// Write what is already queued, then EOF ends the script.
			for {
				select {
				case line := <-o.lines:
					if !write(line) {
						return
					}
					continue
				default:
				}
				break
			}
			_ = bw.Flush()
			return
		case <-o.dead:
			return
		}
	}
}

// readLoop is the only reader of the process's stdout; it hands each answer
// to whoever is waiting for it and drops answers nobody waits for any more
// (their caller timed out).
func (o *Oracle) readLoop(br *bufio.Reader) {
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var a wireAnswer
			if jerr := json.Unmarshal(line, &a); jerr != nil || a.ID == nil {
				o.fail("protocol", fmt.Errorf("bad answer line %q", truncate(line, 300)))
				o.kill()
				go func() { _ = o.cmd.Wait() }()
				return
			}
			o.mu.Lock()
			w, ok := o.pending[*a.ID]
			delete(o.pending, *a.ID)
			o.mu.Unlock()
			if ok {
				w.ch <- delivery{idx: w.idx, ans: a}
			}
		}
		if err != nil {
			if err == io.EOF {
				werr := o.cmd.Wait()
				if werr == nil {
					werr = errors.New("process exited (status 0)")
				} else {
					werr = fmt.Errorf("process exited: %w", werr)
				}
				o.fail("run", werr)
			} else {
				o.fail("run", fmt.Errorf("reading from oracle: %w", err))
				o.kill()
				go func() { _ = o.cmd.Wait() }()
			}
			return
		}
	}
}

// fail records why the oracle is unusable (first reason wins) and wakes
// every waiter.
func (o *Oracle) fail(op string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case <-o.dead:
		return
	default:
	}
	if o.closed {
		o.deadErr = ErrClosed
	} else {
		o.deadErr = &ProcessError{Op: op, Err: err, Stderr: o.stderr.String()}
	}
	close(o.dead)
}

func (o *Oracle) kill() {
	if o.cmd.Process != nil {
		_ = o.cmd.Process.Kill()
	}
}

func (o *Oracle) deadError() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.deadErr != nil {
		return o.deadErr
	}
	return ErrClosed
}

// register assigns a wire id to a case and records where its answer goes.
func (o *Oracle) register(c Case, w waiter) (string, []byte, error) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return "", nil, ErrClosed
	}
	o.seq++
	id := strconv.FormatUint(o.seq, 36)
	o.mu.Unlock()

	line, err := json.Marshal(wireCase{ID: id, Category: c.Category, Function: c.Function, Input: orNull(c.Input)})
	if err != nil {
		return "", nil, fmt.Errorf("nova oracle: case %q: cannot encode input: %w", c.ID, err)
	}
	line = append(line, '\n')

	o.mu.Lock()
	o.pending[id] = w
	o.mu.Unlock()
	return id, line, nil
}

func (o *Oracle) unregister(ids ...string) {
	o.mu.Lock()
	for _, id := range ids {
		delete(o.pending, id)
	}
	o.mu.Unlock()
}

// send queues one line for the writer goroutine.
func (o *Oracle) send(ctx context.Context, line []byte) error {
	// select picks at random among ready cases: without this check a case
	// under an already expired ctx would still be sent, and answered.
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case o.lines <- line:
		return nil
	case <-o.quit:
		return ErrClosed
	case <-o.dead:
		return o.deadError()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run has Nova compute one case. An error means no answer (timeout via ctx,
// dead process, unencodable input); a Nova exception is not an error but
// Answer.Error, and a case the oracle rejects is Answer.OracleError. After a
// ctx timeout the process keeps running and stays usable; the late answer is
// discarded.
func (o *Oracle) Run(ctx context.Context, c Case) (Answer, error) {
	ch := make(chan delivery, 1)
	id, line, err := o.register(c, waiter{ch: ch})
	if err != nil {
		return Answer{}, err
	}
	if err := o.send(ctx, line); err != nil {
		o.unregister(id)
		return Answer{}, err
	}
	select {
	case d := <-ch:
		return convert(c.ID, d.ans), nil
	case <-o.dead:
		// The answer may have been delivered just before the process died.
		select {
		case d := <-ch:
			return convert(c.ID, d.ans), nil
		default:
		}
		o.unregister(id)
		return Answer{}, o.deadError()
	case <-ctx.Done():
		o.unregister(id)
		return Answer{}, fmt.Errorf("nova oracle: case %q: %w", c.ID, ctx.Err())
	}
}

// RunAll has Nova compute every case and returns the answers in case order.
// Cases are written by one goroutine while answers are read by another, so
// the process never waits for the client. On error (ctx, dead process) no
// answers are returned; outstanding answers are discarded when they arrive.
func (o *Oracle) RunAll(ctx context.Context, cases []Case) ([]Answer, error) {
	if len(cases) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	ch := make(chan delivery, len(cases))
	errc := make(chan error, 1)
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		for i, c := range cases {
			id, line, err := o.register(c, waiter{ch: ch, idx: i})
			if err == nil {
				if err = o.send(ctx, line); err != nil {
					o.unregister(id)
				}
			}
			if err != nil {
				errc <- err
				return
			}
		}
	}()

	answers := make([]Answer, len(cases))
	var err error
	for got := 0; got < len(cases) && err == nil; {
		select {
		case d := <-ch:
			answers[d.idx] = convert(cases[d.idx].ID, d.ans)
			got++
		case err = <-errc:
		case <-o.dead:
			err = o.deadError()
		case <-ctx.Done():
			err = fmt.Errorf("nova oracle: batch of %d cases: %w", len(cases), ctx.Err())
		}
	}
	if err != nil {
		// Stop the feeder, then forget every case of this batch that is
		// still outstanding; their answers are dropped when they arrive.
		cancel()
		<-fed
		o.mu.Lock()
		for id, w := range o.pending {
			if w.ch == ch {
				delete(o.pending, id)
			}
		}
		o.mu.Unlock()
		return nil, err
	}
	return answers, nil
}

// Close ends the oracle: it closes the process's stdin (the script exits on
// EOF) and waits up to 10 seconds before killing it. It returns the reason
// the process had died, if it died on its own before Close.
func (o *Oracle) Close() error {
	o.closeOnce.Do(func() {
		o.mu.Lock()
		var earlier error
		select {
		case <-o.dead:
			earlier = o.deadErr
		default:
		}
		o.closed = true
		o.mu.Unlock()
		close(o.quit)
		select {
		case <-o.dead:
		case <-time.After(10 * time.Second):
			o.kill()
			<-o.dead
		}
		o.closeErr = earlier
	})
	return o.closeErr
}

func convert(caseID string, a wireAnswer) Answer {
	ans := Answer{ID: caseID, ElapsedNS: a.ElapsedNS, ErrorStage: a.ErrorStage}
	switch {
	case a.OracleError != nil:
		ans.OracleError = *a.OracleError
		if ans.OracleError == "" {
			ans.OracleError = "unspecified oracle error"
		}
	case a.Expect == nil:
		ans.OracleError = "answer has neither expect nor oracle_error"
	case a.Expect.Error != nil:
		ans.Error = *a.Expect.Error
		ans.ErrorMessage = a.Message
	case len(a.Expect.Result) == 0:
		ans.OracleError = "answer's expect has neither result nor error"
	default:
		ans.Result = a.Expect.Result
	}
	return ans
}

func orNull(m json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(m)) == 0 {
		return json.RawMessage("null")
	}
	return m
}

func truncate(b []byte, n int) string {
	b = bytes.TrimRight(b, "\n")
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

func lastLines(b []byte, n int) []byte {
	b = bytes.TrimRight(b, "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}

// tailBuffer keeps the last max bytes written to it: the process's stderr
// must be drained continuously (or the process blocks) but only its end
// explains a failure.
type tailBuffer struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
		t.dropped = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dropped {
		return "[...]" + string(t.buf)
	}
	return string(t.buf)
}
