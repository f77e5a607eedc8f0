package backupstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// within returns the store of location inside root (Options.Using): root
// itself when location is root's location, else root.Sub of the key
// between them. What it returns never closes root. A remote location
// matches a remote root by its scheme (case-insensitively) and the rest
// byte for byte, a trailing slash apart; a folder matches a folder root
// once both are absolute and clean.
func within(root Store, location string) (Store, error) {
	rel, err := relativeTo(root.Location(), location)
	if err != nil {
		return nil, &Error{Op: "open", Key: location, Kind: ErrInvalidLocation, Err: err}
	}
	if rel == "" {
		return borrowed{root}, nil
	}
	sub, err := root.Sub(rel)
	if err != nil {
		return nil, err
	}
	return borrowed{sub}, nil
}

// relativeTo returns the key of location under root ("" for root itself).
func relativeTo(root, location string) (string, error) {
	outside := fmt.Errorf("not under the store Options.Using holds (%s)", root)
	if IsRemote(root) != IsRemote(location) {
		return "", outside
	}
	if IsRemote(root) {
		rs, rrest, _ := strings.Cut(root, "://")
		ls, lrest, _ := strings.Cut(location, "://")
		if !strings.EqualFold(rs, ls) {
			return "", outside
		}
		rrest, lrest = strings.TrimSuffix(rrest, "/"), strings.TrimSuffix(lrest, "/")
		if lrest == rrest {
			return "", nil
		}
		rel, ok := strings.CutPrefix(lrest, rrest+"/")
		if !ok {
			return "", outside
		}
		if err := CheckKey(rel); err != nil {
			return "", err
		}
		return rel, nil
	}
	if location == "" {
		return "", errors.New("empty folder path")
	}
	abs, err := filepath.Abs(location)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(filepath.Clean(root), abs)
	if err != nil {
		return "", outside
	}
	if rel == "." {
		return "", nil
	}
	rel = filepath.ToSlash(rel)
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", outside
	}
	if err := CheckKey(rel); err != nil {
		return "", err
	}
	return rel, nil
}

// borrowed is a store the caller owns, handed out by Open: Close leaves it
// open. Unwrap returns it, for callers that look for a method of the
// concrete store (s3store's AbortUploads).
type borrowed struct{ Store }

// Close implements Store: the caller closes the store it lent.
func (borrowed) Close() error { return nil }

// Unwrap returns the store lent.
func (b borrowed) Unwrap() Store { return b.Store }
