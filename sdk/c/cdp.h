/*
 * cdp.h: the cdp plugin ABI v1 for C (freestanding wasm32, no libc needed).
 *
 * A plugin is one C file:
 *
 *     #include "cdp.h"
 *     CDP_MANIFEST("{\"name\":\"my-scorer\",\"version\":\"1.0.0\",\"kind\":\"scorer\"}")
 *     CDP_INLINE void score(const cdp_vehicle *a, const cdp_vehicle *b,
 *                              const cdp_params *p, cdp_result *out) { ... }
 *     CDP_SCORER(score)
 *
 * built with
 *
 *     clang --target=wasm32 -nostdlib -O3 -ffp-contract=off \
 *           -Wl,--no-entry -Wl,--export-dynamic -o plugin.wasm plugin.c
 *
 * CDP_MANIFEST defines cdp_abi_version, cdp_manifest, cdp_alloc and
 * cdp_last_error; CDP_SCORER(fn) defines cdp_score with the batch loop,
 * CDP_PREDICTOR(fn) defines cdp_predict. Define CDP_INIT(fn) to receive the
 * JSON configuration (int fn(const char *json, uint32_t len), 0 = accepted).
 * Your function is called once per record with typed pointers; the loop
 * honours the strides in the header (ABI minor versions append fields), and
 * is unrolled CDP_UNROLL times (default 8) because the host checks its
 * deadline at every loop back-edge. See abi/SPEC.md for the full contract.
 */
#ifndef CDP_H
#define CDP_H

#include <stdint.h>
#include <stddef.h>

#define CDP_ABI_MAJOR 1
#define CDP_ABI_MINOR 0
#define CDP_ABI_VERSION ((CDP_ABI_MAJOR << 16) | CDP_ABI_MINOR)
#define CDP_MAGIC 0x42504443u /* "CDPB" */

#define CDP_OP_PREDICT 1u
#define CDP_OP_SCORE 2u

#define CDP_OK 0
#define CDP_ERR_ABI 1
#define CDP_ERR_CONFIG 2
#define CDP_ERR_UNSUPPORTED 3
#define CDP_ERR_INTERNAL 4

#define CDP_VEHICLE_HAS_ACCEL 1u
#define CDP_VEHICLE_GEODETIC 2u
#define CDP_RESULT_CONFLICT 1u
#define CDP_RESULT_LOS 2u

#ifndef CDP_UNROLL
#define CDP_UNROLL 8
#endif

typedef struct {
    double x, y, z;        /* position, m (engine frame) */
    double vx, vy, vz;     /* velocity, m/s */
    double ax, ay, az;     /* acceleration, m/s^2 (flags & CDP_VEHICLE_HAS_ACCEL) */
    double alt;            /* altitude, m */
    double vrate;          /* vertical rate, m/s, up positive */
    double t;              /* time of the state, Unix seconds */
    float radius;          /* hard-body radius, m */
    float hsep;            /* protected zone, horizontal half-width, m */
    float vsep;            /* protected zone, vertical half-height, m */
    float sigma;           /* 1-sigma position uncertainty, m */
    uint32_t vclass;       /* class index */
    uint32_t flags;        /* CDP_VEHICLE_* */
    uint64_t key;          /* opaque host handle */
} cdp_vehicle;

typedef struct { uint32_t a, b; } cdp_pair;

typedef struct {
    double risk, tca, dmin, t_in, t_out;
    uint32_t flags, reserved;
} cdp_result;

typedef struct { double min_x, min_y, min_z, max_x, max_y, max_z; } cdp_box;
typedef struct { double x, y, z; } cdp_point;

typedef struct {
    uint32_t magic, version, header_size, op;
    uint32_t n_vehicles, n_pairs, samples, flags;
    uint32_t vehicle_stride, box_stride, point_stride, pair_stride, result_stride;
    uint32_t out_count;
    uint32_t vehicles_off, pairs_off, boxes_off, samples_off, results_off, batch_size;
    double horizon, min_risk;
    uint8_t reserved[32];
} cdp_header;

typedef struct { double horizon, min_risk; uint32_t samples; } cdp_params;

_Static_assert(sizeof(cdp_vehicle) == 128, "cdp_vehicle is 128 bytes");
_Static_assert(sizeof(cdp_result) == 48, "cdp_result is 48 bytes");
_Static_assert(sizeof(cdp_box) == 48, "cdp_box is 48 bytes");
_Static_assert(sizeof(cdp_point) == 24, "cdp_point is 24 bytes");
_Static_assert(sizeof(cdp_header) == 128, "cdp_header is 128 bytes");

/* CDP_INLINE: declare your per-record function with it, so that it is inlined
 * into the unrolled batch loop (clang would otherwise call it out of line). */
#define CDP_INLINE static inline __attribute__((always_inline))

#define CDP_EXPORT(name) __attribute__((export_name(#name))) __attribute__((visibility("default")))

/* cdp_set_error records a message for cdp_last_error (at most 1 KiB is read). */
static const char *cdp__err_ptr;
static uint32_t cdp__err_len;
static inline void cdp_set_error(const char *msg) {
    uint32_t n = 0;
    while (msg[n] && n < 1024) n++;
    cdp__err_ptr = msg;
    cdp__err_len = n;
}

/* Memory: one growable block at the end of linear memory. The host calls
 * cdp_alloc rarely (once per instance, again only when a batch does not fit)
 * and never touches an earlier block after a new call, so a block that is too
 * small is simply abandoned. */
static uint8_t *cdp__block;
static uint32_t cdp__block_cap;

static inline int32_t cdp__header_ok(const cdp_header *h, uint32_t op) {
    if (h->magic != CDP_MAGIC || (h->version >> 16) != CDP_ABI_MAJOR || h->op != op) return 0;
    if (h->vehicle_stride < sizeof(cdp_vehicle)) return 0;
    if (op == CDP_OP_SCORE)
        return h->pair_stride >= sizeof(cdp_pair) && h->result_stride >= sizeof(cdp_result);
    return h->box_stride >= sizeof(cdp_box) && (h->samples == 0 || h->point_stride >= sizeof(cdp_point));
}

#define CDP_MANIFEST(json)                                                         \
    static const char cdp__manifest[] = json;                                      \
    CDP_EXPORT(cdp_abi_version) int32_t cdp_abi_version(void) {                    \
        return CDP_ABI_VERSION;                                                    \
    }                                                                              \
    CDP_EXPORT(cdp_manifest) int64_t cdp_manifest(void) {                          \
        return (int64_t)(((uint64_t)(uintptr_t)cdp__manifest << 32) |              \
                         (uint64_t)(sizeof(cdp__manifest) - 1));                   \
    }                                                                              \
    CDP_EXPORT(cdp_last_error) int64_t cdp_last_error(void) {                      \
        return (int64_t)(((uint64_t)(uintptr_t)cdp__err_ptr << 32) | cdp__err_len); \
    }                                                                              \
    CDP_EXPORT(cdp_alloc) int32_t cdp_alloc(int32_t size) {                        \
        uint32_t n = (uint32_t)size;                                               \
        if (n <= cdp__block_cap) return (int32_t)(uintptr_t)cdp__block;            \
        uint32_t pages = (n + 65535u) >> 16;                                       \
        size_t old = __builtin_wasm_memory_grow(0, pages);                         \
        if (old == (size_t)-1) return 0;                                           \
        cdp__block = (uint8_t *)(uintptr_t)(old << 16);                            \
        cdp__block_cap = pages << 16;                                              \
        return (int32_t)(uintptr_t)cdp__block;                                     \
    }

/* CDP_INIT(fn): int fn(const char *json, uint32_t len). */
#define CDP_INIT(fn)                                                               \
    CDP_EXPORT(cdp_init) int32_t cdp_init(int32_t ptr, int32_t len) {              \
        return fn((const char *)(uintptr_t)ptr, (uint32_t)len);                     \
    }

/* CDP_SCORER(fn): void fn(const cdp_vehicle *a, const cdp_vehicle *b,
 *                         const cdp_params *p, cdp_result *out).
 * Declare fn CDP_INLINE so that the unrolled loop has no calls in it. */
#define CDP_SCORER(fn)                                                             \
    CDP_EXPORT(cdp_score) int32_t cdp_score(int32_t batch) {                       \
        cdp_header *h = (cdp_header *)(uintptr_t)batch;                            \
        if (!cdp__header_ok(h, CDP_OP_SCORE)) {                                    \
            cdp_set_error("cdp_score: unsupported batch header");                  \
            return CDP_ERR_ABI;                                                    \
        }                                                                          \
        const uint8_t *base = (const uint8_t *)h;                                  \
        const uint8_t *vt = base + h->vehicles_off;                                \
        const uint8_t *pt = base + h->pairs_off;                                   \
        uint8_t *rt = (uint8_t *)base + h->results_off;                            \
        const uint32_t vs = h->vehicle_stride, ps = h->pair_stride,                \
                       rs = h->result_stride, n = h->n_pairs;                      \
        const cdp_params prm = {h->horizon, h->min_risk, h->samples};              \
        uint32_t i = 0;                                                            \
        for (; i + CDP_UNROLL <= n; i += CDP_UNROLL) {                             \
            _Pragma("clang loop unroll(full)")                                     \
            for (uint32_t k = 0; k < CDP_UNROLL; k++) {                            \
                const cdp_pair *pr = (const cdp_pair *)(pt + (size_t)(i + k) * ps); \
                fn((const cdp_vehicle *)(vt + (size_t)pr->a * vs),                 \
                   (const cdp_vehicle *)(vt + (size_t)pr->b * vs), &prm,           \
                   (cdp_result *)(rt + (size_t)(i + k) * rs));                     \
            }                                                                      \
        }                                                                          \
        for (; i < n; i++) {                                                       \
            const cdp_pair *pr = (const cdp_pair *)(pt + (size_t)i * ps);          \
            fn((const cdp_vehicle *)(vt + (size_t)pr->a * vs),                     \
               (const cdp_vehicle *)(vt + (size_t)pr->b * vs), &prm,               \
               (cdp_result *)(rt + (size_t)i * rs));                               \
        }                                                                          \
        h->out_count = n;                                                          \
        return CDP_OK;                                                             \
    }

/* CDP_PREDICTOR(fn): void fn(const cdp_vehicle *v, const cdp_params *p,
 *                            cdp_box *box, uint8_t *samples, uint32_t point_stride)
 * where sample k (0-based) is the cdp_point at samples + k * point_stride. */
#define CDP_PREDICTOR(fn)                                                          \
    CDP_EXPORT(cdp_predict) int32_t cdp_predict(int32_t batch) {                   \
        cdp_header *h = (cdp_header *)(uintptr_t)batch;                            \
        if (!cdp__header_ok(h, CDP_OP_PREDICT)) {                                  \
            cdp_set_error("cdp_predict: unsupported batch header");                \
            return CDP_ERR_ABI;                                                    \
        }                                                                          \
        uint8_t *base = (uint8_t *)h;                                              \
        const cdp_params prm = {h->horizon, h->min_risk, h->samples};              \
        const uint32_t n = h->n_vehicles, ps = h->point_stride;                    \
        for (uint32_t i = 0; i < n; i++) {                                         \
            fn((const cdp_vehicle *)(base + h->vehicles_off + (size_t)i * h->vehicle_stride), \
               &prm, (cdp_box *)(base + h->boxes_off + (size_t)i * h->box_stride), \
               base + h->samples_off + (size_t)i * h->samples * ps, ps);           \
        }                                                                          \
        h->out_count = n;                                                          \
        return CDP_OK;                                                             \
    }

#endif /* CDP_H */
