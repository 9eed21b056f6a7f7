package nova

//go:generate /usr/bin/python3 internal/genmsg/genmsg.py

import (
	_ "embed"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
)

// messages.json holds each exception class's msg_fmt from Nova 26.2.2.
//
//go:embed messages.json
var messagesJSON []byte

var messages = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	if err := json.Unmarshal(messagesJSON, &m); err != nil {
		panic("nova: messages.json: " + err.Error())
	}
	return m
})

// placeholder matches Python %-format fields such as %(cpunum)d.
var placeholder = regexp.MustCompile(`%\([a-z_]+\)[sdr]`)

// MessagePattern returns a regular expression that matches the messages
// Nova renders for an exception class (its msg_fmt with every field
// free), or nil for a class without a template. The harness uses it to
// check that a 400 body comes from the exception the fitter predicts,
// whatever Nova's formatting of the values (Python renders a set as
// "{1, 3}", for instance).
func MessagePattern(class string) *regexp.Regexp {
	f, ok := messages()[class]
	if !ok {
		return nil
	}
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, loc := range placeholder.FindAllStringIndex(f, -1) {
		b.WriteString(regexp.QuoteMeta(f[last:loc[0]]))
		b.WriteString("(?s:.+?)")
		last = loc[1]
	}
	b.WriteString(regexp.QuoteMeta(f[last:]))
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}
