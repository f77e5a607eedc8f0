package backupstore

import (
	"path"
	"strings"
	"testing"
)

// A location ParseS3 accepts has a valid bucket and a prefix that stays
// inside the bucket; a key CheckKey accepts never escapes the root.
func FuzzParseS3(f *testing.F) {
	for _, s := range []string{"s3://bucket/a/b", "s3://b/../x", "s3://bucket//", "S3://bucket", "s3://a.b-c/x/./y", "s3://bucket/a\\b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, loc string) {
		bucket, prefix, err := ParseS3(loc)
		if err != nil {
			return
		}
		if !validBucket(bucket) {
			t.Fatalf("bad bucket %q accepted from %q", bucket, loc)
		}
		if strings.Contains("/"+prefix+"/", "/../") || strings.HasPrefix(prefix, "/") || strings.HasSuffix(prefix, "/") {
			t.Fatalf("unsafe prefix %q accepted from %q", prefix, loc)
		}
		// the canonical form parses to the same bucket and prefix
		b2, p2, err := ParseS3("s3://" + Join(bucket, prefix))
		if err != nil || b2 != bucket || p2 != prefix {
			t.Fatalf("%q: canonical form parses to %q %q %v", loc, b2, p2, err)
		}
	})
}

func FuzzCheckKey(f *testing.F) {
	for _, s := range []string{"data/t/t.meta", "../x", "a/./b", "/abs", "a//b", "manifest.json"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if CheckKey(key) != nil {
			return
		}
		if strings.HasPrefix(key, "/") || strings.Contains("/"+key+"/", "/../") || strings.Contains("/"+key+"/", "/./") ||
			strings.Contains(key, "//") || strings.ContainsAny(key, "\\\x00") {
			t.Fatalf("unsafe key %q accepted", key)
		}
		j := path.Join("root", key)
		if !strings.HasPrefix(j, "root/") {
			t.Fatalf("key %q escapes the root: %q", key, j)
		}
	})
}

// A location is remote exactly when it starts with a valid scheme of two
// or more characters and "://"; every s3:// location ParseS3 accepts is
// remote.
func FuzzIsRemote(f *testing.F) {
	for _, s := range []string{"s3://b/p", "C://x", "/var/backups", "a+b.c-d://x", "://x", "1s://x", "S3://Bucket", "s3:/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, loc string) {
		remote := IsRemote(loc)
		scheme, _, found := strings.Cut(loc, "://")
		want := found && len(scheme) >= 2 && validScheme(strings.ToLower(scheme))
		if remote != want {
			t.Fatalf("IsRemote(%q) = %v, want %v", loc, remote, want)
		}
		if _, _, err := ParseS3(loc); err == nil && !remote {
			t.Fatalf("ParseS3 accepted %q, which is not remote", loc)
		}
	})
}
