module github.com/numa-conformance/numa-conformance

go 1.26

require libvirt.org/go/libvirtxml v1.12008.0
