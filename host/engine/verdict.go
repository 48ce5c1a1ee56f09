package engine

// Verdict is what TrySubmitChecked decided about one update.
type Verdict uint8

// Verdicts of TrySubmitChecked. Only VerdictAccepted updates are queued; the
// others are dropped at once and counted (Stats.Stale, Stats.Duplicates).
const (
	// VerdictAccepted: queued for the next tick. It may still be dropped
	// there if a newer state of the same vehicle, queued before it in the
	// same tick, wins (counted as stale).
	VerdictAccepted Verdict = iota
	// VerdictStale: older than the vehicle's stored state.
	VerdictStale
	// VerdictDuplicate: the same time as the vehicle's stored state.
	VerdictDuplicate
	// VerdictTooOld: older than the engine clock minus its class's vehicle TTL (the
	// vehicle would have expired by then): outside the engine's time window.
	VerdictTooOld
)

// String returns the verdict as the API reports it: "accepted", "stale",
// "duplicate" or "too_old".
func (v Verdict) String() string {
	switch v {
	case VerdictAccepted:
		return "accepted"
	case VerdictStale:
		return "stale"
	case VerdictDuplicate:
		return "duplicate"
	case VerdictTooOld:
		return "too_old"
	}
	return "unknown"
}

// TrySubmitChecked is TrySubmit that first decides, per update, what can be
// decided before a tick: an update older than (or as old as) the vehicle's
// stored state, or older than the engine clock minus the vehicle TTL, is not
// queued, and verdicts[i] (len(verdicts) must be at least len(ups)) says why.
// It returns the number queued. The rest of the batch is accepted whole or,
// when the queue cannot hold it, not at all (ErrQueueFull, ErrClosed; the
// verdicts then say what would have been dropped).
//
// The check reads the state table under the read lock, which a tick holds
// for writing only during its short write phases (apply, predict, track),
// not while it scores.
func (e *Engine) TrySubmitChecked(ups []Update, verdicts []Verdict) (int, error) {
	verdicts = verdicts[:len(ups)]
	e.mu.RLock()
	now := e.peekNow()
	for i := range ups {
		u := &ups[i]
		v := VerdictAccepted
		if u.V.T < now-e.ttl(u.V.Class) {
			v = VerdictTooOld
		} else if slot, ok := e.ids.find(e.names, u.ID); ok {
			if t := e.veh[slot].T; u.V.T == t {
				v = VerdictDuplicate
			} else if u.V.T < t {
				v = VerdictStale
			}
		}
		verdicts[i] = v
	}
	e.mu.RUnlock()
	n, stale, dup := 0, 0, 0
	for _, v := range verdicts {
		switch v {
		case VerdictAccepted:
			n++
		case VerdictDuplicate:
			dup++
		default:
			stale++
		}
	}
	if n > 0 {
		if err := e.enqueue(ups, verdicts, n); err != nil {
			return 0, err
		}
	}
	e.stats.stale.Add(uint64(stale))
	e.stats.duplicates.Add(uint64(dup))
	return n, nil
}
