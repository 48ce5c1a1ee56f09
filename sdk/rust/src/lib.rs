//! The cdp plugin SDK for Rust: ABI v1 (see `abi/SPEC.md`).
//!
//! A plugin is one `cdylib` crate for `wasm32-unknown-unknown`. The author
//! writes a function from a pair to a result (a scorer), a function from a
//! vehicle to its box and samples (a predictor), or both, and names them in
//! [`plugin!`]; the SDK provides every export (`cdp_abi_version`,
//! `cdp_manifest`, `cdp_alloc`, `cdp_last_error`, and `cdp_init`,
//! `cdp_score`, `cdp_predict` as given), owns the memory the host writes
//! batches into, and runs the batch loop:
//!
//! ```ignore
//! #[inline(always)]
//! fn score(p: &cdp::Pair) -> cdp::Result { ... }
//!
//! cdp::plugin! {
//!     manifest: cdp::Manifest {
//!         name: "my-scorer", version: "1.0.0",
//!         description: "what it does, in one line", matches_builtin: false,
//!     },
//!     score: score,
//! }
//! ```
//!
//! Build with Debian's rustc (`/usr/bin/rustc`; a rustup toolchain also works
//! when it has the wasm32 target):
//!
//! ```text
//! rustc --edition 2021 --crate-type rlib --crate-name cdp --target wasm32-unknown-unknown \
//!       -C opt-level=3 -o libcdp.rlib sdk/rust/src/lib.rs
//! rustc --edition 2021 --crate-type cdylib --target wasm32-unknown-unknown -C opt-level=3 \
//!       -C panic=abort -C lto -C strip=symbols --extern cdp=libcdp.rlib -o plugin.wasm plugin.rs
//! ```
//!
//! Speed. The host enforces its batch time limit with a check at every loop
//! back-edge of the guest, and that check leaves the compiled code for the
//! Go runtime: it costs tens of nanoseconds, more than scoring a pair. The
//! batch loop is therefore unrolled [`UNROLL`] times (one check per
//! `UNROLL` pairs; a call costs no check), and the scorer should be free of
//! loops and `#[inline(always)]`, so that it is inlined into the per-pair
//! function, which receives the batch's tables as scalars (Wasm locals).
//! Rust does not fuse multiply-adds on its own, so a port of a Go model
//! computes the same bits when it keeps the operation order.
//!
//! The loop follows the strides and offsets in the batch header, so a plugin
//! keeps working when a later minor ABI version appends fields to records.
//! Write the model as a pure function of its inputs: the host splits, merges
//! and renumbers batches and compares instances (SPEC.md 7.2).

#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use core::ptr;

/// ABI major version this SDK speaks.
pub const ABI_MAJOR: u32 = 1;
/// ABI minor version this SDK speaks.
pub const ABI_MINOR: u32 = 0;
/// `cdp_abi_version`'s value: `major << 16 | minor`.
pub const ABI_VERSION: u32 = ABI_MAJOR << 16 | ABI_MINOR;
/// The batch header's magic: the bytes `C D P B`.
pub const MAGIC: u32 = 0x4250_4443;
/// Header `op` of a predict batch.
pub const OP_PREDICT: u32 = 1;
/// Header `op` of a score batch.
pub const OP_SCORE: u32 = 2;

/// Return codes (SPEC.md 2.2).
pub const OK: i32 = 0;
/// The batch header is unusable.
pub const ERR_ABI: i32 = 1;
/// The configuration was refused.
pub const ERR_CONFIG: i32 = 2;
/// The operation is not implemented.
pub const ERR_UNSUPPORTED: i32 = 3;
/// Any other failure.
pub const ERR_INTERNAL: i32 = 4;

/// Vehicle flag: `ax..az` are set.
pub const VEHICLE_HAS_ACCEL: u32 = 1;
/// Vehicle flag: the position came in as WGS84.
pub const VEHICLE_GEODETIC: u32 = 2;
/// Result flag: the loss-of-separation windows overlap inside the window.
pub const RESULT_CONFLICT: u32 = 1;
/// Result flag: in loss of separation at the pair's reference time.
pub const RESULT_LOS: u32 = 2;

/// Pairs scored per iteration of the batch loop (one deadline check each).
pub const UNROLL: usize = 32;

/// One vehicle's state (SPEC.md 5.1), 128 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Vehicle {
    /// Position in the engine frame, m.
    pub x: f64,
    pub y: f64,
    pub z: f64,
    /// Velocity, m/s.
    pub vx: f64,
    pub vy: f64,
    pub vz: f64,
    /// Acceleration, m/s² (when `flags & VEHICLE_HAS_ACCEL`, else 0).
    pub ax: f64,
    pub ay: f64,
    pub az: f64,
    /// Altitude, m (geodetic, or frame z).
    pub alt: f64,
    /// Vertical rate along the local vertical, m/s, up positive.
    pub vrate: f64,
    /// Time of the state, Unix seconds.
    pub t: f64,
    /// Hard-body radius, m.
    pub radius: f32,
    /// Protected zone, horizontal half-width, m.
    pub hsep: f32,
    /// Protected zone, vertical half-height, m.
    pub vsep: f32,
    /// 1-sigma position uncertainty, m (0: unknown).
    pub sigma: f32,
    /// Index into the host's class table.
    pub class: u32,
    /// `VEHICLE_*` bits.
    pub flags: u32,
    /// The host's handle; opaque, must not influence any output.
    pub key: u64,
}

/// A scorer's answer for one pair (SPEC.md 5.3), 48 bytes. Times are seconds
/// after the pair's reference time, the later of the two state times.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Result {
    /// In [0, 1].
    pub risk: f64,
    /// Time of closest approach, in [0, horizon].
    pub tca: f64,
    /// 3D distance at `tca`, m.
    pub dmin: f64,
    /// Entry into loss of separation (`RESULT_CONFLICT`), else -1.
    pub t_in: f64,
    /// Exit from loss of separation (`RESULT_CONFLICT`), else -1.
    pub t_out: f64,
    /// `RESULT_*` bits.
    pub flags: u32,
    /// Ignored by the host.
    pub reserved: u32,
}

/// An axis-aligned box in the engine frame (predictor output), 48 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Box3 {
    pub min_x: f64,
    pub min_y: f64,
    pub min_z: f64,
    pub max_x: f64,
    pub max_y: f64,
    pub max_z: f64,
}

/// One trajectory sample (predictor output), 24 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

/// The batch parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Params {
    /// `collision_detection.prediction_time`, s, > 0.
    pub horizon: f64,
    /// `collision_detection.min_risk_level`, in (0, 1].
    pub min_risk: f64,
    /// Trajectory samples per vehicle (predict; 0 for score).
    pub samples: u32,
}

/// The typed view of one pair that a scorer receives.
#[derive(Clone, Copy, Debug)]
pub struct Pair<'a> {
    pub a: &'a Vehicle,
    pub b: &'a Vehicle,
    pub params: &'a Params,
}

/// Samples is where a predictor writes its `params.samples` positions, at
/// `t + k*H/S`, k = 1..S (index k-1). It follows the header's point stride.
pub struct Samples<'a> {
    base: *mut u8,
    stride: usize,
    len: usize,
    _batch: core::marker::PhantomData<&'a mut u8>,
}

impl<'a> Samples<'a> {
    /// The number of samples to write.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none to write.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes sample `k` (0-based); out-of-range `k` is ignored.
    #[inline(always)]
    pub fn set(&mut self, k: usize, p: Point) {
        if k < self.len {
            // SAFETY: k < len, and the host guarantees len points of
            // `stride` bytes at base, 8-aligned (SPEC.md 6, 7.1).
            unsafe { ptr::write(self.base.add(k * self.stride) as *mut Point, p) }
        }
    }
}

/// Manifest fields (SPEC.md 2.3). The kind is derived from which functions
/// [`plugin!`] is given.
#[derive(Clone, Copy, Debug)]
pub struct Manifest {
    /// 1..64 characters of `[A-Za-z0-9._-]`.
    pub name: &'static str,
    /// Free form, semver recommended.
    pub version: &'static str,
    /// One line for operators.
    pub description: &'static str,
    /// The plugin claims exactly the builtin model's outputs; conformance then
    /// compares every field.
    pub matches_builtin: bool,
}

/// The batch header (SPEC.md 4), 128 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Header {
    pub magic: u32,
    pub version: u32,
    pub header_size: u32,
    pub op: u32,
    pub n_vehicles: u32,
    pub n_pairs: u32,
    pub samples: u32,
    pub flags: u32,
    pub vehicle_stride: u32,
    pub box_stride: u32,
    pub point_stride: u32,
    pub pair_stride: u32,
    pub result_stride: u32,
    pub out_count: u32,
    pub vehicles_off: u32,
    pub pairs_off: u32,
    pub boxes_off: u32,
    pub samples_off: u32,
    pub results_off: u32,
    pub batch_size: u32,
    pub horizon: f64,
    pub min_risk: f64,
    pub reserved: [u8; 32],
}

const _: () = assert!(core::mem::size_of::<Vehicle>() == 128);
const _: () = assert!(core::mem::size_of::<Result>() == 48);
const _: () = assert!(core::mem::size_of::<Box3>() == 48);
const _: () = assert!(core::mem::size_of::<Point>() == 24);
const _: () = assert!(core::mem::size_of::<Header>() == 128);

// The instance's state. A Wasm instance is single-threaded and the host never
// overlaps calls on it (SPEC.md 3), so plain statics are sound here.
static mut BLOCK: Vec<u64> = Vec::new();
static mut MANIFEST: Vec<u8> = Vec::new();
static mut ERROR: Vec<u8> = Vec::new();

fn ptr_len(b: &[u8]) -> i64 {
    if b.is_empty() {
        return 0;
    }
    (((b.as_ptr() as usize as u64) << 32) | b.len() as u64) as i64
}

/// Records the message that `cdp_last_error` returns; call it before
/// returning an error code from an init function (at most 1 KiB is read).
pub fn set_error(msg: &str) {
    // SAFETY: single-threaded instance, see the statics above.
    unsafe {
        let e = &mut *ptr::addr_of_mut!(ERROR);
        e.clear();
        e.extend_from_slice(msg.as_bytes());
    }
}

fn push_json_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &c in s.as_bytes() {
        match c {
            b'"' | b'\\' => {
                out.push(b'\\');
                out.push(c);
            }
            0..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 15) as usize]);
            }
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

/// Implementation of `cdp_manifest`; used by [`plugin!`].
#[doc(hidden)]
pub fn __manifest(m: &Manifest, kind: &str) -> i64 {
    // SAFETY: single-threaded instance.
    unsafe {
        let out = &mut *ptr::addr_of_mut!(MANIFEST);
        if out.is_empty() {
            out.extend_from_slice(b"{\"name\":");
            push_json_string(out, m.name);
            out.extend_from_slice(b",\"version\":");
            push_json_string(out, m.version);
            out.extend_from_slice(b",\"kind\":");
            push_json_string(out, kind);
            out.extend_from_slice(b",\"description\":");
            push_json_string(out, m.description);
            if m.matches_builtin {
                out.extend_from_slice(b",\"matches_builtin\":true");
            }
            out.push(b'}');
        }
        ptr_len(out)
    }
}

/// Implementation of `cdp_last_error`; used by [`plugin!`].
#[doc(hidden)]
pub fn __last_error() -> i64 {
    // SAFETY: single-threaded instance.
    unsafe { ptr_len(&*ptr::addr_of!(ERROR)) }
}

/// Implementation of `cdp_alloc`: one growable block. The host never touches
/// an earlier block after a new call (SPEC.md 2.2), so the old one is freed.
#[doc(hidden)]
pub fn __alloc(size: i32) -> i32 {
    if size < 0 {
        return 0;
    }
    let words = (size as usize + 7) / 8;
    // SAFETY: single-threaded instance.
    unsafe {
        let b = &mut *ptr::addr_of_mut!(BLOCK);
        if words > b.len() || b.is_empty() {
            let mut nb: Vec<u64> = Vec::new();
            if nb.try_reserve_exact(words.max(1)).is_err() {
                return 0;
            }
            nb.resize(words.max(1), 0);
            *b = nb;
        }
        b.as_mut_ptr() as usize as i32
    }
}

/// Implementation of `cdp_init`; used by [`plugin!`].
#[doc(hidden)]
pub fn __init<E: AsRef<str>>(
    ptr_: i32,
    len: i32,
    f: fn(&[u8]) -> core::result::Result<(), E>,
) -> i32 {
    // SAFETY: the host wrote len bytes at ptr_ (a block from cdp_alloc).
    let cfg =
        unsafe { core::slice::from_raw_parts(ptr_ as usize as *const u8, len.max(0) as usize) };
    match f(cfg) {
        Ok(()) => OK,
        Err(msg) => {
            set_error(msg.as_ref());
            ERR_CONFIG
        }
    }
}

#[inline(always)]
fn header_ok(h: &Header, op: u32) -> bool {
    if h.magic != MAGIC
        || h.version >> 16 != ABI_MAJOR
        || h.op != op
        || (h.vehicle_stride as usize) < 128
    {
        return false;
    }
    if op == OP_SCORE {
        return h.pair_stride >= 8 && h.result_stride >= 48;
    }
    h.box_stride >= 48 && (h.samples == 0 || h.point_stride >= 24)
}

/// Implementation of `cdp_score`: the batch loop, unrolled [`UNROLL`] times.
///
/// # Safety
/// `batch` is the address of a batch the host wrote (SPEC.md 4-5).
#[doc(hidden)]
#[inline(always)]
pub unsafe fn __score<F: Fn(&Pair) -> Result>(batch: i32, score: F) -> i32 {
    let base = batch as usize as *mut u8;
    let h = &mut *(base as *mut Header);
    if !header_ok(h, OP_SCORE) {
        set_error("cdp_score: unsupported batch header");
        return ERR_ABI;
    }
    let vt = base.add(h.vehicles_off as usize) as *const u8;
    let pt = base.add(h.pairs_off as usize) as *const u8;
    let rt = base.add(h.results_off as usize);
    let (vs, ps, rs) = (
        h.vehicle_stride as usize,
        h.pair_stride as usize,
        h.result_stride as usize,
    );
    let (horizon, min_risk, samples) = (h.horizon, h.min_risk, h.samples);
    let n = h.n_pairs as usize;
    let mut i = 0;
    // Unrolled by hand: a counted inner loop would be a Wasm loop, and every
    // loop iteration pays the host's deadline check.
    while i + UNROLL <= n {
        unroll32!(i, k => score_one(&score, vt, pt, rt, vs, ps, rs, horizon, min_risk, samples, k));
        i += UNROLL;
    }
    while i < n {
        score_one(
            &score, vt, pt, rt, vs, ps, rs, horizon, min_risk, samples, i,
        );
        i += 1;
    }
    h.out_count = h.n_pairs;
    OK
}

/// Scores pair i. Not inlined into the unrolled loop (32 copies of a scorer
/// are more code than the instruction cache likes). Its arguments are
/// scalars, which Wasm passes as locals: a closure over the batch, or a
/// struct, would be read back through memory for every pair.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn score_one<F: Fn(&Pair) -> Result>(
    score: &F,
    vt: *const u8,
    pt: *const u8,
    rt: *mut u8,
    vs: usize,
    ps: usize,
    rs: usize,
    horizon: f64,
    min_risk: f64,
    samples: u32,
    i: usize,
) {
    let params = Params {
        horizon,
        min_risk,
        samples,
    };
    let pr = pt.add(i * ps) as *const u32;
    let a = &*(vt.add(*pr as usize * vs) as *const Vehicle);
    let b = &*(vt.add(*pr.add(1) as usize * vs) as *const Vehicle);
    ptr::write(
        rt.add(i * rs) as *mut Result,
        score(&Pair {
            a,
            b,
            params: &params,
        }),
    );
}

/// Implementation of `cdp_predict`.
///
/// # Safety
/// `batch` is the address of a batch the host wrote (SPEC.md 4, 6).
#[doc(hidden)]
#[inline(always)]
pub unsafe fn __predict<F: Fn(&Vehicle, &Params, &mut Box3, &mut Samples)>(
    batch: i32,
    predict: F,
) -> i32 {
    let base = batch as usize as *mut u8;
    let h = &mut *(base as *mut Header);
    if !header_ok(h, OP_PREDICT) {
        set_error("cdp_predict: unsupported batch header");
        return ERR_ABI;
    }
    let params = Params {
        horizon: h.horizon,
        min_risk: h.min_risk,
        samples: h.samples,
    };
    let n = h.n_vehicles as usize;
    let ns = h.samples as usize;
    let (vs, bs, ps) = (
        h.vehicle_stride as usize,
        h.box_stride as usize,
        h.point_stride as usize,
    );
    for i in 0..n {
        let v = &*(base.add(h.vehicles_off as usize + i * vs) as *const Vehicle);
        let bx = &mut *(base.add(h.boxes_off as usize + i * bs) as *mut Box3);
        let mut s = Samples {
            base: base.add(h.samples_off as usize + i * ns * ps),
            stride: ps,
            len: ns,
            _batch: core::marker::PhantomData,
        };
        predict(v, &params, bx, &mut s);
    }
    h.out_count = h.n_vehicles;
    OK
}

// unroll32 writes out UNROLL calls; change both together.
const _: () = assert!(UNROLL == 32);

macro_rules! unroll32 {
    ($i:expr, $k:ident => $e:expr) => {{
        let $k = $i + 0;
        $e;
    }
    {
        let $k = $i + 1;
        $e;
    }
    {
        let $k = $i + 2;
        $e;
    }
    {
        let $k = $i + 3;
        $e;
    }
    {
        let $k = $i + 4;
        $e;
    }
    {
        let $k = $i + 5;
        $e;
    }
    {
        let $k = $i + 6;
        $e;
    }
    {
        let $k = $i + 7;
        $e;
    }
    {
        let $k = $i + 8;
        $e;
    }
    {
        let $k = $i + 9;
        $e;
    }
    {
        let $k = $i + 10;
        $e;
    }
    {
        let $k = $i + 11;
        $e;
    }
    {
        let $k = $i + 12;
        $e;
    }
    {
        let $k = $i + 13;
        $e;
    }
    {
        let $k = $i + 14;
        $e;
    }
    {
        let $k = $i + 15;
        $e;
    }
    {
        let $k = $i + 16;
        $e;
    }
    {
        let $k = $i + 17;
        $e;
    }
    {
        let $k = $i + 18;
        $e;
    }
    {
        let $k = $i + 19;
        $e;
    }
    {
        let $k = $i + 20;
        $e;
    }
    {
        let $k = $i + 21;
        $e;
    }
    {
        let $k = $i + 22;
        $e;
    }
    {
        let $k = $i + 23;
        $e;
    }
    {
        let $k = $i + 24;
        $e;
    }
    {
        let $k = $i + 25;
        $e;
    }
    {
        let $k = $i + 26;
        $e;
    }
    {
        let $k = $i + 27;
        $e;
    }
    {
        let $k = $i + 28;
        $e;
    }
    {
        let $k = $i + 29;
        $e;
    }
    {
        let $k = $i + 30;
        $e;
    }
    {
        let $k = $i + 31;
        $e;
    }};
}
use unroll32;

/// Defines the plugin's exports. `manifest` is a [`Manifest`]; `score` is a
/// `fn(&Pair) -> Result`, `predict` a `fn(&Vehicle, &Params, &mut Box3,
/// &mut Samples)`, `init` a `fn(&[u8]) -> core::result::Result<(), E>` with
/// `E: AsRef<str>` (`&'static str` or `String`) that receives the JSON
/// configuration once per instance (an `Err` refuses it, and its message is
/// what `cdp_last_error` returns). Give `score`, `predict` or both, in this
/// order; `init` last and optional. Without `init` the host refuses any
/// non-empty configuration.
#[macro_export]
macro_rules! plugin {
    (manifest: $m:expr
     $(, score: $score:path)?
     $(, predict: $predict:path)?
     $(, init: $init:path)?
     $(,)?) => {
        const __CDP_KIND: &str = match (
            false $(|| !stringify!($score).is_empty())?,
            false $(|| !stringify!($predict).is_empty())?,
        ) {
            (true, true) => "predictor+scorer",
            (false, true) => "predictor",
            _ => "scorer",
        };

        #[no_mangle]
        pub extern "C" fn cdp_abi_version() -> i32 {
            $crate::ABI_VERSION as i32
        }

        #[no_mangle]
        pub extern "C" fn cdp_manifest() -> i64 {
            $crate::__manifest(&$m, __CDP_KIND)
        }

        #[no_mangle]
        pub extern "C" fn cdp_last_error() -> i64 {
            $crate::__last_error()
        }

        #[no_mangle]
        pub extern "C" fn cdp_alloc(size: i32) -> i32 {
            $crate::__alloc(size)
        }

        $(
        #[no_mangle]
        pub extern "C" fn cdp_score(batch: i32) -> i32 {
            // SAFETY: the host passes the address of a score batch.
            unsafe { $crate::__score(batch, $score) }
        }
        )?

        $(
        #[no_mangle]
        pub extern "C" fn cdp_predict(batch: i32) -> i32 {
            // SAFETY: the host passes the address of a predict batch.
            unsafe { $crate::__predict(batch, $predict) }
        }
        )?

        $(
        #[no_mangle]
        pub extern "C" fn cdp_init(ptr: i32, len: i32) -> i32 {
            $crate::__init(ptr, len, $init)
        }
        )?
    };
}
