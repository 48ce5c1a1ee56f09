/*
 * aviation: a scorer for aircraft under en-route separation minima. Two
 * aircraft lose separation when they are less than 5 NM (9,260 m) apart
 * horizontally AND less than 1,000 ft (304.8 m) apart vertically: each is
 * the centre of a cylinder of radius 5 NM and half-height 1,000 ft. The
 * minima replace the vehicles' class zones (hsep, vsep) and hard-body radii,
 * which this model ignores. Aircraft at adjacent flight levels are exactly
 * 1,000 ft apart and separated, but their altitudes' difference in floating
 * point lands on either side of 304.8 m (10972.8 - 10668.0 = 304.79999999999927):
 * so vertical separation is lost only below 1,000 ft less 1 mm (SEP_V_TOL), a
 * tolerance far above rounding and far below anything an altimeter resolves.
 * (Found on recorded UK traffic: without it, pairs cruising one flight level
 * apart were reported in conflict.)
 *
 * Kinematics are the builtin's (constant velocity over the pair's window;
 * horizontal distance from the frame vectors less the vertical component,
 * vertical from geodetic altitude and vertical rate), so tca and dmin are the
 * 3D closest point of approach as the ABI defines them. The risk differs:
 *  - in loss of separation now: 1, CONFLICT|LOS;
 *  - loss of separation predicted at 0 < t_in <= W: 1 - 0.5*(t_in/H)*(1 - 0.5*s)
 *    in [0.5, 1), where s is the severity, 1 - (smallest horizontal distance
 *    during the loss)/5 NM: early and deep losses score highest;
 *  - otherwise 0.5*m/n^2 < m, where n >= 1 is the normalised separation
 *    max(h/5NM, |dz|/1000ft) at the horizontal closest approach: a near miss
 *    on one axis scores close to (but below) the reporting threshold m.
 * Build: see Makefile (clang --target=wasm32, freestanding, sdk/c/cdp.h).
 */
#include "cdp.h"

CDP_MANIFEST("{\"name\":\"aviation-5nm-1000ft\",\"version\":\"1.0.0\",\"kind\":\"scorer\","
             "\"description\":\"en-route separation minima: loss of separation inside 5 NM horizontally and 1000 ft vertically\"}")

#define EPS 1e-12
#define INF __builtin_inf()
#define SEP_H 9260.0  /* 5 NM, m */
#define SEP_V 304.8   /* 1000 ft, m */
#define SEP_V_TOL 0.001 /* m: 1000 ft apart is separated, whatever the rounding */

static inline double fmax_(double x, double y) { return x > y ? x : y; }
static inline double fmin_(double x, double y) { return x < y ? x : y; }
static inline double fclamp_(double x, double lo, double hi) { return fmin_(fmax_(x, lo), hi); }

CDP_INLINE void score(const cdp_vehicle *a, const cdp_vehicle *b, const cdp_params *p,
                      cdp_result *out) {
    double t = fmax_(a->t, b->t);
    double dtA = t - a->t, dtB = t - b->t;
    double w = fmin_(a->t, b->t) + p->horizon - t;
    double dx = (b->x + b->vx * dtB) - (a->x + a->vx * dtA);
    double dy = (b->y + b->vy * dtB) - (a->y + a->vy * dtA);
    double dw = (b->z + b->vz * dtB) - (a->z + a->vz * dtA);
    double dz = (b->alt + b->vrate * dtB) - (a->alt + a->vrate * dtA);
    double vx = b->vx - a->vx, vy = b->vy - a->vy, vw = b->vz - a->vz;
    double vz = b->vrate - a->vrate;
    double dd = dx * dx + dy * dy + dw * dw;
    double dv = dx * vx + dy * vy + dw * vw;
    double vv = vx * vx + vy * vy + vw * vw;
    /* horizontal distance squared: c0 + 2 qb t + qa t^2 */
    double qa = fmax_(0, vv - vz * vz);
    double qb = dv - dz * vz;
    double c0 = dd - dz * dz;
    out->reserved = 0;
    if (w < 0) { /* the two predictions share no time */
        out->risk = 0; out->tca = 0; out->dmin = __builtin_sqrt(dd);
        out->t_in = -1; out->t_out = -1; out->flags = 0;
        return;
    }
    double tca = vv > EPS ? fclamp_(-dv / vv, 0, w) : 0;
    double ex = dx + vx * tca, ey = dy + vy * tca, ew = dw + vw * tca;
    out->tca = tca;
    out->dmin = __builtin_sqrt(ex * ex + ey * ey + ew * ew);

    /* Loss-of-separation windows: horizontal (h < 5 NM), vertical (|dz| < 1000 ft - 1 mm). */
    int open = 1;
    double h1 = -INF, h2 = INF;
    double c = c0 - SEP_H * SEP_H;
    if (qa <= EPS) {
        open = c < 0;
    } else {
        double disc = qb * qb - qa * c;
        if (disc <= 0) {
            open = 0;
        } else {
            double s = __builtin_sqrt(disc);
            h1 = (-qb - s) / qa;
            h2 = (-qb + s) / qa;
        }
    }
    const double zv = SEP_V - SEP_V_TOL;
    double v1 = -INF, v2 = INF;
    if (__builtin_fabs(vz) <= EPS) {
        open = open && __builtin_fabs(dz) < zv;
    } else {
        double t1 = (-zv - dz) / vz, t2 = (zv - dz) / vz;
        v1 = fmin_(t1, t2);
        v2 = fmax_(t1, t2);
    }
    double tin = fmax_(h1, v1), tout = fmin_(h2, v2);
    if (open && tin < tout && tout > 0 && tin <= w) {
        double end = fmin_(tout, w);
        if (tin <= 0) {
            out->risk = 1; out->t_in = 0; out->t_out = end;
            out->flags = CDP_RESULT_CONFLICT | CDP_RESULT_LOS;
            return;
        }
        double th = qa > EPS ? fclamp_(-qb / qa, tin, end) : tin;
        double hmin = __builtin_sqrt(fmax_(0, c0 + 2 * qb * th + qa * th * th));
        double sev = fclamp_(1 - hmin / SEP_H, 0, 1);
        out->risk = 1 - 0.5 * (tin / p->horizon) * (1 - 0.5 * sev);
        out->t_in = tin; out->t_out = end; out->flags = CDP_RESULT_CONFLICT;
        return;
    }
    /* No loss: normalised separation at the horizontal closest approach. */
    double th = qa > EPS ? fclamp_(-qb / qa, 0, w) : 0;
    double hn = __builtin_sqrt(fmax_(0, c0 + 2 * qb * th + qa * th * th)) / SEP_H;
    double vn = __builtin_fabs(dz + vz * th) / SEP_V;
    double n = fmax_(fmax_(hn, vn), 1);
    out->risk = 0.5 * p->min_risk / (n * n);
    out->t_in = -1; out->t_out = -1; out->flags = 0;
}

CDP_SCORER(score)
