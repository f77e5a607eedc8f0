package main

// The CLI takes s3:// locations wherever it takes a backup folder: it
// links the S3 store, which registers the "s3" scheme with backupstore.
import _ "github.com/dbctl/dbctl/backupstore/s3store"
