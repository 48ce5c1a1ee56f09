//! cpa-rust: the builtin closest-point-of-approach scorer (builtin.ScorePair)
//! and the builtin kinematic predictor (builtin.Predictor) in Rust against
//! sdk/rust, operation for operation, so that the results are bit-identical
//! to the host's (Rust never fuses a multiply-add on its own; Wasm has none).
//! Build: see Makefile.

const EPS: f64 = 1e-12;
const INF: f64 = f64::INFINITY;

// The specification's comparisons (f64::max/min treat NaN and -0 otherwise).
#[inline(always)]
fn fmax(x: f64, y: f64) -> f64 {
    if x > y {
        x
    } else {
        y
    }
}

#[inline(always)]
fn fmin(x: f64, y: f64) -> f64 {
    if x < y {
        x
    } else {
        y
    }
}

#[inline(always)]
fn fclamp(x: f64, lo: f64, hi: f64) -> f64 {
    fmin(fmax(x, lo), hi)
}

#[inline(always)]
fn result(risk: f64, tca: f64, dmin: f64, t_in: f64, t_out: f64, flags: u32) -> cdp::Result {
    cdp::Result {
        risk,
        tca,
        dmin,
        t_in,
        t_out,
        flags,
        reserved: 0,
    }
}

#[inline(always)]
fn score(pr: &cdp::Pair) -> cdp::Result {
    let (a, b, p) = (pr.a, pr.b, pr.params);
    // 1. Reference time; propagate both states to it.
    let t = fmax(a.t, b.t);
    let dt_a = t - a.t;
    let dt_b = t - b.t;
    // 2. Window.
    let w = fmin(a.t, b.t) + p.horizon - t;
    // 3. Relative motion, B minus A.
    let dx = (b.x + b.vx * dt_b) - (a.x + a.vx * dt_a);
    let dy = (b.y + b.vy * dt_b) - (a.y + a.vy * dt_a);
    let dw = (b.z + b.vz * dt_b) - (a.z + a.vz * dt_a);
    let dz = (b.alt + b.vrate * dt_b) - (a.alt + a.vrate * dt_a);
    let vx = b.vx - a.vx;
    let vy = b.vy - a.vy;
    let vw = b.vz - a.vz;
    let vz = b.vrate - a.vrate;
    let dd = dx * dx + dy * dy + dw * dw;
    let dv = dx * vx + dy * vy + dw * vw;
    let vv = vx * vx + vy * vy + vw * vw;
    let qa = fmax(0.0, vv - vz * vz);
    let qb = dv - dz * vz;
    let c0 = dd - dz * dz;
    if w < 0.0 {
        return result(0.0, 0.0, dd.sqrt(), -1.0, -1.0, 0);
    }
    let mut tca = 0.0;
    if vv > EPS {
        tca = fclamp(-dv / vv, 0.0, w);
    }
    let ex = dx + vx * tca;
    let ey = dy + vy * tca;
    let ew = dw + vw * tca;
    let dmin = (ex * ex + ey * ey + ew * ew).sqrt();

    // 4. Protected zone of the pair.
    let r_a = a.radius as f64;
    let r_b = b.radius as f64;
    let zr = fmax(a.hsep as f64, b.hsep as f64) + r_a + r_b;
    let zv = fmax(a.vsep as f64, b.vsep as f64) + r_a + r_b;

    // 5. Loss-of-separation windows.
    let mut open = true;
    let (mut h1, mut h2) = (-INF, INF);
    let c = c0 - zr * zr;
    if qa <= EPS {
        open = c < 0.0;
    } else {
        let disc = qb * qb - qa * c;
        if disc <= 0.0 {
            open = false;
        } else {
            let s = disc.sqrt();
            h1 = (-qb - s) / qa;
            h2 = (-qb + s) / qa;
        }
    }
    let (mut v1, mut v2) = (-INF, INF);
    if vz.abs() <= EPS {
        open = open && dz.abs() < zv;
    } else {
        let t1 = (-zv - dz) / vz;
        let t2 = (zv - dz) / vz;
        v1 = fmin(t1, t2);
        v2 = fmax(t1, t2);
    }
    let tin = fmax(h1, v1);
    let tout = fmin(h2, v2);

    // 6. Risk.
    if open && tin < tout && tout > 0.0 && tin <= w {
        let end = fmin(tout, w);
        if tin <= 0.0 {
            return result(
                1.0,
                tca,
                dmin,
                0.0,
                end,
                cdp::RESULT_CONFLICT | cdp::RESULT_LOS,
            );
        }
        let u = tin / p.horizon;
        let mut th = tin;
        if qa > EPS {
            th = fclamp(-qb / qa, tin, end);
        }
        let hmin = fmax(0.0, c0 + 2.0 * qb * th + qa * th * th).sqrt();
        let mut depth = 0.0;
        if zr > 0.0 {
            depth = fclamp(1.0 - hmin / zr, 0.0, 1.0);
        }
        let risk = 1.0 - 0.5 * u * (1.0 - 0.5 * depth);
        return result(risk, tca, dmin, tin, end, cdp::RESULT_CONFLICT);
    }
    let mut hn = INF;
    if zr > 0.0 {
        hn = fmax(0.0, c0 + 2.0 * qb * tca + qa * tca * tca).sqrt() / zr;
    }
    let mut vn = INF;
    if zv > 0.0 {
        vn = (dz + vz * tca).abs() / zv;
    }
    let n = fmax(fmax(hn, vn), 1.0);
    result(0.5 * p.min_risk / (n * n), tca, dmin, -1.0, -1.0, 0)
}

// The builtin predictor: constant velocity, or constant acceleration with
// VEHICLE_HAS_ACCEL; the box also covers the constant-velocity path (the
// scorer ignores acceleration) and every sample.
#[inline(always)]
fn ca_at(x: f64, vx: f64, ax: f64, t: f64) -> f64 {
    x + vx * t + 0.5 * ax * t * t
}

#[inline(always)]
fn axis_range(x: f64, vx: f64, h: f64) -> (f64, f64) {
    let e = x + vx * h;
    (fmin(x, e), fmax(x, e))
}

#[inline(always)]
fn ca_axis_range(lo: f64, hi: f64, x: f64, vx: f64, ax: f64, h: f64) -> (f64, f64) {
    let e = ca_at(x, vx, ax, h);
    let (mut lo, mut hi) = (fmin(lo, e), fmax(hi, e));
    if ax != 0.0 {
        let ts = -vx / ax;
        if ts > 0.0 && ts < h {
            let m = ca_at(x, vx, ax, ts);
            lo = fmin(lo, m);
            hi = fmax(hi, m);
        }
    }
    let pad = 1e-12 * (x.abs() + vx.abs() * h + ax.abs() * h * h);
    (lo - pad, hi + pad)
}

fn predict(v: &cdp::Vehicle, p: &cdp::Params, out: &mut cdp::Box3, samples: &mut cdp::Samples) {
    let h = p.horizon;
    let mut b = cdp::Box3::default();
    (b.min_x, b.max_x) = axis_range(v.x, v.vx, h);
    (b.min_y, b.max_y) = axis_range(v.y, v.vy, h);
    (b.min_z, b.max_z) = axis_range(v.z, v.vz, h);
    let accel = v.flags & cdp::VEHICLE_HAS_ACCEL != 0;
    if accel {
        (b.min_x, b.max_x) = ca_axis_range(b.min_x, b.max_x, v.x, v.vx, v.ax, h);
        (b.min_y, b.max_y) = ca_axis_range(b.min_y, b.max_y, v.y, v.vy, v.ay, h);
        (b.min_z, b.max_z) = ca_axis_range(b.min_z, b.max_z, v.z, v.vz, v.az, h);
    }
    let ns = samples.len();
    if ns > 0 {
        let step = h / ns as f64;
        for k in 0..ns {
            let t = (k + 1) as f64 * step;
            let pt = if accel {
                cdp::Point {
                    x: ca_at(v.x, v.vx, v.ax, t),
                    y: ca_at(v.y, v.vy, v.ay, t),
                    z: ca_at(v.z, v.vz, v.az, t),
                }
            } else {
                cdp::Point {
                    x: v.x + v.vx * t,
                    y: v.y + v.vy * t,
                    z: v.z + v.vz * t,
                }
            };
            samples.set(k, pt);
            b.min_x = fmin(b.min_x, pt.x);
            b.max_x = fmax(b.max_x, pt.x);
            b.min_y = fmin(b.min_y, pt.y);
            b.max_y = fmax(b.max_y, pt.y);
            b.min_z = fmin(b.min_z, pt.z);
            b.max_z = fmax(b.max_z, pt.z);
        }
    }
    *out = b;
}

cdp::plugin! {
    manifest: cdp::Manifest {
        name: "cpa-rust",
        version: "1.0.0",
        description: "the builtin kinematic predictor and closest-point-of-approach scorer, ported to the Rust SDK",
        matches_builtin: true,
    },
    score: score,
    predict: predict,
}
