package dbctl

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// nil and the zero value of every field are the defaults.
func TestResolveOptions(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	logger := slog.Default()
	tests := []struct {
		name string
		in   *Options
		want func(o options) bool
	}{
		{"nil", nil, func(o options) bool {
			return o.sysAccountCheck && o.lowerCaseNames && o.releaseTimeout == DefaultReleaseTimeout && o.logger != nil && o.stateDir == "" && o.moTimeZone == nil
		}},
		{"zero", &Options{}, func(o options) bool {
			return o.sysAccountCheck && o.lowerCaseNames && o.releaseTimeout == DefaultReleaseTimeout && o.logger != nil
		}},
		{"negative timeout is the default", &Options{ReleaseTimeout: -time.Second}, func(o options) bool { return o.releaseTimeout == DefaultReleaseTimeout }},
		{"every field", &Options{Logger: logger, SkipSysAccountCheck: true, KeepNameCase: true, ReleaseTimeout: time.Second, StateDir: "/s", MatrixOneTimeZone: berlin},
			func(o options) bool {
				return o.logger == logger && !o.sysAccountCheck && !o.lowerCaseNames && o.releaseTimeout == time.Second && o.stateDir == "/s" && o.moTimeZone == berlin
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.True(t, tc.want(resolveOptions(tc.in)), "%+v", resolveOptions(tc.in))
		})
	}
}
