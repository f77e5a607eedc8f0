//go:build !unix

package backup

type owner struct{ uid, gid int }

// ownerOf and the give functions do nothing where files have no Unix owner.
func ownerOf(string) (owner, error)  { return owner{}, nil }
func giveTo(owner, []string) error   { return nil }
func giveTreeTo(owner, string) error { return nil }
