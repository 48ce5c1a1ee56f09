// Package web is cdp's live dashboard: a single page (map of the traffic,
// open risks as they happen, system charts and the models panel) built from
// src/ with `make web` into dist/, which is committed and embedded here, so
// that the binary serves it with no Node, no CDN and no tile server.
//
// The page talks only to the public API (GET /api/v1/map,
// /api/v1/risks/stream, /system/status, /admin/plugins, ...): what it can
// do, a script can do.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"
	"sync"
)

//go:embed dist
var dist embed.FS

// Asset is one embedded file, ready to serve.
type Asset struct {
	Name        string // file name, e.g. "app.js"
	ContentType string
	ETag        string // strong, quoted: a hash of Body
	Body        []byte

	gzOnce sync.Once
	gz     []byte
}

// Gzip returns Body gzip-compressed (computed once, on first use), or nil
// when compression does not make it smaller.
func (a *Asset) Gzip() []byte {
	a.gzOnce.Do(func() {
		var b bytes.Buffer
		w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = w.Write(a.Body)
		_ = w.Close()
		if b.Len() < len(a.Body) {
			a.gz = b.Bytes()
		}
	})
	return a.gz
}

// Assets are the dashboard's files by name; "index.html" is the page.
type Assets struct {
	files map[string]*Asset
}

var (
	loadOnce sync.Once
	loaded   *Assets
	loadErr  error
)

// Load returns the embedded assets (read once per process). It fails when
// the binary was built without dist/index.html (`make web` makes it).
func Load() (*Assets, error) {
	loadOnce.Do(func() { loaded, loadErr = load(dist) })
	return loaded, loadErr
}

func load(fsys fs.FS) (*Assets, error) {
	a := &Assets{files: map[string]*Asset{}}
	err := fs.WalkDir(fsys, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "dist/")
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(b)
		a.files[name] = &Asset{Name: name, ContentType: ct, ETag: `"` + hex.EncodeToString(sum[:12]) + `"`, Body: b}
		return nil
	})
	if err != nil {
		return nil, errorf("read embedded assets: %v", err)
	}
	if a.files["index.html"] == nil {
		return nil, ErrNotBuilt
	}
	return a, nil
}

// Get returns the asset called name, nil when there is none.
func (a *Assets) Get(name string) *Asset { return a.files[name] }

// Names returns the asset names.
func (a *Assets) Names() []string {
	out := make([]string, 0, len(a.files))
	for n := range a.files {
		out = append(out, n)
	}
	return out
}
