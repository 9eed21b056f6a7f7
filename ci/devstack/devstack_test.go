// Package devstack keeps ci/devstack, the set-up for users' nightly CI on a real devstack
// (local.conf, the L1 VM's libvirt domain, its huge pages unit), consistent with the embedded
// local cloud of ci/local-cloud. Neither can run the other here, so this test compares the
// files option by option: what decides the NUMA layouts Nova produces must be the same on both.
// It only reads files (relative to this directory) and runs in milliseconds.
package devstack

import (
	"encoding/xml"
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/hosts"
	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
)

// The files compared, relative to this directory.
const (
	localConf     = "local.conf"
	l1VM          = "l1-vm.xml"
	hugePagesUnit = "numa-hugepages.service"
	readme        = "README.md"
	nightly       = "nightly.sh"

	cloudEnv         = "../local-cloud/cloud.env"
	computeVM        = "../local-cloud/compute-vm.sh"
	novaComputeIn    = "../local-cloud/compute/nova-compute.conf.in"
	computeInit      = "../local-cloud/compute/init.sh"
	controllerConfig = "../local-cloud/lib-controller-config.sh"
)

// Meta-sections of local.conf that carry Nova options.
const (
	novaConf    = "post-config|$NOVA_CONF"
	novaCPUConf = "post-config|$NOVA_CPU_CONF"
)

// repoPath names a file as it is in the repository, for messages.
func repoPath(rel string) string { return path.Join("ci/devstack", rel) }

func read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(rel)
	if err != nil {
		t.Fatalf("%s: %v", repoPath(rel), err)
	}
	return string(b)
}

// value is one side of a comparison: the value and where it comes from.
type value struct {
	v     string
	where string // file and the option or line it was read from
}

// disagree reports that the two sides of option differ.
func disagree(t *testing.T, option string, dev, cloud value) {
	t.Helper()
	t.Errorf("%s disagrees:\n  %s: %q\n  %s: %q\nchange both together (ci/devstack/README.md)",
		option, dev.where, dev.v, cloud.where, cloud.v)
}

// sameString compares two values after trimming spaces.
func sameString(t *testing.T, option string, dev, cloud value) {
	t.Helper()
	if strings.TrimSpace(dev.v) != strings.TrimSpace(cloud.v) {
		disagree(t, option, dev, cloud)
	}
}

// sameCPUs compares two CPU lists as sets ("0-1" equals "0,1").
func sameCPUs(t *testing.T, option string, dev, cloud value) {
	t.Helper()
	a, err := cpuset.Parse(dev.v)
	if err != nil {
		t.Errorf("%s: %s: %q is not a CPU list: %v", option, dev.where, dev.v, err)
		return
	}
	b, err := cpuset.Parse(cloud.v)
	if err != nil {
		t.Errorf("%s: %s: %q is not a CPU list: %v", option, cloud.where, cloud.v, err)
		return
	}
	if !a.Equal(b) {
		disagree(t, option, dev, cloud)
	}
}

// ---- INI files and devstack's local.conf -----------------------------------------------------

// ini holds options by section, then key.
type ini map[string]map[string]string

// get returns an option, failing the test when it is missing.
func (c ini) get(t *testing.T, file, meta, section, key string) value {
	t.Helper()
	where := fmt.Sprintf("%s [%s] %s", repoPath(file), section, key)
	if meta != "" {
		where = fmt.Sprintf("%s [[%s]] [%s] %s", repoPath(file), meta, section, key)
	}
	v, ok := c[section][key]
	if !ok {
		t.Fatalf("%s: not set", where)
	}
	return value{v, where}
}

// parseINI reads oslo.config-style lines: [section], key = value, # comments. Lines that are
// neither (a template's @PLACEHOLDER@ line) are skipped. A key set twice in one section is an
// error: devstack would turn it into a multi-valued option.
func parseINI(lines []string) (ini, error) {
	c := ini{}
	section := ""
	for _, line := range lines {
		s := strings.TrimSpace(line)
		switch {
		case s == "" || strings.HasPrefix(s, "#") || strings.HasPrefix(s, ";"):
		case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
			section = strings.TrimSpace(s[1 : len(s)-1])
		default:
			k, v, ok := strings.Cut(s, "=")
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if c[section] == nil {
				c[section] = map[string]string{}
			}
			if _, dup := c[section][k]; dup {
				return nil, fmt.Errorf("[%s] %s is set twice", section, k)
			}
			c[section][k] = v
		}
	}
	return c, nil
}

// localConfig is a devstack local.conf: the shell variables of [[local|localrc]] and the
// options of each [[post-config|FILE]] meta-section.
type localConfig struct {
	localrc map[string]string
	post    map[string]ini
}

var (
	metaHeader = regexp.MustCompile(`^\[\[\s*([^|\]]+?)\s*\|\s*([^\]]+?)\s*\]\]\s*$`)
	shellAssig = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
)

func parseLocalConf(t *testing.T, text string) localConfig {
	t.Helper()
	lc := localConfig{localrc: map[string]string{}, post: map[string]ini{}}
	blocks := map[string][]string{}
	var order []string
	cur := ""
	for _, line := range strings.Split(text, "\n") {
		if m := metaHeader.FindStringSubmatch(line); m != nil {
			cur = m[1] + "|" + m[2]
			if _, dup := blocks[cur]; dup {
				t.Fatalf("%s: [[%s]] appears twice", repoPath(localConf), cur)
			}
			blocks[cur] = nil
			order = append(order, cur)
			continue
		}
		if cur != "" {
			blocks[cur] = append(blocks[cur], line)
		}
	}
	for _, name := range order {
		switch {
		case name == "local|localrc":
			for _, line := range blocks[name] {
				m := shellAssig.FindStringSubmatch(strings.TrimSpace(line))
				if m == nil {
					continue
				}
				v := m[2]
				if i := strings.Index(v, " #"); i >= 0 {
					v = v[:i]
				}
				lc.localrc[m[1]] = strings.Trim(strings.TrimSpace(v), `"'`)
			}
		case strings.HasPrefix(name, "post-config|"):
			c, err := parseINI(blocks[name])
			if err != nil {
				t.Fatalf("%s [[%s]]: %v", repoPath(localConf), name, err)
			}
			lc.post[name] = c
		}
	}
	if _, ok := blocks["local|localrc"]; !ok {
		t.Fatalf("%s: no [[local|localrc]] meta-section", repoPath(localConf))
	}
	return lc
}

// postConfig returns the options of one [[post-config|FILE]] meta-section.
func (lc localConfig) postConfig(t *testing.T, meta string) ini {
	t.Helper()
	c, ok := lc.post[meta]
	if !ok {
		t.Fatalf("%s: no [[%s]] meta-section", repoPath(localConf), meta)
	}
	return c
}

// ---- the local cloud's shell scripts ----------------------------------------------------------

// shellDefault finds NAME's default, `: "${NAME:=VALUE}"`, in the first of files that sets it:
// compute-vm.sh sources cloud.env first, so cloud.env's default wins.
func shellDefault(t *testing.T, name string, files ...string) value {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\s*:\s*"\$\{` + regexp.QuoteMeta(name) + `:=([^}]*)\}"`)
	for _, f := range files {
		if m := re.FindStringSubmatch(read(t, f)); m != nil {
			return value{m[1], fmt.Sprintf("%s (default of %s)", repoPath(f), name)}
		}
	}
	t.Fatalf("no default for %s in %s", name, strings.Join(mapSlice(files, repoPath), ", "))
	return value{}
}

func mapSlice(s []string, f func(string) string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = f(x)
	}
	return out
}

var placeholder = regexp.MustCompile(`^@([A-Z0-9_]+)@$`)

// computeOption is an option of the compute VM's nova-compute.conf: the template's value, or,
// for an @NAME@ placeholder, the default compute-vm.sh renders it with.
func computeOption(t *testing.T, section, key string) value {
	t.Helper()
	c, err := parseINI(strings.Split(read(t, novaComputeIn), "\n"))
	if err != nil {
		t.Fatalf("%s: %v", repoPath(novaComputeIn), err)
	}
	v := c.get(t, novaComputeIn, "", section, key)
	if m := placeholder.FindStringSubmatch(v.v); m != nil {
		d := shellDefault(t, m[1], cloudEnv, computeVM)
		return value{d.v, fmt.Sprintf("%s = %s, rendered from %s", v.where, v.v, d.where)}
	}
	return v
}

// splitSets returns the [compute] CPU sets compute-vm.sh writes for COMPUTE_CPU_MODE=split,
// from its line `split) printf 'cpu_shared_set = 0-1\ncpu_dedicated_set = 2-3\n' ;;`.
func splitSets(t *testing.T) map[string]value {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*split\)\s*printf\s+'([^']*)'`).FindStringSubmatch(read(t, computeVM))
	if m == nil {
		t.Fatalf("%s: no `split) printf '...'` line in cpu_sets()", repoPath(computeVM))
	}
	sets := map[string]value{}
	for _, line := range strings.Split(m[1], `\n`) {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		sets[k] = value{strings.TrimSpace(v), fmt.Sprintf("%s (COMPUTE_CPU_MODE=split) [compute] %s", repoPath(computeVM), k)}
	}
	for _, k := range []string{"cpu_shared_set", "cpu_dedicated_set"} {
		if _, ok := sets[k]; !ok {
			t.Fatalf("%s: the split mode sets no %s (line: %q)", repoPath(computeVM), k, m[0])
		}
	}
	return sets
}

// computeVMTopology is the compute VM's QEMU topology, from compute-vm.sh's -smp and -numa
// arguments and cloud.env's defaults.
type computeVMTopology struct {
	vcpus, cores, threads value
	nodes                 []value // CPUs of node 0, 1, ...
	nodeMemMB             value
	cpuModel              value
}

func localCloudTopology(t *testing.T) computeVMTopology {
	t.Helper()
	src := read(t, computeVM)
	var top computeVMTopology
	m := regexp.MustCompile(`-smp "(\d+),sockets=[^,]*,cores=(\d+),threads=`).FindStringSubmatch(src)
	if m == nil {
		t.Fatalf(`%s: no -smp "N,sockets=...,cores=N,threads=..." argument`, repoPath(computeVM))
	}
	top.vcpus = value{m[1], repoPath(computeVM) + " (-smp)"}
	top.cores = value{m[2], repoPath(computeVM) + " (-smp cores)"}
	top.threads = shellDefault(t, "COMPUTE_SMP_THREADS", cloudEnv, computeVM)
	for i, n := range regexp.MustCompile(`-numa node,nodeid=(\d+),cpus=([0-9-]+)`).FindAllStringSubmatch(src, -1) {
		if n[1] != strconv.Itoa(i) {
			t.Fatalf("%s: -numa nodeid=%s is argument %d; want the nodes in order", repoPath(computeVM), n[1], i)
		}
		top.nodes = append(top.nodes, value{n[2], fmt.Sprintf("%s (-numa node,nodeid=%s)", repoPath(computeVM), n[1])})
	}
	if len(top.nodes) == 0 {
		t.Fatalf("%s: no -numa node,nodeid=N,cpus=... arguments", repoPath(computeVM))
	}
	top.nodeMemMB = shellDefault(t, "COMPUTE_NODE_MEM_MB", cloudEnv, computeVM)
	top.cpuModel = shellDefault(t, "COMPUTE_QEMU_CPU", cloudEnv, computeVM)
	return top
}

// ---- the option checks -------------------------------------------------------------------------

func TestNovaOptionsMatchLocalCloud(t *testing.T) {
	lc := parseLocalConf(t, read(t, localConf))
	nova := lc.postConfig(t, novaConf)
	cpu := lc.postConfig(t, novaCPUConf)

	t.Run("enabled_filters", func(t *testing.T) {
		dev := nova.get(t, localConf, novaConf, "filter_scheduler", "enabled_filters")
		// [filter_scheduler] of the nova.conf heredoc in ctl_render_nova
		re := regexp.MustCompile(`(?m)^\[filter_scheduler\]\n(?:[^\[\n].*\n|\n)*?enabled_filters\s*=\s*(\S.*)$`)
		all := re.FindAllStringSubmatch(read(t, controllerConfig), -1)
		if len(all) != 1 {
			t.Fatalf("%s: want one [filter_scheduler] enabled_filters line, found %d", repoPath(controllerConfig), len(all))
		}
		cloud := value{all[0][1], repoPath(controllerConfig) + " (nova.conf [filter_scheduler] enabled_filters)"}
		// the order of filters changes nothing Nova decides: compare them as sets
		a, b := filterSet(dev.v), filterSet(cloud.v)
		if !slices.Equal(a, b) {
			disagree(t, "[filter_scheduler] enabled_filters", dev, cloud)
		}
		if !slices.Contains(a, "NUMATopologyFilter") {
			t.Errorf("%s: %q lacks NUMATopologyFilter (not a default in Zed)", dev.where, dev.v)
		}
	})

	t.Run("cpu sets (split mode)", func(t *testing.T) {
		sets := splitSets(t)
		for _, k := range []string{"cpu_shared_set", "cpu_dedicated_set"} {
			sameCPUs(t, "[compute] "+k, cpu.get(t, localConf, novaCPUConf, "compute", k), sets[k])
		}
	})

	t.Run("reserved_host_memory_mb", func(t *testing.T) {
		sameString(t, "[DEFAULT] reserved_host_memory_mb",
			cpu.get(t, localConf, novaCPUConf, "DEFAULT", "reserved_host_memory_mb"),
			computeOption(t, "DEFAULT", "reserved_host_memory_mb"))
	})

	for _, k := range []string{"virt_type", "cpu_mode"} {
		t.Run(k, func(t *testing.T) {
			sameString(t, "[libvirt] "+k, cpu.get(t, localConf, novaCPUConf, "libvirt", k), computeOption(t, "libvirt", k))
		})
	}

	t.Run("localrc agrees with post-config", func(t *testing.T) {
		// devstack writes LIBVIRT_TYPE and LIBVIRT_CPU_MODE into nova.conf, which nova-cpu.conf
		// starts from: they must say what the post-config says.
		for v, k := range map[string]string{"LIBVIRT_TYPE": "virt_type", "LIBVIRT_CPU_MODE": "cpu_mode"} {
			rc, ok := lc.localrc[v]
			if !ok {
				t.Errorf("%s [[local|localrc]]: %s is not set (devstack's default would differ)", repoPath(localConf), v)
				continue
			}
			sameString(t, "[libvirt] "+k+" vs "+v, value{rc, repoPath(localConf) + " [[local|localrc]] " + v},
				cpu.get(t, localConf, novaCPUConf, "libvirt", k))
		}
		if d := lc.localrc["VIRT_DRIVER"]; d != "libvirt" {
			t.Errorf("%s [[local|localrc]]: VIRT_DRIVER is %q, want libvirt", repoPath(localConf), d)
		}
	})

	t.Run("huge pages per node", func(t *testing.T) {
		unit := read(t, hugePagesUnit)
		m := regexp.MustCompile(`(?m)^Environment=HUGEPAGES_PER_NODE=(\d+)\s*$`).FindStringSubmatch(unit)
		if m == nil {
			t.Fatalf("%s: no Environment=HUGEPAGES_PER_NODE=N line", repoPath(hugePagesUnit))
		}
		sameString(t, "2 MiB huge pages per NUMA node",
			value{m[1], repoPath(hugePagesUnit) + " (HUGEPAGES_PER_NODE)"},
			shellDefault(t, "COMPUTE_HUGEPAGES_PER_NODE", cloudEnv, computeVM))

		sizes := regexp.MustCompile(`hugepages/hugepages-(\d+kB)/nr_hugepages`)
		dev := sizes.FindAllStringSubmatch(unit, -1)
		cloud := sizes.FindStringSubmatch(read(t, computeInit))
		if len(dev) == 0 || cloud == nil {
			t.Fatalf("huge page size: no .../hugepages-NkB/nr_hugepages path in %s or %s", repoPath(hugePagesUnit), repoPath(computeInit))
		}
		for _, d := range dev {
			sameString(t, "huge page size", value{d[1], repoPath(hugePagesUnit)}, value{cloud[1], repoPath(computeInit)})
		}
		before := regexp.MustCompile(`(?m)^Before=(.*)$`).FindStringSubmatch(unit)
		for _, svc := range []string{"libvirtd.service", "devstack@n-cpu.service"} {
			if before == nil || !slices.Contains(strings.Fields(before[1]), svc) {
				t.Errorf("%s: the pages must be reserved before %s starts: want it in Before=", repoPath(hugePagesUnit), svc)
			}
		}
	})
}

func filterSet(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// ---- the L1 VM ------------------------------------------------------------------------------------

func TestL1VMMatchesComputeVM(t *testing.T) {
	var dom libvirtxml.Domain
	if err := dom.Unmarshal(read(t, l1VM)); err != nil {
		t.Fatalf("%s: %v", repoPath(l1VM), err)
	}
	top := localCloudTopology(t)
	x := func(what string) string { return repoPath(l1VM) + " " + what }

	if dom.Type != "kvm" && dom.Type != "qemu" {
		t.Errorf("%s: domain type %q, want kvm or qemu", repoPath(l1VM), dom.Type)
	}
	if dom.VCPU == nil {
		t.Fatalf("%s: no <vcpu>", repoPath(l1VM))
	}
	sameString(t, "vCPUs", value{strconv.FormatUint(uint64(dom.VCPU.Value), 10), x("<vcpu>")}, top.vcpus)

	c := dom.CPU
	if c == nil || c.Topology == nil || c.Numa == nil {
		t.Fatalf("%s: want <cpu> with <topology> and <numa>", repoPath(l1VM))
	}
	threads, _ := strconv.Atoi(top.threads.v)
	cores, _ := strconv.Atoi(top.cores.v)
	vcpus, _ := strconv.Atoi(top.vcpus.v)
	if threads <= 0 || cores <= 0 || vcpus%(threads*cores) != 0 {
		t.Fatalf("local cloud topology: %d vCPUs, %d cores, %d threads do not make whole sockets", vcpus, cores, threads)
	}
	sockets := value{strconv.Itoa(vcpus / (cores * threads)), fmt.Sprintf("%s / (cores %d x threads %d)", top.vcpus.where, cores, threads)}
	sameString(t, "sockets", value{strconv.Itoa(c.Topology.Sockets), x("<topology sockets>")}, sockets)
	sameString(t, "cores per socket", value{strconv.Itoa(c.Topology.Cores), x("<topology cores>")}, top.cores)
	sameString(t, "threads per core", value{strconv.Itoa(c.Topology.Threads), x("<topology threads>")}, top.threads)

	// The guest must see thread siblings: host-passthrough (the host's vendor), or a model
	// with the vendor the local cloud forces (-cpu max,vendor=GenuineIntel).
	if m := regexp.MustCompile(`vendor=(\w+)`).FindStringSubmatch(top.cpuModel.v); m != nil && c.Mode != "host-passthrough" {
		got := ""
		if c.Model != nil {
			got = c.Model.VendorID
		}
		if got != m[1] {
			t.Errorf("guest CPU: %s has mode %q and vendor_id %q; want host-passthrough, or a model with "+
				"vendor_id %q as %s = %q, or the guest may not see thread siblings",
				repoPath(l1VM), c.Mode, got, m[1], top.cpuModel.where, top.cpuModel.v)
		}
	}

	cells := c.Numa.Cell
	if len(cells) != len(top.nodes) {
		t.Fatalf("NUMA cells: %s has %d, %s has %d nodes", repoPath(l1VM), len(cells), repoPath(computeVM), len(top.nodes))
	}
	wantMB, err := strconv.ParseUint(top.nodeMemMB.v, 10, 64)
	if err != nil {
		t.Fatalf("%s: %q: %v", top.nodeMemMB.where, top.nodeMemMB.v, err)
	}
	var totalKiB uint64
	cellCPUs := make([]cpuset.CPUSet, len(cells))
	for i, cell := range cells {
		if cell.ID == nil || *cell.ID != uint(i) {
			t.Errorf("%s: NUMA cell %d has id %v, want %d", repoPath(l1VM), i, cell.ID, i)
		}
		sameCPUs(t, fmt.Sprintf("CPUs of NUMA node %d", i), value{cell.CPUs, x(fmt.Sprintf("<cell id='%d' cpus>", i))}, top.nodes[i])
		cellCPUs[i], _ = cpuset.Parse(cell.CPUs)
		kib, err := toKiB(uint64(cell.Memory), cell.Unit)
		if err != nil {
			t.Fatalf("%s: cell %d: %v", repoPath(l1VM), i, err)
		}
		totalKiB += kib
		// devstack's control plane shares the VM: more memory is fine, less is not the
		// local cloud's host any more
		if kib < wantMB*1024 {
			t.Errorf("memory of NUMA node %d: %s has %d MiB, less than the %d MiB of %s",
				i, x("<cell memory>"), kib/1024, wantMB, top.nodeMemMB.where)
		}
	}
	if mem, err := toKiB(uint64(dom.Memory.Value), dom.Memory.Unit); err != nil || mem != totalKiB {
		t.Errorf("%s: <memory> is %d %s, but the cells add up to %d MiB", repoPath(l1VM), dom.Memory.Value, dom.Memory.Unit, totalKiB/1024)
	}

	// The split CPU sets lie in the same nodes on both hosts (shared on node 0, dedicated on
	// node 1 today).
	lc := parseLocalConf(t, read(t, localConf))
	cpu := lc.postConfig(t, novaCPUConf)
	sets := splitSets(t)
	var nodeCPUs []cpuset.CPUSet
	for _, n := range top.nodes {
		s, _ := cpuset.Parse(n.v)
		nodeCPUs = append(nodeCPUs, s)
	}
	for _, k := range []string{"cpu_shared_set", "cpu_dedicated_set"} {
		dev := cpu.get(t, localConf, novaCPUConf, "compute", k)
		d, errD := cpuset.Parse(dev.v)
		l, errL := cpuset.Parse(sets[k].v)
		if errD != nil || errL != nil {
			continue // reported by TestNovaOptionsMatchLocalCloud
		}
		dn, ln := nodesOf(d, cellCPUs), nodesOf(l, nodeCPUs)
		if !slices.Equal(dn, ln) {
			t.Errorf("[compute] %s: %s = %s lies in NUMA nodes %v of %s, but %s = %s in nodes %v",
				k, dev.where, dev.v, dn, repoPath(l1VM), sets[k].where, sets[k].v, ln)
		}
		if !d.IsSubsetOf(union(cellCPUs)) {
			t.Errorf("[compute] %s: %s = %s names CPUs the L1 VM (%s) does not have", k, dev.where, dev.v, repoPath(l1VM))
		}
	}
}

// nodesOf lists the nodes whose CPUs s uses.
func nodesOf(s cpuset.CPUSet, nodes []cpuset.CPUSet) []int {
	var out []int
	for i, n := range nodes {
		if s.Intersects(n) {
			out = append(out, i)
		}
	}
	return out
}

func union(sets []cpuset.CPUSet) cpuset.CPUSet {
	var u cpuset.CPUSet
	for _, s := range sets {
		u = u.Union(s)
	}
	return u
}

// toKiB converts a libvirt memory size (unit as in the domain schema; KiB when empty).
func toKiB(n uint64, unit string) (uint64, error) {
	switch unit {
	case "b", "bytes":
		return n / 1024, nil
	case "", "k", "KiB":
		return n, nil
	case "KB":
		return n * 1000 / 1024, nil
	case "M", "MiB":
		return n << 10, nil
	case "MB":
		return n * 1000 * 1000 / 1024, nil
	case "G", "GiB":
		return n << 20, nil
	case "GB":
		return n * 1000 * 1000 * 1000 / 1024, nil
	}
	return 0, fmt.Errorf("memory unit %q not handled", unit)
}

// ---- the guide and the job ----------------------------------------------------------------------

// TestGuideAndJob checks what would otherwise drift silently: the README's harness hosts
// example parses with the harness's own parser and names local.conf's CPU sets, the devstack
// branch is the same in local.conf and nightly.sh, and nightly.sh's rewrites of l1-vm.xml
// still find what they rewrite.
func TestGuideAndJob(t *testing.T) {
	lc := parseLocalConf(t, read(t, localConf))
	cpu := lc.postConfig(t, novaCPUConf)
	shared := cpu.get(t, localConf, novaCPUConf, "compute", "cpu_shared_set")
	dedicated := cpu.get(t, localConf, novaCPUConf, "compute", "cpu_dedicated_set")

	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(read(t, readme), -1)
	n := 0
	for _, b := range blocks {
		if !strings.HasPrefix(strings.TrimSpace(b[1]), "hosts:") {
			continue
		}
		n++
		hs, err := hosts.ParseConfig(repoPath(readme), []byte(b[1]))
		if err != nil {
			t.Errorf("%s: the harness hosts example does not parse: %v", repoPath(readme), err)
			continue
		}
		for name, h := range hs {
			where := fmt.Sprintf("%s (hosts example, host %s)", repoPath(readme), name)
			sameCPUs(t, "cpu_shared_set", value{h.CPUSharedSet, where}, shared)
			sameCPUs(t, "cpu_dedicated_set", value{h.CPUDedicatedSet, where}, dedicated)
		}
	}
	if n == 0 {
		t.Errorf("%s: no ```yaml block starting with hosts: (the harness hosts example)", repoPath(readme))
	}

	job := read(t, nightly)
	m := regexp.MustCompile(`(?m)^: "\$\{DEVSTACK_BRANCH:=([^}]+)\}"`).FindStringSubmatch(job)
	if m == nil {
		t.Fatalf("%s: no DEVSTACK_BRANCH default", repoPath(nightly))
	}
	c := regexp.MustCompile(`git clone -b (\S+) https://opendev.org/openstack/devstack`).FindStringSubmatch(read(t, localConf))
	if c == nil {
		t.Fatalf("%s: no `git clone -b BRANCH https://opendev.org/openstack/devstack` line", repoPath(localConf))
	}
	sameString(t, "devstack branch", value{m[1], repoPath(nightly) + " (DEVSTACK_BRANCH)"}, value{c[1], repoPath(localConf) + " (git clone -b)"})
	if !strings.Contains(m[1], "zed") {
		t.Errorf("%s: DEVSTACK_BRANCH %q is not Zed's; the local cloud runs Nova 26 (Zed)", repoPath(nightly), m[1])
	}

	xmlText := read(t, l1VM)
	for _, r := range regexp.MustCompile(`-e "s\|([^|]+)\|`).FindAllStringSubmatch(job, -1) {
		if !strings.Contains(xmlText, r[1]) {
			t.Errorf("%s rewrites %q in %s, which no longer contains it", repoPath(nightly), r[1], repoPath(l1VM))
		}
	}
	// well-formed as plain XML too (libvirtxml ignores what it does not model)
	if err := xml.Unmarshal([]byte(xmlText), new(struct{})); err != nil {
		t.Errorf("%s: %v", repoPath(l1VM), err)
	}
}
