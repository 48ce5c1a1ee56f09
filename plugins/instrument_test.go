package plugins

import (
	"strings"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/plugins/wasmtest"
	"github.com/tetratelabs/wazero"
)

// TestInstrumentKeepsSemantics: the rewritten functions return what the
// originals return, through every way out of a function (falling off the
// end, return from nested blocks, a branch to the function's label, multiple
// results), and the depth budget is whole again after each call.
func TestInstrumentKeepsSemantics(t *testing.T) {
	i32 := []byte{wasmtest.TypeI32}
	two := []byte{wasmtest.TypeI32, wasmtest.TypeI32}
	m := &wasmtest.Module{MemMin: 1, MemMax: -1, Funcs: []wasmtest.Func{
		// f0(x) = x < 10 ? x+1 (return inside two blocks) : f0(x-10)+100 (recursion)
		{Export: "f0", Params: i32, Result: i32, Body: wasmtest.Code{}.
			Block().Block().Get(0).I32(10).Op(0x49).IfThen(wasmtest.Code{}.Get(0).I32(1).I32Add().Op(0x0f)).End().End().
			Get(0).I32(10).I32Sub().Call(0).I32(100).I32Add()},
		// f1(x) = (x, x+1) by a branch to the function label
		{Export: "f1", Params: i32, Result: two, Body: wasmtest.Code{}.
			Get(0).Get(0).I32(1).I32Add().Br(0)},
		// f2(x) = f1(x) summed, returned by an explicit return in a loop
		{Export: "f2", Params: i32, Result: i32, Body: wasmtest.Code{}.
			Loop().Get(0).Call(1).I32Add().Op(0x0f).End().Unreachable()},
	}}
	code, err := instrument(m.Bytes(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	depth := mod.ExportedGlobal(DepthGlobal)
	for _, c := range []struct {
		fn   string
		arg  uint64
		want []uint64
	}{
		{"f0", 3, []uint64{4}}, {"f0", 25, []uint64{206}}, {"f1", 7, []uint64{7, 8}}, {"f2", 7, []uint64{15}},
	} {
		got, err := mod.ExportedFunction(c.fn).Call(ctx, c.arg)
		if err != nil {
			t.Fatalf("%s(%d): %v", c.fn, c.arg, err)
		}
		if len(got) != len(c.want) || got[0] != c.want[0] || got[len(got)-1] != c.want[len(c.want)-1] {
			t.Fatalf("%s(%d) = %v, want %v", c.fn, c.arg, got, c.want)
		}
		if d := depth.Get(); d != 1000 {
			t.Fatalf("after %s: depth budget %d, want 1000 back", c.fn, d)
		}
	}
	// 1000 frames of budget: f0 recurses once per 10.
	if _, err := mod.ExportedFunction("f0").Call(ctx, 20000); err == nil || uint32(depth.Get()) != depthExhausted {
		t.Fatalf("f0(20000): err %v, depth %d: want the depth trap", err, depth.Get())
	}
}

// TestInstrumentRefusesHostIndices: a module cannot reach what the rewrite
// adds: export the depth global's name, or refer to the globals and types
// the host appends (such a module is invalid as uploaded, but would become
// valid after the rewrite, and could refill its own depth budget).
func TestInstrumentRefusesHostIndices(t *testing.T) {
	for name, f := range map[string]wasmtest.Func{
		"exports " + DepthGlobal: {Export: DepthGlobal},
		"sets the depth global":  {Export: "f", Body: wasmtest.Code{}.Call(0).I32(1<<20).Op(0x24, 0)},
		"reads the fuel global":  {Export: "f", Body: wasmtest.Code{}.Call(0).Op(0x23, 1).Drop()},
		"uses a host block type": {Export: "f", Body: wasmtest.Code{}.Call(0).Op(0x02, 1).End()},
		"calls a host type":      {Export: "f", Body: wasmtest.Code{}.Call(0).I32(0).Op(0x11, 1, 0)},
	} {
		m := &wasmtest.Module{MemMin: 1, MemMax: -1, Funcs: []wasmtest.Func{f}}
		if _, err := instrument(m.Bytes(), 10); err == nil {
			t.Errorf("instrumented a module that %s", name)
		}
	}
}

// TestTablesBounded: tables are host memory the memory limit does not
// count. Tables declaring more entries together than maxTableTotal are
// refused; a table declared without a maximum cannot grow past its share
// (table.grow answers -1, as the spec allows).
func TestTablesBounded(t *testing.T) {
	huge := &wasmtest.Module{MemMin: 1, MemMax: -1, Tables: []uint32{maxTableTotal, 10}, Funcs: []wasmtest.Func{{Export: "f"}}}
	if err := scanModule(huge.Bytes()); err == nil || !strings.Contains(err.Error(), "entries together") {
		t.Fatalf("two tables over the total: %v", err)
	}
	// grow(n) = table.grow 0 (ref.null func, n)
	grow := &wasmtest.Module{MemMin: 1, MemMax: -1, Tables: []uint32{4}, Funcs: []wasmtest.Func{{Export: "grow",
		Params: []byte{wasmtest.TypeI32}, Result: []byte{wasmtest.TypeI32},
		Body: wasmtest.Code{}.Op(0xd0, 0x70).Get(0).Op(0xfc, 15, 0)}}}
	code, err := instrument(grow.Bytes(), 100)
	if err != nil {
		t.Fatal(err)
	}
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ n, want uint64 }{{100, 4}, {1 << 24, 0xffffffff}, {maxTableTotal, 0xffffffff}} {
		got, err := mod.ExportedFunction("grow").Call(ctx, c.n)
		if err != nil || uint32(got[0]) != uint32(c.want) {
			t.Fatalf("table.grow(%d) = %v, %v; want %d", c.n, got, err, int32(c.want))
		}
	}
}
