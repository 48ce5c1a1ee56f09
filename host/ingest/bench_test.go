package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// recordedBatch returns the first n rows of the OpenSky recording as a JSON
// array of wire records (the shape a REST client posts), or a synthetic batch
// when the recording is not there.
func recordedBatch(tb testing.TB, n int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	buf.WriteByte('[')
	f, err := os.Open(filepath.Join(dataDir, "opensky-uk-2021-07-12", "tracks.csv"))
	if err == nil {
		defer f.Close()
		r := NewCSVReader(f)
		var rec Record
		for i := 0; i < n; i++ {
			if err := r.Read(&rec); err == io.EOF {
				break
			} else if err != nil {
				tb.Fatal(err)
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, `{"id":%q,"t":%s,"lat":%s,"lon":%s,"alt":%s,"vx":%s,"vy":%s,"vz":%s}`, rec.ID,
				strconv.FormatFloat(rec.T, 'f', -1, 64), strconv.FormatFloat(rec.Lat, 'f', -1, 64), strconv.FormatFloat(rec.Lon, 'f', -1, 64),
				strconv.FormatFloat(rec.Alt, 'f', -1, 64), strconv.FormatFloat(rec.VX, 'f', -1, 64), strconv.FormatFloat(rec.VY, 'f', -1, 64),
				strconv.FormatFloat(rec.VZ, 'f', -1, 64))
		}
	} else {
		for i := 0; i < n; i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, `{"id":"%06x","t":1626098396.133,"lat":51.8436127,"lon":-1.3514668,"alt":472.4,"vx":-15.95,"vy":-48.87,"vz":0.33}`, i)
		}
	}
	buf.WriteByte(']')
	return buf.Bytes()
}

// TestSteadyStateAllocs: decoding a batch and normalising its records
// allocates nothing once the caller's slices and the decoder's scratch have
// grown, including batches with escaped ids and refused records.
func TestSteadyStateAllocs(t *testing.T) {
	d := testDecoder(t)
	classes := d.Validator().Classes()
	data := recordedBatch(t, 500)
	extra := []byte("\n" + `{"id":"esc\u00e9","t":"2021-07-12T14:00:00Z","lat":51,"lon":-1,"alt":100,"speed":100,"track":90,"class":"drone","ax":0,"ay":0,"az":1,"junk":{"a":[1,2,"\n"]}}` +
		"\n" + `{"id":"bad","t":1626098396,"lat":91,"lon":-1,"alt":100,"vx":1,"vy":1}` + "\n" + `{"id":"nan","lat":NaN}`)
	data = append(data, extra...)
	recs := make([]Record, 0, 1024)
	errs := make([]RecordError, 0, 16)
	vehicles := make([]abi.Vehicle, 1024)
	run := func() {
		var err error
		recs, errs, err = d.DecodeBatch(data, now, recs[:0], errs[:0])
		if err != nil || len(recs) != 501 || len(errs) != 2 {
			t.Fatalf("%d recs %v %v", len(recs), errs, err)
		}
		for i := range recs {
			if err := Normalize(&recs[i], london, classes, &vehicles[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	run()
	if n := testing.AllocsPerRun(50, run); n != 0 {
		t.Fatalf("%v allocations per batch of %d records, want 0", n, len(recs))
	}
}

func BenchmarkDecodeBatch(b *testing.B) {
	d := testDecoder(b)
	data := recordedBatch(b, 1000)
	recs := make([]Record, 0, 1000)
	var errs []RecordError
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		var err error
		recs, errs, err = d.DecodeBatch(data, now, recs[:0], errs[:0])
		if err != nil || len(errs) != 0 {
			b.Fatal(err, errs)
		}
		n += len(recs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkNormalize(b *testing.B) {
	d := testDecoder(b)
	classes := d.Validator().Classes()
	recs, _, err := d.DecodeBatch(recordedBatch(b, 1000), now, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	vehicles := make([]abi.Vehicle, len(recs))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := range recs {
			if err := Normalize(&recs[i], london, classes, &vehicles[i]); err != nil {
				b.Fatal(err)
			}
		}
		n += len(recs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDecodeNormalize is the whole ingest path of a REST batch: bytes to
// engine states.
func BenchmarkDecodeNormalize(b *testing.B) {
	d := testDecoder(b)
	classes := d.Validator().Classes()
	data := recordedBatch(b, 1000)
	recs := make([]Record, 0, 1000)
	var errs []RecordError
	vehicles := make([]abi.Vehicle, 1000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		recs, errs, _ = d.DecodeBatch(data, now, recs[:0], errs[:0])
		for i := range recs {
			_ = Normalize(&recs[i], london, classes, &vehicles[i])
		}
		n += len(recs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkEncodingJSON is the baseline the scanner replaces (RATIONALE.md):
// encoding/json into a struct with the same fields, no validation.
func BenchmarkEncodingJSON(b *testing.B) {
	type wire struct {
		ID                 string   `json:"id"`
		T                  float64  `json:"t"`
		Lat, Lon, Alt      *float64 `json:"-"`
		LatV               float64  `json:"lat"`
		LonV               float64  `json:"lon"`
		AltV               float64  `json:"alt"`
		VX                 float64  `json:"vx"`
		VY                 float64  `json:"vy"`
		VZ                 float64  `json:"vz"`
		Class              string   `json:"class"`
		Radius, Sigma      float64
		Speed, Track, Rate *float64
	}
	data := recordedBatch(b, 1000)
	var out []wire
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		out = out[:0]
		if err := json.Unmarshal(data, &out); err != nil {
			b.Fatal(err)
		}
		n += len(out)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkCSVReader(b *testing.B) {
	row := "4077da,1626098396.133,51.8436127,-1.3514668,472.4,-15.95,-48.87,0.33\n"
	data := "id,t,lat,lon,alt_m,vx_mps,vy_mps,vz_mps\n" + strings.Repeat(row, 10000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	n := 0
	var rec Record
	for b.Loop() {
		r := NewCSVReader(strings.NewReader(data))
		for r.Read(&rec) == nil {
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDecodeBatchADSB decodes the heavier form: NDJSON with RFC 3339
// times, speed/track/vrate, a class and producer fields the decoder skips.
func BenchmarkDecodeBatchADSB(b *testing.B) {
	d := testDecoder(b)
	var buf bytes.Buffer
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&buf, `{"id":"%06x","callsign":"BAW%d","t":"2021-07-12T14:%02d:%02d.%03dZ","lat":51.%07d,"lon":-1.%07d,"alt":%d.4,"speed":%d.25,"track":%d.5,"vrate":-2.5,"class":"aircraft","squawk":"7000","on_ground":false}`+"\n",
			i, i, i%30, i%60, i%1000, i*7919%10000000, i*104729%10000000, 1000+i*10, 100+i%150, i%360)
	}
	data := buf.Bytes()
	recs := make([]Record, 0, 1000)
	var errs []RecordError
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		var err error
		recs, errs, err = d.DecodeBatch(data, now, recs[:0], errs[:0])
		if err != nil || len(errs) != 0 {
			b.Fatal(err, errs)
		}
		n += len(recs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
