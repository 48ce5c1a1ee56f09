package api

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"slices"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

// ingestBuf is the per-request scratch of the ingest handler, pooled so that
// a request allocates nothing per record in steady state: the decoder (with
// its unescape buffer), the decoded records, the refused ones, the engine
// updates and the response bytes all keep their capacity between requests.
type ingestBuf struct {
	gz   *gzip.Reader // reused for gzip bodies
	br   bytes.Reader // the compressed body, for gz
	unz  bytes.Buffer // the decompressed body
	dec  *ingest.Decoder
	recs []ingest.Record
	errs []ingest.RecordError
	ups  []engine.Update
	from []int // index in recs of each of ups
	verd []engine.Verdict
	out  []byte
}

func newIngestBuf(v *ingest.Validator) *ingestBuf {
	return &ingestBuf{dec: ingest.NewDecoder(v)}
}

// maxPooledRecords bounds what a pooled buffer keeps: one huge batch must not
// pin its memory in the pool for ever.
const maxPooledRecords = 1 << 16

func (s *Server) putIngestBuf(b *ingestBuf) {
	if cap(b.recs) > maxPooledRecords || cap(b.errs) > maxPooledRecords || cap(b.ups) > maxPooledRecords ||
		cap(b.from) > maxPooledRecords || cap(b.verd) > maxPooledRecords ||
		b.unz.Cap() > 64<<20 {
		return
	}
	clear(b.ups) // drop the aliases of the request body
	s.ingestPool.Put(b)
}

// postLocations ingests a batch of vehicle locations.
//
//	POST /api/v1/locations
//	Content-Type: application/json (an array, or one record) or
//	              application/x-ndjson (one record per line)
//
// 202 {"accepted": N, "rejected": M, "errors": [{"index", "id", "field",
// "reason", "offset"}]}: the valid records are in the engine's queue, the
// refused ones are listed with their index in the batch. A well-formed
// record the engine would drop is listed too, on field "t": "stale" (older
// than the vehicle's stored state), "duplicate" (the same time) or "late"
// (older than the engine clock minus vehicle_ttl). 400: malformed JSON
// (nothing accepted; the details give the byte offset, line and column).
// 413: more records than MaxBatch or a body above BodyLimit. 415: another
// content type, or none. 429 with Retry-After: above the throttled rate, or the
// engine's queue is full (decided before the body is parsed when the queue
// has no room at all); 503 with Retry-After: the engine has stopped; nothing
// of the batch was accepted in either case.
func (s *Server) postLocations(c *fiber.Ctx) error {
	if p := checkIngestType(c.Get(fiber.HeaderContentType)); p != nil {
		return p
	}
	// A full queue refuses any batch: say so before parsing it (a client
	// that retries at once must not cost a parse per attempt).
	if n := s.eng.Pending(); n > 0 && n >= s.queueMax {
		return s.queueFull(-1)
	}
	start := time.Now()
	b := s.ingestPool.Get().(*ingestBuf)
	defer s.putIngestBuf(b)
	// The raw body: fiber's c.Body() would inflate a compressed body without
	// a size limit.
	body := c.Request().Body()
	switch enc := c.Get(fiber.HeaderContentEncoding); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		var p *Problem
		if body, p = b.gunzip(body, s.opts.BodyLimit); p != nil {
			return p
		}
	default:
		return problem(fiber.StatusUnsupportedMediaType,
			"Content-Encoding must be gzip or identity, got "+strconv.Quote(enc))
	}

	b.dec.SetMaxRecords(s.opts.MaxBatch)
	recs, errs, err := b.dec.DecodeBatch(body, s.opts.Now(), b.recs[:0], b.errs[:0])
	b.recs, b.errs = recs, errs
	var le *ingest.LimitError
	if errors.As(err, &le) {
		s.metrics.oversize.Inc()
		return problem(fiber.StatusRequestEntityTooLarge,
			fmt.Sprintf("batch of more than %d records (api.max_batch); nothing of this batch was accepted", s.opts.MaxBatch),
			map[string]any{"max_batch": s.opts.MaxBatch, "offset": le.Offset})
	}
	if err != nil {
		s.metrics.malformed.Inc()
		return syntaxProblem(body, err)
	}
	n := len(recs) + len(errs)
	if n > s.opts.MaxBatch {
		s.metrics.oversize.Inc()
		return problem(fiber.StatusRequestEntityTooLarge,
			fmt.Sprintf("batch of %d records above the limit of %d (api.max_batch)", n, s.opts.MaxBatch),
			map[string]any{"records": n, "max_batch": s.opts.MaxBatch})
	}

	ups, from := b.ups[:0], b.from[:0]
	frame, classes := s.opts.Frame, s.opts.Validator.Classes()
	late := false // a record refused by Normalize sorts after the decoder's errors
	for i := range recs {
		r := &recs[i]
		ups = append(ups, engine.Update{ID: r.ID, Group: r.Group})
		from = append(from, i)
		if err := ingest.Normalize(r, frame, classes, &ups[len(ups)-1].V); err != nil {
			ups, from = ups[:len(ups)-1], from[:len(from)-1]
			reason := ingest.ReasonPositionMissing
			if errors.Is(err, ingest.ErrUnknownClass) {
				reason = ingest.ReasonUnknownClass
			}
			errs = append(errs, ingest.RecordError{Index: r.Index, Offset: r.Offset, ID: r.ID, Reason: reason})
			late = true
		}
	}
	b.ups, b.from = ups, from

	if ok, wait := s.throttle.take(len(ups)); !ok {
		s.throttling(true, "rate")
		s.metrics.throttled.Inc()
		p := problem(fiber.StatusTooManyRequests,
			fmt.Sprintf("ingest above %.0f records/s (system.throttling_threshold x system.max_tps); nothing of this batch was accepted", s.throttle.rate),
			map[string]any{"records": len(ups), "retry_after_s": retryAfterSeconds(wait)})
		p.RetryAfter = retryAfterSeconds(wait)
		return p
	}
	queued := 0
	if len(ups) > 0 {
		b.verd = slices.Grow(b.verd[:0], len(ups))[:len(ups)]
		var err error
		if queued, err = s.eng.TrySubmitChecked(ups, b.verd); err != nil {
			s.throttle.refund(len(ups))
			if errors.Is(err, engine.ErrQueueFull) {
				return s.queueFull(len(ups))
			}
			if errors.Is(err, engine.ErrClosed) {
				p := problem(fiber.StatusServiceUnavailable,
					"engine stopped (the node is shutting down); nothing of this batch was accepted")
				p.RetryAfter = 1
				return p
			}
			return problem(fiber.StatusServiceUnavailable, "engine refused the batch: "+err.Error())
		}
		if queued < len(ups) {
			s.throttle.refund(len(ups) - queued)
			for i, v := range b.verd {
				if v == engine.VerdictAccepted {
					continue
				}
				r := &recs[from[i]]
				errs = append(errs, ingest.RecordError{Index: r.Index, Offset: r.Offset, ID: r.ID,
					Field: ingest.FieldT, Reason: verdictReason(v)})
				late = true
			}
		}
	}
	b.errs = errs
	if late {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Index < errs[j].Index })
	}
	s.metrics.accepted.Add(float64(queued))
	if s.throttled.Load() {
		s.throttling(false, "accepting")
	}
	s.metrics.batch.Observe(float64(n))
	for i := range errs {
		s.metrics.reject(errs[i].Reason)
	}

	b.out = appendIngestResult(b.out[:0], queued, errs)
	c.Status(fiber.StatusAccepted)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	_, err = c.Write(b.out) // copies: b.out goes back to the pool
	s.metrics.duration.Observe(time.Since(start).Seconds())
	return err
}

// queueFull is the 429 of a full engine queue; records < 0 when the batch
// was refused before it was parsed.
func (s *Server) queueFull(records int) *Problem {
	s.throttling(true, "queue_full")
	s.metrics.queueFull.Inc()
	details := map[string]any{"queue_depth": s.eng.Pending(), "queue_max": s.queueMax}
	if records >= 0 {
		details["records"] = records
	}
	p := problem(fiber.StatusTooManyRequests,
		"engine queue full; nothing of this batch was accepted, retry later", details)
	p.RetryAfter = 1
	return p
}

// verdictReason is the ingest reason of an engine verdict.
func verdictReason(v engine.Verdict) ingest.Reason {
	switch v {
	case engine.VerdictStale:
		return ingest.ReasonStale
	case engine.VerdictDuplicate:
		return ingest.ReasonDuplicate
	}
	return ingest.ReasonLate
}

// gunzip inflates body into b.unz, at most limit bytes (413 above: the
// limit applies to what is parsed, so a small compressed body cannot expand
// without bound).
func (b *ingestBuf) gunzip(body []byte, limit int) ([]byte, *Problem) {
	b.br.Reset(body)
	var err error
	if b.gz == nil {
		b.gz, err = gzip.NewReader(&b.br)
	} else {
		err = b.gz.Reset(&b.br)
	}
	b.unz.Reset()
	if err == nil {
		_, err = b.unz.ReadFrom(io.LimitReader(b.gz, int64(limit)+1))
	}
	if err != nil {
		return nil, problem(fiber.StatusBadRequest, "malformed gzip body: "+err.Error())
	}
	if b.unz.Len() > limit {
		return nil, problem(fiber.StatusRequestEntityTooLarge,
			fmt.Sprintf("decompressed body above the size limit of %d bytes (api.max_body_bytes)", limit))
	}
	return b.unz.Bytes(), nil
}

// checkIngestType accepts JSON and NDJSON (the decoder reads both from the
// same bytes). A missing Content-Type is refused: a form or a script on
// another web site can send a body without one (or as text/plain) without a
// CORS preflight, and must not be able to post locations.
func checkIngestType(ct string) *Problem {
	switch ct {
	case fiber.MIMEApplicationJSON, "application/x-ndjson":
		return nil // the common cases, without parsing
	case "":
		return problem(fiber.StatusUnsupportedMediaType,
			"Content-Type is required: application/json or application/x-ndjson")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		switch mt {
		case "application/json", "application/x-ndjson", "application/ndjson", "application/jsonl", "application/json-seq":
			return nil
		}
	}
	return problem(fiber.StatusUnsupportedMediaType,
		"Content-Type must be application/json or application/x-ndjson, got "+strconv.Quote(ct))
}

// syntaxProblem turns a decoder syntax error into a 400 that says where.
func syntaxProblem(body []byte, err error) *Problem {
	var se *ingest.SyntaxError
	if !errors.As(err, &se) {
		return problem(fiber.StatusBadRequest, "malformed batch: "+err.Error())
	}
	off := min(max(se.Offset, 0), len(body))
	line := 1 + bytes.Count(body[:off], []byte{'\n'})
	col := 1 + utf8.RuneCount(body[bytes.LastIndexByte(body[:off], '\n')+1:off])
	return problem(fiber.StatusBadRequest,
		fmt.Sprintf("malformed JSON at byte %d (line %d, column %d): %s; nothing of this batch was accepted", se.Offset, line, col, se.Msg),
		map[string]any{"offset": se.Offset, "line": line, "column": col, "reason": se.Msg})
}

// appendIngestResult writes the 202 body by hand: encoding/json would
// allocate per refused record and reflect over each.
func appendIngestResult(out []byte, accepted int, errs []ingest.RecordError) []byte {
	out = append(out, `{"accepted":`...)
	out = strconv.AppendInt(out, int64(accepted), 10)
	out = append(out, `,"rejected":`...)
	out = strconv.AppendInt(out, int64(len(errs)), 10)
	out = append(out, `,"errors":[`...)
	for i := range errs {
		e := &errs[i]
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"index":`...)
		out = strconv.AppendInt(out, int64(e.Index), 10)
		if e.ID != nil {
			out = append(out, `,"id":`...)
			out = appendJSONString(out, e.ID)
		}
		if e.Field != 0 {
			out = append(out, `,"field":`...)
			out = appendJSONString(out, []byte(e.Field.String()))
		}
		out = append(out, `,"reason":"`...)
		out = append(out, e.Reason.String()...)
		out = append(out, `","offset":`...)
		out = strconv.AppendInt(out, int64(e.Offset), 10)
		out = append(out, '}')
	}
	return append(out, "]}\n"...)
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD
// (a refused id may be anything).
func appendJSONString(out, s []byte) []byte {
	const hex = "0123456789abcdef"
	out = append(out, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				out = append(out, '\\', c)
			case c < 0x20 || c == 0x7f:
				out = append(out, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				out = append(out, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			out = append(out, `\ufffd`...)
		} else {
			out = append(out, s[i:i+n]...)
		}
		i += n
	}
	return append(out, '"')
}

// throttling records that ingest is being refused (on) or was accepted again
// (off). The state turns on at the first refusal and off at the first batch
// accepted a second or more after the last refusal, and each change is told to
// Options.OnThrottle (the node writes it to system-events).
func (s *Server) throttling(on bool, reason string) {
	now := time.Now().UnixNano()
	if on {
		s.lastThrottle.Store(now)
		if s.throttled.CompareAndSwap(false, true) && s.opts.OnThrottle != nil {
			s.opts.OnThrottle(true, reason)
		}
		return
	}
	if s.throttled.Load() && now-s.lastThrottle.Load() >= int64(time.Second) &&
		s.throttled.CompareAndSwap(true, false) && s.opts.OnThrottle != nil {
		s.opts.OnThrottle(false, reason)
	}
}
