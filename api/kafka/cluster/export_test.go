package cluster

// Abandon makes c stop as a killed process would: no last commit, no commit
// on revoke.
func Abandon(c *Compute) { c.abandon.Store(true) }
