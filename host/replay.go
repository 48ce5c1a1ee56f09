package host

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/host/cli"
	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

// ReplaySummary is what a replay reports at its end.
type ReplaySummary struct {
	Vehicles    int           `json:"vehicles"`
	Records     int           `json:"records"`
	Rejected    int           `json:"rejected"`
	Updates     uint64        `json:"updates"`
	Stale       uint64        `json:"stale"`
	RisksOpened uint64        `json:"risks_opened"`
	Events      int           `json:"events"`
	Wall        time.Duration `json:"wall_ns"`
	UpdatesPerS float64       `json:"updates_per_s"`
	// Rejects counts rejected records by reason.
	Rejects map[string]int `json:"rejects,omitempty"`
}

// Replay runs `cdp replay`.
func (Runner) Replay(ctx context.Context, cfg config.Config, opts cli.ReplayOptions) error {
	if opts.Target != "" {
		return replayToServer(ctx, cfg, opts)
	}
	if opts.OriginFromData {
		lat, lon, err := firstPosition(opts.File)
		if err != nil {
			return err
		}
		cfg.System.Frame.Origin = config.Origin{Lat: lat, Lon: lon}
	}
	f, err := os.Open(opts.File)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	var in io.Reader = f
	var bar *progressbar.ProgressBar
	if opts.Progress {
		st, _ := f.Stat()
		// progressbar.DefaultBytes, drawn on opts.Stderr rather than os.Stderr.
		bar = progressbar.NewOptions64(st.Size(), progressbar.OptionSetDescription("replaying"),
			progressbar.OptionSetWriter(opts.Stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true), progressbar.OptionSetWidth(10),
			progressbar.OptionThrottle(65*time.Millisecond), progressbar.OptionShowCount(),
			progressbar.OptionOnCompletion(func() { fmt.Fprint(opts.Stderr, "\n") }),
			progressbar.OptionSpinnerType(14), progressbar.OptionFullWidth(), progressbar.OptionSetRenderBlankState(true))
		in = io.TeeReader(f, bar)
	}
	out := bufio.NewWriterSize(opts.Stdout, 64<<10)
	defer out.Flush()
	sum, err := ReplayStream(ctx, cfg, in, opts, out)
	interrupted := err != nil && ctx.Err() != nil
	if bar != nil {
		if err == nil {
			_ = bar.Finish()
		} else {
			_ = bar.Exit() // where it stopped, not 100 %
			fmt.Fprintln(opts.Stderr)
		}
	}
	if err != nil && !interrupted {
		return err
	}
	out.Flush()
	what := "replay"
	if interrupted {
		what = "replay interrupted"
	}
	fmt.Fprintf(opts.Stderr, "%s: %d vehicles, %d records (%d rejected), %d updates applied (%d stale), %d risks opened, %d events, %.3fs wall, %.0f updates/s\n",
		what, sum.Vehicles, sum.Records, sum.Rejected, sum.Updates, sum.Stale, sum.RisksOpened, sum.Events,
		sum.Wall.Seconds(), sum.UpdatesPerS)
	for r, n := range sum.Rejects {
		fmt.Fprintf(opts.Stderr, "replay: rejected %d records: %s\n", n, r)
	}
	if interrupted {
		return fmt.Errorf("replay: %w after %d records", cli.ErrInterrupted, sum.Records)
	}
	return nil
}

// firstPosition returns the position of the file's first valid record, the
// ENU origin of --origin auto.
func firstPosition(path string) (lat, lon float64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	r := ingest.NewCSVReader(f)
	var rec ingest.Record
	var bad error
	for {
		if err := r.Read(&rec); err != nil {
			if err == io.EOF {
				if bad != nil {
					return 0, 0, fmt.Errorf("replay: %s: no valid record with a position (first malformed row: %w)", path, bad)
				}
				return 0, 0, fmt.Errorf("replay: %s: no record with a position", path)
			}
			var ce *ingest.CSVError
			if errors.As(err, &ce) && errors.Is(err, ingest.ErrCSVRow) {
				if bad == nil {
					bad = err
				}
				continue
			}
			return 0, 0, fmt.Errorf("replay: %s: %w", path, err)
		}
		if rec.Geodetic() && rec.Lat >= -90 && rec.Lat <= 90 && rec.Lon >= -180 && rec.Lon <= 180 {
			return rec.Lat, rec.Lon, nil
		}
	}
}

// ReplayStream runs the CSV in through a new engine built from cfg, in ticks
// of compute.processing_interval of data time, writing each risk event as one
// JSON line to out. With opts.Speed > 0 it paces data time at Speed times the
// wall clock. Every vehicle gets opts.Class.
func ReplayStream(ctx context.Context, cfg config.Config, in io.Reader, opts cli.ReplayOptions, out io.Writer) (ReplaySummary, error) {
	var sum ReplaySummary
	frame, err := Frame(cfg)
	if err != nil {
		return sum, fmt.Errorf("replay: system.frame: %w", err)
	}
	classes, err := Classes(cfg)
	if err != nil {
		return sum, fmt.Errorf("replay: collision_detection.classes: %w", err)
	}
	validator, err := ingest.NewValidator(ingest.Options{MaxSkew: cfg.CollisionDetection.MaxFutureSkew}, classes)
	if err != nil {
		return sum, fmt.Errorf("replay: %w", err)
	}
	// A replay runs on data time: the engine has no wall clock.
	ecfg := EngineConfig(cfg)
	models, err := Models(cfg, opts.Logger)
	if err != nil {
		return sum, err
	}
	e, err := engine.New(ecfg, models)
	if err != nil {
		return sum, err
	}
	enc := json.NewEncoder(out)
	var werr error
	e.AddSink(engine.SinkFunc(func(evs []engine.Event) {
		sum.Events += len(evs)
		for i := range evs {
			if werr == nil {
				werr = enc.Encode(&evs[i])
			}
		}
	}))
	class := []byte(opts.Class)
	if len(class) == 0 {
		class = []byte(ingest.DefaultClass)
	}
	interval := cfg.Compute.ProcessingInterval.Seconds()
	if interval <= 0 {
		interval = 0.1
	}
	r := ingest.NewCSVReader(in)
	var (
		rec      ingest.Record
		ups      []engine.Update
		ids      []byte
		offs     []int
		tickEnd  = math.Inf(-1)
		dataT0   = math.NaN()
		start    = time.Now()
		wallNow  = float64(start.UnixNano()) / 1e9
		vehicles = map[string]struct{}{}
	)
	sum.Rejects = map[string]int{}
	// summary completes sum from the engine: at the end, or where an
	// interruption stopped the replay.
	summary := func() ReplaySummary {
		s := e.Stats()
		sum.Vehicles = len(vehicles)
		sum.Updates = s.Applied
		sum.Stale = s.Stale + s.Duplicates
		sum.RisksOpened = s.Opened
		sum.Wall = time.Since(start)
		sum.UpdatesPerS = float64(sum.Records) / sum.Wall.Seconds()
		return sum
	}
	flush := func() error {
		for i := range ups {
			ups[i].ID = ids[offs[i]:offs[i+1]]
		}
		if err := e.Submit(ctx, ups); err != nil {
			return err
		}
		e.Tick()
		ups, ids, offs = ups[:0], ids[:0], offs[:0]
		return werr
	}
	for {
		err := r.Read(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, ingest.ErrCSVRow) {
				sum.Records++
				sum.Rejected++
				sum.Rejects["malformed row"]++
				continue
			}
			return sum, fmt.Errorf("replay: %w", err)
		}
		sum.Records++
		if rec.Class == nil {
			rec.Class = class
			rec.Fields |= ingest.FieldClass
		}
		if _, reason := validator.Validate(&rec, wallNow); reason != ingest.ReasonOK {
			sum.Rejected++
			sum.Rejects[reason.String()]++
			continue
		}
		var v abi.Vehicle
		if err := ingest.Normalize(&rec, frame, classes, &v); err != nil {
			sum.Rejected++
			sum.Rejects[err.Error()]++
			continue
		}
		// A tick holds one processing_interval of data time. A record outside
		// the current tick's interval, later or earlier (an outlier, a second
		// recording appended), closes it.
		if rec.T >= tickEnd || rec.T < tickEnd-interval {
			if len(ups) > 0 {
				if err := flush(); err != nil {
					return summary(), err
				}
			}
			tickEnd = (math.Floor(rec.T/interval) + 1) * interval
			if opts.Speed > 0 {
				if math.IsNaN(dataT0) {
					dataT0 = rec.T
				}
				due := start.Add(time.Duration((rec.T - dataT0) / opts.Speed * float64(time.Second)))
				if d := time.Until(due); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return summary(), ctx.Err()
					}
				}
			}
			if ctx.Err() != nil {
				return summary(), ctx.Err()
			}
		}
		if _, ok := vehicles[string(rec.ID)]; !ok {
			vehicles[string(rec.ID)] = struct{}{}
		}
		if len(offs) == 0 {
			offs = append(offs, 0)
		}
		ids = append(ids, rec.ID...)
		offs = append(offs, len(ids))
		ups = append(ups, engine.Update{V: v})
	}
	if len(ups) > 0 {
		if err := flush(); err != nil {
			return summary(), err
		}
	}
	return summary(), werr
}

// replayToServer sends the file as NDJSON batches to a running server's
// POST /api/v1/locations, honouring 429 Retry-After, and reports what the
// server refused or dropped, by reason. With opts.RebaseTime it shifts the
// records' times to now (see cli.ReplayOptions.RebaseTime).
func replayToServer(ctx context.Context, cfg config.Config, opts cli.ReplayOptions) error {
	shift := 0.0 // --rebase-time at full speed: seconds added to every time
	if opts.RebaseTime && opts.Speed == 0 {
		last, err := lastTime(opts.File)
		if err != nil {
			return err
		}
		shift = float64(time.Now().UnixNano())/1e9 - last
	}
	f, err := os.Open(opts.File)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	url := strings.TrimRight(opts.Target, "/") + "/api/v1/locations"
	r := ingest.NewCSVReader(f)
	var (
		rec        ingest.Record
		body       []byte
		n, sent    int
		accepted   int
		rejected   int
		reasons    = map[string]int{} // refused by the server, by reason
		start      = time.Now()
		startUnix  = float64(start.UnixNano()) / 1e9
		batch      = 1000
		dataT0     = math.NaN()
		client     = &http.Client{Timeout: 30 * time.Second}
		class      = opts.Class
		batchStart = math.NaN()
	)
	if cfg.API.MaxBatch > 0 && cfg.API.MaxBatch < batch {
		batch = cfg.API.MaxBatch
	}
	post := func() error {
		for {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/x-ndjson")
			resp, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("replay: --target: %w", err)
			}
			var res struct {
				Accepted int    `json:"accepted"`
				Rejected int    `json:"rejected"`
				Error    string `json:"error"`
				Errors   []struct {
					Reason string `json:"reason"`
				} `json:"errors"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&res)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusTooManyRequests:
				wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
				select {
				case <-time.After(time.Duration(max(wait, 1)) * time.Second):
				case <-ctx.Done():
					return ctx.Err()
				}
				continue
			case resp.StatusCode/100 != 2:
				return fmt.Errorf("replay: --target answered %s: %s", resp.Status, res.Error)
			}
			accepted += res.Accepted
			rejected += res.Rejected
			for _, e := range res.Errors {
				reasons[e.Reason]++
			}
			sent += n
			body, n = body[:0], 0
			return nil
		}
	}
	for {
		err := r.Read(&rec)
		if err == io.EOF {
			break
		}
		if errors.Is(err, ingest.ErrCSVRow) {
			rejected++
			reasons["malformed_row"]++
			continue
		}
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		if math.IsNaN(dataT0) {
			dataT0 = rec.T
		}
		if opts.Speed > 0 {
			if math.IsNaN(batchStart) {
				batchStart = rec.T
			}
			due := start.Add(time.Duration((rec.T - dataT0) / opts.Speed * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				if n > 0 {
					if err := post(); err != nil {
						return err
					}
				}
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		if opts.RebaseTime {
			if opts.Speed > 0 {
				// Stamped with the wall time it is due at: now for the server.
				rec.T = startUnix + (rec.T-dataT0)/opts.Speed
			} else {
				rec.T += shift
			}
		}
		var ok bool
		if body, ok = appendRecordJSON(body, &rec, class); !ok {
			rejected++
			reasons["non_finite"]++
			continue
		}
		n++
		if n >= batch {
			if err := post(); err != nil {
				return err
			}
		}
	}
	if n > 0 {
		if err := post(); err != nil {
			return err
		}
	}
	el := time.Since(start)
	fmt.Fprintf(opts.Stderr, "replay: sent %d records to %s: %d accepted, %d rejected, %.3fs, %.0f records/s\n",
		sent, url, accepted, rejected, el.Seconds(), float64(sent)/el.Seconds())
	names := make([]string, 0, len(reasons))
	for r := range reasons {
		names = append(names, r)
	}
	sort.Strings(names)
	for _, r := range names {
		fmt.Fprintf(opts.Stderr, "replay: rejected %d records: %s%s\n", reasons[r], r, reasonHint(r, opts.RebaseTime))
	}
	return nil
}

// reasonHint explains the server's verdicts on well-formed records.
func reasonHint(reason string, rebased bool) string {
	switch reason {
	case "stale":
		return " (older than the vehicle's state on the server)"
	case "duplicate":
		return " (the server has the vehicle at that time already)"
	case "late":
		if rebased {
			return " (older than the server's clock minus collision_detection.vehicle_ttl)"
		}
		return " (older than the server's clock minus collision_detection.vehicle_ttl; --rebase-time shifts the recording to now)"
	case "time_in_future":
		if rebased {
			return " (ahead of the server's clock)"
		}
		return " (ahead of the server's clock; --rebase-time shifts the recording to now)"
	}
	return ""
}

// lastTime returns the newest record time of a tracks file.
func lastTime(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	r := ingest.NewCSVReader(f)
	var rec ingest.Record
	last := math.Inf(-1)
	for {
		err := r.Read(&rec)
		if err == io.EOF {
			break
		}
		if errors.Is(err, ingest.ErrCSVRow) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("replay: %s: %w", path, err)
		}
		if rec.T > last && !math.IsInf(rec.T, 0) {
			last = rec.T
		}
	}
	if math.IsInf(last, -1) {
		return 0, fmt.Errorf("replay: %s: no record to rebase", path)
	}
	return last, nil
}

// appendRecordJSON writes a CSV record as one wire-format line with the
// fields the row had, so that the server validates exactly what the local
// replay would. It reports false for a record JSON cannot carry (a number
// that is not finite); the caller counts it as rejected.
func appendRecordJSON(b []byte, r *ingest.Record, class string) ([]byte, bool) {
	start := len(b)
	id, _ := json.Marshal(string(r.ID)) // valid JSON whatever the bytes
	b = append(b, `{"id":`...)
	b = append(b, id...)
	ok := true
	num := func(f ingest.Field, key string, v float64) {
		if r.Fields&f == 0 {
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			ok = false
			return
		}
		b = append(b, ',', '"')
		b = append(b, key...)
		b = append(b, '"', ':')
		b = strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	num(ingest.FieldT, "t", r.T)
	num(ingest.FieldLat, "lat", r.Lat)
	num(ingest.FieldLon, "lon", r.Lon)
	num(ingest.FieldAlt, "alt", r.Alt)
	num(ingest.FieldVX, "vx", r.VX)
	num(ingest.FieldVY, "vy", r.VY)
	num(ingest.FieldVZ, "vz", r.VZ)
	if !ok {
		return b[:start], false
	}
	if class != "" {
		c, _ := json.Marshal(class)
		b = append(b, `,"class":`...)
		b = append(b, c...)
	}
	return append(b, '}', '\n'), true
}
