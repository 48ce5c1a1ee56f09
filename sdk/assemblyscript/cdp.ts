// The cdp plugin SDK for AssemblyScript: ABI v1 (see abi/SPEC.md).
//
// A plugin is one entry file that writes a scorer (a function from a pair to
// a result), a predictor, or both, and exports them through this SDK:
//
//   import * as cdp from "../../sdk/assemblyscript/cdp";
//   export { cdp_abi_version, cdp_alloc, cdp_last_error } from "../../sdk/assemblyscript/cdp";
//
//   class Model {
//     score(a: cdp.Vehicle, b: cdp.Vehicle, p: cdp.Params, out: cdp.Result): void { ... }
//   }
//   const model = new Model();
//
//   export function cdp_manifest(): i64 {
//     return cdp.manifest("my-scorer", "1.0.0", cdp.SCORER, "what it does, in one line", false);
//   }
//   export function cdp_score(batch: usize): i32 { return cdp.scoreBatch(batch, model); }
//
// A predictor is a method predict(v: cdp.Vehicle, p: cdp.Params, box: cdp.Box,
// samples: cdp.Samples): void exported with
// `export function cdp_predict(batch: usize): i32 { return cdp.predictBatch(batch, model); }`,
// and configuration arrives through
// `export function cdp_init(ptr: usize, len: i32): i32 { ... cdp.config(ptr, len) ... }`
// (keep what it sets in the model's fields).
//
// Build (AssemblyScript 0.28, installed locally by .ci/install-toolchains.sh):
//
//   sdk/assemblyscript/node_modules/.bin/asc plugin.ts -O3 --runtime stub --use abort= \
//       --noAssert --exportStart _initialize -o plugin.wasm
//
// `--use abort=` drops the one import AssemblyScript would otherwise need
// (env.abort): a plugin may import nothing but WASI. `--exportStart
// _initialize` makes the module a reactor whose top-level statements run
// when the host calls _initialize (SPEC.md 3), under the init time limit.
// The records are @unmanaged classes laid over the batch (no copies, no
// allocation), and every field is addressed through the strides and offsets
// of the batch header, so a plugin keeps working when a later minor ABI
// version appends fields to records.
//
// Speed. The host enforces its batch time limit with a check at every loop
// back-edge of the guest, and that check leaves the compiled code for the Go
// runtime: it costs tens of nanoseconds, more than scoring a pair. The batch
// loop below is therefore unrolled by hand, UNROLL pairs per iteration (a
// counted inner loop would be a Wasm loop again). The model is a class, not
// a function value: AssemblyScript calls a function value indirectly through
// a pointer Binaryen cannot resolve, while scoreBatch<M> is instantiated for
// the model's class and calls its method directly (inlined when small); a
// call costs no deadline check. Keep the scorer free of loops. Use `x > y ? x : y` rather than Math.max
// when porting a Go model: f64.max orders -0 and NaN differently.
//
// Write the model as a pure function of its inputs: the host splits, merges
// and renumbers batches and compares instances (SPEC.md 7.2).

/** ABI version spoken: major << 16 | minor. */
export const ABI_VERSION: i32 = 0x00010000;
/** Batch header magic: the bytes "CDPB". */
export const MAGIC: u32 = 0x42504443;
export const OP_PREDICT: u32 = 1;
export const OP_SCORE: u32 = 2;

/** Return codes (SPEC.md 2.2). */
export const OK: i32 = 0;
export const ERR_ABI: i32 = 1;
export const ERR_CONFIG: i32 = 2;
export const ERR_UNSUPPORTED: i32 = 3;
export const ERR_INTERNAL: i32 = 4;

/** Vehicle flags. */
export const VEHICLE_HAS_ACCEL: u32 = 1;
export const VEHICLE_GEODETIC: u32 = 2;
/** Result flags. */
export const RESULT_CONFLICT: u32 = 1;
export const RESULT_LOS: u32 = 2;

/** Manifest kinds. */
export const SCORER = "scorer";
export const PREDICTOR = "predictor";
export const PREDICTOR_SCORER = "predictor+scorer";

/** One vehicle's state (SPEC.md 5.1), 128 bytes. */
@unmanaged
export class Vehicle {
  x: f64; y: f64; z: f64;       // position, m (engine frame)
  vx: f64; vy: f64; vz: f64;    // velocity, m/s
  ax: f64; ay: f64; az: f64;    // acceleration, m/s^2 (flags & VEHICLE_HAS_ACCEL)
  alt: f64;                     // altitude, m
  vrate: f64;                   // vertical rate, m/s, up positive
  t: f64;                       // time of the state, Unix seconds
  radius: f32;                  // hard-body radius, m
  hsep: f32;                    // protected zone, horizontal half-width, m
  vsep: f32;                    // protected zone, vertical half-height, m
  sigma: f32;                   // 1-sigma position uncertainty, m (0: unknown)
  vclass: u32;                  // class index
  flags: u32;                   // VEHICLE_* bits
  key: u64;                     // opaque host handle; must not influence outputs
}

/** A scorer's answer for one pair (SPEC.md 5.3), 48 bytes. */
@unmanaged
export class Result {
  risk: f64;   // [0, 1]
  tca: f64;    // [0, horizon]
  dmin: f64;   // m, >= 0
  t_in: f64;   // RESULT_CONFLICT: entry into loss of separation; else -1
  t_out: f64;  // RESULT_CONFLICT: exit; else -1
  flags: u32;  // RESULT_* bits
  reserved: u32;
}

/** An axis-aligned box (predictor output), 48 bytes. */
@unmanaged
export class Box {
  min_x: f64; min_y: f64; min_z: f64;
  max_x: f64; max_y: f64; max_z: f64;
}

/** One trajectory sample (predictor output), 24 bytes. */
@unmanaged
export class Point {
  x: f64; y: f64; z: f64;
}

/** The batch header (SPEC.md 4), 128 bytes. */
@unmanaged
export class Header {
  magic: u32; version: u32; header_size: u32; op: u32;
  n_vehicles: u32; n_pairs: u32; samples: u32; flags: u32;
  vehicle_stride: u32; box_stride: u32; point_stride: u32; pair_stride: u32;
  result_stride: u32; out_count: u32;
  vehicles_off: u32; pairs_off: u32; boxes_off: u32; samples_off: u32;
  results_off: u32; batch_size: u32;
  horizon: f64;    // H, s
  min_risk: f64;   // m, the reporting threshold
}

/** The batch parameters a model reads (horizon, min_risk, samples) are the
 *  header's own fields. */
export type Params = Header;

// A model is any class with one or both of these methods (scoreBatch<M> and
// predictBatch<M> are instantiated for it):
//   score(a: Vehicle, b: Vehicle, p: Params, out: Result): void
//     writes every field of out;
//   predict(v: Vehicle, p: Params, box: Box, samples: Samples): void
//     writes v's box over [t, t + H] and, when p.samples > 0, the positions at
//     t + k*H/S, k = 1..S, to samples.at(k - 1).

/** Where a predictor writes its samples; follows the header's point stride. */
@unmanaged
export class Samples {
  base: usize;
  stride: usize;
  count: u32;

  /** The point for sample k (0-based, k < count). */
  @inline at(k: u32): Point {
    return changetype<Point>(this.base + <usize>k * this.stride);
  }
}

// Instance state. The host never overlaps calls on an instance.
let block: usize = 0;
let blockCap: usize = 0;
let manifestBuf: ArrayBuffer | null = null;
let errorBuf: ArrayBuffer | null = null;

function ptrLen(buf: ArrayBuffer | null): i64 {
  if (buf === null || buf.byteLength == 0) return 0;
  return (<i64>changetype<usize>(buf) << 32) | <i64>buf.byteLength;
}

/** Records the message that cdp_last_error returns (at most 1 KiB is read). */
export function setError(msg: string): void {
  errorBuf = String.UTF8.encode(msg);
}

function quote(s: string): string {
  let out = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c) out += "\\" + String.fromCharCode(c);
    else if (c < 0x20) out += "\\u00" + (c < 16 ? "0" : "") + c.toString(16);
    else out += String.fromCharCode(c);
  }
  return out + "\"";
}

/** The value of cdp_manifest (SPEC.md 2.3); kind is SCORER, PREDICTOR or
 *  PREDICTOR_SCORER and must match the exports. */
export function manifest(name: string, version: string, kind: string, description: string, matchesBuiltin: bool): i64 {
  if (manifestBuf === null) {
    let json = "{\"name\":" + quote(name) + ",\"version\":" + quote(version) +
      ",\"kind\":" + quote(kind) + ",\"description\":" + quote(description);
    if (matchesBuiltin) json += ",\"matches_builtin\":true";
    manifestBuf = String.UTF8.encode(json + "}");
  }
  return ptrLen(manifestBuf);
}

/** The JSON configuration that cdp_init received, decoded. */
export function config(ptr: usize, len: i32): string {
  return String.UTF8.decodeUnsafe(ptr, <usize>len);
}

export function cdp_abi_version(): i32 {
  return ABI_VERSION;
}

export function cdp_last_error(): i64 {
  return ptrLen(errorBuf);
}

/** One growable block from the runtime's heap, so that it never overlaps what
 *  the runtime allocates. The host never touches an earlier block after a new
 *  call (SPEC.md 2.2), so the old one is freed. */
export function cdp_alloc(size: i32): usize {
  if (size < 0) return 0;
  const n = <usize>size;
  if (block != 0 && n <= blockCap) return block;
  if (block != 0) heap.free(block);
  block = heap.alloc(n > 8 ? n : 8);
  blockCap = n;
  return block;
}

/** UNROLL pairs are scored per loop iteration (one deadline check each):
 *  the number of calls written out in scoreBatch's loop; change both together. */
export const UNROLL: u32 = 32;

@inline
function headerOK(h: Header, op: u32): bool {
  if (h.magic != MAGIC || (h.version >> 16) != 1 || h.op != op || h.vehicle_stride < 128) return false;
  if (op == OP_SCORE) return h.pair_stride >= 8 && h.result_stride >= 48;
  return h.box_stride >= 48 && (h.samples == 0 || h.point_stride >= 24);
}

@inline
function one<M>(m: M, h: Header, vt: usize, pt: usize, rt: usize, vs: usize, ps: usize, rs: usize, i: u32): void {
  const pr = pt + <usize>i * ps;
  m.score(changetype<Vehicle>(vt + <usize>load<u32>(pr) * vs),
     changetype<Vehicle>(vt + <usize>load<u32>(pr, 4) * vs), h,
     changetype<Result>(rt + <usize>i * rs));
}

/** The body of cdp_score: the batch loop over the header at batch, calling
 *  model.score once per pair. */
@inline
export function scoreBatch<M>(batch: usize, model: M): i32 {
  const h = changetype<Header>(batch);
  if (!headerOK(h, OP_SCORE)) {
    setError("cdp_score: unsupported batch header");
    return ERR_ABI;
  }
  const vt = batch + <usize>h.vehicles_off;
  const pt = batch + <usize>h.pairs_off;
  const rt = batch + <usize>h.results_off;
  const vs = <usize>h.vehicle_stride, ps = <usize>h.pair_stride, rs = <usize>h.result_stride;
  const n = h.n_pairs;
  let i: u32 = 0;
  // Unrolled by hand, 32 pairs per iteration: see the file comment.
  while (i + UNROLL <= n) {
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 1);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 2);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 3);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 4);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 5);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 6);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 7);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 8);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 9);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 10);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 11);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 12);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 13);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 14);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 15);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 16);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 17);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 18);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 19);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 20);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 21);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 22);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 23);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 24);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 25);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 26);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 27);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 28);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 29);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 30);
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i + 31);
    i += UNROLL;
  }
  while (i < n) {
    one<M>(model, h, vt, pt, rt, vs, ps, rs, i);
    i++;
  }
  h.out_count = n;
  return OK;
}

/** The body of cdp_predict: calls model.predict once per vehicle. */
@inline
export function predictBatch<M>(batch: usize, model: M): i32 {
  const h = changetype<Header>(batch);
  if (!headerOK(h, OP_PREDICT)) {
    setError("cdp_predict: unsupported batch header");
    return ERR_ABI;
  }
  const n = h.n_vehicles;
  const ns = h.samples;
  const vs = <usize>h.vehicle_stride, bs = <usize>h.box_stride, ps = <usize>h.point_stride;
  const s = changetype<Samples>(memory.data(12));
  s.stride = ps;
  s.count = ns;
  for (let i: u32 = 0; i < n; i++) {
    s.base = batch + <usize>h.samples_off + <usize>i * <usize>ns * ps;
    model.predict(changetype<Vehicle>(batch + <usize>h.vehicles_off + <usize>i * vs), h,
       changetype<Box>(batch + <usize>h.boxes_off + <usize>i * bs), s);
  }
  h.out_count = n;
  return OK;
}
