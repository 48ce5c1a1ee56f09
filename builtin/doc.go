// Package builtin holds the native models: Predictor (constant velocity, or
// constant acceleration for states that carry one) and Scorer (a
// state-based closest-point-of-approach scorer with loss-of-separation
// windows). They implement the same abi contracts as the Wasm plugins; they
// are the reference the ABI conformance vectors come from and the fallback of
// last resort when a plugin fails. Both are stateless, zero-value ready, safe
// for concurrent use and allocation-free per batch.
//
// # Risk contract
//
// For a pair A, B the scorer propagates both states linearly to the later of
// the two state times T and assesses the window [T, T+W], W = min(A.T, B.T) +
// Horizon - T: the part of the horizon that both predictions cover. The pair
// is in loss of separation (LoS) while its horizontal distance is below R and
// its altitude difference below V, where R and V are the larger of the two
// protected zones (abi.Vehicle.HSep, VSep) plus both hard-body radii.
// Horizontal distance is measured perpendicular to the local vertical (the
// geodetic altitude difference), so it does not depend on the frame.
//
//   - A pair in LoS at T scores exactly 1 (flags Conflict and LoS).
//   - A pair predicted to enter LoS inside the window, at tin in (0, W], scores
//     in [0.5, 1) (flag Conflict, TIn = tin, TOut = exit or W):
//     Risk = 1 - 0.5*u*(1 - 0.5*depth), with urgency u = tin/Horizon in (0, 1]
//     and depth = 1 - hmin/R in [0, 1], hmin the least horizontal distance
//     while in LoS inside the window. Risk grows as entry comes earlier
//     (smaller u) and as the miss gets deeper (smaller hmin): an entry at the
//     end of the horizon with a grazing miss scores 0.5; an imminent head-on
//     collision scores nearly 1; for a given entry time, a dead-centre pass
//     scores up to 0.25*u higher than a grazing one.
//   - A pair that stays outside the protected zone over the whole window scores
//     below Params.MinRisk (for MinRisk > 0): 0.5*MinRisk/n², n >= 1 the
//     normalised separation at the closest point of approach, so a near miss
//     scores just under half the reporting level and a distant pair near 0.
//   - A pair whose window is empty (W < 0: one state is older than the other
//     by more than the horizon) scores 0.
//
// Results are bit-for-bit deterministic; ScorePair documents the exact
// operation order that ports of the scorer to other languages follow.
//
// The RATIONALE.md beside this file explains the choices.
package builtin
