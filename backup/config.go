package backup

import (
	"os"
	"path/filepath"

	"github.com/dbctl/dbctl"
)

// planConfig adds searchd's config file (SHOW SETTINGS configuration_file)
// to the backup as config/<name>. A config file the server names but that
// cannot be read here fails the backup: a backup that silently lacks it
// would look complete and not be.
func (b *backupRun) planConfig() error {
	if b.settings == nil || b.settings.ConfigurationFile == "" {
		return nil
	}
	src := b.settings.ConfigurationFile
	if !filepath.IsAbs(src) {
		return opErr(b.op, dbctl.ErrUnexpectedResult, "SHOW SETTINGS gave a relative configuration_file: "+quoteForMessage(src), nil)
	}
	if _, err := os.Stat(src); err != nil {
		return opErr(b.op, nil, "the server's config file (SHOW SETTINGS configuration_file)", err)
	}
	name := filepath.Base(src)
	b.jobs = append(b.jobs, backupJob{src: src, dst: filepath.Join(b.tmp, "config", name),
		file: ManifestFile{Path: "config/" + name, Source: src}})
	b.man.ConfigFile = src
	return nil
}

// giveToDataDirOwner hands the finished backup to the owner of the data_dir
// when this process runs as root and searchd's files belong to another
// user: IMPORT TABLE is executed by searchd, which must read the backup
// (issue 9 D). The backup stays 0700 at its top: only that user and root
// can read it.
func (b *backupRun) giveToDataDirOwner() error {
	own, err := ownerOf(b.man.DataDir)
	if err != nil {
		return opErr(b.op, nil, "owner of the data_dir", err)
	}
	if err := giveTreeTo(own, b.tmp); err != nil {
		return opErr(b.op, nil, "give the backup to the data_dir's owner", err)
	}
	return nil
}
