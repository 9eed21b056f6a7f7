// Package domain builds the libvirt XML fragments Nova's libvirt driver
// writes for a guest (LibvirtDriver._get_guest_numa_config,
// _get_guest_memory_backing_config), as libvirtxml values, and compares
// fragments semantically.
package domain
