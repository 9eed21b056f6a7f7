// Package openstack is the OpenStack side of the conformance harness: it
// connects to a cloud from clouds.yaml, creates run-scoped flavors and
// servers whose cleanup is registered with the caller's test framework, and
// reads back what Nova says it placed (host, instance name, NUMA topology)
// so that it can be compared with the live libvirt XML.
package openstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	gopenstack "github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/config"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	"github.com/gophercloud/gophercloud/v2/openstack/utils"
	"go.yaml.in/yaml/v3"
)

// Microversions the harness relies on. They are named so that skips and
// errors can say exactly which API feature was missing.
const (
	// MicroversionNetworksNone allows booting with networks "none", so the
	// harness needs no Neutron network.
	MicroversionNetworksNone = "2.37"
	// MicroversionTags allows tagging servers with the run ID at boot.
	MicroversionTags = "2.52"
	// MicroversionTopology exposes GET /servers/{id}/topology.
	MicroversionTopology = "2.78"
	// MicroversionServerDefault is the ceiling used for server calls: new
	// enough for everything above, old enough that response shapes are the
	// ones gophercloud and this package were written against.
	MicroversionServerDefault = "2.79"
	// MicroversionExtraSpecValidation is where Nova starts rejecting unknown
	// or invalid flavor extra specs with 400.
	MicroversionExtraSpecValidation = "2.86"
)

// httpTimeout bounds each single API request, independently of the
// caller's context, so that a hung service cannot stall a wait loop.
const httpTimeout = 60 * time.Second

// Cloud is an authenticated connection to one clouds.yaml entry. It is safe
// for concurrent use once returned by Connect.
type Cloud struct {
	// Name is the clouds.yaml entry this connection was made from.
	Name string
	// ConfigPath is the clouds.yaml file that was read.
	ConfigPath string

	provider *gophercloud.ProviderClient
	compute  *gophercloud.ServiceClient
	image    *gophercloud.ServiceClient
	// placement is nil when the catalog has no placement endpoint;
	// placementErr then says why, and only the calls that need placement
	// fail, since most checks never touch it.
	placement    *gophercloud.ServiceClient
	placementErr error

	minMajor, minMinor int
	maxMajor, maxMinor int
}

// cloudsYAMLLocations mirrors gophercloud's clouds.Parse search order so
// that we can report which file was actually used.
func cloudsYAMLLocations() []string {
	if p := os.Getenv("OS_CLIENT_CONFIG_FILE"); p != "" {
		return []string{p}
	}
	var locs []string
	if cwd, err := os.Getwd(); err == nil {
		locs = append(locs, filepath.Join(cwd, "clouds.yaml"))
	}
	if ucd, err := os.UserConfigDir(); err == nil {
		locs = append(locs, filepath.Join(ucd, "openstack", "clouds.yaml"))
	}
	return append(locs, filepath.Join("/etc", "openstack", "clouds.yaml"))
}

// Connect reads cloudName from clouds.yaml (OS_CLIENT_CONFIG_FILE, else the
// standard locations), authenticates, and negotiates the compute
// microversion. Every failure is a *ConnectError naming the cloud and file.
func Connect(ctx context.Context, cloudName string) (*Cloud, error) {
	locs := cloudsYAMLLocations()
	cerr := func(kind ConnectErrorKind, path string, err error) error {
		return &ConnectError{Cloud: cloudName, Path: path, Searched: locs, Kind: kind, Err: err}
	}
	if cloudName == "" {
		return nil, cerr(MissingCloud, "", errors.New("empty cloud name"))
	}
	path := ""
	var raw []byte
	for _, l := range locs {
		b, err := os.ReadFile(l)
		if err == nil {
			path, raw = l, b
			break
		}
	}
	if path == "" {
		return nil, cerr(NoConfig, "", nil)
	}

	// Check the entry ourselves: gophercloud's message names neither the
	// file nor the entries that do exist.
	var doc struct {
		Clouds map[string]any `yaml:"clouds"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, cerr(BadConfig, path, err)
	}
	if _, ok := doc.Clouds[cloudName]; !ok {
		names := make([]string, 0, len(doc.Clouds))
		for n := range doc.Clouds {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, cerr(MissingCloud, path, fmt.Errorf("no entry %q under clouds:; entries present: [%s]", cloudName, strings.Join(names, ", ")))
	}

	ao, eo, tlsConfig, err := clouds.Parse(clouds.WithCloudName(cloudName), clouds.WithLocations(path))
	if err != nil {
		return nil, cerr(BadConfig, path, err)
	}
	ao.AllowReauth = true

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	hc := http.Client{Transport: transport, Timeout: httpTimeout}
	provider, err := config.NewProviderClient(ctx, ao, config.WithHTTPClient(hc))
	if err != nil {
		return nil, cerr(classify(err), path, fmt.Errorf("authenticate at %s: %w", ao.IdentityEndpoint, err))
	}

	compute, err := gopenstack.NewComputeV2(provider, eo)
	if err != nil {
		return nil, cerr(ServiceError, path, fmt.Errorf("compute endpoint: %w", err))
	}
	image, err := gopenstack.NewImageV2(provider, eo)
	if err != nil {
		return nil, cerr(ServiceError, path, fmt.Errorf("image endpoint: %w", err))
	}

	placement, placementErr := gopenstack.NewPlacementV1(provider, eo)
	if placementErr != nil {
		placementErr = fmt.Errorf("placement endpoint: %w", placementErr)
	}

	mv, err := utils.GetSupportedMicroversions(ctx, compute)
	if err != nil {
		return nil, cerr(classify(err), path, fmt.Errorf("compute microversions at %s: %w", compute.Endpoint, err))
	}
	c := &Cloud{
		Name: cloudName, ConfigPath: path,
		provider: provider, compute: compute, image: image,
		placement: placement, placementErr: placementErr,
		minMajor: mv.MinMajor, minMinor: mv.MinMinor,
		maxMajor: mv.MaxMajor, maxMinor: mv.MaxMinor,
	}
	if !c.Supports(MicroversionNetworksNone) {
		return nil, cerr(ServiceError, path, &MicroversionError{Operation: "booting servers without networks", Need: MicroversionNetworksNone, Have: c.Microversion()})
	}
	return c, nil
}

// classify maps transport and HTTP failures to a ConnectErrorKind.
func classify(err error) ConnectErrorKind {
	if gophercloud.ResponseCodeIs(err, http.StatusUnauthorized) {
		return BadCredentials
	}
	var uerr *url.Error
	var nerr *net.OpError
	if errors.As(err, &nerr) || errors.As(err, &uerr) || errors.Is(err, context.DeadlineExceeded) {
		return Unreachable
	}
	return ServiceError
}

// Microversion is the highest compute API microversion the cloud offers,
// e.g. "2.96"; tests use it to decide which checks are possible.
func (c *Cloud) Microversion() string {
	return fmt.Sprintf("%d.%d", c.maxMajor, c.maxMinor)
}

// Supports reports whether the cloud offers compute microversion v.
// Malformed versions are reported as unsupported.
func (c *Cloud) Supports(v string) bool {
	maj, mnr, err := utils.ParseMicroversion(v)
	if err != nil {
		return false
	}
	return maj < c.maxMajor || (maj == c.maxMajor && mnr <= c.maxMinor)
}

// checkMicroversion returns nil when the cloud offers compute microversion
// v for operation, a *MicroversionError when v is above the cloud's max,
// and a plain error when v is malformed or below the cloud's min.
func (c *Cloud) checkMicroversion(operation, v string) error {
	maj, mnr, err := utils.ParseMicroversion(v)
	if err != nil {
		return fmt.Errorf("openstack: %s: compute microversion %q is not MAJOR.MINOR: %w", operation, v, err)
	}
	if !c.Supports(v) {
		return &MicroversionError{Operation: operation, Need: v, Have: c.Microversion()}
	}
	if maj < c.minMajor || (maj == c.minMajor && mnr < c.minMinor) {
		return fmt.Errorf("openstack: %s: compute microversion %s is below cloud %q's min %d.%d", operation, v, c.Name, c.minMajor, c.minMinor)
	}
	return nil
}

// computeAt returns a copy of the compute client pinned to min(want, max).
func (c *Cloud) computeAt(want string) *gophercloud.ServiceClient {
	sc := *c.compute
	if c.Supports(want) {
		sc.Microversion = want
	} else {
		sc.Microversion = c.Microversion()
	}
	return &sc
}

// computeMax returns a copy of the compute client at the cloud's max
// microversion; flavor calls use it so that Nova validates extra specs.
func (c *Cloud) computeMax() *gophercloud.ServiceClient {
	sc := *c.compute
	sc.Microversion = c.Microversion()
	return &sc
}
