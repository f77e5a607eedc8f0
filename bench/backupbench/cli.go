package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// buildCLI builds cmd/dbctl into dir (the bench runs from the module, as
// `go run ./bench/backupbench`), unless path names a binary already.
func buildCLI(path, dir string) (string, error) {
	if path != "" {
		return path, nil
	}
	bin := filepath.Join(dir, "dbctl")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/dbctl/dbctl/cmd/dbctl").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build cmd/dbctl (run the bench from the module, or pass -dbctl): %w: %s", err, out)
	}
	return bin, nil
}

// cliBackup runs `dbctl --dsn DSN --quiet --json manticore backup --dir
// dir [args]` as a user does, and times the whole process: start,
// connection, settings, FREEZE, the backup, exit.
func cliBackup(bin, dsn, dir string, args ...string) (result, error) {
	cmd := exec.Command(bin, append([]string{"--dsn", dsn, "--quiet", "--json", "manticore", "backup", "--dir", dir}, args...)...)
	cmd.Env = append(os.Environ(), "DBCTL_DSN=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return result{}, fmt.Errorf("dbctl backup: %w: %s", err, errb.String())
	}
	var doc struct {
		Bytes    int64 `json:"bytes"`
		Stored   int64 `json:"stored_bytes"`
		Manifest struct {
			FreezeWindow time.Duration `json:"freeze_window_ns"`
			Files        []struct {
				Size     int64 `json:"size"`
				FromBase bool  `json:"from_base"`
			} `json:"files"`
		} `json:"manifest"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		return result{}, fmt.Errorf("dbctl backup --json: %w: %s", err, out.String())
	}
	var written int64
	for _, f := range doc.Manifest.Files {
		if !f.FromBase {
			written += f.Size
		}
	}
	return result{wall: wall, frozen: doc.Manifest.FreezeWindow, bytes: doc.Bytes, stored: written}, nil
}
