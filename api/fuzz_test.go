package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// FuzzIngestHandler drives the whole ingest handler (decode, validate,
// normalise, submit, answer) with arbitrary bodies. Whatever the input, the
// answer is 202, 400 or 413 with a JSON body; a 202 accounts for every
// record (accepted + rejected = records handed to the engine + listed
// errors), and lists its errors in index order. The decoder's own fuzz target
// (host/ingest FuzzDecodeBatch) covers the parser in depth.
func FuzzIngestHandler(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	for _, seed := range []string{
		`[{"id":"a","t":1700000000,"lat":51.5,"lon":-0.1,"alt":100,"vx":1,"vy":2}]`,
		`{"id":"b","t":"2023-11-14T22:13:20Z","x":1,"y":2,"z":3,"speed":4,"track":5}` + "\n" + `{"id":"c"}`,
		`[{"id":"n","t":1700000000,"x":NaN,"y":0,"z":0,"vx":0,"vy":0}, 7, null, "s"]`,
		`[{"id":"\u00e9\"q","t":1700000000,"x":1e400,"y":0,"z":0,"vx":0,"vy":0,"class":"default"}]`,
		`[{"id":"x","t":1700000000,"lat":91}`,
		`[]`, ``, `{`, `[1,2,3]`,
	} {
		f.Add([]byte(seed))
	}
	e := &nopEngine{}
	s, err := New(Options{Engine: e, MaxBatch: 50, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	h := s.app.Handler()
	var ctx fasthttp.RequestCtx
	f.Fuzz(func(t *testing.T, body []byte) {
		before := e.accepted
		serveIngest(h, &ctx, body)
		code := ctx.Response.StatusCode()
		var out struct {
			Accepted int               `json:"accepted"`
			Rejected int               `json:"rejected"`
			Errors   []json.RawMessage `json:"errors"`
			Error    string            `json:"error"`
		}
		if err := json.Unmarshal(ctx.Response.Body(), &out); err != nil {
			t.Fatalf("status %d, body is not JSON (%v): %q", code, err, ctx.Response.Body())
		}
		switch code {
		case 202:
			if got := e.accepted - before; got != out.Accepted || out.Rejected != len(out.Errors) {
				t.Fatalf("202 says accepted %d rejected %d (%d errors); engine got %d", out.Accepted, out.Rejected, len(out.Errors), got)
			}
			last := -1
			for _, raw := range out.Errors {
				var re struct {
					Index  int    `json:"index"`
					Reason string `json:"reason"`
				}
				if err := json.Unmarshal(raw, &re); err != nil || re.Reason == "" || re.Index <= last {
					t.Fatalf("error entry %s (previous index %d)", raw, last)
				}
				last = re.Index
			}
		case 400, 413:
			if e.accepted != before || out.Error == "" {
				t.Fatalf("status %d accepted %d records, error %q", code, e.accepted-before, out.Error)
			}
		default:
			t.Fatalf("status %d: %s", code, ctx.Response.Body())
		}
	})
}

// FuzzAuthorizationHeader sends arbitrary Authorization headers to a read
// route of a server that verifies JWTs. Whatever the header, the answer is
// 401 (with WWW-Authenticate and a reason) or 403 with a JSON problem, or
// 200 only for a token whose signature verifies: the seeds include valid
// tokens, and a mutated one may only pass if it still carries the subject
// the seeds were signed for.
func FuzzAuthorizationHeader(f *testing.F) {
	auth, toks := benchAuth(f)
	for _, t := range toks {
		f.Add("Bearer " + t)
		f.Add("bearer  " + t + " ")
		parts := strings.Split(t, ".")
		f.Add("Bearer " + parts[0] + "." + parts[1] + ".")
		f.Add("Bearer " + `eyJhbGciOiJub25lIn0.` + parts[1] + ".")
	}
	for _, s := range []string{"", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "Bearer ....", "Bearer eyJ9.eyJ9.eyJ9", "Bearer \x00\xff"} {
		f.Add(s)
	}
	s, err := New(Options{Engine: &nopEngine{}, Auth: auth, Registerer: prometheus.NewRegistry()})
	if err != nil {
		f.Fatal(err)
	}
	h := s.app.Handler()
	var ctx fasthttp.RequestCtx
	f.Fuzz(func(t *testing.T, header string) {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod("GET")
		ctx.Request.SetRequestURI("/api/v1/risks")
		ctx.Request.Header.Set("Authorization", header)
		h(&ctx)
		code := ctx.Response.StatusCode()
		if code == 200 {
			p, err := auth.Authenticate(string(ctx.Request.Header.Peek("Authorization")))
			if err != nil || p.Subject != "gateway-1" {
				t.Fatalf("header %q answered 200; Authenticate says %+v, %v", header, p, err)
			}
			return
		}
		var out struct {
			Error   string              `json:"error"`
			Details []map[string]string `json:"details"`
		}
		if err := json.Unmarshal(ctx.Response.Body(), &out); err != nil || out.Error == "" {
			t.Fatalf("header %q: status %d, body %q", header, code, ctx.Response.Body())
		}
		switch code {
		case 401:
			if len(ctx.Response.Header.Peek("WWW-Authenticate")) == 0 || len(out.Details) == 0 || out.Details[0]["reason"] == "" {
				t.Fatalf("header %q: 401 without WWW-Authenticate or reason: %q", header, ctx.Response.Body())
			}
		case 403:
		default:
			t.Fatalf("header %q: status %d: %s", header, code, ctx.Response.Body())
		}
	})
}
