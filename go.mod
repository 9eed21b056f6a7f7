module github.com/numa-conformance/numa-conformance

go 1.26
