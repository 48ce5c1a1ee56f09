// cpa-as: the builtin closest-point-of-approach scorer (builtin.ScorePair)
// and the builtin kinematic predictor (builtin.Predictor) in AssemblyScript
// against sdk/assemblyscript, operation for operation, so that the results
// are bit-identical to the host's (Wasm has no fused multiply-add).
// Build: see Makefile.
import * as cdp from "../../sdk/assemblyscript/cdp";
export { cdp_abi_version, cdp_alloc, cdp_last_error } from "../../sdk/assemblyscript/cdp";

const EPS: f64 = 1e-12;

// The specification's comparisons (Math.max/min, f64.max/min, treat NaN and
// -0 otherwise).
@inline function fmax(x: f64, y: f64): f64 { return x > y ? x : y; }
@inline function fmin(x: f64, y: f64): f64 { return x < y ? x : y; }
@inline function fclamp(x: f64, lo: f64, hi: f64): f64 { return fmin(fmax(x, lo), hi); }

@inline
function put(out: cdp.Result, risk: f64, tca: f64, dmin: f64, tIn: f64, tOut: f64, flags: u32): void {
  out.risk = risk;
  out.tca = tca;
  out.dmin = dmin;
  out.t_in = tIn;
  out.t_out = tOut;
  out.flags = flags;
  out.reserved = 0;
}

function scorePair(a: cdp.Vehicle, b: cdp.Vehicle, p: cdp.Params, out: cdp.Result): void {
  // 1. Reference time; propagate both states to it.
  const t = fmax(a.t, b.t);
  const dtA = t - a.t;
  const dtB = t - b.t;
  // 2. Window.
  const w = fmin(a.t, b.t) + p.horizon - t;
  // 3. Relative motion, B minus A.
  const dx = (b.x + b.vx * dtB) - (a.x + a.vx * dtA);
  const dy = (b.y + b.vy * dtB) - (a.y + a.vy * dtA);
  const dw = (b.z + b.vz * dtB) - (a.z + a.vz * dtA);
  const dz = (b.alt + b.vrate * dtB) - (a.alt + a.vrate * dtA);
  const vx = b.vx - a.vx;
  const vy = b.vy - a.vy;
  const vw = b.vz - a.vz;
  const vz = b.vrate - a.vrate;
  const dd = dx * dx + dy * dy + dw * dw;
  const dv = dx * vx + dy * vy + dw * vw;
  const vv = vx * vx + vy * vy + vw * vw;
  const qa = fmax(0, vv - vz * vz);
  const qb = dv - dz * vz;
  const c0 = dd - dz * dz;
  if (w < 0) {
    put(out, 0, 0, Math.sqrt(dd), -1, -1, 0);
    return;
  }
  let tca: f64 = 0;
  if (vv > EPS) tca = fclamp(-dv / vv, 0, w);
  const ex = dx + vx * tca;
  const ey = dy + vy * tca;
  const ew = dw + vw * tca;
  const dmin = Math.sqrt(ex * ex + ey * ey + ew * ew);

  // 4. Protected zone of the pair.
  const rA = <f64>a.radius;
  const rB = <f64>b.radius;
  const zr = fmax(<f64>a.hsep, <f64>b.hsep) + rA + rB;
  const zv = fmax(<f64>a.vsep, <f64>b.vsep) + rA + rB;

  // 5. Loss-of-separation windows.
  let open = true;
  let h1 = -Infinity, h2 = Infinity;
  const c = c0 - zr * zr;
  if (qa <= EPS) {
    open = c < 0;
  } else {
    const disc = qb * qb - qa * c;
    if (disc <= 0) {
      open = false;
    } else {
      const s = Math.sqrt(disc);
      h1 = (-qb - s) / qa;
      h2 = (-qb + s) / qa;
    }
  }
  let v1 = -Infinity, v2 = Infinity;
  if (Math.abs(vz) <= EPS) {
    open = open && Math.abs(dz) < zv;
  } else {
    const t1 = (-zv - dz) / vz;
    const t2 = (zv - dz) / vz;
    v1 = fmin(t1, t2);
    v2 = fmax(t1, t2);
  }
  const tin = fmax(h1, v1);
  const tout = fmin(h2, v2);

  // 6. Risk.
  if (open && tin < tout && tout > 0 && tin <= w) {
    const end = fmin(tout, w);
    if (tin <= 0) {
      put(out, 1, tca, dmin, 0, end, cdp.RESULT_CONFLICT | cdp.RESULT_LOS);
      return;
    }
    const u = tin / p.horizon;
    let th = tin;
    if (qa > EPS) th = fclamp(-qb / qa, tin, end);
    const hmin = Math.sqrt(fmax(0, c0 + 2 * qb * th + qa * th * th));
    let depth: f64 = 0;
    if (zr > 0) depth = fclamp(1 - hmin / zr, 0, 1);
    put(out, 1 - 0.5 * u * (1 - 0.5 * depth), tca, dmin, tin, end, cdp.RESULT_CONFLICT);
    return;
  }
  let hn = Infinity;
  if (zr > 0) hn = Math.sqrt(fmax(0, c0 + 2 * qb * tca + qa * tca * tca)) / zr;
  let vn = Infinity;
  if (zv > 0) vn = Math.abs(dz + vz * tca) / zv;
  const n = fmax(fmax(hn, vn), 1);
  put(out, 0.5 * p.min_risk / (n * n), tca, dmin, -1, -1, 0);
}

// The builtin predictor: constant velocity, or constant acceleration with
// VEHICLE_HAS_ACCEL; the box also covers the constant-velocity path (the
// scorer ignores acceleration) and every sample.
@inline function caAt(x: f64, vx: f64, ax: f64, t: f64): f64 {
  return x + vx * t + 0.5 * ax * t * t;
}

// lo and hi of one axis live in a 2-element scratch: [0] lo, [1] hi.
const rng = memory.data(16);

@inline function axisRange(x: f64, vx: f64, h: f64): void {
  const e = x + vx * h;
  store<f64>(rng, fmin(x, e));
  store<f64>(rng, fmax(x, e), 8);
}

function caAxisRange(x: f64, vx: f64, ax: f64, h: f64): void {
  const e = caAt(x, vx, ax, h);
  let lo = fmin(load<f64>(rng), e);
  let hi = fmax(load<f64>(rng, 8), e);
  if (ax != 0) {
    const ts = -vx / ax;
    if (ts > 0 && ts < h) {
      const m = caAt(x, vx, ax, ts);
      lo = fmin(lo, m);
      hi = fmax(hi, m);
    }
  }
  const pad = 1e-12 * (Math.abs(x) + Math.abs(vx) * h + Math.abs(ax) * h * h);
  store<f64>(rng, lo - pad);
  store<f64>(rng, hi + pad, 8);
}

function predictVehicle(v: cdp.Vehicle, p: cdp.Params, box: cdp.Box, samples: cdp.Samples): void {
  const h = p.horizon;
  const accel = (v.flags & cdp.VEHICLE_HAS_ACCEL) != 0;
  axisRange(v.x, v.vx, h);
  if (accel) caAxisRange(v.x, v.vx, v.ax, h);
  let minX = load<f64>(rng), maxX = load<f64>(rng, 8);
  axisRange(v.y, v.vy, h);
  if (accel) caAxisRange(v.y, v.vy, v.ay, h);
  let minY = load<f64>(rng), maxY = load<f64>(rng, 8);
  axisRange(v.z, v.vz, h);
  if (accel) caAxisRange(v.z, v.vz, v.az, h);
  let minZ = load<f64>(rng), maxZ = load<f64>(rng, 8);
  const ns = samples.count;
  if (ns > 0) {
    const step = h / <f64>ns;
    for (let k: u32 = 0; k < ns; k++) {
      const t = <f64>(k + 1) * step;
      let x: f64, y: f64, z: f64;
      if (accel) {
        x = caAt(v.x, v.vx, v.ax, t);
        y = caAt(v.y, v.vy, v.ay, t);
        z = caAt(v.z, v.vz, v.az, t);
      } else {
        x = v.x + v.vx * t;
        y = v.y + v.vy * t;
        z = v.z + v.vz * t;
      }
      const pt = samples.at(k);
      pt.x = x;
      pt.y = y;
      pt.z = z;
      minX = fmin(minX, x); maxX = fmax(maxX, x);
      minY = fmin(minY, y); maxY = fmax(maxY, y);
      minZ = fmin(minZ, z); maxZ = fmax(maxZ, z);
    }
  }
  box.min_x = minX; box.min_y = minY; box.min_z = minZ;
  box.max_x = maxX; box.max_y = maxY; box.max_z = maxZ;
}

// The model: stateless, so its methods are the two functions above.
class Cpa {
  @inline score(a: cdp.Vehicle, b: cdp.Vehicle, p: cdp.Params, out: cdp.Result): void {
    scorePair(a, b, p, out);
  }
  @inline predict(v: cdp.Vehicle, p: cdp.Params, box: cdp.Box, samples: cdp.Samples): void {
    predictVehicle(v, p, box, samples);
  }
}
const model = new Cpa();

export function cdp_manifest(): i64 {
  return cdp.manifest("cpa-as", "1.0.0", cdp.PREDICTOR_SCORER,
    "the builtin kinematic predictor and closest-point-of-approach scorer, ported to the AssemblyScript SDK", true);
}

export function cdp_score(batch: usize): i32 {
  return cdp.scoreBatch(batch, model);
}

export function cdp_predict(batch: usize): i32 {
  return cdp.predictBatch(batch, model);
}
