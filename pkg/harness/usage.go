package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/numa-conformance/numa-conformance/pkg/expect"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// Guest is one server whose NUMA usage counts on a host.
type Guest struct {
	ID       string                    `json:"id"`
	Name     string                    `json:"name"`
	Host     string                    `json:"host"`
	Topology topology.InstanceTopology `json:"topology"`
}

// Snapshot is the NUMA guests on a host at one moment, by server ID.
type Snapshot struct {
	Taken  time.Time
	Guests map[string]Guest
}

// Snapshot reads the servers on host with a NUMA topology (Nova's
// server topology API), leaving out exclude.
func (env *Env) Snapshot(ctx context.Context, host, exclude string) (*Snapshot, error) {
	s := &Snapshot{Taken: time.Now(), Guests: map[string]Guest{}}
	if env.Hosts[host].Info.Topology == nil {
		return s, nil
	}
	servers, err := env.Cloud.HostServers(ctx, host)
	if err != nil {
		return nil, err
	}
	for _, sv := range servers {
		if sv.ID == exclude || sv.Topology == nil || len(sv.Topology.Nodes) == 0 {
			continue
		}
		inst, err := sv.Topology.Instance()
		if err != nil {
			return nil, fmt.Errorf("server %s on %s: %w", sv.ID, host, err)
		}
		s.Guests[sv.ID] = Guest{ID: sv.ID, Name: sv.Name, Host: host, Topology: inst}
	}
	return s, nil
}

// Expect computes the expectation on host with exactly guests counted.
func (env *Env) Expect(host string, flavor topology.Flavor, image topology.ImageProps, guests []Guest) (*expect.Expected, error) {
	h := env.Hosts[host]
	req := expect.Request{Flavor: flavor, Image: image, HostOnlineCPUs: h.Info.OnlineCPUs, Config: h.Domain,
		Limits: h.Limits, Options: env.FitterOptions()}
	if h.Info.Topology != nil {
		var tops []topology.InstanceTopology
		for _, g := range guests {
			tops = append(tops, g.Topology)
		}
		used, err := expect.AccountUsage(*h.Info.Topology, tops, req.Options)
		if err != nil {
			return nil, fmt.Errorf("host %s: %w", host, err)
		}
		req.Host = &used
	}
	exp, err := expect.Compute(req)
	if err != nil {
		return nil, fmt.Errorf("host %s: %w", host, err)
	}
	return exp, nil
}

// Journal records, across the parallel processes of one run, when each
// server was created and where it landed. A server that another process
// created and deleted while this one booted is in neither snapshot; the
// journal is how its claim is known at all.
type Journal struct {
	path string
	mu   sync.Mutex
}

// JournalEntry is one server of the run that reached ACTIVE.
type JournalEntry struct {
	Guest
	// Created is when its create request was about to be sent.
	Created time.Time `json:"created"`
}

// OpenJournal uses the file at path, shared by all processes of a run.
func OpenJournal(path string) *Journal { return &Journal{path: path} }

// Record appends an entry. Each entry is one write of one line to a file
// opened for appending, which the kernel keeps whole between processes.
func (j *Journal) Record(e JournalEntry) error {
	if j == nil {
		return nil
	}
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	f, err := os.OpenFile(j.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	return errors.Join(err, f.Close())
}

// Entries reads every entry recorded so far.
func (j *Journal) Entries() ([]JournalEntry, error) {
	if j == nil {
		return nil, nil
	}
	f, err := os.Open(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []JournalEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e JournalEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}

// maxUncertain bounds the servers whose claim order is enumerated: 2^n
// expectations are computed.
const maxUncertain = 5

// claimCandidates returns the expectations for every order of claims that
// may have happened while a server booted on host between the snapshots
// before and after (both without the server itself). Servers present in
// both were counted for certain; those in only one of them, and servers
// of the run created in between (from the journal), may or may not have
// been counted when Nova claimed; each subset of them is one candidate.
// The first candidate is the one predicted before the boot.
func (env *Env) claimCandidates(host string, flavor topology.Flavor, image topology.ImageProps, self string, before, after *Snapshot, journal []JournalEntry) ([]Candidate, []string, error) {
	var certain []Guest
	uncertain := map[string]Guest{}
	for id, g := range before.Guests {
		if _, ok := after.Guests[id]; ok {
			certain = append(certain, g)
		} else {
			uncertain[id] = g
		}
	}
	for id, g := range after.Guests {
		if _, ok := before.Guests[id]; !ok {
			uncertain[id] = g
		}
	}
	for _, e := range journal {
		if e.ID == self || e.Host != host || !e.Created.After(before.Taken) || !e.Created.Before(after.Taken) {
			continue
		}
		if _, ok := before.Guests[e.ID]; ok {
			continue
		}
		if _, ok := uncertain[e.ID]; !ok {
			uncertain[e.ID] = e.Guest
		}
	}
	sortGuests(certain)
	var unc []Guest
	for _, g := range uncertain {
		unc = append(unc, g)
	}
	sortGuests(unc)

	var notes []string
	// The prediction made before the boot comes first.
	subsets := [][]Guest{present(unc, before)}
	if len(unc) > maxUncertain {
		notes = append(notes, fmt.Sprintf("%d servers came or went on %s during the boot; only the expectations before and after it are considered", len(unc), host))
		subsets = append(subsets, present(unc, after))
	} else {
		for mask := 0; mask < 1<<len(unc); mask++ {
			var sub []Guest
			for i, g := range unc {
				if mask&(1<<i) != 0 {
					sub = append(sub, g)
				}
			}
			subsets = append(subsets, sub)
		}
	}
	var out []Candidate
	seen := map[string]bool{}
	for i, sub := range subsets {
		guests := append(slices.Clone(certain), sub...)
		exp, err := env.Expect(host, flavor, image, guests)
		if err != nil {
			return nil, nil, err
		}
		key := string(exp.Outcome) + exp.FragmentsXML
		if seen[key] {
			continue
		}
		seen[key] = true
		snap := "before boot"
		if i > 0 {
			snap = "claims in another order: " + describe(sub)
		}
		out = append(out, Candidate{Snapshot: snap, Others: names(guests), Expected: exp})
	}
	if len(out) > 1 {
		notes = append(notes, fmt.Sprintf("servers came or went on %s while this one booted (%s); Nova's order of claims is not visible, so the fitter's expectation for each possible order is accepted",
			host, strings.Join(names(unc), ", ")))
	}
	return out, notes, nil
}

// present keeps the guests of unc that the snapshot holds.
func present(unc []Guest, snap *Snapshot) []Guest {
	var out []Guest
	for _, g := range unc {
		if _, ok := snap.Guests[g.ID]; ok {
			out = append(out, g)
		}
	}
	return out
}

func sortGuests(gs []Guest) {
	sort.Slice(gs, func(i, j int) bool { return gs[i].ID < gs[j].ID })
}

func names(gs []Guest) []string {
	out := []string{}
	for _, g := range gs {
		out = append(out, g.Name+" ("+g.ID+")")
	}
	return out
}

func describe(sub []Guest) string {
	if len(sub) == 0 {
		return "none of the concurrent servers counted"
	}
	return "counted " + strings.Join(names(sub), ", ")
}
