package domain

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// XML renders the fragments as indented domain XML elements, in the order
// libvirt writes them in a domain (memoryBacking, vcpu, iothreads, cputune,
// numatune, cpu), for reports and for operators comparing by eye. <vcpu>
// shows only its cpuset and <cpu> only its <numa>: the rest of those
// elements is not Nova's NUMA code's doing. The empty string means Nova
// writes none of these elements.
func (f Fragments) XML() (string, error) {
	var parts []string
	add := func(name string, v any) error {
		var b strings.Builder
		enc := xml.NewEncoder(&b)
		enc.Indent("", "  ")
		if err := enc.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: name}}); err != nil {
			return fmt.Errorf("rendering <%s>: %w", name, err)
		}
		if err := enc.Flush(); err != nil {
			return fmt.Errorf("rendering <%s>: %w", name, err)
		}
		parts = append(parts, selfClose(b.String()))
		return nil
	}
	if f.MemoryBacking != nil {
		if err := add("memoryBacking", f.MemoryBacking); err != nil {
			return "", err
		}
	}
	if f.VCPUCPUSet != nil {
		parts = append(parts, fmt.Sprintf("<vcpu cpuset=%q/>", f.VCPUCPUSet.String()))
	}
	if f.IOThreads != 0 {
		parts = append(parts, fmt.Sprintf("<iothreads>%d</iothreads>", f.IOThreads))
	}
	if f.CPUTune != nil {
		if err := add("cputune", f.CPUTune); err != nil {
			return "", err
		}
	}
	if f.NUMATune != nil {
		if err := add("numatune", f.NUMATune); err != nil {
			return "", err
		}
	}
	if f.CPUNUMA != nil {
		var b strings.Builder
		enc := xml.NewEncoder(&b)
		enc.Indent("  ", "  ")
		if err := enc.EncodeElement(f.CPUNUMA, xml.StartElement{Name: xml.Name{Local: "numa"}}); err != nil {
			return "", fmt.Errorf("rendering <cpu><numa>: %w", err)
		}
		if err := enc.Flush(); err != nil {
			return "", fmt.Errorf("rendering <cpu><numa>: %w", err)
		}
		parts = append(parts, "<cpu>\n"+selfClose(b.String())+"\n</cpu>")
	}
	return strings.Join(parts, "\n"), nil
}

// selfClose turns every <x ...></x> into <x .../>.
func selfClose(s string) string {
	return emptyElement.ReplaceAllStringFunc(s, func(m string) string {
		sub := emptyElement.FindStringSubmatch(m)
		if sub[1] != sub[3] {
			return m
		}
		return "<" + sub[1] + sub[2] + "/>"
	})
}
