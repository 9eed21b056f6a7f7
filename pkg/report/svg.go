package report

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
)

// svgPicture is an SVG drawing, laid out in Go and written by the HTML
// template (which escapes every string in it).
type svgPicture struct {
	Title string
	W, H  int
	Rects []svgRect
	Texts []svgText
}

type svgRect struct {
	X, Y, W, H int
	Class      string
}

type svgText struct {
	X, Y  int
	Class string
	S     string
}

const (
	colW    = 230
	colGap  = 14
	margin  = 10
	lineH   = 16
	titleH  = 26
	hostPad = 26 // room for the host node's label
)

// unbound is the column of guest cells whose memory is bound to no node.
const unbound = -1

// hostNodes lists the host nodes to draw: 0..n-1 for a host known to have
// n cells, and every node either placement mentions.
func hostNodes(n int, ps ...*Placement) []int {
	seen := map[int]bool{}
	for i := range n {
		seen[i] = true
	}
	for _, p := range ps {
		if p == nil {
			continue
		}
		for _, c := range p.Cells {
			seen[firstNode(c.Nodes)] = true
		}
	}
	var out []int
	for k := range seen {
		out = append(out, k)
	}
	slices.Sort(out)
	// The unbound column, if any, goes last.
	if len(out) > 0 && out[0] == unbound {
		out = append(out[1:], unbound)
	}
	return out
}

// firstNode is the node a cell is drawn in: the first of its nodeset.
func firstNode(nodes string) int {
	s, err := cpuset.Parse(nodes)
	if err != nil || s.IsEmpty() {
		return unbound
	}
	m, _ := s.Min()
	return m
}

// draw lays out one placement: a box per host node, and inside it the
// guest cells placed there with their vCPUs, memory and pinning.
func draw(title string, p *Placement, nodes []int) svgPicture {
	pic := svgPicture{Title: title}
	pic.Texts = append(pic.Texts, svgText{X: margin, Y: margin + 14, Class: "title", S: title})
	top := margin + titleH
	cellsIn := map[int][]GuestCell{}
	for _, c := range p.Cells {
		n := firstNode(c.Nodes)
		cellsIn[n] = append(cellsIn[n], c)
	}
	cellH := func(c GuestCell) int { return lineH*(3+len(c.Pins)) + 10 }
	inner := lineH * 2
	for _, n := range nodes {
		h := 0
		for _, c := range cellsIn[n] {
			h += cellH(c) + 8
		}
		inner = max(inner, h)
	}
	boxH := hostPad + inner + 8
	for i, n := range nodes {
		x := margin + i*(colW+colGap)
		label := "host NUMA node " + strconv.Itoa(n)
		if n == unbound {
			label = "memory not bound to a node"
		}
		pic.Rects = append(pic.Rects, svgRect{X: x, Y: top, W: colW, H: boxH, Class: "host"})
		pic.Texts = append(pic.Texts, svgText{X: x + 8, Y: top + 18, Class: "host", S: label})
		y := top + hostPad
		if len(cellsIn[n]) == 0 {
			pic.Texts = append(pic.Texts, svgText{X: x + 12, Y: y + lineH, Class: "empty", S: "no guest cell"})
		}
		for _, c := range cellsIn[n] {
			cls := "guest"
			if c.Differs {
				cls += " differs"
			}
			h := cellH(c)
			pic.Rects = append(pic.Rects, svgRect{X: x + 8, Y: y, W: colW - 16, H: h, Class: cls})
			name := fmt.Sprintf("guest cell %d", c.ID)
			if c.Nodes != "" && c.Nodes != strconv.Itoa(n) {
				name += " (nodeset " + c.Nodes + ")"
			}
			lines := []string{name, "vCPUs " + cmpOr(c.VCPUs, "none"), memory(c)}
			lines = append(lines, c.Pins...)
			for j, l := range lines {
				tc := "guest"
				if j == 0 {
					tc = "guest name"
				}
				pic.Texts = append(pic.Texts, svgText{X: x + 16, Y: y + 4 + lineH*(j+1), Class: tc, S: l})
			}
			y += h + 8
		}
	}
	pic.W = margin*2 + len(nodes)*colW + max(len(nodes)-1, 0)*colGap
	pic.H = top + boxH + margin
	if p.Emulator != "" {
		pic.Texts = append(pic.Texts, svgText{X: margin, Y: pic.H + 4, Class: "guest", S: "emulator threads → CPU " + p.Emulator})
		pic.H += lineH + 4
	}
	pic.W = max(pic.W, 260)
	return pic
}

func memory(c GuestCell) string {
	s := fmt.Sprintf("%d MiB", c.MemoryMiB)
	if c.PageSize != "" {
		s += ", " + c.PageSize + " pages"
	}
	return s
}
