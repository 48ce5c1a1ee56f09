package kafka

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

// testEngine is a running engine on data time with the builtin models and
// a validator and frame around London.
type testEngine struct {
	*engine.Engine
	val   *ingest.Validator
	frame *geo.Frame
	stop  func()
}

func newTestEngine(t testing.TB, classes map[string]ingest.ClassSpec) *testEngine {
	t.Helper()
	e, err := engine.New(engine.Config{ProcessingInterval: 5 * time.Millisecond, MaxDistance: 200},
		engine.Models{Predictor: builtin.Predictor{}, Scorer: builtin.Scorer{}})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ingest.NewClasses(classes)
	if err != nil {
		t.Fatal(err)
	}
	val, err := ingest.NewValidator(ingest.Options{}, cl)
	if err != nil {
		t.Fatal(err)
	}
	frame, err := geo.New(geo.Config{Lat: 51.5, Lon: -0.12})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx) }()
	te := &testEngine{Engine: e, val: val, frame: frame}
	te.stop = func() { cancel(); <-done }
	t.Cleanup(te.stop)
	return te
}

// runConsumer starts c and returns a function that stops it and waits.
func runConsumer(t testing.TB, c *Consumer) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Refused records go to the dead-letter topic with their reason, field,
// source and the record itself; the valid records of the same messages and
// the messages after them reach the engine.
func TestBadRecordsGoToDeadLetterTopic(t *testing.T) {
	c := NewCluster(t, 1)
	k := ClusterConfig(c, "dlq")
	eng := newTestEngine(t, nil)
	now := float64(time.Now().Unix())
	ok := func(id string, dt float64) string {
		return fmt.Sprintf(`{"id":%q,"t":%.3f,"lat":51.5,"lon":-0.12,"alt":100,"vx":1,"vy":0}`, id, now+dt)
	}
	msgs := []string{
		`{"id":"a", "t": not json`,
		`[` + ok("b", 0) + `, {"id":"c","t":` + strconv.FormatFloat(now, 'f', 3, 64) + `,"lat":200,"lon":0,"alt":0,"vx":0,"vy":0}, {"t":1}]`,
		`{"id":"d","t":` + strconv.FormatFloat(now, 'f', 3, 64) + `,"lat":51.5,"lon":-0.12,"alt":100,"vx":1,"vy":0,"class":"zeppelin"}`,
		ok("e", 1),
	}
	values := make([][]byte, len(msgs))
	for i, m := range msgs {
		values[i] = []byte(m)
	}
	ProduceAll(t, c.ListenAddrs(), k.Topics.VehicleLocations, nil, values)

	p, err := NewProducer(ProducerOptions{Kafka: k})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	cons, err := NewConsumer(ConsumerOptions{Kafka: k, Engine: eng, Validator: eng.val, Frame: eng.frame, DeadLetters: p})
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, cons)
	waitFor(t, "the valid records in the engine", 20*time.Second, func() bool {
		_, okB := eng.Vehicle("b")
		_, okE := eng.Vehicle("e")
		return okB && okE
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	want := []struct{ reason, field, source, index, value string }{
		{"malformed_json", "", "vehicle-locations/0/0", "0", msgs[0]},
		{"lat_out_of_range", "lat", "vehicle-locations/0/1", "1", `{"id":"c"`},
		{"missing_id", "id", "vehicle-locations/0/1", "2", `{"t":1}`},
		{"unknown_class", "class", "vehicle-locations/0/2", "0", `"class":"zeppelin"`},
	}
	got := ReadTopic(t, c.ListenAddrs(), k.Topics.DeadLetter, len(want), 10*time.Second)
	if len(got) != len(want) {
		t.Fatalf("%d dead letters, want %d", len(got), len(want))
	}
	for i, w := range want {
		r := got[i]
		if Header(r, HeaderReason) != w.reason || Header(r, HeaderField) != w.field ||
			Header(r, HeaderSource) != w.source || Header(r, HeaderIndex) != w.index {
			t.Errorf("dead letter %d: reason %q field %q source %q index %q, want %+v", i,
				Header(r, HeaderReason), Header(r, HeaderField), Header(r, HeaderSource), Header(r, HeaderIndex), w)
		}
		if !contains(string(r.Value), w.value) {
			t.Errorf("dead letter %d: value %s, want it to hold %s", i, r.Value, w.value)
		}
		if Header(r, HeaderDetail) == "" {
			t.Errorf("dead letter %d has no %s", i, HeaderDetail)
		}
	}
	s := cons.Stats()
	if s.Rejected != 4 || s.Submitted != 2 || s.Malformed != 1 || s.Messages != 4 {
		t.Errorf("stats: %+v", s)
	}
	if s := p.Stats(); s.DeadLetters != 4 || s.DeadLetterErrors != 0 {
		t.Errorf("producer stats: %+v", s)
	}
	// The offsets of every message are committed: the dead letters did not
	// hold the partition.
	adm := kadm.NewClient(p.Client())
	offs, err := adm.FetchOffsets(context.Background(), k.ConsumerGroup)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup(k.Topics.VehicleLocations, 0); o.At != int64(len(msgs)) {
		t.Errorf("committed offset %d, want %d", o.At, len(msgs))
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0))
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// recorder is an Ingester that notes every (id, t) submitted.
type recorder struct {
	Ingester
	mu   sync.Mutex
	seen map[string]int // "id@t" -> times submitted

	total   int
	holdAt  int           // Submit blocks once total reaches it (0: never)
	release chan struct{} // closed to let Submit go on
}

func (r *recorder) Submit(ctx context.Context, ups []engine.Update) error {
	r.mu.Lock()
	held := r.holdAt > 0 && r.total >= r.holdAt
	r.mu.Unlock()
	if held { // a saturated engine: Submit blocks until released or stopped
		select {
		case <-r.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := r.Ingester.Submit(ctx, ups); err != nil {
		return err
	}
	r.mu.Lock()
	r.total += len(ups)
	for _, u := range ups {
		r.seen[string(u.ID)+"@"+strconv.FormatFloat(u.V.T, 'f', 3, 64)]++
	}
	r.mu.Unlock()
	return nil
}

func (r *recorder) count() (distinct, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.seen {
		total += n
	}
	return len(r.seen), total
}

// synthetic returns n updates of each of v vehicles, one second apart, as
// messages keyed by vehicle id, and the last time of each vehicle.
func synthetic(v, n int, t0 float64) (keys, values [][]byte, last map[string]float64) {
	rng := rand.New(rand.NewPCG(1, 2))
	last = map[string]float64{}
	for s := range n {
		for i := range v {
			id := fmt.Sprintf("v%04d", i)
			t := t0 + float64(s)
			keys = append(keys, []byte(id))
			values = append(values, fmt.Appendf(nil, `{"id":%q,"t":%.3f,"lat":%.6f,"lon":%.6f,"alt":%.1f,"vx":%.2f,"vy":%.2f}`,
				id, t, 51.5+rng.Float64()*0.1, -0.12+rng.Float64()*0.1, 100+rng.Float64()*50, rng.Float64()*10, rng.Float64()*10))
			last[id] = t
		}
	}
	return keys, values, last
}

// Killing the consumer mid-stream (no drain, no final commit) and starting a
// new one in the same group loses no record: every (vehicle, time) produced is
// submitted, every vehicle's state ends at its last time, and the new consumer
// resumes from the commits (it re-reads some records, not the stream).
func TestKillAndRestartLosesNothing(t *testing.T) {
	c := NewCluster(t, 3)
	k := ClusterConfig(c, "restart")
	k.Consumer.MaxPollRecords = 200
	k.Consumer.CommitInterval = 100 * time.Millisecond
	eng := newTestEngine(t, nil)
	keys, values, last := synthetic(100, 60, float64(time.Now().Unix()-100))
	ProduceAll(t, c.ListenAddrs(), k.Topics.VehicleLocations, keys, values)
	rec := &recorder{Ingester: eng, seen: map[string]int{}, holdAt: len(values) / 3, release: make(chan struct{})}

	newConsumer := func() *Consumer {
		cons, err := NewConsumer(ConsumerOptions{Kafka: k, Engine: rec, Validator: eng.val, Frame: eng.frame})
		if err != nil {
			t.Fatal(err)
		}
		return cons
	}
	c1 := newConsumer()
	stop1 := runConsumer(t, c1)
	admCl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	committed := func() (sum int64) {
		offs, err := adm.FetchOffsets(context.Background(), k.ConsumerGroup)
		if err == nil {
			offs.Each(func(o kadm.OffsetResponse) { sum += max(o.At, 0) })
		}
		return sum
	}
	// The engine holds the consumer after a third of the stream; wait until
	// what it applied is committed, then crash it.
	waitFor(t, "a commit", 20*time.Second, func() bool { return committed() > 0 })
	c1.abandon.Store(true) // a crash: no drain, no final commit
	_ = stop1()
	close(rec.release)
	first := c1.Stats().Submitted
	if first >= uint64(len(values)) {
		t.Fatalf("the first consumer read everything (%d) before the kill: nothing to test", first)
	}

	c2 := newConsumer()
	stop2 := runConsumer(t, c2)
	waitFor(t, "every record submitted", 30*time.Second, func() bool {
		d, _ := rec.count()
		return d == len(values)
	})
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	second := c2.Stats().Submitted
	reread := first + second - uint64(len(values))
	t.Logf("first consumer %d records, second %d, re-read after the kill %d", first, second, reread)
	if second >= uint64(len(values)) {
		t.Errorf("the second consumer read the whole stream (%d): it did not resume from the commits", second)
	}
	if err := eng.WaitApplied(context.Background()); err != nil {
		t.Fatal(err)
	}
	for id, tl := range last {
		st, ok := eng.Vehicle(id)
		if !ok || st.State.T != tl {
			t.Fatalf("vehicle %s: state %+v (present %v), want time %.3f", id, st, ok, tl)
		}
	}
	s := eng.Stats()
	if s.Applied+s.Stale+s.Duplicates != first+second {
		t.Errorf("engine: applied %d + stale %d + duplicates %d != submitted %d", s.Applied, s.Stale, s.Duplicates, first+second)
	}
	// After the clean stop every partition is committed to its end.
	if n := committed(); n != int64(len(values)) {
		t.Errorf("committed offsets sum to %d, want %d", n, len(values))
	}
}
