package constraints

import (
	"math"
	"strconv"
	"strings"

	"github.com/numa-conformance/numa-conformance/pkg/cpython"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// pageSizeValue is a page size as Nova's Python holds it before it lands in
// an InstanceNUMACell: an int from "small"/"large"/"any" or a digit string,
// but a float from oslo's string_to_bytes ("2MB" is 2048.0, "1.5KB" is
// 1.5). Its truthiness and its comparison with the MEMPAGES_* constants are
// those of that number.
type pageSizeValue float64

// kib converts the way the InstanceNUMACell IntegerField does (int()
// truncates toward zero), clamped to intLimit.
func (p pageSizeValue) kib() int {
	f := math.Trunc(float64(p))
	return int(max(min(f, intLimit), -intLimit))
}

// stringToBytes is oslo_utils.strutils.string_to_bytes(text,
// unit_system='IEC', return_int=True): the pattern
// ^[-+]?\d*\.?\d+([KMGT]i?)?(b|bit|B)$ (Unicode digits, and "$" also
// matching before a final newline), bits divided by 8, K/M/G/T as powers
// of 1024, rounded up.
func stringToBytes(text string) (float64, error) {
	body := strings.TrimSuffix(text, "\n")
	var suffix string
	for _, s := range []string{"bit", "b", "B"} {
		if strings.HasSuffix(body, s) {
			suffix = s
			break
		}
	}
	if suffix == "" {
		return 0, nova.Errorf[*nova.ValueError]("Invalid string format: %s", text)
	}
	rest := strings.TrimSuffix(body, suffix)
	exp := 0
	if n := len(rest); n >= 2 && rest[n-1] == 'i' && strings.IndexByte("KMGT", rest[n-2]) >= 0 {
		exp = strings.IndexByte("KMGT", rest[n-2]) + 1
		rest = rest[:n-2]
	} else if n >= 1 && strings.IndexByte("KMGT", rest[n-1]) >= 0 {
		exp = strings.IndexByte("KMGT", rest[n-1]) + 1
		rest = rest[:n-1]
	}
	magnitude, ok := pyDecimalNumber(rest)
	if !ok {
		return 0, nova.Errorf[*nova.ValueError]("Invalid string format: %s", text)
	}
	if suffix != "B" {
		magnitude /= 8
	}
	res := magnitude * math.Pow(1024, float64(exp))
	if math.IsInf(res, 0) {
		return 0, nova.Errorf[*nova.OverflowError]("cannot convert float infinity to integer")
	}
	return math.Ceil(res), nil
}

// pyDecimalNumber matches ^[-+]?\d*\.?\d+$ with Unicode decimal digits and
// converts the match the way float() does.
func pyDecimalNumber(s string) (float64, bool) {
	var b strings.Builder
	if s != "" && (s[0] == '+' || s[0] == '-') {
		b.WriteByte(s[0])
		s = s[1:]
	}
	dot, digitsAfterDot, digits := false, 0, 0
	for _, r := range s {
		if r == '.' && !dot {
			dot = true
			b.WriteByte('.')
			continue
		}
		d, ok := cpython.Decimal(r)
		if !ok {
			return 0, false
		}
		digits++
		if dot {
			digitsAfterDot++
		}
		b.WriteByte(byte('0' + d))
	}
	// \d+ must close the match, so a number needs a digit and, if it has a
	// dot, a digit after it.
	if digits == 0 || (dot && digitsAfterDot == 0) {
		return 0, false
	}
	f, err := strconv.ParseFloat(b.String(), 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// parsePageSize is check_and_return_pages_size in
// _get_numa_pagesize_constraint.
func parsePageSize(request string) (pageSizeValue, error) {
	switch request {
	case "any":
		return topology.PageSizeAny, nil
	case "large":
		return topology.PageSizeLarge, nil
	case "small":
		return topology.PageSizeSmall, nil
	}
	if cpython.IsDigit(request) {
		// int() refuses the digits that are not decimal (superscripts...),
		// and nothing catches that ValueError.
		n, err := pyInt(request)
		if err != nil {
			return 0, nova.Errorf[*nova.ValueError]("invalid literal for int() with base 10: %q", request)
		}
		return pageSizeValue(n), nil
	}
	b, err := stringToBytes(request)
	if err != nil {
		if nova.ClassOf(err) == "ValueError" {
			return 0, nova.Errorf[*nova.MemoryPageSizeInvalid]("Page size %s is not valid", request)
		}
		return 0, err
	}
	return pageSizeValue(b / 1024), nil
}

// pageSizeConstraint is _get_numa_pagesize_constraint; ok is false when
// Nova returns None.
func pageSizeConstraint(flavor topology.Flavor, image *imageMeta) (size pageSizeValue, ok bool, err error) {
	flavorReq := flavor.ExtraSpecs["hw:mem_page_size"]
	imageReq := image.str("hw_mem_page_size")
	if flavorReq == "" && imageReq != "" {
		return 0, false, nova.Errorf[*nova.MemoryPageSizeForbidden]("Page size %s forbidden against '<empty>'", imageReq)
	}
	if flavorReq == "" {
		return 0, false, nil
	}
	size, err = parsePageSize(flavorReq)
	if err != nil {
		return 0, false, err
	}
	if imageReq != "" && (size == topology.PageSizeAny || size == topology.PageSizeLarge) {
		size, err = parsePageSize(imageReq)
		if err != nil {
			return 0, false, err
		}
		return size, true, nil
	}
	if imageReq != "" {
		return 0, false, nova.Errorf[*nova.MemoryPageSizeForbidden]("Page size %s forbidden against '%s'", imageReq, flavorReq)
	}
	return size, true, nil
}
