// Package expect computes what a libvirt domain should look like for a Nova
// server, and compares that with what the hypervisor really has.
//
// The computation is a reference re-implementation of Nova's NUMA logic,
// split by stage so each stage can be tested on its own:
//
//   - constraints: flavor extra specs + image properties -> the guest NUMA
//     topology Nova derives (numa_get_constraints), or Nova's error;
//   - fitter: guest topology + host usage -> the host cells, pinning and page
//     sizes Nova chooses (numa_fit_instance_to_host), and the usage it leaves;
//   - domain: fitted topology + host + compute config -> the libvirt XML
//     fragments Nova's driver writes.
//
// All of it is pure: no I/O, no clocks, no randomness.
package expect
