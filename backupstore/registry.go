package backupstore

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Opener opens the store of a location whose scheme it was registered for
// (Register): e.g. "s3://bucket/prefix" for "s3". It returns a Store, or
// an *Error.
type Opener func(ctx context.Context, location string, opts Options) (Store, error)

var registry struct {
	mu      sync.RWMutex
	openers map[string]Opener
}

// providers names the package that registers each scheme dbctl ships, for
// the error of an Open whose package was not imported.
var providers = map[string]string{
	"s3": "github.com/dbctl/dbctl/backupstore/s3store",
}

// Register makes Open hand the locations of scheme ("s3" for
// "s3://bucket/prefix"; compared case-insensitively) to open. A store
// package calls it from its init function, as backupstore/s3store does,
// so that importing the package is what makes the scheme work (the way
// database/sql drivers and gocloud.dev's blob providers register). Like
// database/sql.Register, it panics when scheme is registered twice, is
// not a URL scheme of two or more characters (a letter, then letters,
// digits, '+', '-' or '.'), or open is nil.
func Register(scheme string, open Opener) {
	s := strings.ToLower(scheme)
	if !validScheme(s) {
		panic(fmt.Sprintf("backupstore: Register: bad scheme %q", scheme))
	}
	if open == nil {
		panic("backupstore: Register: nil Opener for " + s)
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if _, dup := registry.openers[s]; dup {
		panic("backupstore: Register called twice for " + s)
	}
	if registry.openers == nil {
		registry.openers = map[string]Opener{}
	}
	registry.openers[s] = open
}

// Schemes returns the registered schemes, sorted.
func Schemes() []string {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	out := make([]string, 0, len(registry.openers))
	for s := range registry.openers {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// opener returns the Opener of scheme, or ErrNotRegistered naming the
// import that provides it.
func opener(scheme, location string) (Opener, error) {
	registry.mu.RLock()
	open := registry.openers[scheme]
	registry.mu.RUnlock()
	if open != nil {
		return open, nil
	}
	why := fmt.Errorf("no store for %s:// locations is linked into this program", scheme)
	if pkg, ok := providers[scheme]; ok {
		why = fmt.Errorf("%w: add import _ %q", why, pkg)
	} else if known := Schemes(); len(known) > 0 {
		why = fmt.Errorf("%w (registered: %s)", why, strings.Join(known, ", "))
	}
	return nil, &Error{Op: "open", Key: location, Kind: ErrNotRegistered, Err: why}
}

// urlScheme returns the lower-cased scheme of a "scheme://..." location.
// One letter is a Windows drive ("C://x" is a path), not a scheme.
func urlScheme(location string) (string, bool) {
	i := strings.Index(location, "://")
	if i < 0 {
		return "", false
	}
	s := strings.ToLower(location[:i])
	return s, validScheme(s)
}

// validScheme: RFC 3986 scheme syntax, at least two characters.
func validScheme(s string) bool {
	if len(s) < 2 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
