/*
 * cpa: the builtin closest-point-of-approach scorer (builtin.ScorePair) and
 * the builtin kinematic predictor (builtin.Predictor) in C, operation for
 * operation, so that their results are bit-identical to the host's.
 * Build: see Makefile (clang --target=wasm32, -ffp-contract=off).
 */
#include "cdp.h"

CDP_MANIFEST("{\"name\":\"cpa-c\",\"version\":\"1.0.0\",\"kind\":\"predictor+scorer\","
             "\"description\":\"the builtin kinematic predictor and closest-point-of-approach scorer, ported to C\","
             "\"matches_builtin\":true}")

#define EPS 1e-12
#define INF __builtin_inf()

static inline double fmax_(double x, double y) { return x > y ? x : y; }
static inline double fmin_(double x, double y) { return x < y ? x : y; }
static inline double fclamp_(double x, double lo, double hi) { return fmin_(fmax_(x, lo), hi); }
static inline double fabs_(double x) { return __builtin_fabs(x); }
static inline double sqrt_(double x) { return __builtin_sqrt(x); }

CDP_INLINE void score(const cdp_vehicle *a, const cdp_vehicle *b, const cdp_params *p,
                         cdp_result *out) {
    /* 1. Reference time; propagate both states to it. */
    double t = fmax_(a->t, b->t);
    double dtA = t - a->t;
    double dtB = t - b->t;
    /* 2. Window. */
    double w = fmin_(a->t, b->t) + p->horizon - t;
    /* 3. Relative motion, B minus A. */
    double dx = (b->x + b->vx * dtB) - (a->x + a->vx * dtA);
    double dy = (b->y + b->vy * dtB) - (a->y + a->vy * dtA);
    double dw = (b->z + b->vz * dtB) - (a->z + a->vz * dtA);
    double dz = (b->alt + b->vrate * dtB) - (a->alt + a->vrate * dtA);
    double vx = b->vx - a->vx;
    double vy = b->vy - a->vy;
    double vw = b->vz - a->vz;
    double vz = b->vrate - a->vrate;
    double dd = dx * dx + dy * dy + dw * dw;
    double dv = dx * vx + dy * vy + dw * vw;
    double vv = vx * vx + vy * vy + vw * vw;
    double qa = fmax_(0, vv - vz * vz);
    double qb = dv - dz * vz;
    double c0 = dd - dz * dz;
    if (w < 0) {
        out->risk = 0; out->tca = 0; out->dmin = sqrt_(dd);
        out->t_in = -1; out->t_out = -1; out->flags = 0; out->reserved = 0;
        return;
    }
    double tca = 0.0;
    if (vv > EPS) tca = fclamp_(-dv / vv, 0, w);
    double ex = dx + vx * tca;
    double ey = dy + vy * tca;
    double ew = dw + vw * tca;
    double dmin = sqrt_(ex * ex + ey * ey + ew * ew);

    /* 4. Protected zone of the pair. */
    double rA = (double)a->radius;
    double rB = (double)b->radius;
    double zr = fmax_((double)a->hsep, (double)b->hsep) + rA + rB;
    double zv = fmax_((double)a->vsep, (double)b->vsep) + rA + rB;

    /* 5. Loss-of-separation windows. */
    int open = 1;
    double h1 = -INF, h2 = INF;
    double c = c0 - zr * zr;
    if (qa <= EPS) {
        open = c < 0;
    } else {
        double disc = qb * qb - qa * c;
        if (disc <= 0) {
            open = 0;
        } else {
            double s = sqrt_(disc);
            h1 = (-qb - s) / qa;
            h2 = (-qb + s) / qa;
        }
    }
    double v1 = -INF, v2 = INF;
    if (fabs_(vz) <= EPS) {
        open = open && fabs_(dz) < zv;
    } else {
        double t1 = (-zv - dz) / vz;
        double t2 = (zv - dz) / vz;
        v1 = fmin_(t1, t2);
        v2 = fmax_(t1, t2);
    }
    double tin = fmax_(h1, v1);
    double tout = fmin_(h2, v2);

    /* 6. Risk. */
    out->tca = tca;
    out->dmin = dmin;
    out->reserved = 0;
    if (open && tin < tout && tout > 0 && tin <= w) {
        double end = fmin_(tout, w);
        if (tin <= 0) {
            out->risk = 1; out->t_in = 0; out->t_out = end;
            out->flags = CDP_RESULT_CONFLICT | CDP_RESULT_LOS;
            return;
        }
        double u = tin / p->horizon;
        double th = tin;
        if (qa > EPS) th = fclamp_(-qb / qa, tin, end);
        double hmin = sqrt_(fmax_(0, c0 + 2 * qb * th + qa * th * th));
        double depth = 0.0;
        if (zr > 0) depth = fclamp_(1 - hmin / zr, 0, 1);
        out->risk = 1 - 0.5 * u * (1 - 0.5 * depth);
        out->t_in = tin; out->t_out = end; out->flags = CDP_RESULT_CONFLICT;
        return;
    }
    double hn = INF;
    if (zr > 0) hn = sqrt_(fmax_(0, c0 + 2 * qb * tca + qa * tca * tca)) / zr;
    double vn = INF;
    if (zv > 0) vn = fabs_(dz + vz * tca) / zv;
    double n = fmax_(fmax_(hn, vn), 1);
    out->risk = 0.5 * p->min_risk / (n * n);
    out->t_in = -1; out->t_out = -1; out->flags = 0;
}

CDP_SCORER(score)

/* The builtin predictor: constant velocity, or constant acceleration with
 * CDP_VEHICLE_HAS_ACCEL; the box also covers the constant-velocity path
 * (the scorer ignores acceleration) and every sample. */
static inline double ca_at(double x, double vx, double ax, double t) {
    return x + vx * t + 0.5 * ax * t * t;
}

static inline void ca_axis_range(double *lo, double *hi, double x, double vx, double ax, double h) {
    double e = ca_at(x, vx, ax, h);
    *lo = fmin_(*lo, e);
    *hi = fmax_(*hi, e);
    if (ax != 0) {
        double ts = -vx / ax;
        if (ts > 0 && ts < h) {
            double m = ca_at(x, vx, ax, ts);
            *lo = fmin_(*lo, m);
            *hi = fmax_(*hi, m);
        }
    }
    double pad = 1e-12 * (fabs_(x) + fabs_(vx) * h + fabs_(ax) * h * h);
    *lo = *lo - pad;
    *hi = *hi + pad;
}

static inline void axis_range(double *lo, double *hi, double x, double vx, double h) {
    double e = x + vx * h;
    *lo = fmin_(x, e);
    *hi = fmax_(x, e);
}

static void predict(const cdp_vehicle *v, const cdp_params *p, cdp_box *box, uint8_t *samples,
                    uint32_t point_stride) {
    double h = p->horizon;
    cdp_box b;
    axis_range(&b.min_x, &b.max_x, v->x, v->vx, h);
    axis_range(&b.min_y, &b.max_y, v->y, v->vy, h);
    axis_range(&b.min_z, &b.max_z, v->z, v->vz, h);
    int accel = (v->flags & CDP_VEHICLE_HAS_ACCEL) != 0;
    if (accel) {
        ca_axis_range(&b.min_x, &b.max_x, v->x, v->vx, v->ax, h);
        ca_axis_range(&b.min_y, &b.max_y, v->y, v->vy, v->ay, h);
        ca_axis_range(&b.min_z, &b.max_z, v->z, v->vz, v->az, h);
    }
    uint32_t ns = p->samples;
    if (ns > 0) {
        double step = h / (double)ns;
        for (uint32_t k = 0; k < ns; k++) {
            double t = (double)(k + 1) * step;
            cdp_point pt;
            if (accel) {
                pt.x = ca_at(v->x, v->vx, v->ax, t);
                pt.y = ca_at(v->y, v->vy, v->ay, t);
                pt.z = ca_at(v->z, v->vz, v->az, t);
            } else {
                pt.x = v->x + v->vx * t;
                pt.y = v->y + v->vy * t;
                pt.z = v->z + v->vz * t;
            }
            *(cdp_point *)(samples + (size_t)k * point_stride) = pt;
            b.min_x = fmin_(b.min_x, pt.x); b.max_x = fmax_(b.max_x, pt.x);
            b.min_y = fmin_(b.min_y, pt.y); b.max_y = fmax_(b.max_y, pt.y);
            b.min_z = fmin_(b.min_z, pt.z); b.max_z = fmax_(b.max_z, pt.z);
        }
    }
    *box = b;
}

CDP_PREDICTOR(predict)
