package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"regexp"
	"testing"
	"testing/fstest"
)

// Every file the page names under ui/ is embedded, and gzip gives back the
// same bytes.
func TestPageFilesAreEmbedded(t *testing.T) {
	a, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	page := a.Get("index.html")
	refs := regexp.MustCompile(`(?:src|href)="ui/([^"]+)"`).FindAllSubmatch(page.Body, -1)
	if len(refs) < 3 {
		t.Fatalf("the page names %d files: want the script, the stylesheet and the icon", len(refs))
	}
	for _, r := range refs {
		f := a.Get(string(r[1]))
		if f == nil {
			t.Fatalf("the page names ui/%s, which is not embedded (run make web)", r[1])
		}
		if len(f.Body) == 0 || f.ETag == "" || f.ContentType == "application/octet-stream" {
			t.Fatalf("%s: %d bytes, ETag %q, type %q", f.Name, len(f.Body), f.ETag, f.ContentType)
		}
	}
	w := a.Get("world-50m.json")
	if w == nil {
		t.Fatal("no world map")
	}
	zr, err := gzip.NewReader(bytes.NewReader(w.Gzip()))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(zr); !bytes.Equal(b, w.Body) {
		t.Fatal("gzip does not give back the file")
	}
}

func TestLoadWithoutIndexFails(t *testing.T) {
	_, err := load(fstest.MapFS{"dist/app.js": {Data: []byte("x")}})
	if err != ErrNotBuilt {
		t.Fatalf("err %v, want ErrNotBuilt", err)
	}
}
