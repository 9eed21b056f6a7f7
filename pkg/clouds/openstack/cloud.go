// Package openstack is the OpenStack side of the conformance harness: it
// connects to a cloud from clouds.yaml, creates run-scoped flavors and
// servers whose cleanup is registered with the caller's test framework, and
// reads back what Nova says it placed (host, instance name, NUMA topology)
// so that it can be compared with the live libvirt XML.
package openstack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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
	// Name is the clouds.yaml entry this connection was made from, or
	// EnvSource for openrc variables.
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

// EnvSource is the Cloud.Name and ConnectError.Cloud of a connection made
// from openrc variables (OS_AUTH_URL, OS_USERNAME, ...) instead of a
// clouds.yaml entry.
const EnvSource = "(OS_* environment)"

// Connect reads cloudName from clouds.yaml (OS_CLIENT_CONFIG_FILE, else the
// standard locations), authenticates, and negotiates the compute
// microversion. With cloudName empty it reads openrc variables instead, as
// the openstack client does when OS_CLOUD is unset: OS_AUTH_URL,
// OS_USERNAME or OS_USER_ID, OS_PASSWORD (or an application credential),
// OS_PROJECT_NAME, the domain variables, OS_REGION_NAME, OS_INTERFACE and
// OS_CACERT. Every failure is a *ConnectError naming the cloud and file
// (or the environment).
func Connect(ctx context.Context, cloudName string) (*Cloud, error) {
	var (
		src connectSource
		err error
	)
	if cloudName == "" {
		src, err = fromEnv()
	} else {
		src, err = fromCloudsYAML(cloudName)
	}
	if err != nil {
		return nil, err
	}
	return connect(ctx, src)
}

// CheckConfig checks, offline, what Connect would read for cloudName: the
// clouds.yaml entry (it exists and parses), or with cloudName empty the
// openrc variables. The error is the *ConnectError Connect would return
// before contacting anything.
func CheckConfig(cloudName string) error {
	var err error
	if cloudName == "" {
		_, err = fromEnv()
	} else {
		_, err = fromCloudsYAML(cloudName)
	}
	return err
}

// connectSource is what Connect authenticates with, and where it came from.
type connectSource struct {
	name, path string
	searched   []string
	ao         gophercloud.AuthOptions
	eo         gophercloud.EndpointOpts
	tls        *tls.Config
}

func (s connectSource) fail(kind ConnectErrorKind, err error) error {
	return &ConnectError{Cloud: s.name, Path: s.path, Searched: s.searched, Kind: kind, Err: err}
}

// fromCloudsYAML reads one clouds.yaml entry.
func fromCloudsYAML(cloudName string) (connectSource, error) {
	src := connectSource{name: cloudName, searched: cloudsYAMLLocations()}
	var raw []byte
	for _, l := range src.searched {
		b, err := os.ReadFile(l)
		if err == nil {
			src.path, raw = l, b
			break
		}
	}
	if src.path == "" {
		return src, src.fail(NoConfig, nil)
	}
	// Check the entry ourselves: gophercloud's message names neither the
	// file nor the entries that do exist.
	var doc struct {
		Clouds map[string]any `yaml:"clouds"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return src, src.fail(BadConfig, err)
	}
	if _, ok := doc.Clouds[cloudName]; !ok {
		names := make([]string, 0, len(doc.Clouds))
		for n := range doc.Clouds {
			names = append(names, n)
		}
		sort.Strings(names)
		return src, src.fail(MissingCloud, fmt.Errorf("no entry %q under clouds:; entries present: [%s]", cloudName, strings.Join(names, ", ")))
	}
	var err error
	src.ao, src.eo, src.tls, err = clouds.Parse(clouds.WithCloudName(cloudName), clouds.WithLocations(src.path))
	if err != nil {
		return src, src.fail(BadConfig, err)
	}
	return src, nil
}

// fromEnv reads openrc variables.
func fromEnv() (connectSource, error) {
	src := connectSource{name: EnvSource, path: "(none: openrc variables)"}
	if os.Getenv("OS_AUTH_URL") == "" {
		return src, src.fail(NoCloud, errors.New("no OS_AUTH_URL either: set OS_CLOUD (a clouds.yaml entry), or source an openrc file"))
	}
	ao, err := authFromEnv()
	if err != nil {
		return src, src.fail(BadConfig, fmt.Errorf("openrc variables: %w", err))
	}
	src.ao = ao
	src.eo = gophercloud.EndpointOpts{Region: os.Getenv("OS_REGION_NAME"), Availability: gophercloud.AvailabilityPublic}
	switch strings.TrimSuffix(os.Getenv("OS_INTERFACE"), "URL") {
	case "internal":
		src.eo.Availability = gophercloud.AvailabilityInternal
	case "admin":
		src.eo.Availability = gophercloud.AvailabilityAdmin
	}
	if ca := os.Getenv("OS_CACERT"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return src, src.fail(BadConfig, fmt.Errorf("OS_CACERT: %w", err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return src, src.fail(BadConfig, fmt.Errorf("OS_CACERT: no PEM certificate in %s", ca))
		}
		src.tls = &tls.Config{RootCAs: pool}
	}
	return src, nil
}

// authFromEnv reads the credentials of a Keystone v3 openrc file. It does
// not use gophercloud's AuthOptionsFromEnv, which reads only OS_DOMAIN_*
// while openrc files set the user's and the project's domains apart
// (OS_USER_DOMAIN_NAME, OS_PROJECT_DOMAIN_NAME).
func authFromEnv() (gophercloud.AuthOptions, error) {
	get := func(names ...string) string {
		for _, n := range names {
			if v := os.Getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	ao := gophercloud.AuthOptions{
		IdentityEndpoint: get("OS_AUTH_URL"),
		Username:         get("OS_USERNAME"), UserID: get("OS_USER_ID", "OS_USERID"),
		Password:                    get("OS_PASSWORD"),
		ApplicationCredentialID:     get("OS_APPLICATION_CREDENTIAL_ID"),
		ApplicationCredentialName:   get("OS_APPLICATION_CREDENTIAL_NAME"),
		ApplicationCredentialSecret: get("OS_APPLICATION_CREDENTIAL_SECRET"),
		DomainID:                    get("OS_USER_DOMAIN_ID", "OS_DOMAIN_ID"),
		DomainName:                  get("OS_USER_DOMAIN_NAME", "OS_DOMAIN_NAME"),
	}
	appCred := ao.ApplicationCredentialSecret != ""
	switch {
	case !appCred && ao.Username == "" && ao.UserID == "":
		return ao, errors.New("no user: set OS_USERNAME (with OS_USER_DOMAIN_NAME) or OS_USER_ID, or an application credential")
	case !appCred && ao.Password == "":
		return ao, errors.New("no OS_PASSWORD")
	case ao.UserID == "" && !appCred && ao.DomainID == "" && ao.DomainName == "":
		return ao, errors.New("OS_USERNAME needs its domain: set OS_USER_DOMAIN_NAME (e.g. Default) or OS_USER_DOMAIN_ID")
	}
	if project := get("OS_PROJECT_ID", "OS_TENANT_ID"); project != "" {
		ao.Scope = &gophercloud.AuthScope{ProjectID: project}
	} else if name := get("OS_PROJECT_NAME", "OS_TENANT_NAME"); name != "" {
		ao.Scope = &gophercloud.AuthScope{ProjectName: name,
			DomainID:   get("OS_PROJECT_DOMAIN_ID"),
			DomainName: get("OS_PROJECT_DOMAIN_NAME", "OS_DOMAIN_NAME", "OS_USER_DOMAIN_NAME")}
		if ao.Scope.DomainID == "" && ao.Scope.DomainName == "" {
			return ao, errors.New("OS_PROJECT_NAME needs its domain: set OS_PROJECT_DOMAIN_NAME (e.g. Default) or OS_PROJECT_DOMAIN_ID")
		}
	}
	return ao, nil
}

// connect authenticates and negotiates the compute microversion.
func connect(ctx context.Context, src connectSource) (*Cloud, error) {
	ao := src.ao
	ao.AllowReauth = true
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = src.tls
	hc := http.Client{Transport: transport, Timeout: httpTimeout}
	provider, err := config.NewProviderClient(ctx, ao, config.WithHTTPClient(hc))
	if err != nil {
		return nil, src.fail(classify(err), fmt.Errorf("authenticate at %s: %w", ao.IdentityEndpoint, err))
	}
	compute, err := gopenstack.NewComputeV2(provider, src.eo)
	if err != nil {
		return nil, src.fail(ServiceError, fmt.Errorf("compute endpoint: %w", err))
	}
	image, err := gopenstack.NewImageV2(provider, src.eo)
	if err != nil {
		return nil, src.fail(ServiceError, fmt.Errorf("image endpoint: %w", err))
	}
	placement, placementErr := gopenstack.NewPlacementV1(provider, src.eo)
	if placementErr != nil {
		placementErr = fmt.Errorf("placement endpoint: %w", placementErr)
	}
	mv, err := utils.GetSupportedMicroversions(ctx, compute)
	if err != nil {
		return nil, src.fail(classify(err), fmt.Errorf("compute microversions at %s: %w", compute.Endpoint, err))
	}
	c := &Cloud{
		Name: src.name, ConfigPath: src.path,
		provider: provider, compute: compute, image: image,
		placement: placement, placementErr: placementErr,
		minMajor: mv.MinMajor, minMinor: mv.MinMinor,
		maxMajor: mv.MaxMajor, maxMinor: mv.MaxMinor,
	}
	if !c.Supports(MicroversionNetworksNone) {
		return nil, src.fail(ServiceError, &MicroversionError{Operation: "booting servers without networks", Need: MicroversionNetworksNone, Have: c.Microversion()})
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
